"""Compute budgets every way round: FLOPs ↔ GPU-hours ↔ wall-clock days ↔ dollars.

A budget is stated one way (FLOPs, GPU-hours, dollars or days on N GPUs) and converts to the
others through the hardware's dense peak and the end-to-end effective utilization
(steady-state MFU × goodput, see perflaw.optimizer.cost.hardware.Utilization):

    FLOPs = GPU-hours × 3600 × peak × MFU × goodput
    GPU-hours = days × 24 × GPUs = dollars / price per GPU-hour
"""

from __future__ import annotations

from dataclasses import dataclass

from perflaw.law.errors import InputError
from perflaw.law.rules import Range, check_choice, check_number
from perflaw.optimizer.cost.hardware import GPUS, PRICE_USD_PER_GPU_HOUR, Hardware, Utilization

BUDGET_KINDS = ("flops", "gpu_hours", "usd", "days")
#: What each kind of budget may be (the scenario schema and the command line use the same ranges).
LIMITS = {"flops": Range(1e15, 1e32), "gpu_hours": Range(1e-3, 1e12), "usd": Range(1e-3, 1e14),
          "days": Range(1e-4, 1e5)}


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
        check_choice("kind", self.kind, BUDGET_KINDS)
        object.__setattr__(self, "value", check_number(self.kind, self.value, LIMITS[self.kind]))
        if self.gpus is not None:
            object.__setattr__(self, "gpus", check_number("gpus", self.gpus, GPUS, whole=True))
        if self.price_usd_per_gpu_hour is not None:
            check_number("price_usd_per_gpu_hour", self.price_usd_per_gpu_hour, PRICE_USD_PER_GPU_HOUR)
        if self.kind != "flops" and (self.hardware is None or self.utilization is None):
            raise InputError("hardware", f"is required for a budget in `{self.kind}`", "missing")
        if self.kind == "days" and self.gpus is None:
            raise InputError("gpus", "is required with a budget in `days`", "missing")
        if self.kind == "usd" and self.price_usd_per_gpu_hour is None:
            raise InputError("price_usd_per_gpu_hour", "is required with a budget in `usd` (dollars per GPU-hour)",
                             "missing")
        if self.hardware is not None:
            self.hardware.peak_flops(self.precision)  # validates precision against the hardware

    @property
    def flops_per_gpu_hour(self) -> float:
        """Model FLOPs one GPU-hour delivers end to end."""
        if self.hardware is None or self.utilization is None:
            raise InputError("hardware", "is required to convert FLOPs to GPU-hours", "missing")
        return 3600.0 * self.hardware.peak_flops(self.precision) * self.utilization.effective

    @property
    def gpu_hours(self) -> float | None:
        """GPU-hours on the hardware (None for FLOPs without hardware)."""
        if self.kind == "gpu_hours":
            return self.value
        if self.kind == "days":
            return self.value * 24.0 * self.gpus
        if self.kind == "usd":
            return self.value / self.price_usd_per_gpu_hour
        if self.hardware is None or self.utilization is None:
            return None
        return self.value / self.flops_per_gpu_hour

    @property
    def flops(self) -> float:
        """Model FLOPs the budget buys."""
        if self.kind == "flops":
            return self.value
        return self.gpu_hours * self.flops_per_gpu_hour

    @property
    def days(self) -> float | None:
        """Wall-clock days on the GPUs (None without a GPU count)."""
        if self.kind == "days":
            return self.value
        hours = self.gpu_hours
        return None if hours is None or self.gpus is None else hours / 24.0 / self.gpus

    @property
    def usd(self) -> float | None:
        """US dollars at the price (None without a price)."""
        hours = self.gpu_hours
        return None if hours is None or self.price_usd_per_gpu_hour is None else hours * self.price_usd_per_gpu_hour

    def as_dict(self) -> dict:
        return {
            "stated_as": self.kind, "stated_value": self.value, "flops": self.flops,
            "gpu_hours": self.gpu_hours, "days": self.days, "usd": self.usd, "gpus": self.gpus,
            "hardware": self.hardware.name if self.hardware else None, "precision": self.precision,
            "mfu": self.utilization.mfu if self.utilization else None,
            "goodput": self.utilization.goodput if self.utilization else None,
            "effective_utilization": self.utilization.effective if self.utilization else None,
            "utilization_source": self.utilization.source if self.utilization else None,
            "price_usd_per_gpu_hour": self.price_usd_per_gpu_hour,
        }
