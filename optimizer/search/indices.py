"""The samplers' view of the lattice: axis indices, their evaluation, and their lattice neighbours."""

from __future__ import annotations

import numpy as np

from perflaw.optimizer.search.candidates import evaluate
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.space import AXES


def axis_sizes(problem: Problem) -> list[int]:
    values = problem.space.axis_values()
    return [len(values[a]) for a in AXES]


def evaluate_indices(problem: Problem, idx: np.ndarray) -> tuple[dict, dict]:
    """Evaluate index vectors (n × axes); invalid lattice points get a violation of 1."""
    arch = problem.space.lattice({a: idx[:, j] for j, a in enumerate(AXES)})
    arch["ffn_ratio_index"] = idx[:, AXES.index("ffn_ratio")].astype(np.float64)
    ev = evaluate(problem, arch)
    invalid = ~arch.pop("valid")
    ev["valid_point"] = ~invalid
    ev["violation"] = ev["violation"] + invalid
    ev["feasible"] = ev["feasible"] & ~invalid
    return arch, ev


def concat(parts: list[dict]) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def neighbours(start: np.ndarray, sizes: list[int], seen: set) -> list[np.ndarray]:
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


def best_index(ev: dict) -> int | None:
    ok = np.flatnonzero(ev["feasible"])
    return None if len(ok) == 0 else int(ok[np.argmax(ev["score"][ok])])


def indices_of(problem: Problem, arch: dict) -> np.ndarray:
    """Axis indices of evaluated candidates (the inverse of ``SearchSpace.lattice`` on indices)."""
    axes = problem.space.axis_values()
    out = np.zeros((len(arch["layers"]), len(AXES)), dtype=np.int64)
    for j, a in enumerate(AXES):
        if a == "ffn_ratio":
            out[:, j] = arch["ffn_ratio_index"]
            continue
        out[:, j] = np.searchsorted(axes[a], arch[a])
    return out
