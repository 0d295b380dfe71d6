"""What one plan (an architecture trained on a token count) costs: FLOPs, time, money, energy, CO2."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from perflaw.law.architecture import Architecture
from perflaw.law.rules import TOKENS_T, Range, check_number
from perflaw.optimizer.cost.hardware import GPUS, PRICE_USD_PER_GPU_HOUR, Hardware, Utilization

# Energy defaults. Meta's Llama 3.1 model card reports 39.3M H100-hours at 700 W (TDP, "adjusted
# for power usage efficiency") and 11,390 t CO2eq location-based: 0.414 kg CO2eq per GPU-kWh at
# TDP with PUE folded in. perflaw therefore defaults to PUE 1.0 and that intensity; pass your
# site's PUE and grid intensity for anything else.
DEFAULT_PUE = 1.0
DEFAULT_GRID_KG_PER_KWH = 11_390_000 / (39.3e6 * 0.700)
PUE = Range(1.0, 3.0)
GRID_KG_PER_KWH = Range(0.0, 2.0)
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


def gpu_hours(train_flops, hardware: Hardware, utilization: Utilization, precision: str = "bf16"):
    """(steady-state, end-to-end) GPU-hours for ``train_flops`` model FLOPs (numbers or arrays)."""
    steady = train_flops / (3600.0 * hardware.peak_flops(precision) * utilization.mfu)
    return steady, steady / utilization.goodput


def plan_cost(arch: Architecture, tokens_t: float, hardware: Hardware, utilization: Utilization, *,
              gpus: int | None = None, seq_len: int = 4096, flops_rule: str = "attention",
              precision: str = "bf16", price_usd_per_gpu_hour: float | None = None, pue: float = DEFAULT_PUE,
              grid_kg_per_kwh: float = DEFAULT_GRID_KG_PER_KWH) -> PlanCost:
    """Cost of training ``arch`` on ``tokens_t`` trillion tokens (MoE: activated parameters)."""
    check_number("tokens_t", tokens_t, TOKENS_T)
    check_number("pue", pue, PUE)
    check_number("grid_kg_per_kwh", grid_kg_per_kwh, GRID_KG_PER_KWH)
    if price_usd_per_gpu_hour is not None:
        check_number("price_usd_per_gpu_hour", price_usd_per_gpu_hour, PRICE_USD_PER_GPU_HOUR)
    if gpus is not None:
        check_number("gpus", gpus, GPUS, whole=True)
    fpt = arch.flops_per_token(seq_len, flops_rule)
    flops = fpt * tokens_t * 1e12
    hours_steady, hours = gpu_hours(flops, hardware, utilization, precision)
    energy = hours * hardware.tdp_w / 1000.0 * pue if hardware.tdp_w else None
    return PlanCost(
        train_flops=flops, flops_per_token=fpt, flops_rule=flops_rule, seq_len=seq_len, gpu_hours=hours,
        gpu_hours_steady=hours_steady, days=hours / 24.0 / gpus if gpus else None, gpus=gpus,
        usd=hours * price_usd_per_gpu_hour if price_usd_per_gpu_hour is not None else None,
        energy_kwh=energy, co2_kg=energy * grid_kg_per_kwh if energy is not None else None, pue=pue,
        grid_kg_per_kwh=grid_kg_per_kwh, hardware=hardware.name, precision=precision, mfu=utilization.mfu,
        goodput=utilization.goodput,
    )
