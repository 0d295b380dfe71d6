"""Search strategies chosen by name (exact, optuna, scipy), all returning one ``SearchResult``.

- ``exact``: the whole lattice evaluated at once with numpy: the reference answer.
- ``optuna``: TPE over the lattice's axis indices (seeded), constraints through Optuna's
  constraints API, any Optuna storage URL to persist, resume and share a study.
- ``scipy``: ``differential_evolution`` with integrality over the same indices, vectorised.

A returned plan is always feasible: the lattice constraints hold and the exact layout search
(perflaw.optimizer.cost.layout) finds a parallel layout that fits the GPUs' memory. Non-convergence is
recorded in the result, bad input is raised.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from perflaw.law.errors import InputError
from perflaw.optimizer.search.problem import ARCH_FIELDS, CONSTRAINTS, Problem, architecture_of, evaluate
from perflaw.optimizer.search.space import AXES

STRATEGIES = ("exact", "optuna", "scipy")
HEARTBEAT_S = 5  # Optuna worker heartbeat with --storage (seconds)
GRACE_S = 20  # a running trial without a heartbeat for this long belongs to a dead worker
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


def plan_row(problem: Problem, arch: dict, ev: dict, i: int, layout=None) -> dict:
    """One plan as a dict: shape, law intermediates, costs in FLOPs and, when checked, its layout."""
    row = {k: int(arch[k][i]) for k in ARCH_FIELDS}
    row.update({k: float(ev[k][i]) for k in ("params_b", "active_params_b", "tokens_t", "effective_tokens_t",
                                             "discount", "mmlu", "train_flops", "flops_per_token")})
    if row["experts"] == 0:
        for k in ("experts", "active_experts", "shared_experts", "expert_ffn"):
            row.pop(k)
    if layout is not None:
        row["layout"] = layout.as_dict()["layout"]
        row["memory_per_gpu_gb"] = layout.memory.total / 1e9
    return row


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
            converged: bool = True, message: str = "", dedupe: bool = True) -> SearchResult:
    if dedupe:
        arch, ev = _distinct(arch, ev)
    feasible = np.flatnonzero(ev["feasible"])
    order = feasible[np.lexsort((feasible, -ev["mmlu"][feasible]))]  # MMLU desc, ties in evaluation order
    kept, failure, checks = verify_layouts(problem, arch, order, top + 1)
    reason = None
    if not kept:
        reason = explain_infeasible(problem, arch, ev) if len(feasible) == 0 else (
            f"no parallel layout fits for the best {checks} candidates: {failure}")
    rows = [plan_row(problem, arch, ev, i, lay) for i, lay in kept]
    return SearchResult(strategy, seed, rows[0] if rows else None, rows[1:], n_evals, time.perf_counter() - t0,
                        converged, message or ("ok" if rows else "no feasible plan"), {**arch, **ev}, reason)


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
    c = problem.constraints
    options = []
    for k in names:
        ok = np.all([ev[o] <= 0 for o in CONSTRAINTS if o != k], axis=0)  # the other constraints hold
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
            options.append(f"lower --params to {ev['params_b'][i]:.3g}B (the largest candidate meeting the other "
                           f"constraints)")
        elif k == "params_max":
            options.append(f"raise --params to {ev['params_b'][i]:.3g}B (the smallest candidate meeting the other "
                           f"constraints)")
        elif k == "train_memory":
            usable = problem.hardware.hbm_bytes * (1 - c.headroom)
            gpus = math.ceil(16.0 * ev["params_b"][i] * 1e9 / usable)
            options.append(f"GPU memory: the model states of the smallest allowed candidate ({ev['params_b'][i]:.3g}B) "
                           f"need {need:.3g} GB more per GPU; use at least {gpus:,} GPUs (model states alone)")
        elif k == "serve_memory":
            options.append(f"serving needs {need:.3g} GB more than --serve-hbm-gb allows for the smallest allowed "
                           f"candidate ({ev['params_b'][i]:.3g}B)")
        elif k == "mmlu_min":
            options.append(f"lower --min-mmlu to {float(ev['mmlu'][ok].max()):.2f} (the best candidate)")
    if not options:
        return f"several constraints bind together ({', '.join(names)}); relax more than one"
    return "; or ".join(options)


# ------------------------------------------------------------------------------------------ exact
def search_exact(problem: Problem, *, top: int = 10) -> SearchResult:
    t0 = time.perf_counter()
    arch = problem.space.lattice()
    ev = evaluate(problem, arch)
    return _finish(problem, "exact", None, arch, ev, len(arch["layers"]), t0, top, dedupe=False)


# ------------------------------------------------------------------------------------------ shared
def _axis_sizes(problem: Problem) -> list[int]:
    values = problem.space.axis_values()
    return [len(values[a]) for a in AXES]


def _evaluate_indices(problem: Problem, idx: np.ndarray) -> tuple[dict, dict]:
    """Evaluate index vectors (n × axes); invalid lattice points get a violation of 1."""
    arch = problem.space.lattice({a: idx[:, j] for j, a in enumerate(AXES)})
    arch["ffn_ratio_index"] = idx[:, AXES.index("ffn_ratio")].astype(np.float64)
    ev = evaluate(problem, arch)
    invalid = ~arch.pop("valid")
    ev["valid_point"] = ~invalid
    ev["violation"] = ev["violation"] + invalid
    ev["feasible"] = ev["feasible"] & ~invalid
    return arch, ev


def _concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ------------------------------------------------------------------------------------------ scipy
def search_scipy(problem: Problem, *, trials: int = 10000, seed: int = 0, top: int = 10) -> SearchResult:
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
    res_ok, msg, runs = True, "single-point search space", 0
    if not free:  # a single lattice point: evaluate it
        a1, e1 = _evaluate_indices(problem, np.zeros((1, len(sizes)), dtype=np.int64))
        archs.append(a1)
        evs.append(e1)
    seen: set = set()

    def used() -> int:
        return sum(len(e["mmlu"]) for e in evs)

    def polish() -> None:
        """Hill-climb on the lattice (as scipy's own ``polish``, but discrete) from the best point."""
        arch, ev = _concat(archs), _concat(evs)
        seen.update(tuple(r) for r in _indices_of(problem, arch))
        best = _best_index(ev)
        while best is not None and used() < trials:
            start = _indices_of(problem, {k: v[best:best + 1] for k, v in arch.items()})[0]
            moves = _neighbours(start, sizes, seen)[: trials - used()]
            if not moves:
                return
            a2, e2 = _evaluate_indices(problem, np.array(moves))
            archs.append(a2)
            evs.append(e2)
            arch, ev = _concat(archs), _concat(evs)
            new_best = _best_index(ev)
            if new_best == best:
                return
            best = new_best

    # Cycles of differential evolution (half the remaining budget, a new seed each time, run until
    # its population converges) and a lattice polish, until the evaluation budget is spent.
    while free and used() < trials:
        maxiter = (trials - used()) // 2 // (popsize * len(free)) - 1
        if runs == 0:
            maxiter = max(1, maxiter)  # at least one generation, even for a tiny budget
        elif maxiter < 1:
            polish()
            break
        res = differential_evolution(objective, [(0, sizes[j] - 1) for j in free], integrality=[True] * len(free),
                                     rng=np.random.default_rng(seed + runs), popsize=popsize, maxiter=maxiter,
                                     vectorized=True, updating="deferred", polish=False, tol=0, atol=0)
        runs += 1
        res_ok, msg = bool(res.success), f"{runs} differential-evolution run(s); last: {res.message}"
        polish()
    arch, ev = _concat(archs), _concat(evs)
    return _finish(problem, "scipy", seed, arch, ev, len(ev["mmlu"]), t0, top, res_ok, msg)


def _neighbours(start: np.ndarray, sizes: list[int], seen: set) -> list[np.ndarray]:
    """Unseen lattice neighbours of ``start``: every value along each single axis (a line search),
    then one step along two axes at once (trading, say, depth for width)."""
    free = [j for j, n in enumerate(sizes) if n > 1]
    moves = [(j, s) for j in free for s in (-1, 1)]
    out = []
    for j in free:
        for v in range(sizes[j]):
            cand = start.copy()
            cand[j] = v
            if tuple(cand) not in seen:
                seen.add(tuple(cand))
                out.append(cand)
    for group in ([(m,) for m in moves] + [(a, b) for i, a in enumerate(moves) for b in moves[i + 1:]
                                          if a[0] != b[0]]):
        cand = start.copy()
        for j, s in group:
            cand[j] += s
        if all(0 <= cand[j] < sizes[j] for j, _ in group) and tuple(cand) not in seen:
            seen.add(tuple(cand))
            out.append(cand)
    return out


def _best_index(ev: dict) -> int | None:
    ok = np.flatnonzero(ev["feasible"])
    return None if len(ok) == 0 else int(ok[np.argmax(ev["mmlu"][ok])])


def _indices_of(problem: Problem, arch: dict) -> np.ndarray:
    """Axis indices of evaluated candidates (the inverse of ``SearchSpace.lattice`` on indices)."""
    axes = problem.space.axis_values()
    out = np.zeros((len(arch["layers"]), len(AXES)), dtype=np.int64)
    for j, a in enumerate(AXES):
        if a == "ffn_ratio":
            out[:, j] = arch["ffn_ratio_index"]
            continue
        out[:, j] = np.searchsorted(axes[a], arch[a])
    return out


# ------------------------------------------------------------------------------------------ optuna
def search_optuna(problem: Problem, *, trials: int = 1000, seed: int = 0, top: int = 10, storage: str | None = None,
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
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_ei_candidates=128,
                                             n_startup_trials=min(50, max(10, trials // 10)))
        directions = ["maximize"]
    if isinstance(storage, str) and storage.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql"):
        # Workers send a heartbeat; a trial whose worker died (even by SIGKILL) is marked failed after
        # the grace period by the next worker, and its parameters are enqueued again: no trial is
        # lost, and completed trials are never run twice.
        import warnings
        try:
            with warnings.catch_warnings():  # heartbeats and retries are marked experimental by Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
                storage = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_S,
                                                     grace_period=GRACE_S, heartbeat_stale_trial_callback=retry)
        except Exception as exc:
            raise InputError("--storage", "must be an Optuna storage URL such as sqlite:///study.db",
                             f"{storage} ({type(exc).__name__})") from None
    try:
        study = optuna.create_study(directions=directions, sampler=sampler, storage=storage,
                                    study_name=study_name or "perflaw", load_if_exists=storage is not None)
    except Exception as exc:  # bad storage URLs surface as many exception types
        raise InputError("--storage", "must be an Optuna storage URL such as sqlite:///study.db",
                         f"{storage} ({type(exc).__name__})") from None
    # A stored study holds lattice indices: it can only resume the very same problem.
    fingerprint = problem_fingerprint(problem, objectives)
    stored = study.user_attrs.get("perflaw_problem")
    if stored is None:
        study.set_user_attr("perflaw_problem", fingerprint)
    elif stored != fingerprint:
        raise InputError("--study-name", "names a stored study of a different problem (search space, budget, "
                                         "constraints or law); use a new study name", study.study_name)

    def objective(trial):
        idx = np.array([[trial.suggest_int(a, 0, n - 1) if n > 1 else 0 for a, n in zip(AXES, sizes)]])
        arch, ev = _evaluate_indices(problem, idx)
        for name in CONSTRAINTS:  # feasible iff every value is <= 0 (Optuna's constraint API)
            trial.set_constraint(name, float(ev[name][0]))
        trial.set_constraint("lattice", 0.0 if ev["valid_point"][0] else 1.0)
        if multi:
            return float(ev["mmlu"][0]), float(ev["active_params_b"][0])
        return float(ev["mmlu"][0])

    def finished_count() -> int:  # completed trials: failed ones are retried, not counted
        return len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])

    # TPE (or NSGA-II) for 80 % of the trials, then a polish: the lattice neighbours of the best
    # feasible trial (one step along each axis) are enqueued as trials, while that improves.
    def polish() -> None:
        """Enqueue the unseen lattice neighbours of the best feasible trial while that improves."""
        while finished_count() < trials:
            best = _best_feasible_trial(study.trials)
            if best is None:
                return
            seen = {tuple(t.params.get(a, 0) for a in AXES) for t in study.trials}
            start = np.array([best.params.get(a, 0) for a in AXES])
            queue = [list(map(int, c)) for c in _neighbours(start, sizes, seen)][: trials - finished_count()]
            if not queue:
                return
            for cand in queue:
                study.enqueue_trial({a: v for a, v, n in zip(AXES, cand, sizes) if n > 1})
            study.optimize(objective, n_trials=len(queue))
            improved = _best_feasible_trial(study.trials[-len(queue):])
            if improved is None or improved.value <= best.value:
                return

    # Explore (TPE, or NSGA-II for two objectives) for 80 % of the trials, then polish; budget left
    # after a polish converges goes half to more exploration, then another polish, and so on.
    explore_to = trials - trials // 5
    while finished_count() < trials:
        if finished_count() < explore_to:
            study.optimize(objective, n_trials=explore_to - finished_count(), show_progress_bar=progress)
        if multi:
            break
        polish()
        remaining = trials - finished_count()
        explore_to = finished_count() + max(1, remaining // 2)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        raise InputError("--trials", "must leave at least one completed trial", trials)
    idx = np.array([[t.params.get(a, 0) for a in AXES] for t in finished], dtype=np.int64)
    arch, ev = _evaluate_indices(problem, idx)
    result = _finish(problem, "optuna", seed, arch, ev, len(finished), t0, top, True,
                     f"{len(finished)} completed trials in study {study.study_name!r}")
    return result


def problem_fingerprint(problem: Problem, objectives: str = "mmlu") -> str:
    """A digest of everything that gives a lattice index its meaning and a trial its value."""
    import hashlib
    text = repr((problem.space, problem.budget_flops, problem.hardware, problem.gpus, problem.utilization,
                 problem.constraints, problem.coefficients, problem.gamma, problem.seq_len, problem.flops_rule,
                 objectives))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _best_feasible_trial(trials):
    """The completed trial with the highest value whose constraints all hold (None if none)."""
    import optuna

    def values(t):  # Optuna 5 keeps named constraints in a dict
        c = t.constraints
        return c.values() if isinstance(c, dict) else (c or ())

    ok = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and all(v <= 0 for v in values(t))]
    return max(ok, key=lambda t: (t.value, -t.number)) if ok else None


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
        return search_scipy(problem, trials=trials or 10000, seed=seed, top=top)
    return search_optuna(problem, trials=trials or 1000, seed=seed, top=top, storage=options.get("storage"),
                         study_name=options.get("study_name"), progress=options.get("progress", False),
                         objectives=options.get("objectives", "mmlu"))


def gap(result: SearchResult, reference: SearchResult) -> float:
    """Optimality gap in MMLU points of ``result`` against ``reference`` (≥ 0 when worse)."""
    if result.best is None or reference.best is None:
        return math.nan
    return reference.best["mmlu"] - result.best["mmlu"]
