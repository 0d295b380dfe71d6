"""Compute budgets every way round: FLOPs ↔ GPU-hours ↔ wall-clock days ↔ dollars.

A budget is stated one way (FLOPs, GPU-hours, dollars or days on N GPUs) and converts to the
others through the hardware's dense peak and the end-to-end effective utilization
(steady-state MFU × goodput, see perflaw.optimizer.cost.hardware.Utilization):

    FLOPs = GPU-hours × 3600 × peak × MFU × goodput
    GPU-hours = days × 24 × GPUs = dollars / price per GPU-hour
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import Hardware, Utilization

BUDGET_KINDS = ("flops", "gpu_hours", "usd", "days")
_LIMITS = {"flops": (1e15, 1e32), "gpu_hours": (1e-3, 1e12), "usd": (1e-3, 1e14), "days": (1e-4, 1e5)}


def _positive(name: str, value, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(name, "must be a finite number", value)
    if value <= 0:
        raise InputError(name, "must be positive", value)
    if not low <= value <= high:
        raise InputError(name, f"must be between {low:g} and {high:g}", value)
    return float(value)


@dataclass(frozen=True)
class Budget:
    """A compute budget as stated, with what it needs to convert (hardware, GPUs, price)."""

    kind: str  # one of BUDGET_KINDS
    value: float  # FLOPs, GPU-hours, USD or days
    hardware: Hardware | None = None
    utilization: Utilization | None = None
    gpus: int | None = None
    price_usd_per_gpu_hour: float | None = None
    precision: str = "bf16"

    def __post_init__(self) -> None:
        if self.kind not in BUDGET_KINDS:
            raise InputError("budget kind", f"must be one of {', '.join(BUDGET_KINDS)}", self.kind)
        low, high = _LIMITS[self.kind]
        _positive(f"--{self.kind.replace('_', '-')}", self.value, low, high)
        if self.gpus is not None and (isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or
                                      not 1 <= self.gpus <= 10_000_000):
            raise InputError("--gpus", "must be a whole number between 1 and 10,000,000", self.gpus)
        if self.price_usd_per_gpu_hour is not None:
            _positive("--price", self.price_usd_per_gpu_hour, 1e-4, 1e4)
        if self.kind != "flops" and (self.hardware is None or self.utilization is None):
            raise InputError("--hardware", f"is required for a budget in {self.kind.replace('_', '-')}", "missing")
        if self.kind == "days" and self.gpus is None:
            raise InputError("--gpus", "is required with --days", "missing")
        if self.kind == "usd" and self.price_usd_per_gpu_hour is None:
            raise InputError("--price", "is required with --usd (dollars per GPU-hour)", "missing")
        if self.hardware is not None:
            self.hardware.peak_flops(self.precision)  # validates precision against the hardware

    @property
    def flops_per_gpu_hour(self) -> float:
        """Model FLOPs one GPU-hour delivers end to end."""
        if self.hardware is None or self.utilization is None:
            raise InputError("--hardware", "is required to convert FLOPs to GPU-hours", "missing")
        return 3600.0 * self.hardware.peak_flops(self.precision) * self.utilization.effective

    def gpu_hours(self) -> float | None:
        if self.kind == "gpu_hours":
            return self.value
        if self.kind == "days":
            return self.value * 24.0 * self.gpus
        if self.kind == "usd":
            return self.value / self.price_usd_per_gpu_hour
        if self.hardware is None or self.utilization is None:
            return None
        return self.value / self.flops_per_gpu_hour

    def flops(self) -> float:
        if self.kind == "flops":
            return self.value
        return self.gpu_hours() * self.flops_per_gpu_hour

    def days(self) -> float | None:
        if self.kind == "days":
            return self.value
        hours = self.gpu_hours()
        return None if hours is None or self.gpus is None else hours / 24.0 / self.gpus

    def usd(self) -> float | None:
        hours = self.gpu_hours()
        return None if hours is None or self.price_usd_per_gpu_hour is None else hours * self.price_usd_per_gpu_hour

    def as_dict(self) -> dict:
        return {
            "stated_as": self.kind, "stated_value": self.value, "flops": self.flops(),
            "gpu_hours": self.gpu_hours(), "days": self.days(), "usd": self.usd(), "gpus": self.gpus,
            "hardware": self.hardware.name if self.hardware else None, "precision": self.precision,
            "mfu": self.utilization.mfu if self.utilization else None,
            "goodput": self.utilization.goodput if self.utilization else None,
            "effective_utilization": self.utilization.effective if self.utilization else None,
            "utilization_source": self.utilization.source if self.utilization else None,
            "price_usd_per_gpu_hour": self.price_usd_per_gpu_hour,
        }
