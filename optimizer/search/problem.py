"""A planning problem (budget, hardware, constraints, law) and the vectorised evaluation of candidates.

For a single FLOPs budget C the best token count of an architecture follows in closed form: the
law's MMLU grows with T' = min(T, S), so T = min(C / FLOPs-per-token, S_law, max unique tokens),
the most the budget allows and no more than the law can still use. Each candidate then carries
its predicted MMLU, costs and constraint values; a constraint is satisfied when its value is ≤ 0
(the Optuna convention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from perflaw.law.architecture import Architecture, flops_per_token_arrays, param_arrays
from perflaw.law.coefficients import PAPER, LawCoefficients
from perflaw.law.errors import InputError
from perflaw.law.moe import law_size_b, moe_law_terms
from perflaw.optimizer.cost.hardware import Hardware, Utilization
from perflaw.optimizer.search.space import SearchSpace

#: The fields that define a candidate architecture (lattice arrays and plan rows alike).
ARCH_FIELDS = ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "experts", "active_experts",
               "shared_experts", "expert_ffn")

#: Constraint names, in the order of the columns ``evaluate`` returns.
CONSTRAINTS = ("params_min", "params_max", "tokens_min", "train_memory", "serve_memory", "mmlu_min")


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

    def __post_init__(self) -> None:
        if not (math.isfinite(self.budget_flops) and 1e6 <= self.budget_flops <= 1e32):
            raise InputError("budget", "must be between 1e6 and 1e32 FLOPs", self.budget_flops)

    def with_budget(self, flops: float) -> "Problem":
        from dataclasses import replace
        return replace(self, budget_flops=float(flops))


def evaluate(problem: Problem, arch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Evaluate candidates (arrays from ``SearchSpace.lattice``): tokens, MMLU, costs, constraints."""
    s, c = problem.space, problem.constraints
    total, active = param_arrays(arch["layers"], arch["hidden"], arch["ffn"], arch["heads"], arch["kv_heads"],
                                 arch["head_dim"], s.vocab, s.tied_embeddings, s.gated, arch["experts"],
                                 arch["active_experts"], arch["shared_experts"], arch["expert_ffn"])
    fpt = flops_per_token_arrays(active, arch["layers"], arch["hidden"], arch["heads"], arch["head_dim"], s.vocab,
                                 problem.seq_len, problem.flops_rule, s.tied_embeddings)
    total_b, active_b = total / 1e9, active / 1e9
    size_b = law_size_b(total_b, active_b, problem.coefficients.moe_variant)
    tokens_t = problem.budget_flops / fpt / 1e12
    tokens_t = np.minimum(tokens_t, size_b)  # beyond S trillion tokens the law gains nothing
    if c.max_tokens_t is not None:
        tokens_t = np.minimum(tokens_t, c.max_tokens_t)
    if s.is_moe:
        d_law = np.where(arch["experts"] > 0, (arch["active_experts"] + arch["shared_experts"]) * arch["expert_ffn"],
                         arch["ffn"])
    else:
        d_law = arch["ffn"]
    terms = moe_law_terms(arch["layers"], arch["hidden"], d_law, tokens_t, total_b, active_b, problem.gamma,
                          problem.coefficients)
    out = {
        "law_ffn": d_law,
        "params_b": total_b, "active_params_b": active_b, "flops_per_token": fpt, "tokens_t": tokens_t,
        "effective_tokens_t": terms.effective_tokens_t, "discount": terms.discount, "mmlu": terms.mmlu,
        "train_flops": fpt * tokens_t * 1e12,
    }
    lo, hi = c.params_b
    out["params_min"] = lo - total_b
    out["params_max"] = total_b - hi
    out["tokens_min"] = c.min_tokens_t - tokens_t
    # Training memory, a lower bound: model states (16 bytes per parameter) sharded over every GPU.
    # The exact layout search confirms the plans that are returned (perflaw.optimizer.search.strategies).
    if problem.hardware is not None and problem.gpus:
        usable = problem.hardware.hbm_bytes * (1 - c.headroom)
        out["train_memory"] = (16.0 * total / problem.gpus - usable) / 1e9
    else:
        out["train_memory"] = np.zeros_like(total)
    if c.serve_hbm_gb is not None:
        kv = 2.0 * arch["layers"] * arch["kv_heads"] * arch["head_dim"] * c.serve_context * c.serve_batch * 2.0
        out["serve_memory"] = (2.0 * total + kv - c.serve_hbm_gb * 1e9 * (1 - c.headroom)) / 1e9
    else:
        out["serve_memory"] = np.zeros_like(total)
    out["mmlu_min"] = (c.min_mmlu - out["mmlu"]) if c.min_mmlu is not None else np.zeros_like(total)
    violation = np.maximum(out["params_min"], 0.0)
    for k in CONSTRAINTS[1:]:
        violation += np.maximum(out[k], 0.0)
    out["violation"] = violation
    out["feasible"] = violation <= 0.0
    return out


def plan_architecture(problem: Problem, plan: dict) -> Architecture:
    """The ``Architecture`` of a plan row (a dict of ``ARCH_FIELDS``; MoE fields may be absent)."""
    return architecture_of(problem, {k: np.array([plan.get(k, 0)]) for k in ARCH_FIELDS}, 0)


def architecture_of(problem: Problem, arch: dict[str, np.ndarray], i: int) -> Architecture:
    """The ``Architecture`` value object of candidate ``i``."""
    s = problem.space
    moe = int(arch["experts"][i]) > 0
    return Architecture(
        layers=int(arch["layers"][i]), hidden=int(arch["hidden"][i]), ffn=0 if moe else int(arch["ffn"][i]),
        heads=int(arch["heads"][i]), kv_heads=int(arch["kv_heads"][i]), head_dim=int(arch["head_dim"][i]),
        vocab=s.vocab, tied_embeddings=s.tied_embeddings, ffn_kind="gated" if s.gated else "plain",
        experts=int(arch["experts"][i]), active_experts=int(arch["active_experts"][i]) if moe else 0,
        shared_experts=int(arch["shared_experts"][i]) if moe else 0,
        expert_ffn=int(arch["expert_ffn"][i]) if moe else 0,
    )
