"""A plan: one architecture trained on one token count, with its prediction, interval, cost and layout."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perflaw.law.architecture import Architecture
from perflaw.law.domain import plan_features, zoo_domain
from perflaw.law.predict import PredictionInterval, interval_for
from perflaw.optimizer.cost.layout import LayoutSearch
from perflaw.optimizer.cost.memory import Layout
from perflaw.optimizer.cost.plan_cost import PlanCost, plan_cost
from perflaw.optimizer.search.candidates import ARCH_FIELDS, architecture_of, law_interval
from perflaw.optimizer.search.problem import Problem

_MOE_FIELDS = ("experts", "active_experts", "shared_experts", "expert_ffn")
LAYOUT_COLUMNS = ("tp", "cp", "pp", "vpp", "dp", "ep", "zero", "recompute")
_LAW_FIELDS = ("params_b", "active_params_b", "tokens_t", "effective_tokens_t", "discount", "mmlu", "train_flops",
               "flops_per_token")


@dataclass(frozen=True)
class Plan:
    """A recommended run (parameters in billions, tokens in trillions, MMLU in points).

    ``cost`` is known when the problem names hardware; ``layout`` (the cheapest parallel layout
    that fits) and ``memory_per_gpu_gb`` when it also names the GPU count.
    """

    architecture: Architecture
    tokens_t: float
    mmlu: float
    interval: PredictionInterval
    params_b: float
    active_params_b: float
    effective_tokens_t: float  # T' entering the law
    discount: float  # the law's instability discount u in (0, 1]
    train_flops: float
    flops_per_token: float
    cost: PlanCost | None = None
    layout: Layout | None = None
    memory_per_gpu_gb: float | None = None
    budget_flops: float | None = None  # the budget a front point was found at
    target_mmlu: float | None = None  # the target MMLU of the inverse question
    domain: dict | None = None  # law.domain.Domain.describe: {"inside": bool, "outside": [...]}

    def __repr__(self) -> str:
        iv = self.interval
        cost = f", {self.gpu_hours:,.0f} GPU-hours" if self.cost is not None else ""
        return (f"Plan({self.architecture.summary()}, {self.params_b:.2f}B params, {self.tokens_t:.2f}T tokens, "
                f"MMLU {self.mmlu:.2f} [{iv.low:.1f}, {iv.high:.1f}]{cost})")

    @property
    def gpu_hours(self) -> float | None:
        """End-to-end GPU-hours, when the hardware is known."""
        return None if self.cost is None else self.cost.gpu_hours

    def as_dict(self) -> dict:
        """The plan as ``perflaw optimize --json`` prints it (MoE fields only for MoE plans)."""
        a = self.architecture
        row = {k: int(getattr(a, k)) for k in ARCH_FIELDS if a.is_moe or k not in _MOE_FIELDS}
        row.update({k: float(getattr(self, k)) for k in _LAW_FIELDS})
        if self.layout is not None:
            row["layout"] = self.layout.as_dict()
            row["memory_per_gpu_gb"] = self.memory_per_gpu_gb
        if self.budget_flops is not None:
            row["budget_flops"] = self.budget_flops
        if self.target_mmlu is not None:
            row["target_mmlu"] = self.target_mmlu
        if self.cost is not None:
            c = self.cost
            row.update(gpu_hours=c.gpu_hours, days=c.days, usd=c.usd, energy_kwh=c.energy_kwh, summary=a.summary())
        row["interval"] = list(self.interval)
        if self.domain is not None:
            row["domain"] = self.domain
        return row

    def flat(self) -> dict:
        """``as_dict`` as one table row: the interval as mmlu_low/mmlu_high, the layout as its columns."""
        row = self.as_dict()
        row["mmlu_low"], row["mmlu_high"] = row.pop("interval")
        lay = row.pop("layout", None) or {}
        row.update({k: lay.get(k) for k in LAYOUT_COLUMNS})
        row.pop("summary", None)
        domain = row.pop("domain", None)
        row["inside_domain"] = None if domain is None else domain["inside"]
        row["outside"] = None if domain is None else "; ".join(
            f"{o['feature']} {o['value']:.3g} (data {o['low']:.3g} to {o['high']:.3g})" for o in domain["outside"]
            if o["low"] is not None)
        row["architecture"] = self.architecture.summary()
        return row


def make_plan(problem: Problem, arch: dict[str, np.ndarray], ev: dict[str, np.ndarray], i: int,
              found: LayoutSearch | None = None, **extra) -> Plan:
    """Candidate ``i`` of evaluated arrays as a ``Plan`` (``found``: its layout search, when run)."""
    architecture = architecture_of(problem, arch, i)
    values = {k: float(ev[k][i]) for k in _LAW_FIELDS}
    iv = interval_for(problem.coefficients)
    low, high = law_interval(problem, ev["law_ffn"][i], arch["layers"][i], arch["hidden"][i], values["tokens_t"],
                             values["params_b"], values["active_params_b"], values["mmlu"])
    cost = None
    if problem.hardware is not None and problem.utilization is not None:
        cost = plan_cost(architecture, values["tokens_t"], problem.hardware, problem.utilization, gpus=problem.gpus,
                         seq_len=problem.seq_len, flops_rule=problem.flops_rule, precision=problem.precision,
                         price_usd_per_gpu_hour=problem.price_usd_per_gpu_hour)
    layout = found.layout if found is not None else None
    memory = found.memory.total / 1e9 if found is not None and found.memory is not None else None
    domain = plan_domain(architecture, values, ev["law_ffn"][i])
    return Plan(architecture=architecture, interval=PredictionInterval(low, high, iv.level), cost=cost, layout=layout,
                memory_per_gpu_gb=memory, domain=domain, **values, **extra)


def plan_domain(architecture: Architecture, values: dict, law_ffn) -> dict:
    """Whether a plan lies inside the law's domain, and where not (law.domain)."""
    a = architecture
    features = plan_features(a.layers, a.hidden, law_ffn, values["tokens_t"], values["params_b"],
                             values["active_params_b"], a.active_experts)
    return zoo_domain().describe({k: float(v) for k, v in features.items()}, values["active_params_b"], a.is_moe)


def plans_frame(plans):
    """One row per plan: architecture, size, tokens, MMLU with its interval, FLOPs, costs, layout."""
    import pandas as pd
    rows = [p.flat() for p in plans]
    columns = [*ARCH_FIELDS, *_LAW_FIELDS, "mmlu_low", "mmlu_high", "gpu_hours", "days", "usd", "energy_kwh",
               "memory_per_gpu_gb", *LAYOUT_COLUMNS, "budget_flops", "target_mmlu", "inside_domain", "outside",
               "architecture"]
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=[c for c in columns if c in frame.columns] if rows else columns)
