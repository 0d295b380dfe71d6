"""Search strategies chosen by name (exact, optuna, scipy), all returning one ``SearchResult``.

- ``exact``: the whole lattice evaluated with numpy, in broadcasting blocks: the reference answer.
- ``optuna``: TPE over the lattice's axis indices (seeded), constraints through Optuna's
  constraints API, any Optuna storage URL to persist, resume and share a study.
- ``scipy``: ``differential_evolution`` with integrality over the same indices, vectorised.

Non-convergence is recorded in the result, bad input is raised.
"""

from __future__ import annotations

import math
import time

import numpy as np

from perflaw.law.errors import InputError
from perflaw.law.predict import interval_for
from perflaw.law.rules import Range, check_number
from perflaw.optimizer.search.candidates import evaluate
from perflaw.optimizer.search.defaults import STRATEGIES  # noqa: F401 (re-exported)
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import SearchResult, finish_kept

TRIALS = Range(1, 10**7)  # evaluations of a sampler
SEED = Range(0, 2**32 - 1)
TOP = Range(0, 1000)  # alternatives kept beside the best plan
# Rows the exact strategy evaluates at a time: a block's float arrays are 512 kB. Measured on the largest
# lattice (2,971,066 candidates), a fresh process's first search took 0.27-0.34 s with them and 0.68-0.76 s
# with 256 kB ones (glibc's allocator kept returning and refaulting the heap's top, which a large
# MALLOC_TOP_PAD_ stops); later searches take the same time with either, side by side.
CHUNK_ROWS = 1 << 16
KEPT = ("score", "feasible")  # the columns the exact strategy keeps of every candidate (evaluate's lean pass)


def check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise InputError("strategy", f"must be one of {', '.join(STRATEGIES)}", name)
    return name


def search_exact(problem: Problem, *, top: int = 10) -> SearchResult:
    """Every lattice point evaluated, every layer value with about ``CHUNK_ROWS`` / layer values inner
    choices at a time (``SearchSpace.grid_block``: what does not depend on depth is computed once per
    choice, and a block's arrays stay in the CPU's caches and in the allocator's reused memory),
    keeping each candidate's score and feasibility only."""
    t0 = time.perf_counter()
    space = problem.space
    parts = space.lattice_parts()
    kept = _in_blocks(problem, parts, KEPT) or {"score": np.empty(0), "feasible": np.empty(0, dtype=bool)}

    def build() -> dict:  # every column, block by block as well (the same values as one evaluation)
        columns = _in_blocks(problem, parts)
        if not columns:  # an empty lattice: its (empty) columns
            arch = space.lattice()
            columns = {**arch, **evaluate(problem, arch)}
        return columns

    return finish_kept(problem, "exact", kept["score"], kept["feasible"], lambda rows: space.lattice_rows(parts, rows),
                       build, t0, top)


def _in_blocks(problem: Problem, parts, keys=None) -> dict[str, np.ndarray]:
    """The columns ``keys`` (default: the lattice's and every evaluated one) of every lattice row, in
    lattice order, evaluated block by block; empty for an empty lattice."""
    n, m = len(parts.layers), parts.inner_size
    width = max(1, CHUNK_ROWS // max(n, 1))
    out = {}
    for start in range(0, m, width):
        block = problem.space.grid_block(parts, start, start + width)
        block = {**block, **evaluate(problem, block, lean=keys == KEPT)}
        cols = slice(start, min(start + width, m))
        out = out or {k: np.empty((n, m), dtype=block[k].dtype) for k in (keys or block)}
        for k in out:
            out[k][:, cols] = np.broadcast_to(block[k], (n, cols.stop - cols.start))
    return {k: v.ravel() for k, v in out.items()}


def search(problem: Problem, strategy: str = "exact", **options) -> SearchResult:
    """Run ``strategy`` on ``problem`` (options: trials, seed, top, storage, study_name, progress)."""
    check_strategy(strategy)
    top = check_number("top", options.get("top", 10), TOP, whole=True)
    interval_for(problem.coefficients)  # calibrated once, outside the timed search
    if strategy == "exact":
        given = [k for k in ("trials", "storage", "study_name") if options.get(k) is not None]
        if given:
            raise InputError(given[0], "applies to the optuna and scipy strategies only", strategy)
        return search_exact(problem, top=top)
    trials = options.get("trials")
    if trials is not None:
        trials = check_number("trials", trials, TRIALS, whole=True)
    seed = check_number("seed", options.get("seed", 0), SEED, whole=True)
    if strategy == "scipy":
        given = [k for k in ("storage", "study_name") if options.get(k) is not None]
        if given:  # a stored study is Optuna's; scipy would silently ignore it
            raise InputError(given[0], "applies to the optuna strategy only", strategy)
        from perflaw.optimizer.search.scipy_strategy import search_scipy
        return search_scipy(problem, trials=trials or 10000, seed=seed, top=top)
    from perflaw.optimizer.search.optuna_strategy import search_optuna
    return search_optuna(problem, trials=trials or 1000, seed=seed, top=top, storage=options.get("storage"),
                         study_name=options.get("study_name"), progress=options.get("progress", False),
                         objectives=options.get("objectives", "mmlu"))


def gap(result: SearchResult, reference: SearchResult) -> float:
    """Optimality gap in MMLU points of ``result`` against ``reference`` (≥ 0 when worse)."""
    if result.best is None or reference.best is None:
        return math.nan
    return reference.best.mmlu - result.best.mmlu
