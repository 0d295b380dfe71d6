"""Trade-off fronts: MMLU against training cost (budget sweep), against inference cost, and the
inverse question, the cheapest plan that reaches a target MMLU. All on the exact lattice."""

from __future__ import annotations

import numpy as np

from perflaw.law.errors import InputError
from perflaw.law.rules import Range, check_number
from perflaw.law.moe import tokens_for_mmlu
from perflaw.law.domain import CHOSEN, plan_features, zoo_domain
from perflaw.law.repetition import tokens_for_repeated
from dataclasses import replace

from perflaw.optimizer.search.candidates import evaluate, unique_tokens
from perflaw.optimizer.search.pareto import ParetoFront
from perflaw.optimizer.search.plan import Plan, make_plan
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import verify_layouts
from perflaw.optimizer.search.strategies import search_exact

TARGET_MMLU = Range(0, 100, open_low=True, open_high=True)  # points


def budget_front(problem: Problem, points: int = 12, low_fraction: float = 0.01) -> list[Plan]:
    """Best plan at each budget of a geometric sweep up to the problem's, then the non-dominated
    (training FLOPs, MMLU) set. Each point carries the budget it was found at."""
    if not 2 <= points <= 200:
        raise InputError("front points", "must be between 2 and 200", points)
    budgets = np.geomspace(max(problem.budget_flops * low_fraction, 1e15), problem.budget_flops, points)
    rows = []
    for b in budgets:
        r = search_exact(problem.with_budget(float(b)), top=0)
        if r.best is not None:
            rows.append(replace(r.best, budget_flops=float(b)))
    if not rows:
        return []
    values = {"train_flops": np.array([r.train_flops for r in rows]), "mmlu": np.array([r.mmlu for r in rows])}
    front = ParetoFront.of(values, ("train_flops", "mmlu"), (False, True))
    return [rows[i] for i in front.indices]


def inference_front(problem: Problem, max_points: int = 40) -> list[Plan]:
    """At the problem's budget: plans not beaten on both activated parameters (fewer is cheaper to
    serve) and MMLU, each with its memory layout checked; sorted by activated parameters."""
    arch = problem.space.lattice()
    ev = evaluate(problem, arch)
    front = ParetoFront.of(ev, ("active_params_b", "mmlu"), (False, True), ev["feasible"])
    idx = front.indices
    if len(idx) > max_points:  # thin evenly along the front, keeping both ends
        idx = idx[np.unique(np.round(np.linspace(0, len(idx) - 1, max_points)).astype(int))]
    kept, _, _ = verify_layouts(problem, arch, idx, len(idx))
    return [make_plan(problem, arch, ev, i, lay) for i, lay in sorted(kept, key=lambda k: ev["active_params_b"][k[0]])]


def cheapest_for_target(problem: Problem, target_mmlu: float) -> tuple[Plan | None, str | None]:
    """The plan with the least training FLOPs whose predicted MMLU reaches ``target_mmlu``.

    Tokens are the fewest that reach the target (the law inverted in closed form); the budget of
    the problem is ignored, the other constraints hold. Returns (plan, None) or (None, reason).
    """
    check_number("target_mmlu", target_mmlu, TARGET_MMLU)
    arch = problem.space.lattice()
    probe = evaluate(problem, arch)  # parameters, FLOPs per token and the non-token constraints
    worth = tokens_for_mmlu(target_mmlu, arch["layers"], arch["hidden"], probe["law_ffn"], probe["params_b"],
                            probe["active_params_b"], problem.gamma, problem.coefficients, problem.vintage_years)
    tokens = np.where(np.isfinite(worth), tokens_for_repeated(worth, unique_tokens(problem)), worth)
    tokens = np.maximum(tokens, problem.constraints.min_tokens_t)
    reachable = np.isfinite(tokens)
    if problem.trust == "data":  # the plan must lie inside the law's data at the tokens it needs
        features = plan_features(arch["layers"], arch["hidden"], probe["law_ffn"], np.where(reachable, tokens, 1.0),
                                 probe["params_b"], probe["active_params_b"], arch["active_experts"])
        reachable &= zoo_domain().distance(features, probe["active_params_b"], arch["experts"] > 0, CHOSEN) == 0
    if problem.constraints.max_tokens_t is not None:
        reachable &= tokens <= problem.constraints.max_tokens_t
    flops = probe["flops_per_token"] * np.where(reachable, tokens, np.inf) * 1e12
    other = np.all([probe[k] <= 0 for k in ("params_min", "params_max", "train_memory", "serve_memory")], axis=0)
    ok = reachable & other
    if not ok.any():
        if not reachable.any():
            limit = "the law's saturation (at most 1T tokens per 1B parameters) and " \
                if problem.coefficients.tokens == "clip" else ""
            if problem.constraints.unique_tokens_t is not None:
                limit += "the worth of repeating the unique tokens (`unique_tokens_t`) and "
            if problem.trust == "data":
                limit += "the law's data (the shapes and tokens of published models; set `trust` to law to lift it) and "
            return None, (f"no candidate reaches {target_mmlu:g} MMLU within {limit}the token limit; raise `params_b` "
                          f"or lower the target")
        blocked = {k: int((reachable & (probe[k] > 0)).sum()) for k in ("params_min", "params_max", "train_memory",
                                                                        "serve_memory")}
        names = ", ".join(f"{k} ({n:,} candidates)" for k, n in blocked.items() if n)
        smallest = float(probe["params_b"][reachable].min())
        return None, (f"the candidates that can reach {target_mmlu:g} MMLU all break a constraint: {names}; the "
                      f"smallest of them has {smallest:.3g}B parameters")
    candidates = np.flatnonzero(ok)
    order = candidates[np.lexsort((candidates, flops[candidates]))]
    # Re-evaluate the winners at their own budget so every figure (MMLU, tokens) is consistent.
    for i in order[:50]:
        p = problem.with_budget(float(flops[i]))
        one = {k: v[i:i + 1] for k, v in arch.items()}
        ev = evaluate(p, one)
        kept, failure, _ = verify_layouts(p, one, np.array([0]), 1)
        if kept:
            return make_plan(p, one, ev, 0, kept[0][1], target_mmlu=target_mmlu), None
    return None, f"no parallel layout fits for the cheapest candidates: {failure}"
