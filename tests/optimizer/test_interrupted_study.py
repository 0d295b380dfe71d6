"""A worker killed mid-study (SIGKILL, a real second process) loses nothing: its RUNNING trial is
failed and its point rerun, even by a resume shorter than the grace period, and nothing completed
is run again."""

import datetime
import signal
import subprocess
import sys
import time

import optuna
import pytest

from perflaw.optimizer.search import study as study_module
from perflaw.optimizer.search.optuna_strategy import search_optuna
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.space import SearchSpace
from perflaw.optimizer.search.study import RETRY
from tests.optimizer.studies import census

COMPLETE = optuna.trial.TrialState.COMPLETE


def _argv(url: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "perflaw", "optimize", "--flops", "1e23", "--layers", "8:64", "--heads",
            "8:64", "--heads-step", "8", "--strategy", "optuna", "--trials", str(trials), "--seed", "0",
            "--storage", url, "--study-name", "s", "--json"]


def _study(url: str):
    return optuna.load_study(study_name="s", storage=url)


@pytest.mark.slow
def test_a_sigkilled_study_resumed_at_once_loses_and_repeats_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    worker = subprocess.Popen(_argv(url, 100_000), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and done < 40:
        time.sleep(0.3)
        try:
            done = census(_study(url))["points"]
        except Exception:  # the study may not exist yet
            continue
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    before = _study(url).trials
    complete_before = {t.number: (t.params, t.value) for t in before if t.state == COMPLETE}
    orphans = [t for t in before if t.state == optuna.trial.TrialState.RUNNING]
    points_before = census(_study(url))["points"]
    assert points_before >= 40

    # resumed at once: the dead worker's trial is not yet older than the grace period
    target = points_before + 15
    t0 = time.monotonic()
    resumed = subprocess.run(_argv(url, target), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr

    after = _study(url).trials
    c = census(_study(url))
    assert target <= c["points"] <= target + len(orphans), c  # the requested total (+ the rerun point)
    assert c["running"] == 0 and c["evaluated_twice"] == 0 and c["unevaluated"] == 0, c
    for number, (params, value) in complete_before.items():  # nothing completed was run again or changed
        assert (after[number].params, after[number].value) == (params, value)
    for orphan in orphans:  # the trial the kill interrupted is failed and its point rerun
        assert after[orphan.number].state == optuna.trial.TrialState.FAIL
        rerun = [t for t in after if t.user_attrs.get(RETRY) == orphan.number]
        assert len(rerun) == 1 and rerun[0].state == COMPLETE
        assert all(rerun[0].params[k] == v for k, v in orphan.params.items())
    if orphans:  # the resume waited for the orphan to age past the grace period, then reran it
        assert time.monotonic() - t0 >= study_module.GRACE_S - 5


def _orphan(study, age_s: float, params: dict) -> int:
    """A RUNNING trial as a killed worker leaves it, started ``age_s`` ago."""
    start = datetime.datetime.now() - datetime.timedelta(seconds=age_s)
    axes = study.trials[0].distributions
    template = optuna.trial.FrozenTrial(
        number=-1, state=optuna.trial.TrialState.RUNNING, value=None, values=None, datetime_start=start,
        datetime_complete=None, params=params, distributions={k: axes[k] for k in params},
        user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=-1)
    return study._storage.create_new_trial(study._study_id, template_trial=template)


@pytest.mark.parametrize("age_s, chosen", [(60, False), (0.5, True), (0.5, False)],
                         ids=["stale-before-its-first-axis", "young-with-its-point", "young-before-its-first-axis"])
def test_a_dead_workers_trial_is_always_failed_and_rerun(tmp_path, monkeypatch, age_s, chosen):
    # The windows SIGKILL can hit: the trial exists (RUNNING) with no axes chosen yet, or with its point.
    # A young one is awaited until it is stale, however short the resume.
    monkeypatch.setattr(study_module, "GRACE_S", 3)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    problem = Problem(SearchSpace(layers=(8, 16), heads=(8, 16), heads_step=8), 1e22)
    search_optuna(problem, trials=3, storage=url, study_name="s")
    study = _study(url)
    params = {a: 0 for a in study.trials[0].params} if chosen else {}
    orphan = study._storage.get_trial(_orphan(study, age_s, params))
    search_optuna(problem, trials=5, storage=url, study_name="s")
    after = _study(url)
    assert after._storage.get_trial(orphan._trial_id).state == optuna.trial.TrialState.FAIL
    rerun = [t for t in after.trials if t.user_attrs.get(RETRY) == orphan.number]
    assert len(rerun) == 1 and rerun[0].state == COMPLETE and all(rerun[0].params[k] == v for k, v in params.items())
    c = census(after)
    assert c["running"] == 0 and c["evaluated_twice"] == 0 and 5 <= c["points"] <= 6, c
