"""Published runs end to end: GPU-hours from each report's layout, the step-time model and goodput, against its own.

``data/end_to_end_runs.json`` lists each run with the layout its report states (or none, when the
report states none: the fastest layout is searched), its batch, precision, stack, goodput and the
GPU-hours it publishes, with sources. Predicted GPU-hours are the run's tokens over the predicted
tokens per second per GPU, divided by the goodput (1 where none is published). Each run also says
what its published hours include that a step-time model cannot see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from perflaw.law.architecture import Architecture
from perflaw.optimizer.cost.hardware import get_hardware
from perflaw.optimizer.cost.layout import search_layout
from perflaw.optimizer.cost.memory import Layout, fits, training_memory
from perflaw.optimizer.cost.step_time import Stack, StepTime, step_time
from perflaw.optimizer.cost.throughput_check import named_models


@dataclass(frozen=True)
class EndToEnd:
    """One published run predicted from its stated layout."""

    run: str
    layout: Layout
    layout_stated: bool  # False: the report states none and the search chose it
    step: StepTime
    goodput: float
    goodput_stated: bool
    predicted_gpu_hours: float
    published_gpu_hours: float
    memory_gb: float  # per GPU on the fullest stage, in perflaw's memory model
    fits: bool  # in perflaw's memory model (10 % headroom)
    source: str
    not_seen: str

    @property
    def ratio(self) -> float:
        """Predicted over published GPU-hours."""
        return self.predicted_gpu_hours / self.published_gpu_hours

    def as_dict(self) -> dict:
        return {"run": self.run, "layout": self.layout.summary(), "layout_stated": self.layout_stated,
                "mfu": self.step.mfu, "tokens_per_gpu_s": self.step.tokens_per_gpu_s, "goodput": self.goodput,
                "goodput_stated": self.goodput_stated, "predicted_gpu_hours": self.predicted_gpu_hours,
                "published_gpu_hours": self.published_gpu_hours, "ratio": self.ratio, "memory_gb": self.memory_gb,
                "fits": self.fits, "source": self.source, "not_seen": self.not_seen}


def _data(name: str) -> dict:
    return json.loads((resources.files("perflaw.optimizer.cost") / "data" / name).read_text(encoding="utf-8"))


def end_to_end_runs() -> list[EndToEnd]:
    """Every run of ``data/end_to_end_runs.json``, predicted."""
    models = named_models()
    out = []
    for name, r in _data("end_to_end_runs.json").items():
        if name.startswith("_"):
            continue
        m = r["model"]
        arch = models[m][1] if isinstance(m, str) else Architecture(name=name, **m)
        hw = get_hardware(r["hardware"])
        stack = Stack(**r["stack"])
        lay = r["layout"]
        if lay is None:  # the search times the layout it picks, at this batch
            found = search_layout(arch, hw, r["gpus"], seq_len=r["seq_len"], precision=r["precision"], stack=stack,
                                  global_batch_tokens=r["global_batch"] * r["seq_len"],
                                  scaleout_gbps=r["scaleout_gbps"])
            layout, st, mem = found.layout, found.step, found.memory
        else:
            layout = Layout(seq_len=r["seq_len"], **lay)
            st = step_time(arch, layout, hw, global_batch=r["global_batch"], precision=r["precision"], stack=stack,
                           scaleout_gbps=r["scaleout_gbps"])
            mem = training_memory(arch, layout, microbatches=st.microbatches, flash_attention=stack.flash_attention)
        goodput = 1.0 if r["goodput"] is None else r["goodput"]
        hours = r["tokens_t"] * 1e12 / (st.tokens_per_gpu_s * 3600.0 * goodput)
        out.append(EndToEnd(name, layout, lay is not None, st, goodput, r["goodput"] is not None, hours,
                            float(r["published_gpu_hours"]), mem.total / 1e9, fits(mem, hw).fits, r["source"],
                            r["not_seen"]))
    return out
