"""A census of a stored Optuna study: how many lattice points hold a value, how many were evaluated
more than once, and which trials are left unfinished."""

from __future__ import annotations

import collections

import optuna

from perflaw.optimizer.search.study import REPEAT


def census(study) -> dict:
    states = optuna.trial.TrialState
    complete = [t for t in study.trials if t.state == states.COMPLETE]
    points = collections.Counter(tuple(sorted(t.params.items())) for t in complete)
    evaluated = collections.Counter(tuple(sorted(t.params.items())) for t in complete if REPEAT not in t.user_attrs)
    return {"complete": len(complete), "points": len(points), "answered": sum(REPEAT in t.user_attrs for t in complete),
            "evaluated_twice": sum(n > 1 for n in evaluated.values()),
            "unevaluated": len(set(points) - set(evaluated)),  # a repeat must point at an evaluated trial
            "running": sum(t.state == states.RUNNING for t in study.trials),
            "waiting": sum(t.state == states.WAITING for t in study.trials)}
