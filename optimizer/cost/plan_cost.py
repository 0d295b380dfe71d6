"""What one plan (an architecture trained on a token count) costs: FLOPs, time, money, energy, CO2."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import Hardware, Utilization

# Energy defaults. Meta's Llama 3.1 model card reports 39.3M H100-hours at 700 W (TDP, "adjusted
# for power usage efficiency") and 11,390 t CO2eq location-based: 0.414 kg CO2eq per GPU-kWh at
# TDP with PUE folded in. perflaw therefore defaults to PUE 1.0 and that intensity; pass your
# site's PUE and grid intensity for anything else.
DEFAULT_PUE = 1.0
DEFAULT_GRID_KG_PER_KWH = 11_390_000 / (39.3e6 * 0.700)
GRID_SOURCE = "Llama 3.1 model card: 11,390 t CO2eq for 39.3M H100-hours at 700 W (PUE folded in)"


@dataclass(frozen=True)
class PlanCost:
    """Cost of training one plan on given hardware (times in hours unless named)."""

    train_flops: float
    flops_per_token: float
    flops_rule: str
    seq_len: int
    gpu_hours: float  # end to end: MFU × goodput
    gpu_hours_steady: float  # at steady-state MFU only
    days: float | None  # wall clock on ``gpus``
    gpus: int | None
    usd: float | None
    energy_kwh: float | None
    co2_kg: float | None
    pue: float
    grid_kg_per_kwh: float
    hardware: str
    precision: str
    mfu: float
    goodput: float

    def as_dict(self) -> dict:
        return asdict(self)


def _check(name: str, value: float, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise InputError(name, f"must be a number between {low:g} and {high:g}", value)
    return float(value)


def plan_cost(arch: Architecture, tokens_t: float, hardware: Hardware, utilization: Utilization, *,
              gpus: int | None = None, seq_len: int = 4096, flops_rule: str = "attention",
              precision: str = "bf16", price_usd_per_gpu_hour: float | None = None, pue: float = DEFAULT_PUE,
              grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH) -> PlanCost:
    """Cost of training ``arch`` on ``tokens_t`` trillion tokens (MoE: activated parameters)."""
    _check("tokens", tokens_t, 1e-6, 1e4)
    _check("--pue", pue, 1.0, 3.0)
    _check("--grid-co2", grid_kg_per_kwh, 0.0, 2.0)
    if price_usd_per_gpu_hour is not None:
        _check("--price", price_usd_per_gpu_hour, 1e-4, 1e4)
    if gpus is not None and (isinstance(gpus, bool) or not isinstance(gpus, int) or not 1 <= gpus <= 10_000_000):
        raise InputError("--gpus", "must be a whole number between 1 and 10,000,000", gpus)
    fpt = arch.flops_per_token(seq_len, flops_rule)
    flops = fpt * tokens_t * 1e12
    per_hour = 3600.0 * hardware.peak_flops(precision)
    hours_steady = flops / (per_hour * utilization.mfu)
    hours = hours_steady / utilization.goodput
    energy = hours * hardware.tdp_w / 1000.0 * pue if hardware.tdp_w else None
    return PlanCost(
        train_flops=flops, flops_per_token=fpt, flops_rule=flops_rule, seq_len=seq_len, gpu_hours=hours,
        gpu_hours_steady=hours_steady, days=hours / 24.0 / gpus if gpus else None, gpus=gpus,
        usd=hours * price_usd_per_gpu_hour if price_usd_per_gpu_hour is not None else None,
        energy_kwh=energy, co2_kg=energy * grid_kg_per_kwh if energy is not None else None, pue=pue,
        grid_kg_per_kwh=grid_kg_per_kwh, hardware=hardware.name, precision=precision, mfu=utilization.mfu,
        goodput=utilization.goodput,
    )
