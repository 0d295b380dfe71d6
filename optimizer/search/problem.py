"""A planning problem: the search space, the budget in FLOPs, the hardware, the constraints and the law."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from perflaw.law.coefficients import PAPER, LawCoefficients
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import Hardware, Utilization
from perflaw.optimizer.search.space import SearchSpace

@dataclass(frozen=True)
class Constraints:
    """Limits a plan must respect (parameters in billions, tokens in trillions, bytes per GPU)."""

    params_b: tuple[float, float] = (0.01, 1e5)
    min_tokens_t: float = 0.01  # a plan must train on at least this many tokens
    max_tokens_t: float | None = None  # unique tokens available (the data constraint)
    min_mmlu: float | None = None
    serve_hbm_gb: float | None = None  # weights + KV cache must fit one GPU of this size
    serve_context: int = 8192
    serve_batch: int = 1
    headroom: float = 0.1  # share of HBM kept free, training and serving

    def __post_init__(self) -> None:
        lo, hi = self.params_b
        if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
            raise InputError("--params", "must be a range LOW:HIGH with 0 < LOW <= HIGH", f"{lo}B:{hi}B")
        if not (math.isfinite(self.min_tokens_t) and self.min_tokens_t > 0):
            raise InputError("min tokens", "must be positive", self.min_tokens_t)
        if self.max_tokens_t is not None and not (math.isfinite(self.max_tokens_t) and
                                                  self.max_tokens_t >= self.min_tokens_t):
            raise InputError("--max-tokens", f"must be at least the minimum tokens ({self.min_tokens_t}T)",
                             self.max_tokens_t)
        if self.min_mmlu is not None and not 0 <= self.min_mmlu < 100:
            raise InputError("--min-mmlu", "must be in [0, 100)", self.min_mmlu)
        if self.serve_hbm_gb is not None and not (math.isfinite(self.serve_hbm_gb) and self.serve_hbm_gb > 0):
            raise InputError("--serve-hbm-gb", "must be positive", self.serve_hbm_gb)
        if not 0 <= self.headroom < 1:
            raise InputError("--headroom", "must be a fraction in [0, 1)", self.headroom)


@dataclass(frozen=True)
class Problem:
    """Everything a search needs: the space, the budget in FLOPs and how plans are costed."""

    space: SearchSpace
    budget_flops: float
    hardware: Hardware | None = None
    gpus: int | None = None
    utilization: Utilization | None = None
    constraints: Constraints = field(default_factory=Constraints)
    coefficients: LawCoefficients = PAPER
    gamma: float = 1.0
    seq_len: int = 4096
    flops_rule: str = "attention"
    precision: str = "bf16"  # of the hardware peak that plan costs are computed against
    price_usd_per_gpu_hour: float | None = None  # plan costs in dollars when given

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget_flops) and 1e6 <= self.budget_flops <= 1e32):
            raise InputError("budget", "must be between 1e6 and 1e32 FLOPs", self.budget_flops)

    def with_budget(self, flops: float) -> "Problem":
        from dataclasses import replace
        return replace(self, budget_flops=float(flops))
