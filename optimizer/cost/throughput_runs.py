"""Published training runs with their layout and measured throughput (the check of step-time models), in one table.

``optimizer/cost/data/throughput_runs.csv`` (a copy of the project's reference table; each row cites
its source) writes the same thing many ways: hardware with its cluster in brackets, fourteen
spellings of the precision, parameters as "671 total / 37 active", the global batch as "4096
(8388608 tokens)", tokens per second per GPU or in total. ``load_throughput_runs`` keeps every row and adds
columns in one convention, so the step-time model can be checked against them:

- ``catalog``: the hardware's catalog name (``cost.hardware``), or None where the catalog has no
  such entry (GB300 NVL72);
- ``precision_kind``: ``bf16``, ``fp16``, ``fp8`` or ``fp4``, or None where the source does not say;
- ``total_b`` / ``active_b``: parameters, billions;
- ``global_batch_sequences``: sequences per optimizer step;
- ``zero``: 0 (DDP), 2 (FSDP SHARD_GRAD_OP) or 3 (FSDP FULL_SHARD, whole or within a shard group);
- ``recompute``: ``none``, ``selective`` or ``full`` (None: not stated);
- ``flops_kind``: ``model`` (the model's FLOPs, attention included where the source says so) or
  ``hardware`` (FLOPs the GPUs ran, recomputation included, as Megatron-LM's 2021 table counts them);
- ``mfu``: model FLOPs utilisation as a fraction, where the source states it;
- ``tokens_per_gpu_s``: training tokens per second per GPU.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import get_hardware


def throughput_runs_path() -> Path:
    """Path of the shipped table of published runs."""
    return Path(str(resources.files("perflaw.optimizer.cost") / "data" / "throughput_runs.csv"))


def _catalog(hardware: str) -> str | None:
    name = re.split(r"\s*\(", str(hardware), maxsplit=1)[0].strip()  # the cluster goes in brackets
    try:
        return get_hardware(name).name
    except InputError:
        return None


def _precision(text) -> str | None:
    t = str(text).lower() if isinstance(text, str) else ""
    if "fp4" in t:
        return "fp4"
    if "fp8" in t:  # FP8, MXFP8, FP8-CS, amp_fp8, "FP8 per footnotes"
        return "fp8"
    if t.startswith("not stated"):  # an inference from the MFU is not the source's word
        return None
    if "bf16" in t:
        return "bf16"
    if "fp16" in t:
        return "fp16"
    return None


def _params(text) -> tuple[float, float]:
    """(total, active) billions from "70", "177 (175B GPT-3 w/ 131072 vocab)" or "671 total / 37 active"."""
    if not isinstance(text, str):
        return np.nan, np.nan
    moe = re.match(r"\s*([\d.]+)\s*total\s*/\s*([\d.]+)\s*active", text)
    if moe:
        return float(moe.group(1)), float(moe.group(2))
    dense = re.match(r"\s*([\d.]+)", text)
    return (float(dense.group(1)),) * 2 if dense else (np.nan, np.nan)


def _sequences(batch, unit, seq_len) -> float:
    if not isinstance(batch, str) or not re.match(r"\s*\d", batch):
        return np.nan
    first = float(re.match(r"\s*([\d.]+)", batch).group(1))
    if isinstance(unit, str) and unit.startswith("sequences"):
        return first
    if isinstance(unit, str) and unit.startswith("tokens") and seq_len == seq_len:
        return first / seq_len
    return np.nan


def _zero(text) -> float:
    t = str(text) if isinstance(text, str) else ""
    if t.startswith("DDP"):
        return 0.0
    if "SHARD_GRAD_OP" in t:
        return 2.0
    if "FULL_SHARD" in t or t.startswith("FSDP (shard group"):
        return 3.0
    return np.nan


def _recompute(text) -> str | None:
    t = str(text) if isinstance(text, str) else ""
    for mode in ("none", "selective", "full"):
        if t.startswith(mode):
            return mode
    return None


def _flops_kind(text) -> str | None:
    t = str(text) if isinstance(text, str) else ""
    if t.startswith("model"):
        return "model"
    if t.startswith("hardware"):
        return "hardware"
    return None


def load_throughput_runs(path: str | Path | None = None) -> pd.DataFrame:
    """The published runs (the shipped table when ``path`` is None), with the columns of the module
    docstring added to the table's own."""
    p = throughput_runs_path() if path is None else Path(path)
    if not p.is_file():
        raise InputError(str(p), "file must exist", str(p))
    t = pd.read_csv(p, dtype={"params_b": str, "global_batch": str})
    t["catalog"] = [_catalog(h) for h in t["hardware"]]
    t["precision_kind"] = [_precision(x) for x in t["precision"]]
    t["total_b"], t["active_b"] = zip(*(_params(x) for x in t["params_b"]))
    t["global_batch_sequences"] = [_sequences(b, u, s) for b, u, s in
                                   zip(t["global_batch"], t["global_batch_unit"], t["seq_len"])]
    t["zero"] = [_zero(x) for x in t["zero_stage_fsdp"]]
    t["recompute"] = [_recompute(x) for x in t["activation_recompute"]]
    t["flops_kind"] = [_flops_kind(x) for x in t["tflops_kind"]]
    t["mfu"] = t["mfu_pct"] / 100.0
    total = t["tokens_per_s_scope"].eq("total")
    t["tokens_per_gpu_s"] = np.where(total, t["tokens_per_s"] / t["n_gpus"], t["tokens_per_s"])
    return t
