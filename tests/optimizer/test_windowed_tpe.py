"""The windowed TPE: TPE itself up to its window; beyond it, TPE sees at most the window, and it holds the best
trials (feasible by value, then infeasible by violation) and the most recent ones."""

import heapq

import optuna
import pytest

import perflaw.optimizer.search.windowed_tpe as windowed
from perflaw.optimizer.search.windowed_tpe import WindowedTPESampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(sampler, trials: int, constrained: bool = False):
    """A study of ``trials`` asked and told by hand on a two-axis lattice (``constrained``: x + y > 60 violates)."""
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for _ in range(trials):
        trial = study.ask()
        x, y = trial.suggest_int("x", 0, 40), trial.suggest_int("y", 0, 40)
        if constrained:
            trial.set_constraint("c", float(x + y - 60))
        study.tell(trial, -((x - 31) ** 2) - (y - 7) ** 2 + 0.01 * x * y)
    return study


def _params(study):
    return [t.params for t in study.trials]


def test_within_its_window_it_is_tpe_itself():
    """Draw for draw; plain TPE computes its normal CDF with Optuna's own function, the window with scipy's."""
    options = dict(seed=3, multivariate=True, n_ei_candidates=32, n_startup_trials=10)
    options["constant_liar"] = False
    plain = _study(optuna.samplers.TPESampler(**options), 60)
    window = _study(WindowedTPESampler(window=60, **options), 60)
    assert _params(window) == _params(plain)


@pytest.mark.parametrize("constrained, liar", [(False, False), (True, False), (False, True)])
def test_beyond_it_tpe_sees_the_best_and_the_most_recent_trials(monkeypatch, constrained, liar):
    """``liar``: the running trial is among those TPE sees (constant liar, as in a shared study)."""
    seen = []  # (the window TPE was given, the study's finished trials then)
    view = windowed._View.__init__

    def recording(self, study, trials):
        seen.append((list(trials), [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]))
        view(self, study, trials)

    monkeypatch.setattr(windowed._View, "__init__", recording)
    sampler = WindowedTPESampler(window=40, best=8, seed=0, multivariate=True, n_startup_trials=10,
                                 constant_liar=liar)
    _study(sampler, 150, constrained)
    assert len(seen) == 150 - 41 + liar  # every draw once the study outgrew the window
    for window, done in seen:
        assert [t.state == optuna.trial.TrialState.RUNNING for t in window].count(True) == liar
        assert len(window) <= 40 and [t.number for t in window] == sorted(t.number for t in window)

        def rank(t):
            violation = max(0.0, t.constraints.get("c", 0.0))
            return (1, violation, t.number) if violation > 0 else (0, -t.value, t.number)

        best = {t.number for t in heapq.nsmallest(8, done, key=rank)}
        numbers = {t.number for t in window}
        assert best <= numbers
        recent = [t.number for t in done if t.number not in best][-(40 - 8 - liar):]
        assert set(recent) <= numbers  # the rest is the most recent trials
    if constrained:  # the constraint did bind: some windows hold infeasible trials
        assert any(t.constraints["c"] > 0 for window, _ in seen for t in window)


def test_tpe_models_as_many_good_trials_as_from_the_whole_study(monkeypatch):
    """The window is smaller than the study, but TPE's count of good trials is the whole study's (default_gamma)."""
    counts = []
    split = optuna.samplers._tpe.sampler._split_trials

    def recording(study, trials, n_below):
        counts.append((len(trials), n_below))
        return split(study, trials, n_below)

    monkeypatch.setattr(optuna.samplers._tpe.sampler, "_split_trials", recording)
    _study(WindowedTPESampler(window=30, best=25, seed=1, multivariate=True, n_startup_trials=10,
                              constant_liar=False), 300)
    assert max(n for n, _ in counts) <= 30
    assert counts[-1][1] == 25 and counts[120][1] == min(25, -(-(120 + 10) // 10))


def test_a_trial_that_finishes_late_still_joins_the_best(monkeypatch):
    """Without constant liar TPE does not see running trials: one told after a later one is taken in when it ends."""
    seen = []
    view = windowed._View.__init__

    def recording(self, study, trials):
        seen.append({t.number for t in trials})
        view(self, study, trials)

    monkeypatch.setattr(windowed._View, "__init__", recording)
    study = _study(WindowedTPESampler(window=20, best=5, seed=2, multivariate=True, n_startup_trials=10,
                                      constant_liar=False), 40)
    late = study.ask()  # asked, then left running while later trials finish
    late.suggest_int("x", 0, 40), late.suggest_int("y", 0, 40)
    for _ in range(30):
        trial = study.ask()
        study.tell(trial, -1e6 + trial.suggest_int("x", 0, 40) + trial.suggest_int("y", 0, 40))
    study.tell(late, 1e6)  # the best trial of the study, finished last
    seen.clear()
    for _ in range(30):
        trial = study.ask()
        study.tell(trial, -1e6 + trial.suggest_int("x", 0, 40) + trial.suggest_int("y", 0, 40))
    assert seen and all(late.number in numbers for numbers in seen)


def test_the_kept_parameter_values_are_optunas_own():
    """The windowed sampler keeps each finished trial's internal values across draws; they are the arrays
    Optuna's TPE computes, with a running trial (not kept: under a constant liar its parameters may still
    come) and a trial without one of the parameters (left out, as Optuna leaves it)."""
    sampler = WindowedTPESampler(seed=0, multivariate=True, n_startup_trials=5)
    study = _study(sampler, 30)
    partial = study.ask()
    partial.suggest_int("x", 0, 40)
    study.tell(partial, 1.0)  # no y
    running = study.ask()
    running.suggest_int("x", 0, 40)
    running.suggest_int("y", 0, 40)
    space = {"x": optuna.distributions.IntDistribution(0, 40), "y": optuna.distributions.IntDistribution(0, 40)}
    trials = study.get_trials(deepcopy=False)
    sampler._values.clear()  # the study's draws kept some: compute them here first
    for _ in range(2):  # computed, then from what was kept
        got = sampler._get_internal_repr(trials, space, study)
        want = optuna.samplers.TPESampler._get_internal_repr(sampler, trials, space, study)
        assert got.keys() == want.keys() and all((got[k] == want[k]).all() and got[k].dtype == want[k].dtype
                                                 for k in got)
        assert len(got["x"]) == 31  # 30 told with both, the running one; the partial one left out
    assert running._trial_id not in sampler._values and partial._trial_id in sampler._values
