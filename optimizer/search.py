"""Search strategies chosen by name (exact, optuna, scipy), all returning one ``SearchResult``.

- ``exact``: the whole lattice evaluated at once with numpy: the reference answer.
- ``optuna``: TPE over the lattice's axis indices (seeded), constraints through Optuna's
  constraints API, any Optuna storage URL to persist, resume and share a study.
- ``scipy``: ``differential_evolution`` with integrality over the same indices, vectorised.

A returned plan is always feasible: the lattice constraints hold and the exact layout search
(optimizer.layout) finds a parallel layout that fits the GPUs' memory. Non-convergence is
recorded in the result, bad input is raised.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from law.errors import InputError
from optimizer.problem import CONSTRAINTS, Problem, architecture_of, evaluate
from optimizer.space import AXES

STRATEGIES = ("exact", "optuna", "scipy")
MAX_LAYOUT_CHECKS = 200  # candidates checked with the exact layout search before giving up


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search, whatever the strategy."""

    strategy: str
    seed: int | None
    best: dict | None  # the best feasible plan (architecture, tokens, MMLU, costs, layout)
    alternatives: list[dict]  # the next best feasible plans, best first
    n_evaluations: int
    wall_time_s: float
    converged: bool
    message: str
    evaluated: dict[str, np.ndarray] = field(repr=False)  # every evaluated candidate (arrays)
    infeasible_reason: str | None = None


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise InputError("--strategy", f"must be one of {', '.join(STRATEGIES)}", name)
    return name


def _plan_row(problem: Problem, arch: dict, ev: dict, i: int, layout=None) -> dict:
    row = {k: int(arch[k][i]) for k in ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "experts",
                                        "active_experts", "shared_experts", "expert_ffn")}
    row.update({k: float(ev[k][i]) for k in ("params_b", "active_params_b", "tokens_t", "effective_tokens_t",
                                             "discount", "mmlu", "train_flops", "flops_per_token")})
    if row["experts"] == 0:
        for k in ("experts", "active_experts", "shared_experts", "expert_ffn"):
            row.pop(k)
    if layout is not None:
        row["layout"] = layout.as_dict()["layout"]
        row["memory_per_gpu_gb"] = layout.memory.total / 1e9
    return row


def _verify(problem: Problem, arch: dict, order: np.ndarray, want: int):
    """Walk candidates best first; keep those whose exact layout search succeeds."""
    from optimizer.layout import search_layout
    kept, last_failure, checks = [], None, 0
    for i in order:
        layout = None
        if problem.hardware is not None and problem.gpus:
            if checks >= MAX_LAYOUT_CHECKS:
                break
            checks += 1
            layout = search_layout(architecture_of(problem, arch, int(i)), problem.hardware, problem.gpus,
                                   seq_len=problem.seq_len, headroom=problem.constraints.headroom)
            if not layout.ok:
                last_failure = layout.explanation
                continue
        kept.append((int(i), layout))
        if len(kept) >= want:
            break
    return kept, last_failure, checks


def _finish(problem: Problem, strategy: str, seed, arch: dict, ev: dict, n_evals: int, t0: float, top: int,
            converged: bool = True, message: str = "") -> SearchResult:
    feasible = np.flatnonzero(ev["feasible"])
    order = feasible[np.lexsort((feasible, -ev["mmlu"][feasible]))]  # MMLU desc, ties in evaluation order
    kept, failure, checks = _verify(problem, arch, order, top + 1)
    reason = None
    if not kept:
        reason = explain_infeasible(problem, arch, ev) if len(feasible) == 0 else (
            f"no parallel layout fits for the best {checks} candidates: {failure}")
    rows = [_plan_row(problem, arch, ev, i, lay) for i, lay in kept]
    return SearchResult(strategy, seed, rows[0] if rows else None, rows[1:], n_evals, time.perf_counter() - t0,
                        converged, message or ("ok" if rows else "no feasible plan"), {**arch, **ev}, reason)


def explain_infeasible(problem: Problem, arch: dict, ev: dict) -> str:
    """Which constraint binds, and the nearest relaxation that would make a plan feasible."""
    names = [k for k in CONSTRAINTS if (ev[k] > 0).any()]
    if not names:
        return "no candidate in the search space"
    others = {k: np.all([ev[o] <= 0 for o in CONSTRAINTS if o != k], axis=0) for k in names}
    for k in names:  # a single binding constraint: say how far it would have to move
        ok = others[k]
        if not ok.any():
            continue
        need = ev[k][ok].min()
        if k == "tokens_min":
            i = np.flatnonzero(ok)[np.argmin(ev["flops_per_token"][ok])]
            smallest = ev["flops_per_token"][i] * problem.constraints.min_tokens_t * 1e12
            return (f"the budget is too small: even the cheapest candidate trains on fewer than "
                    f"{problem.constraints.min_tokens_t:g}T tokens; the smallest budget that would do is "
                    f"{smallest:.3g} FLOPs (have {problem.budget_flops:.3g})")
        if k == "params_min":
            return f"no candidate that meets the other constraints reaches the minimum size: the largest is {need:.3g}B short"
        if k == "params_max":
            return f"every candidate exceeds the maximum size, the smallest by {need:.3g}B"
        if k == "train_memory":
            return (f"model states do not fit the GPUs' memory: the smallest candidate needs {need:.3g} GB more per GPU "
                    f"(more GPUs or a smaller --params range)")
        if k == "serve_memory":
            return f"no candidate serves on one GPU: the smallest is {need:.3g} GB over"
        if k == "mmlu_min":
            return f"no candidate reaches the minimum MMLU: the best falls {need:.2f} points short"
    worst = max(names, key=lambda k: (ev[k] > 0).mean())
    return f"several constraints bind together ({', '.join(names)}); most often violated: {worst}"


# ------------------------------------------------------------------------------------------ exact
def search_exact(problem: Problem, *, top: int = 10) -> SearchResult:
    t0 = time.perf_counter()
    arch = problem.space.lattice()
    ev = evaluate(problem, arch)
    return _finish(problem, "exact", None, arch, ev, len(arch["layers"]), t0, top)


# ------------------------------------------------------------------------------------------ shared
def _axis_sizes(problem: Problem) -> list[int]:
    values = problem.space.axis_values()
    return [len(values[a]) for a in AXES]


def _evaluate_indices(problem: Problem, idx: np.ndarray) -> tuple[dict, dict]:
    """Evaluate index vectors (n × axes); invalid lattice points get a violation of 1."""
    arch = problem.space.lattice({a: idx[:, j] for j, a in enumerate(AXES)})
    ev = evaluate(problem, arch)
    invalid = ~arch.pop("valid")
    ev["valid_point"] = ~invalid
    ev["violation"] = ev["violation"] + invalid
    ev["feasible"] = ev["feasible"] & ~invalid
    return arch, ev


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ------------------------------------------------------------------------------------------ scipy
def search_scipy(problem: Problem, *, trials: int = 3000, seed: int = 0, top: int = 10) -> SearchResult:
    """Differential evolution with integrality over the axis indices, penalised constraints."""
    from scipy.optimize import differential_evolution

    t0 = time.perf_counter()
    sizes = _axis_sizes(problem)
    free = [j for j, n in enumerate(sizes) if n > 1]
    archs, evs = [], []

    def to_idx(x: np.ndarray) -> np.ndarray:
        idx = np.zeros((x.shape[1], len(sizes)), dtype=np.int64)
        idx[:, free] = np.clip(np.rint(x.T), 0, np.array(sizes)[free] - 1)
        return idx

    def objective(x):
        x = np.atleast_2d(np.asarray(x, dtype=np.float64).T).T if np.ndim(x) == 1 else np.asarray(x)
        arch, ev = _evaluate_indices(problem, to_idx(x.reshape(len(free), -1)))
        archs.append(arch)
        evs.append(ev)
        return -ev["mmlu"] + 100.0 * ev["violation"] + 1000.0 * (ev["violation"] > 0)

    popsize = 20
    maxiter = max(1, trials // (popsize * len(free)) - 1)
    if not free:
        res_ok, msg = True, "single-point search space"
        objective(np.zeros((0, 1)))
    else:
        res = differential_evolution(objective, [(0, sizes[j] - 1) for j in free], integrality=[True] * len(free),
                                     seed=seed, popsize=popsize, maxiter=maxiter, vectorized=True,
                                     updating="deferred", polish=False, tol=0, atol=0)
        res_ok, msg = bool(res.success), str(res.message)
    arch, ev = _concat(archs), _concat(evs)
    return _finish(problem, "scipy", seed, arch, ev, len(ev["mmlu"]), t0, top, res_ok, msg)


# ------------------------------------------------------------------------------------------ optuna
def search_optuna(problem: Problem, *, trials: int = 500, seed: int = 0, top: int = 10, storage: str | None = None,
                  study_name: str | None = None, progress: bool = False, objectives: str = "mmlu") -> SearchResult:
    """TPE (one objective) or NSGA-II (``objectives="mmlu,active_params"``) over the axis indices."""
    import optuna

    t0 = time.perf_counter()
    sizes = _axis_sizes(problem)
    multi = objectives != "mmlu"

    if multi:
        sampler = optuna.samplers.NSGAIISampler(seed=seed)
        directions = ["maximize", "minimize"]
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                             n_startup_trials=min(50, max(10, trials // 10)))
        directions = ["maximize"]
    try:
        study = optuna.create_study(directions=directions, sampler=sampler, storage=storage,
                                    study_name=study_name, load_if_exists=storage is not None)
    except Exception as exc:  # bad storage URLs surface as many exception types
        raise InputError("--storage", "must be an Optuna storage URL such as sqlite:///study.db",
                         f"{storage} ({type(exc).__name__})") from None

    def objective(trial):
        idx = np.array([[trial.suggest_int(a, 0, n - 1) if n > 1 else 0 for a, n in zip(AXES, sizes)]])
        arch, ev = _evaluate_indices(problem, idx)
        for name in CONSTRAINTS:  # feasible iff every value is <= 0 (Optuna's constraint API)
            trial.set_constraint(name, float(ev[name][0]))
        trial.set_constraint("lattice", 0.0 if ev["valid_point"][0] else 1.0)
        if multi:
            return float(ev["mmlu"][0]), float(ev["active_params_b"][0])
        return float(ev["mmlu"][0])

    done = len([t for t in study.trials if t.state.is_finished()])
    remaining = max(0, trials - done)
    if remaining:
        study.optimize(objective, n_trials=remaining, show_progress_bar=progress)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        raise InputError("--trials", "must leave at least one completed trial", trials)
    idx = np.array([[t.params.get(a, 0) for a in AXES] for t in finished], dtype=np.int64)
    arch, ev = _evaluate_indices(problem, idx)
    result = _finish(problem, "optuna", seed, arch, ev, len(finished), t0, top, True,
                     f"{len(finished)} completed trials in study {study.study_name!r}")
    return result


def search(problem: Problem, strategy: str = "exact", **options) -> SearchResult:
    """Run ``strategy`` on ``problem`` (options: trials, seed, top, storage, study_name, progress)."""
    check_strategy(strategy)
    top = options.get("top", 10)
    if strategy == "exact":
        return search_exact(problem, top=top)
    trials = options.get("trials")
    if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 10**7):
        raise InputError("--trials", "must be a whole number between 1 and 10,000,000", trials)
    seed = options.get("seed", 0)
    if strategy == "scipy":
        return search_scipy(problem, trials=trials or 3000, seed=seed, top=top)
    return search_optuna(problem, trials=trials or 500, seed=seed, top=top, storage=options.get("storage"),
                         study_name=options.get("study_name"), progress=options.get("progress", False),
                         objectives=options.get("objectives", "mmlu"))


def gap(result: SearchResult, reference: SearchResult) -> float:
    """Optimality gap in MMLU points of ``result`` against ``reference`` (≥ 0 when worse)."""
    if result.best is None or reference.best is None:
        return math.nan
    return reference.best["mmlu"] - result.best["mmlu"]
