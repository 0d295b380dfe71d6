"""A planning problem: the search space, the budget in FLOPs, the hardware, the constraints and the law."""

from __future__ import annotations


from dataclasses import dataclass, field

from perflaw.law.coefficients import PAPER, LawCoefficients
from perflaw.law.errors import InputError
from perflaw.law.rules import PARAMS_B, TOKENS_T
from perflaw.optimizer.search.defaults import CONSTRAINTS
from perflaw.optimizer.cost.hardware import HBM_GB
from perflaw.law.rules import Range, check_number, is_number
from perflaw.optimizer.cost.hardware import Hardware, Utilization
from perflaw.optimizer.search.space import SearchSpace

MMLU = Range(0, 100, open_high=True)  # points
SERVE_CONTEXT = Range(1, 1 << 24)  # tokens
SERVE_BATCH = Range(1, 1 << 20)  # sequences
HEADROOM = Range(0, 1, open_high=True)  # share of HBM kept free
#: What a search may recommend: ``data`` only plans inside the law's domain (law.domain), ``law`` any plan.
TRUST = ("data", "law")
#: What a search maximises: ``mean`` the predicted MMLU, ``lower`` the low end of its interval (risk-averse).
OBJECTIVES = ("mean", "lower")
BUDGET_FLOPS = Range(1e6, 1e32)  # what a problem accepts (budgets in FLOPs start at 1e15; fronts sweep lower)


@dataclass(frozen=True)
class Constraints:
    """Limits a plan must respect (parameters in billions, tokens in trillions, memory in GB).

    These defaults are the defaults of ``perflaw optimize``, of scenario files and of
    ``perflaw.optimize``: all three read them from here.
    """

    params_b: tuple[float, float] = CONSTRAINTS["params_b"]  # the defaults live in search.defaults (no numpy)
    min_tokens_t: float = CONSTRAINTS["min_tokens_t"]  # a plan must train on at least this many tokens
    max_tokens_t: float | None = None  # training tokens at most (a hard data limit)
    unique_tokens_t: float | None = None  # unique data; more tokens repeat it, worth less (law.repetition)
    min_mmlu: float | None = None
    serve_hbm_gb: float | None = None  # weights + KV cache must fit one GPU of this size
    serve_context: int = CONSTRAINTS["serve_context"]
    serve_batch: int = CONSTRAINTS["serve_batch"]
    headroom: float = CONSTRAINTS["headroom"]  # share of HBM kept free, training and serving

    def __post_init__(self) -> None:
        pair = self.params_b
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and all(is_number(v) for v in pair)
                and PARAMS_B.low <= pair[0] <= pair[1] <= PARAMS_B.high):
            raise InputError("params_b", f"must be [low, high] with low <= high, both in {PARAMS_B.text()}", pair)
        object.__setattr__(self, "params_b", (float(pair[0]), float(pair[1])))
        check_number("min_tokens_t", self.min_tokens_t, TOKENS_T)
        if self.max_tokens_t is not None:
            check_number("max_tokens_t", self.max_tokens_t, TOKENS_T)
            if self.max_tokens_t < self.min_tokens_t:
                raise InputError("max_tokens_t", f"must be at least `min_tokens_t` ({self.min_tokens_t:g}T)",
                                 self.max_tokens_t)
        if self.unique_tokens_t is not None:
            check_number("unique_tokens_t", self.unique_tokens_t, TOKENS_T)
        if self.min_mmlu is not None:
            check_number("min_mmlu", self.min_mmlu, MMLU)
        if self.serve_hbm_gb is not None:
            check_number("serve_hbm_gb", self.serve_hbm_gb, HBM_GB)
        check_number("serve_context", self.serve_context, SERVE_CONTEXT, whole=True)
        check_number("serve_batch", self.serve_batch, SERVE_BATCH, whole=True)
        check_number("headroom", self.headroom, HEADROOM)


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
    data_vintage: str | None = None  # YYYY-MM the data's quality matches; None: the law's reference month
    trust: str = "data"  # TRUST
    objective: str = "mean"  # OBJECTIVES
    model_mfu: bool = False  # the MFU is to come from the best plan's fastest layout (search.modelled_mfu)
    flops_fixed: bool = True  # the budget was stated in FLOPs (else it buys FLOPs in proportion to the MFU)
    timed_layout: object = None  # (Architecture, LayoutSearch) whose MFU the utilization is (search.modelled_mfu)

    def __post_init__(self) -> None:
        check_number("budget_flops", self.budget_flops, BUDGET_FLOPS)
        if self.trust not in TRUST:
            raise InputError("trust", f"must be one of {', '.join(TRUST)}", self.trust)
        if self.objective not in OBJECTIVES:
            raise InputError("objective", f"must be one of {', '.join(OBJECTIVES)}", self.objective)
        self.coefficients.vintage_years(self.data_vintage)  # checks the month

    @property
    def vintage_years(self) -> float:
        """Years the run's data vintage lies after the law's reference month (0 without a vintage term)."""
        return self.coefficients.vintage_years(self.data_vintage)

    @property
    def used_vintage(self) -> str | None:
        """The data vintage the law assumes for this problem (None for a law without a vintage term)."""
        return self.coefficients.used_vintage(self.data_vintage)

    def with_budget(self, flops: float) -> "Problem":
        from dataclasses import replace
        return replace(self, budget_flops=float(flops))
