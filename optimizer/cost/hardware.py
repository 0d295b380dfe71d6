"""The accelerator catalog and utilization defaults derived from published training runs."""

from __future__ import annotations

import csv
import difflib
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from perflaw.law.errors import InputError
from perflaw.law.rules import Range, check_choice, check_number

PRECISIONS = ("bf16", "fp8")
GPUS = Range(1, 10_000_000)  # accelerators in one run
PRICE_USD_PER_GPU_HOUR = Range(1e-4, 1e4)
UTILIZATION = Range(0.0, 1.0, open_low=True)  # MFU and goodput are fractions
PEAK_TFLOPS = Range(0, 1e6, open_low=True)  # dense peak of one accelerator
HBM_GB = Range(0, 1e5, open_low=True)  # memory of one accelerator
HBM_TBPS = Range(0, 1e4, open_low=True)  # its memory bandwidth
TDP_W = Range(0, 1e5, open_low=True)  # board power
SCALEUP_DOMAIN = Range(1, 1_000_000)  # accelerators in one NVLink / ICI domain
LINK_GBPS = Range(0, 1e6, open_low=True)  # bandwidth of one accelerator's links, GB/s


@dataclass(frozen=True)
class Hardware:
    """One accelerator. Peaks are dense (not 2:4 sparsity), in TFLOP/s; memory in GB (1e9 bytes)."""

    name: str
    vendor: str
    peak_bf16_tflops: float
    peak_fp8_tflops: float | None
    hbm_gb: float
    hbm_tbps: float
    scaleup_gbps: float | None  # NVLink / ICI per GPU, both directions together (GB/s)
    scaleup_domain: int  # accelerators in one scale-up (NVLink / ICI) domain
    tdp_w: float | None  # board power, watts
    year: int
    source: str
    scaleout_gbps: float | None = None  # network per GPU out of the scale-up domain, one direction (GB/s)
    network_source: str = ""

    def __post_init__(self) -> None:
        who = f"hardware {self.name or '(inline)'}"
        for key, allowed in (("peak_bf16_tflops", PEAK_TFLOPS), ("hbm_gb", HBM_GB), ("hbm_tbps", HBM_TBPS)):
            check_number(f"{who} {key}", getattr(self, key), allowed)
        for key, allowed in (("peak_fp8_tflops", PEAK_TFLOPS), ("tdp_w", TDP_W), ("scaleup_gbps", LINK_GBPS),
                             ("scaleout_gbps", LINK_GBPS)):
            if getattr(self, key) is not None:
                check_number(f"{who} {key}", getattr(self, key), allowed)
        check_number(f"{who} scaleup_domain", self.scaleup_domain, SCALEUP_DOMAIN, whole=True)

    @classmethod
    def inline(cls, peak_bf16_tflops: float, hbm_gb: float, *, source: str, peak_fp8_tflops: float | None = None,
               tdp_w: float | None = None, scaleup_domain: int | None = None) -> "Hardware":
        """An accelerator the user describes instead of naming (scale-up domain 8 unless given)."""
        return cls(name="inline", vendor="user", peak_bf16_tflops=peak_bf16_tflops, peak_fp8_tflops=peak_fp8_tflops,
                   hbm_gb=hbm_gb, hbm_tbps=1.0, scaleup_gbps=None, scaleup_domain=scaleup_domain or 8, tdp_w=tdp_w,
                   year=0, source=source)

    def peak_flops(self, precision: str = "bf16") -> float:
        """Dense peak in FLOP/s for ``precision`` (bf16 or fp8)."""
        check_choice("precision", precision, PRECISIONS)
        if precision == "fp8":
            if self.peak_fp8_tflops is None:
                raise InputError("precision", f"{self.name} has no FP8 tensor peak in the catalog", precision)
            return self.peak_fp8_tflops * 1e12
        return self.peak_bf16_tflops * 1e12

    @property
    def hbm_bytes(self) -> float:
        return self.hbm_gb * 1e9

    @property
    def family(self) -> str:
        """Utilization family: hopper, ampere, volta, blackwell, amd, tpu, gaudi."""
        n = self.name.upper()
        for prefix, fam in (("H1", "hopper"), ("H2", "hopper"), ("H8", "hopper"), ("A1", "ampere"), ("V1", "volta"),
                            ("B2", "blackwell"), ("GB2", "blackwell"), ("MI", "amd"), ("TPU", "tpu"),
                            ("GAUDI", "gaudi")):
            if n.startswith(prefix):
                return fam
        return "other"


def _data(name: str) -> Path:
    return Path(str(resources.files("perflaw.optimizer.cost") / "data" / name))


def _opt_float(text: str) -> float | None:
    return float(text) if text.strip() else None


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Hardware]:
    """The shipped catalog (``optimizer/cost/data/hardware.csv``), keyed by name."""
    out = {}
    with _data("hardware.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["name"]] = Hardware(
                name=row["name"], vendor=row["vendor"], peak_bf16_tflops=float(row["peak_bf16_tflops"]),
                peak_fp8_tflops=_opt_float(row["peak_fp8_tflops"]), hbm_gb=float(row["hbm_gb"]),
                hbm_tbps=float(row["hbm_tbps"]), scaleup_gbps=_opt_float(row["scaleup_gbps"]),
                scaleup_domain=int(row["scaleup_domain"]), tdp_w=_opt_float(row["tdp_w"]), year=int(row["year"]),
                source=row["source"], scaleout_gbps=_opt_float(row["scaleout_gbps"]),
                network_source=row["network_source"],
            )
    return out


def _key(name: str) -> str:
    """A name as matched: case, white space, hyphens and underscores do not count ("h100 sxm" is H100-SXM)."""
    return "".join(ch for ch in str(name).lower() if ch not in "-_" and not ch.isspace())


@lru_cache(maxsize=1)
def catalog_aliases() -> dict[str, tuple[str, ...]]:
    """The other names each catalog entry answers to (the ``aliases`` column, ``;``-separated)."""
    with _data("hardware.csv").open(encoding="utf-8") as f:
        return {row["name"]: tuple(a for a in row["aliases"].split(";") if a) for row in csv.DictReader(f)}


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every name and alias as matched (``_key``), to its catalog entry's name."""
    names = {_key(k): k for k in load_catalog()}
    for entry, aliases in catalog_aliases().items():
        names.update({_key(a): entry for a in aliases})
    return names


def get_hardware(name: str) -> Hardware:
    """The catalog entry whose name or alias is ``name`` exactly (ignoring case, spaces, hyphens and
    underscores). Nothing else matches: "H20" is not the H200. An unknown name lists the closest."""
    catalog, names = load_catalog(), _names()
    hit = names.get(_key(name))
    if hit is not None:
        return catalog[hit]
    close = difflib.get_close_matches(_key(name), list(names), n=6, cutoff=0.5)
    shown = list(dict.fromkeys(names[c] for c in close))[:3] or list(catalog)[:5]
    raise InputError("hardware", f"must be a catalog name or alias (closest: {', '.join(shown)}; see perflaw hardware; "
                                 "or describe the GPU inline by its peak BF16 TFLOP/s and HBM GB)", name)


@dataclass(frozen=True)
class PublishedRun:
    """One published pretraining run (``optimizer/cost/data/training_runs.csv``)."""

    run: str
    hardware: str
    chips: int
    params_b: float
    active_params_b: float
    tokens_t: float
    reported_train_flops: float | None
    reported_chip_hours: float
    reported_mfu: tuple[float, float] | None  # (low, high) steady state
    precision: str
    source: str
    notes: str

    @property
    def effective_utilization(self) -> float | None:
        """Reported FLOPs / (chip-hours × BF16 peak): what the whole run achieved end to end."""
        if self.reported_train_flops is None:
            return None
        peak = get_hardware(self.hardware).peak_flops("bf16")
        return self.reported_train_flops / (self.reported_chip_hours * 3600.0 * peak)


@lru_cache(maxsize=1)
def published_runs() -> tuple[PublishedRun, ...]:
    runs = []
    with _data("training_runs.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            mfu = None
            if row["reported_mfu"].strip():
                parts = [float(p) for p in row["reported_mfu"].split("-")]
                mfu = (parts[0], parts[-1])
            runs.append(PublishedRun(
                run=row["run"], hardware=row["hardware"], chips=int(row["chips"]), params_b=float(row["params_b"]),
                active_params_b=float(row["active_params_b"]), tokens_t=float(row["tokens_t"]),
                reported_train_flops=_opt_float(row["reported_train_flops"]),
                reported_chip_hours=float(row["reported_chip_hours"]), reported_mfu=mfu, precision=row["precision"],
                source=row["source"], notes=row["notes"],
            ))
    return tuple(runs)


@dataclass(frozen=True)
class Utilization:
    """Steady-state MFU and goodput (share of the run's chip-hours spent in steady-state training:
    restarts, evaluation and long-context phases take the rest). Effective = MFU × goodput."""

    mfu: float
    goodput: float
    source: str

    def __post_init__(self) -> None:
        for key in ("mfu", "goodput"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                    and value in UTILIZATION):
                raise InputError(key, f"must be in {UTILIZATION.text()} (a fraction, e.g. 0.4 for 40 %)", value)

    @property
    def effective(self) -> float:
        return self.mfu * self.goodput


@lru_cache(maxsize=None)
def default_utilization(hardware: Hardware) -> Utilization:
    """MFU and goodput measured on the published run of the hardware's family.

    Families with a run: Hopper (Llama 3.1 405B on H100: MFU 38–43 %, mid-range taken) and TPU
    (PaLM 540B on TPU v4: MFU 46.2 %). Goodput = effective utilization / MFU of that run. Other
    families fall back to the Hopper run, and the source says so.
    """
    by_family: dict[str, PublishedRun] = {}
    for run in published_runs():
        if run.reported_mfu and run.effective_utilization:
            by_family.setdefault(get_hardware(run.hardware).family, run)
    fam = hardware.family
    run = by_family.get(fam) or by_family["hopper"]
    mfu = sum(run.reported_mfu) / 2.0
    goodput = run.effective_utilization / mfu
    note = "" if fam in by_family else f" (no published {fam} run in perflaw's data; Hopper values used)"
    return Utilization(round(mfu, 4), round(goodput, 4),
                       f"{run.run}: MFU {mfu:.1%} steady state, {run.effective_utilization:.1%} end to end{note}")


def resolve_utilization(hardware: Hardware, mfu: float | None = None, goodput: float | None = None,
                        precision: str = "bf16") -> Utilization:
    """The given MFU and goodput, each falling back to the hardware family's published run.

    An FP8 budget needs an explicit ``mfu``: the published MFUs were measured against BF16 peaks.
    """
    hardware.peak_flops(precision)  # the precision must exist on this hardware
    if precision == "fp8" and mfu is None:
        raise InputError("mfu", "must be given with `precision` fp8 (the default MFU was measured against BF16 "
                                "peaks)", "missing")
    base = default_utilization(hardware)
    if mfu is None and goodput is None:
        return base
    run = base.source.split(":")[0]
    source = (f"MFU {'given' if mfu is not None else 'from ' + run}, "
              f"goodput {'given' if goodput is not None else 'from ' + run}")
    return Utilization(base.mfu if mfu is None else mfu, base.goodput if goodput is None else goodput, source)
