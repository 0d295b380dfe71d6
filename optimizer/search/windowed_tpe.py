"""TPE over a bounded window of the study, so that a trial costs as much at the thousandth as at the hundredth.

Optuna's TPE builds its two Parzen estimators from every trial of the study at every draw, so each
trial costs more than the one before and a study's time grows with the square of its trials.
``windowed_tpe`` gives TPE the trials it weighs most, and no more than ``WINDOW`` of them:

- the best ``BEST`` trials (feasible ones by value, then infeasible ones by their summed violation,
  TPE's own order): every trial TPE would model as good is among them, since TPE never takes
  more than 25 (``optuna.samplers._tpe.sampler.default_gamma``); it takes as many as it would
  from the whole study;
- the most recent trials for the rest: TPE already weighs older trials of its "above" set less
  (``default_weights`` ramps them down by trial number).

The best trials are kept as trials finish (each trial is looked at once, an unfinished one until it
ends; a failed one stays on that short list), so choosing the window does not grow with the study
either. Up to ``WINDOW`` trials the sampler is TPE itself. Each draw computes TPE's normal CDF with
scipy's (``tpe_normal``), several times faster than Optuna's and equal to 1e-12.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left

import numpy as np
import optuna
from optuna.samplers._tpe.sampler import default_gamma
from optuna.study import StudyDirection
from optuna.trial import TrialState

from perflaw.optimizer.search.tpe_normal import scipy_normal

WINDOW = 200  # trials TPE models at most
BEST = 25  # of them, the best: default_gamma's cap on the trials TPE models as good
_UNKNOWN = object()  # a trial whose values are not kept yet


class _View:
    """The study as TPE sees it: the study itself, but its trials only those of the window."""

    def __init__(self, study, trials) -> None:
        self._study, self._window = study, trials

    def __getattr__(self, name):
        return getattr(self._study, name)

    def _get_trials(self, deepcopy: bool = False, states=None, use_cache: bool = False):
        return [t for t in self._window if states is None or t.state in states]


class WindowedTPESampler(optuna.samplers.TPESampler):
    """``TPESampler`` (same options) that models at most ``window`` trials: the ``best`` best and the most recent.

    One sampler serves one study (what it keeps of the trials is keyed by trial id and number)."""

    def __init__(self, *, window: int = WINDOW, best: int = BEST, **options) -> None:
        super().__init__(**options)
        self._window_size, self._keep = window, best
        self._best: list[tuple] = []  # (rank key, trial) of the best finished trials, best first
        self._seen = -1  # the highest trial number looked at
        self._open: set[int] = set()  # numbers seen unfinished (running, or not in the list), to look at again
        self._started = False  # the study holds as many finished trials as the start-up takes
        self._space: tuple = ()  # the search space the values below are for
        self._values: dict = {}  # trial id -> its parameters' internal values (None: it lacks some), finished trials

    def _rank(self, trial, maximize: bool) -> tuple:
        """TPE's order (smaller is better): feasible trials by value, then infeasible ones by summed violation."""
        violation = sum(v for v in trial.constraints.values() if v > 0)
        if violation > 0:
            return (1, violation, trial.number)
        return (0, -trial.value if maximize else trial.value, trial.number)

    def _update(self, trials: list, maximize: bool) -> int:
        """Take the trials finished since the last draw into the best; the running ones among ``trials``."""
        new, running = [], 0
        for t in reversed(trials):  # sorted by number: the new ones are at the end
            if t.number <= self._seen:
                break
            new.append(t)
        if new:  # numbers missing among the new ones are trials not in the list yet (running, or failed)
            present = {t.number for t in new}
            self._open.update(k for k in range(self._seen + 1, new[0].number) if k not in present)
            self._seen = new[0].number
        for number in sorted(self._open):  # looked at while unfinished: finished since?
            i = bisect_left(trials, number, key=lambda t: t.number)
            if i < len(trials) and trials[i].number == number:
                new.append(trials[i])
        ranked = []
        for t in new:
            if t.state == TrialState.RUNNING:
                self._open.add(t.number)
                running += 1
            else:
                self._open.discard(t.number)
                if t.state == TrialState.COMPLETE:
                    ranked.append((self._rank(t, maximize), t))
        if ranked:
            self._best = heapq.nsmallest(self._keep, self._best + ranked, key=lambda r: r[0])
        return running

    def _sample_relative(self, study, trial, search_space):
        """Optuna's, which filters every trial of the study at each draw to count the finished ones
        against the start-up trials; once there are enough, there always are (trials only finish)."""
        if not self._started:
            states = (TrialState.COMPLETE, TrialState.PRUNED)
            finished = study._get_trials(deepcopy=False, states=states, use_cache=True)
            self._started = len(finished) >= self._n_startup_trials
        if search_space == {} or not self._started:  # nothing to sample, or still random start-up trials
            return {}
        return self._sample(study, trial, search_space)

    def _get_internal_repr(self, trials, search_space, study):
        """Optuna's (the trials' parameters as the Parzen estimators take them), with a finished trial's
        values kept: a trial stays in the window for up to ``window`` draws, and its values never change."""
        space = tuple(search_space.items())
        if space != self._space:
            self._space, self._values = space, {}
        values = {name: [] for name in search_space}
        for t in trials:
            row = self._values.get(t._trial_id, _UNKNOWN)
            if row is _UNKNOWN:
                params = self._get_params(t, study)
                row = tuple(d.to_internal_repr(params[name]) for name, d in space) \
                    if search_space.keys() <= params.keys() else None
                if t.state.is_finished():
                    self._values[t._trial_id] = row
            if row is not None:
                for name, value in zip(values, row):
                    values[name].append(value)
        return {name: np.asarray(v) for name, v in values.items()}

    def _sample(self, study, trial, search_space):
        with scipy_normal():
            return self._windowed_sample(study, trial, search_space)

    def _windowed_sample(self, study, trial, search_space):
        if self._constant_liar:
            states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
        else:
            states = (TrialState.COMPLETE, TrialState.PRUNED)
        trials = study._get_trials(deepcopy=False, states=states, use_cache=not self._constant_liar)
        if len(study.directions) > 1:
            return super()._sample(study, trial, search_space)
        running = self._update(trials, study.direction == StudyDirection.MAXIMIZE)
        if len(trials) <= self._window_size:
            return super()._sample(study, trial, search_space)
        below = default_gamma(len(trials) - running)  # as many good trials as TPE takes from the whole study
        best = {t.number for _, t in self._best}
        room, recent = self._window_size - len(best), []
        for t in reversed(trials):  # the most recent trials that are not among the best fill the window
            if len(recent) == room:
                break
            if t.number not in best:
                recent.append(t)
        window = sorted([t for _, t in self._best] + recent, key=lambda t: t.number)
        gamma, self._gamma = self._gamma, lambda _n: below
        try:
            return super()._sample(_View(study, window), trial, search_space)
        finally:
            self._gamma = gamma
