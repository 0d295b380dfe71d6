"""The step-time model against published runs: each row predicted from its stated layout, the constants fitted.

Every row of ``throughput_runs.csv`` that states its hardware (in the catalog), its model (columns,
or a named model in ``data/throughput_models.json``), its layout and its throughput is predicted from
that layout alone. Throughput is compared as tokens per second per GPU. Where a source gives only
TFLOP/s or an MFU, its throughput is recovered with perflaw's count of FLOPs (the attention rule,
which is the formula of Megatron-LM 2021 and Megatron-Core, the 2021 one also counting the
recomputed forward); the published MFU is shown as each source states it, the predicted MFU in
perflaw's count.

The rows are the source's and the stack follows each source: Megatron-LM 2021 and Korthikanti et
al. 2022 ran without FlashAttention and without overlapping communication, 2021 with full
recomputation; llm-foundry (MPT) trains with FSDP and FlashAttention; Megatron-Core and
Megatron-Bridge overlap their collectives (their distributed optimizer is ZeRO-1). Where a row does
not state the micro-batch it is 1; recomputation not stated is none.

Rows are split by configuration, not by row: rows of one model on the same hardware, precision and
layout (the same recipe at other GPU counts or in other releases) form a group, and the groups,
in the order they first appear, alternate between fitting the constants and testing them. No
tested row has a twin among the fitting rows, and both halves cover every source.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from importlib import resources

import numpy as np
import pandas as pd

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.law.hf_config import from_hf_config
from perflaw.optimizer.cost.hardware import get_hardware
from perflaw.optimizer.cost.memory import Layout
from perflaw.optimizer.cost.step_constants import DEFAULT_CONSTANTS, StepConstants
from perflaw.optimizer.cost.step_time import Stack, StepTime, step_time
from perflaw.optimizer.cost.throughput_runs import load_throughput_runs

FIT_GROUPS = "even"  # groups (by first appearance) that fit the constants; the odd ones test them
#: Bounds of the fitted constants while fitting.
BOUNDS = {"gemm_bf16": (0.3, 1.0), "gemm_fp8": (0.2, 1.0), "matmul_overhead_s": (0.0, 1e-3),
          "attention": (0.1, 1.0), "tp_hidden": (0.0, 1.0),
          "unfused_traffic": (1.0, 20.0)}


@dataclass(frozen=True)
class Case:
    """One published run as the step-time model sees it."""

    row: int  # index in throughput_runs.csv
    name: str
    source: str  # which family of source (sets the stack)
    arch: Architecture
    layout: Layout
    hardware: str
    global_batch: int
    precision: str
    stack: Stack
    published_tokens_per_gpu_s: float
    published_mfu: float | None  # as the source states or implies it, against the peak at its precision
    split: str = "fit"  # "fit" or "test" (module docstring)

    def timed(self, constants: StepConstants = DEFAULT_CONSTANTS) -> StepTime:
        """The step-time model's step for this run's stated layout."""
        return step_time(self.arch, self.layout, get_hardware(self.hardware), global_batch=self.global_batch,
                         precision=self.precision, stack=self.stack, constants=constants)


def named_models() -> dict[str, tuple[list[str], Architecture]]:
    """The models of ``data/throughput_models.json``: key -> (the run names that mean it, its architecture)."""
    path = resources.files("perflaw.optimizer.cost") / "data" / "throughput_models.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: (v["match"], from_hf_config(v["config"])) for k, v in data.items() if not k.startswith("_")}


def _family(name: str) -> str | None:
    for prefix, family in (("Megatron-LM PTD-P", "megatron-2021"), ("Korthikanti", "korthikanti-2022"),
                           ("MPT-", "llm-foundry"), ("Megatron-Core r0.8.0 GPT", "megatron-core"),
                           ("Megatron-LM examples/llama", "megatron-core"), ("Megatron-Bridge", "megatron-bridge")):
        if name.startswith(prefix):
            return family
    return None


STACKS = {"megatron-2021": Stack(flash_attention=False, tp_overlap=False, dp_overlap=False),
          "korthikanti-2022": Stack(flash_attention=False, tp_overlap=False, dp_overlap=False),
          "llm-foundry": Stack(grad_reduce_bytes=2.0, fused_kernels=False),
          "megatron-core": Stack(), "megatron-bridge": Stack()}


def _num(value, default=None):
    return default if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _arch(r, models) -> Architecture | None:
    for patterns, arch in models:
        if any(p in r["name"] for p in patterns):
            return arch
    if _num(r["layers"]) is None or _num(r["hidden"]) is None or _num(r["heads"]) is None:
        return None
    if _num(r["total_b"]) != _num(r["active_b"]) or "MTP" in r["name"]:
        return None  # a MoE model, or extra prediction layers, that no named model describes
    h = int(r["hidden"])
    heads = int(r["heads"])
    return Architecture(layers=int(r["layers"]), hidden=h, ffn=int(_num(r["ffn"], 4 * h)), heads=heads,
                        kv_heads=int(_num(r["kv_heads"], heads)), vocab=int(_num(r["vocab"], 51200)),
                        ffn_kind="plain", norm="layernorm", name=r["name"])


def cases(table: pd.DataFrame | None = None) -> tuple[list[Case], list[tuple[int, str, str]]]:
    """(the rows the model can predict, the others as (row, name, why not))."""
    t = load_throughput_runs() if table is None else table
    models = list(named_models().values())
    usable, skipped = [], []
    for i, r in t.iterrows():
        family = _family(r["name"])
        why = None
        arch = _arch(r, models)
        if family is None:
            why = "source without a stated layout"
        elif not isinstance(r["catalog"], str):
            why = f"hardware not in the catalog ({r['hardware']})"
        elif arch is None:
            why = "architecture not stated (or not one perflaw models: hybrid Mamba, sliding-window, MTP)"
        elif _num(r["tp"]) is None or _num(r["pp"]) is None or _num(r["global_batch_sequences"]) is None:
            why = "layout or global batch not stated"
        if why:
            skipped.append((int(i), r["name"], why))
            continue
        tp, pp, cp = int(r["tp"]), int(r["pp"]), int(_num(r["cp"], 1))
        gpus = int(r["n_gpus"])
        if gpus % (tp * pp * cp):
            skipped.append((int(i), r["name"], f"{gpus} GPUs do not split into TP {tp} × PP {pp} × CP {cp}"))
            continue
        dp = gpus // (tp * pp * cp)
        ep = int(_num(r["ep"], 1)) if arch.is_moe else 1
        zero = int(_num(r["zero"], 0 if family in ("megatron-2021", "korthikanti-2022") else 1))
        if zero == 0 and family in ("megatron-core", "megatron-bridge"):
            zero = 1  # Megatron's DDP with the distributed optimizer
        recompute = r["recompute"] if isinstance(r["recompute"], str) else \
            ("full" if family == "megatron-2021" else "none")
        precision = "fp8" if r["precision_kind"] == "fp8" else "bf16"
        layout = Layout(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, zero=zero, recompute=recompute,
                        micro_batch=int(_num(r["micro_batch"], 1)), seq_len=int(r["seq_len"]),
                        vpp=int(_num(r["virtual_pp"], 1)))
        published, mfu = _published(r, arch, family, precision)
        if published is None:
            skipped.append((int(i), r["name"], "no throughput stated"))
            continue
        usable.append(Case(int(i), r["name"], family, arch, layout, r["catalog"], int(r["global_batch_sequences"]),
                           precision, STACKS[family], published, mfu))
    return _with_splits(usable), skipped


def _published(r, arch: Architecture, family: str, precision: str) -> tuple[float | None, float | None]:
    """(tokens per second per GPU, MFU) the source states or implies."""
    peak = get_hardware(r["catalog"]).peak_flops(precision)
    s = int(r["seq_len"])
    model_fpt = arch.flops_per_token(s, "attention")
    if _num(r["tokens_per_gpu_s"]) is not None:
        tokens = float(r["tokens_per_gpu_s"])
    elif _num(r["step_time_s"]) is not None and _num(r["global_batch_sequences"]) is not None:
        tokens = r["global_batch_sequences"] * s / (r["step_time_s"] * r["n_gpus"])
    elif _num(r["tflops_per_gpu"]) is not None:
        fpt = model_fpt
        if r["flops_kind"] == "hardware":  # Megatron-LM 2021 eq. 3 counts the recomputed forward (not the logits)
            logits = 6.0 * arch.vocab * arch.hidden
            fpt = 4.0 / 3.0 * (model_fpt - logits) + logits
        tokens = r["tflops_per_gpu"] * 1e12 / fpt
    elif _num(r["mfu"]) is not None:
        tokens = r["mfu"] * peak / model_fpt
    else:
        return None, None
    mfu = _num(r["mfu"])
    if mfu is None and r["flops_kind"] == "model" and _num(r["tflops_per_gpu"]) is not None:
        mfu = r["tflops_per_gpu"] * 1e12 / peak
    return float(tokens), mfu


def predict(rows: list[Case], constants: StepConstants = DEFAULT_CONSTANTS) -> pd.DataFrame:
    """One line per case: published and predicted tokens/s/GPU, MFU, the error and the step's breakdown."""
    out = []
    for case in rows:
        st = case.timed(constants)
        err = st.tokens_per_gpu_s / case.published_tokens_per_gpu_s - 1.0
        out.append({"row": case.row, "name": case.name, "source": case.source, "split": case.split,
                    "hardware": case.hardware, "precision": case.precision, "layout": case.layout.summary(),
                    "published_tokens_per_gpu_s": case.published_tokens_per_gpu_s,
                    "predicted_tokens_per_gpu_s": st.tokens_per_gpu_s, "published_mfu": case.published_mfu,
                    "predicted_mfu": st.mfu, "error": err, **{f"{k}_share": v / st.step_s
                                                              for k, v in st.breakdown().items()}})
    return pd.DataFrame(out)


def _with_splits(rows: list[Case]) -> list[Case]:
    groups: dict[tuple, int] = {}
    out = []
    for c in rows:
        lay = c.layout
        key = (c.arch.summary(), c.hardware, c.precision, lay.tp, lay.cp, lay.pp, lay.vpp, lay.ep,
               lay.zero, lay.recompute, lay.micro_batch, lay.seq_len)
        g = groups.setdefault(key, len(groups))
        out.append(replace(c, split="fit" if (g % 2 == 0) == (FIT_GROUPS == "even") else "test"))
    return out


def summary(table: pd.DataFrame) -> dict:
    """Median absolute error and the share of rows off by more than 25 %, for the fit and test rows."""
    out = {}
    for split in ("fit", "test", "all"):
        part = table if split == "all" else table[table["split"] == split]
        err = np.abs(part["error"].to_numpy())
        out[split] = {"rows": int(len(part)), "median_abs_error": float(np.median(err)) if len(err) else math.nan,
                      "over_25pct": float(np.mean(err > 0.25)) if len(err) else math.nan}
    return out


def fit_constants(rows: list[Case] | None = None, start: StepConstants = DEFAULT_CONSTANTS) -> StepConstants:
    """The fitted constants (``StepConstants.FITTED``) that best predict the fit rows: least squares on log
    throughput, from ``start``."""
    from scipy.optimize import least_squares

    rows = cases()[0] if rows is None else rows
    fit = [c for c in rows if c.split == "fit"]
    if not fit:
        raise InputError("rows", "must hold at least one fitting row", 0)
    names = StepConstants.FITTED
    scale = np.array([BOUNDS[n][1] for n in names])

    def residuals(x: np.ndarray) -> np.ndarray:
        c = start.with_values(**dict(zip(names, (x * scale).tolist())))
        return np.array([math.log(case.timed(c).tokens_per_gpu_s / case.published_tokens_per_gpu_s) for case in fit])

    x0 = np.array([getattr(start, n) for n in names]) / scale
    lo = np.array([BOUNDS[n][0] for n in names]) / scale
    hi = np.ones(len(names))
    res = least_squares(residuals, np.clip(x0, lo, hi), bounds=(lo, hi), loss="soft_l1", f_scale=0.1)
    return start.with_values(**dict(zip(names, (res.x * scale).tolist())))
