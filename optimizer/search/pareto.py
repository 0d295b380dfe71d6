"""Pareto fronts: a pure numpy non-domination function and a thin wrapper around it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perflaw.law.errors import InputError


def non_dominated(objectives, maximize) -> np.ndarray:
    """Boolean mask of the rows of ``objectives`` (n × k) that no other row dominates.

    ``maximize`` has one bool per column. Row a dominates row b when a is at least as good in
    every objective and strictly better in one. Duplicated points are all kept. O(n log n) for two
    objectives (a sort and a running best), O(n²/blocks) otherwise.
    """
    y = np.asarray(objectives, dtype=np.float64)
    if y.ndim != 2:
        raise InputError("objectives", "must be a 2-d array (points × objectives)", y.shape)
    sign = np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)
    if sign.shape != (y.shape[1],):
        raise InputError("maximize", f"needs one flag per objective ({y.shape[1]})", sign.shape)
    if np.isnan(y).any():
        raise InputError("objectives", "must not contain NaN", "NaN")
    z = y * sign  # now every objective is minimised
    n = len(z)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if z.shape[1] == 2:
        order = np.lexsort((z[:, 1], z[:, 0]))  # by first objective, then second
        first, second = z[order, 0], z[order, 1]
        best_before = np.minimum.accumulate(np.r_[np.inf, second[:-1]])
        # A point is dominated when an earlier point (first objective <=) has a strictly smaller
        # second objective, or an equal second objective and a strictly smaller first one.
        keep_sorted = second < best_before
        ties = second == best_before
        if ties.any():
            idx = np.flatnonzero(ties)
            for i in idx:  # equal second objective: dominated unless the first objective ties too
                earlier = (second[:i] == second[i])
                keep_sorted[i] = not (earlier & (first[:i] < first[i])).any()
        mask = np.zeros(n, dtype=bool)
        mask[order] = keep_sorted
        return mask
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dominated_by_i = np.all(z[i] <= z, axis=1) & np.any(z[i] < z, axis=1)
        mask &= ~dominated_by_i
    return mask


@dataclass(frozen=True)
class ParetoFront:
    """Indices of the non-dominated plans, sorted by the first objective."""

    indices: np.ndarray
    objectives: tuple[str, ...]
    maximize: tuple[bool, ...]

    @classmethod
    def of(cls, values: dict[str, np.ndarray], objectives: tuple[str, ...], maximize: tuple[bool, ...],
           feasible: np.ndarray | None = None) -> "ParetoFront":
        y = np.column_stack([np.asarray(values[o], dtype=np.float64) for o in objectives])
        candidates = np.arange(len(y)) if feasible is None else np.flatnonzero(feasible)
        mask = non_dominated(y[candidates], maximize)
        idx = candidates[mask]
        idx = idx[np.lexsort([y[idx, k] for k in reversed(range(len(objectives)))])]
        return cls(idx, tuple(objectives), tuple(maximize))
