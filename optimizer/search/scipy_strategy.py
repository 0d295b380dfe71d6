"""The scipy strategy: differential evolution with integrality over the lattice's axis indices."""

from __future__ import annotations

import time

import numpy as np

from perflaw.optimizer.search.indices import axis_sizes, best_index, concat, evaluate_indices, indices_of, neighbours
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import SearchResult, finish


def search_scipy(problem: Problem, *, trials: int = 10000, seed: int = 0, top: int = 10) -> SearchResult:
    """Differential evolution with integrality over the axis indices, penalised constraints."""
    from scipy.optimize import differential_evolution

    t0 = time.perf_counter()
    sizes = axis_sizes(problem)
    free = [j for j, n in enumerate(sizes) if n > 1]
    archs, evs = [], []

    def to_idx(x: np.ndarray) -> np.ndarray:
        idx = np.zeros((x.shape[1], len(sizes)), dtype=np.int64)
        idx[:, free] = np.clip(np.rint(x.T), 0, np.array(sizes)[free] - 1)
        return idx

    def objective(x):
        x = np.atleast_2d(np.asarray(x, dtype=np.float64).T).T if np.ndim(x) == 1 else np.asarray(x)
        arch, ev = evaluate_indices(problem, to_idx(x.reshape(len(free), -1)))
        archs.append(arch)
        evs.append(ev)
        return -ev["score"] + 100.0 * ev["violation"] + 1000.0 * (ev["violation"] > 0)

    popsize = 20
    res_ok, msg, runs = True, "single-point search space", 0
    if not free:  # a single lattice point: evaluate it
        a1, e1 = evaluate_indices(problem, np.zeros((1, len(sizes)), dtype=np.int64))
        archs.append(a1)
        evs.append(e1)
    seen: set = set()

    def used() -> int:
        return sum(len(e["mmlu"]) for e in evs)

    def polish() -> None:
        """Hill-climb on the lattice (as scipy's own ``polish``, but discrete) from the best point."""
        arch, ev = concat(archs), concat(evs)
        seen.update(tuple(r) for r in indices_of(problem, arch))
        best = best_index(ev)
        while best is not None and used() < trials:
            start = indices_of(problem, {k: v[best:best + 1] for k, v in arch.items()})[0]
            moves = neighbours(start, sizes, seen)[: trials - used()]
            if not moves:
                return
            a2, e2 = evaluate_indices(problem, np.array(moves))
            archs.append(a2)
            evs.append(e2)
            arch, ev = concat(archs), concat(evs)
            new_best = best_index(ev)
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
    arch, ev = concat(archs), concat(evs)
    return finish(problem, "scipy", seed, arch, ev, len(ev["mmlu"]), t0, top, res_ok, msg)
