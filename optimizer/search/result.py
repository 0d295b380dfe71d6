"""The outcome of a search, whatever the strategy: ``SearchResult``, and how candidates become plans.

A returned plan is always feasible: the lattice constraints hold and the exact layout search
(perflaw.optimizer.cost.layout) finds a parallel layout that fits the GPUs' memory. When nothing
is feasible the result says which constraints bind and each single relaxation that would help.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from perflaw.law.domain import CHOSEN, outside_words, plan_features, zoo_domain
from perflaw.optimizer.search.candidates import ARCH_FIELDS, CONSTRAINTS, Candidates, architecture_of, evaluate
from perflaw.optimizer.search.plan import Plan, make_plan, plans_frame
from perflaw.optimizer.search.problem import Problem

MAX_LAYOUT_CHECKS = 200  # candidates checked with the exact layout search before giving up


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search, whatever the strategy."""

    strategy: str
    seed: int | None
    best: Plan | None  # the best feasible plan (architecture, tokens, MMLU, interval, cost, layout)
    alternatives: tuple[Plan, ...]  # the next best feasible plans, best first
    n_evaluations: int
    wall_time_s: float
    converged: bool
    message: str
    evaluated: Candidates = field(repr=False)  # every evaluated candidate (arrays)
    infeasible_reason: str | None = None
    law_optimum: Plan | None = None  # trust data: the raw law's best plan (optimizer.search.scrutiny), when asked
    at_bounds: tuple[dict, ...] = ()  # the bounds the best plan sits on (optimizer.search.scrutiny), when asked
    flatness: dict | None = None  # near-optimal plans, sensitivity, conventional shape, terms (search.flatness)

    def __repr__(self) -> str:
        return (f"SearchResult({self.strategy}: best={self.best!r}, {len(self.alternatives)} alternatives, "
                f"{self.n_evaluations:,} evaluations in {self.wall_time_s:.2f} s, {self.message})")

    @property
    def plans(self) -> tuple[Plan, ...]:
        """The best plan, then the alternatives."""
        return ((self.best,) if self.best is not None else ()) + tuple(self.alternatives)

    def to_frame(self):
        """The plans as a pandas DataFrame, best first (``evaluated.to_frame()`` has every candidate)."""
        return plans_frame(self.plans)


def verify_layouts(problem: Problem, arch: dict, order: np.ndarray, want: int):
    """Walk candidates best first; keep those whose exact layout search succeeds."""
    from perflaw.optimizer.cost.layout import search_layout
    kept, last_failure, checks = [], None, 0
    for i in order:
        layout = None
        if problem.hardware is not None and problem.gpus:
            if checks >= MAX_LAYOUT_CHECKS:
                break
            checks += 1
            candidate = architecture_of(problem, arch, int(i))
            timed = problem.timed_layout
            if timed is not None and timed[0] == candidate:  # the plan whose layout set the MFU: that layout
                layout = timed[1]
            else:
                layout = search_layout(candidate, problem.hardware, problem.gpus, seq_len=problem.seq_len,
                                       headroom=problem.constraints.headroom, objective="memory")
            if not layout.ok:
                last_failure = layout.explanation
                continue
        kept.append((int(i), layout))
        if len(kept) >= want:
            break
    return kept, last_failure, checks


def finish(problem: Problem, strategy: str, seed, arch: dict, ev: dict, n_evals: int, t0: float, top: int,
            converged: bool = True, message: str = "", dedupe: bool = True) -> SearchResult:
    if dedupe:
        arch, ev = _distinct(arch, ev)
    feasible = np.flatnonzero(ev["feasible"])
    order = best_first(feasible, ev["score"], MAX_LAYOUT_CHECKS)
    return _result(problem, strategy, seed, arch, ev, order, Candidates(problem, {**arch, **ev}), len(feasible) == 0,
                   n_evals, t0, top, converged, message)


def finish_kept(problem: Problem, strategy: str, score: np.ndarray, feasible: np.ndarray, rows_of, build,
                t0: float, top: int) -> SearchResult:
    """``finish`` for a search that kept only each candidate's score and feasibility (the exact
    strategy): the best candidates are evaluated again, alone, for their layout checks and plans (the
    same values: evaluation is element by element), and every other column is built when first used."""
    idx = np.flatnonzero(feasible)
    # verify_layouts looks at no more rows than this: ties at the law's floor could make the order
    # most of the lattice, evaluated at once here
    order = best_first(idx, score, MAX_LAYOUT_CHECKS)[:max(MAX_LAYOUT_CHECKS, top + 1)]
    arch = rows_of(order)
    candidates = Candidates(problem, {"score": score, "feasible": feasible}, build)
    return _result(problem, strategy, None, arch, evaluate(problem, arch), np.arange(len(order)), candidates,
                   len(idx) == 0, len(score), t0, top)


def _result(problem: Problem, strategy: str, seed, arch: dict, ev: dict, order: np.ndarray, candidates: Candidates,
            none_feasible: bool, n_evals: int, t0: float, top: int, converged: bool = True,
            message: str = "") -> SearchResult:
    """The plans of the rows ``order`` of ``arch``/``ev`` (best first) whose layout search succeeds,
    and why there are none."""
    kept, failure, checks = verify_layouts(problem, arch, order, top + 1)
    reason = None
    if not kept:
        reason = explain_infeasible(problem, candidates.columns, candidates.columns) if none_feasible else (
            f"no parallel layout fits for the best {checks} candidates: {failure}")
    rows = [make_plan(problem, arch, ev, i, lay) for i, lay in kept]
    return SearchResult(strategy, seed, rows[0] if rows else None, tuple(rows[1:]), n_evals,
                        time.perf_counter() - t0, converged, message or ("ok" if rows else "no feasible plan"),
                        candidates, reason)


def best_first(idx: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best of the candidates ``idx`` (at least; every tie at the k-th score is kept), by
    score descending and then in evaluation order: the first ``k`` of a full sort, at the cost of a
    partition (``verify_layouts`` never looks further)."""
    s = score[idx]
    if len(idx) > k:
        threshold = np.partition(s, len(s) - k)[len(s) - k]
        keep = s >= threshold
        idx, s = idx[keep], s[keep]
    return idx[np.lexsort((idx, -s))]


def _distinct(arch: dict, ev: dict) -> tuple[dict, dict]:
    """One row per distinct architecture (samplers revisit points); the first evaluation is kept."""
    keys = np.stack([arch[k] for k in ARCH_FIELDS], axis=1)
    _, first = np.unique(keys, axis=0, return_index=True)
    first = np.sort(first)
    n = len(keys)
    pick = (lambda v: v[first] if isinstance(v, np.ndarray) and v.shape[:1] == (n,) else v)
    return {k: pick(v) for k, v in arch.items()}, {k: pick(v) for k, v in ev.items()}


def explain_infeasible(problem: Problem, arch: dict, ev: dict) -> str:
    """Which constraints bind, and each single relaxation that would make a plan feasible."""
    names = [k for k in CONSTRAINTS if (ev[k] > 0).any()]
    if not names:
        return "no candidate in the search space"
    others = [k for k in CONSTRAINTS if k != "domain"]
    if "domain" in names:
        raw = np.all([ev[o] <= 0 for o in others], axis=0)
        if raw.any():  # the raw law has plans: the domain binds; name what keeps the nearest one out
            i = int(np.flatnonzero(raw)[np.argmin(ev["domain_distance"][raw])])
            f = plan_features(arch["layers"][i], arch["hidden"][i], ev["law_ffn"][i], ev["tokens_t"][i],
                              ev["params_b"][i], ev["active_params_b"][i], arch["active_experts"][i])
            out = zoo_domain().describe({k: float(v) for k, v in f.items()}, float(ev["active_params_b"][i]),
                                        bool(arch["experts"][i] > 0))["outside"]
            why = outside_words([o for o in out if o["low"] is not None], CHOSEN)
            sampled = "" if problem.space.size == len(ev["domain"]) else \
                "the sampler found none (more `trials`, or the exact strategy, may); "
            nearest = (f"; the nearest, {int(arch['layers'][i])} layers x {int(arch['hidden'][i])} "
                       f"({ev['params_b'][i]:.3g}B on {ev['tokens_t'][i]:.3g}T tokens), has {why}") if why else ""
            return (f"no candidate lies inside the law's domain (the shapes, tokens per parameter and sizes of "
                    f"published models of comparable size){nearest}: {sampled}change the budget or the search space "
                    "towards them, or set `trust` to law to search the raw law")
        names.remove("domain")  # nothing is feasible even for the raw law: say why without the domain
    c = problem.constraints
    options = []
    for k in names:
        ok = np.all([ev[o] <= 0 for o in others if o != k], axis=0)  # the other constraints hold
        if not ok.any():
            continue
        need = float(ev[k][ok].min())
        i = np.flatnonzero(ok)[np.argmin(ev[k][ok])]
        if k == "tokens_min":
            j = np.flatnonzero(ok)[np.argmin(ev["flops_per_token"][ok])]
            smallest = ev["flops_per_token"][j] * c.min_tokens_t * 1e12
            options.append(f"the budget is too small: the smallest budget that would do is {smallest:.3g} FLOPs "
                           f"(have {problem.budget_flops:.3g})")
        elif k == "params_min":
            options.append(f"lower `params_b` to {ev['params_b'][i]:.3g}B (the largest candidate meeting the other "
                           f"constraints)")
        elif k == "params_max":
            options.append(f"raise `params_b` to {ev['params_b'][i]:.3g}B (the smallest candidate meeting the other "
                           f"constraints)")
        elif k == "train_memory":
            usable = problem.hardware.hbm_bytes * (1 - c.headroom)
            gpus = math.ceil(16.0 * ev["params_b"][i] * 1e9 / usable)
            options.append(f"GPU memory: the model states of the smallest allowed candidate ({ev['params_b'][i]:.3g}B) "
                           f"need {need:.3g} GB more per GPU; use at least {gpus:,} GPUs (model states alone)")
        elif k == "serve_memory":
            options.append(f"serving needs {need:.3g} GB more than `serve_hbm_gb` allows for the smallest allowed "
                           f"candidate ({ev['params_b'][i]:.3g}B)")
        elif k == "mmlu_min":
            options.append(f"lower `min_mmlu` to {float(ev['mmlu'][ok].max()):.2f} (the best candidate)")

    if not options:
        return f"several constraints bind together ({', '.join(names)}); relax more than one"
    return "; or ".join(options)
