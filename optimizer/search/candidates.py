"""Evaluated candidates: the vectorised evaluation of lattice points and the typed container of its arrays.

For a single FLOPs budget C the best token count of an architecture follows in closed form: the
law's MMLU grows with T' = min(T, S), so T = min(C / FLOPs-per-token, S_law, max unique tokens),
the most the budget allows and no more than the law can still use (for forms without the clip,
T' grows with T everywhere and T = min(C / FLOPs-per-token, max unique tokens)). Each candidate then carries
its predicted MMLU, costs and constraint values; a constraint is satisfied when its value is ≤ 0
(the Optuna convention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from perflaw.law.architecture import Architecture, flops_per_token_arrays, param_arrays
from perflaw.law.domain import CHOSEN, plan_features, zoo_domain
from perflaw.law.moe import law_size_b, moe_law_args, moe_law_terms
from perflaw.law.repetition import most_useful_tokens, repeated_tokens, tokens_for_repeated
from perflaw.optimizer.cost.plan_cost import gpu_hours
from perflaw.optimizer.search.problem import Problem

#: The fields that define a candidate architecture (lattice arrays and plan rows alike).
ARCH_FIELDS = ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "experts", "active_experts",
               "shared_experts", "expert_ffn")

#: The domain features a dense lattice's distance uses (its models' table has no MoE features).
_DENSE_CHOSEN = tuple(k for k in CHOSEN if k not in ("expansion", "experts_per_token"))

#: Constraint names, in the order of the columns ``evaluate`` returns.
#: ``domain``: how far a plan lies outside the law's domain (law.domain), a constraint only with trust ``data``.
CONSTRAINTS = ("params_min", "params_max", "tokens_min", "train_memory", "serve_memory", "mmlu_min", "domain")

#: Columns of ``Candidates.to_frame()`` before the constraint values, in order.
FRAME_COLUMNS = (*ARCH_FIELDS, "params_b", "active_params_b", "tokens_t", "effective_tokens_t", "discount", "mmlu",
                 "mmlu_low", "mmlu_high", "train_flops", "flops_per_token", "gpu_hours", "feasible", "violation")


def evaluate(problem: Problem, arch: dict[str, np.ndarray], lean: bool = False) -> dict[str, np.ndarray]:
    """Evaluate candidates (arrays from ``SearchSpace.lattice``): tokens, MMLU, costs, constraints.

    ``lean``: only ``score``, ``feasible`` and ``mmlu`` are needed (the exact strategy's pass over the
    whole lattice, the landscape), and only they are returned, the same floats as without ``lean``."""
    s, c = problem.space, problem.constraints
    total, active = param_arrays(arch["layers"], arch["hidden"], arch["ffn"], arch["heads"], arch["kv_heads"],
                                 arch["head_dim"], s.vocab, s.tied_embeddings, s.gated, arch["experts"],
                                 arch["active_experts"], arch["shared_experts"], arch["expert_ffn"])
    fpt = flops_per_token_arrays(active, arch["layers"], arch["hidden"], arch["heads"], arch["head_dim"], s.vocab,
                                 problem.seq_len, problem.flops_rule, s.tied_embeddings)
    total_b = total / 1e9
    active_b = total_b if active is total else active / 1e9  # dense: one array (and an expansion of exactly 1)
    size_b = law_size_b(total_b, active_b, problem.coefficients.moe_variant)
    tokens_t = problem.budget_flops / fpt / 1e12
    unique = unique_tokens(problem)
    if problem.coefficients.tokens == "clip":  # beyond S trillion tokens (at their worth) the clipped law gains nothing
        tokens_t = np.minimum(tokens_t, tokens_for_repeated(size_b, unique))
    if unique != np.inf:  # nor from repeats worth under 1 % of new data (no limit when nothing repeats)
        tokens_t = np.minimum(tokens_t, most_useful_tokens(unique))
    if c.max_tokens_t is not None:
        tokens_t = np.minimum(tokens_t, c.max_tokens_t)
    if s.is_moe:
        d_law = np.where(arch["experts"] > 0, (arch["active_experts"] + arch["shared_experts"]) * arch["expert_ffn"],
                         arch["ffn"])
    else:
        d_law = arch["ffn"]
    terms = moe_law_terms(arch["layers"], arch["hidden"], d_law, repeated_tokens(tokens_t, unique), total_b, active_b,
                          problem.gamma, problem.coefficients, problem.vintage_years, with_discount=not lean)
    out = {
        "law_ffn": d_law,
        "params_b": total_b, "active_params_b": active_b, "flops_per_token": fpt, "tokens_t": tokens_t,
        "effective_tokens_t": terms.effective_tokens_t, "discount": terms.discount, "mmlu": terms.mmlu,
    }
    if not lean:
        out["train_flops"] = fpt * tokens_t * 1e12
    zero = np.zeros_like(total)  # the value of every constraint that cannot bind in this problem (read-only)
    zero.flags.writeable = False
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
        out["train_memory"] = zero
    if c.serve_hbm_gb is not None:
        kv = 2.0 * arch["layers"] * arch["kv_heads"] * arch["head_dim"] * c.serve_context * c.serve_batch * 2.0
        out["serve_memory"] = (2.0 * total + kv - c.serve_hbm_gb * 1e9 * (1 - c.headroom)) / 1e9
    else:
        out["serve_memory"] = zero
    out["mmlu_min"] = (c.min_mmlu - out["mmlu"]) if c.min_mmlu is not None else zero

    def features():  # the plans' domain features (a lean pass of the raw law needs none)
        return plan_features(arch["layers"], arch["hidden"], d_law, tokens_t, total_b, active_b,
                             arch["active_experts"], CHOSEN if s.is_moe else _DENSE_CHOSEN)

    if lean:  # only inside or outside counts: the distance's ratio product less 1, exactly 0 where it is 0
        out["domain"] = zoo_domain().excess(features(), active_b, arch["experts"] > 0, CHOSEN) - 1.0 \
            if problem.trust == "data" else zero
    else:
        distance = zoo_domain().distance(features(), active_b, arch["experts"] > 0, CHOSEN)
        out["domain_distance"] = np.minimum(distance, 1e6)
        out["domain"] = out["domain_distance"] if problem.trust == "data" else zero
    if problem.objective == "lower":  # the low end of each interval, widened by its coefficient spread
        out["score"] = law_interval(problem, d_law, arch["layers"], arch["hidden"], tokens_t, total_b, active_b,
                                    out["mmlu"])[0]
    else:
        out["score"] = out["mmlu"]
    binding = [out[k] for k in CONSTRAINTS[1:] if out[k] is not zero]  # one that cannot bind adds exactly nothing
    if lean:  # a sum of parts >= 0 is <= 0 exactly when every part is 0: every value <= 0 (a NaN fails both)
        feasible = out["params_min"] <= 0.0
        for value in binding:
            feasible &= value <= 0.0
        return {"score": out["score"], "feasible": feasible, "mmlu": out["mmlu"]}
    violation = np.maximum(out["params_min"], 0.0)
    for value in binding:
        violation += np.maximum(value, 0.0)
    out["violation"] = violation
    out["feasible"] = violation <= 0.0
    return out


def unique_tokens(problem: Problem) -> float:
    """The unique tokens a problem's data has, trillions (inf: every token is new)."""
    u = problem.constraints.unique_tokens_t
    return np.inf if u is None else u


def law_interval(problem: Problem, law_ffn, layers, hidden, tokens_t, total_b, active_b, mmlu):
    """Interval bounds (low, high) of candidates' predictions, widened by each one's coefficient spread."""
    from perflaw.law.predict import interval_for
    from perflaw.law.uncertainty import interval_bounds, prediction_sd
    iv = interval_for(problem.coefficients)
    sd = prediction_sd(iv, moe_law_args(layers, hidden, law_ffn, repeated_tokens(tokens_t, unique_tokens(problem)),
                                        total_b, active_b, problem.gamma, problem.coefficients, problem.vintage_years))
    return interval_bounds(mmlu, iv, problem.coefficients.floor, sd)


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


@dataclass(frozen=True)
class Candidates:
    """Every candidate a search evaluated: one numpy array per column, all of one length.

    ``candidates["mmlu"]`` is a column; ``len(candidates)`` the number of candidates;
    ``to_frame()`` a pandas DataFrame with the interval and GPU-hours of each candidate. The exact
    strategy keeps only the columns it searched by (``score``, ``feasible``) and gives ``build``,
    which evaluates the whole lattice again at the first use of any other column.
    """

    problem: Problem = field(repr=False)
    kept: dict[str, np.ndarray] = field(repr=False)
    build: Callable[[], dict[str, np.ndarray]] | None = field(default=None, repr=False)
    _full: list = field(default_factory=list, repr=False, compare=False)

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """Every column (evaluated now if the search kept only some)."""
        if self.build is None:
            return self.kept
        if not self._full:
            self._full.append(self.build())
        return self._full[0]

    def __len__(self) -> int:
        return len(next(iter(self.kept.values()))) if self.kept else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.kept[name] if name in self.kept else self.columns[name]

    def __contains__(self, name: str) -> bool:
        return name in self.kept or name in self.columns

    def keys(self):
        return self.columns.keys()

    def gpu_hours(self) -> np.ndarray | None:
        """End-to-end GPU-hours of each candidate (as ``plan_cost`` computes them); None without hardware."""
        p = self.problem
        if p.hardware is None or p.utilization is None:
            return None
        return gpu_hours(self.columns["train_flops"], p.hardware, p.utilization, p.precision)[1]

    def to_frame(self):
        """A DataFrame: architecture, size, tokens, MMLU with its interval, FLOPs, GPU-hours, constraints."""
        import pandas as pd

        c = self.columns
        low, high = law_interval(self.problem, c["law_ffn"], c["layers"], c["hidden"], c["tokens_t"], c["params_b"],
                                 c["active_params_b"], c["mmlu"])
        hours = self.gpu_hours()
        extra = {"mmlu_low": low, "mmlu_high": high,
                 "gpu_hours": hours if hours is not None else np.full(len(self), np.nan)}
        data = {k: (extra[k] if k in extra else c[k]) for k in FRAME_COLUMNS}
        for k in ARCH_FIELDS:
            data[k] = data[k].astype(np.int64)
        data.update({k: c[k] for k in CONSTRAINTS})
        return pd.DataFrame(data)
