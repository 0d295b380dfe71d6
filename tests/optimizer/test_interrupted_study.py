"""An Optuna study in SQLite killed mid-run (SIGKILL, a real second process) resumes with no trial
lost or repeated."""

import signal
import subprocess
import sys
import time

import optuna
import pytest

from perflaw.optimizer.search.optuna_strategy import GRACE_S, HEARTBEAT_S

pytestmark = pytest.mark.slow
COMPLETE = optuna.trial.TrialState.COMPLETE


def _argv(url: str, trials: int) -> list[str]:
    return [sys.executable, "-m", "perflaw", "optimize", "--flops", "1e23", "--layers", "8:64", "--heads",
            "8:64", "--heads-step", "8", "--strategy", "optuna", "--trials", str(trials), "--seed", "0",
            "--storage", url, "--study-name", "s", "--json"]


def _study(url: str):
    return optuna.load_study(study_name="s", storage=url)


def test_sigkilled_study_resumes_without_losing_or_repeating_trials(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    worker = subprocess.Popen(_argv(url, 100_000), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and done < 40:
        time.sleep(0.3)
        try:
            done = len([t for t in _study(url).trials if t.state == COMPLETE])
        except Exception:  # the study may not exist yet
            continue
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    before = _study(url).trials
    complete_before = {t.number: (t.params, t.value) for t in before if t.state == COMPLETE}
    orphans = [t for t in before if t.state == optuna.trial.TrialState.RUNNING]
    assert len(complete_before) >= 40

    time.sleep(GRACE_S + 2 * HEARTBEAT_S)  # the dead worker's trial is now stale
    target = len(complete_before) + 15
    resumed = subprocess.run(_argv(url, target), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr

    after = _study(url).trials
    complete = [t for t in after if t.state == COMPLETE]
    assert len(complete) == target  # exactly the requested number of completed trials
    for number, (params, value) in complete_before.items():  # nothing completed was run again or changed
        assert (after[number].params, after[number].value) == (params, value)
    for orphan in orphans:  # the trial the kill interrupted is failed and its parameters retried
        assert after[orphan.number].state == optuna.trial.TrialState.FAIL
        if orphan.params:  # killed mid-suggestion, a trial holds only some axes: the retry fixes those
            assert any(all(t.params.get(k) == v for k, v in orphan.params.items())
                       for t in complete if t.number > orphan.number)


@pytest.mark.parametrize("age_s, failed", [(GRACE_S + 40, True), (1, False)])
def test_a_trial_killed_before_its_first_heartbeat_is_failed_once_stale(tmp_path, age_s, failed):
    # The window SIGKILL can hit: the trial exists (RUNNING) but has no heartbeat and no parameters.
    import datetime

    from perflaw.optimizer.search.optuna_strategy import search_optuna
    from perflaw.optimizer.search.problem import Problem
    from perflaw.optimizer.search.space import SearchSpace
    url = f"sqlite:///{tmp_path / 'study.db'}"
    problem = Problem(SearchSpace(layers=(8, 16), heads=(8, 16), heads_step=8), 1e22)
    search_optuna(problem, trials=3, storage=url, study_name="s")
    study = _study(url)
    start = datetime.datetime.now() - datetime.timedelta(seconds=age_s)
    template = optuna.trial.FrozenTrial(number=-1, state=optuna.trial.TrialState.RUNNING, value=None, values=None,
                                        datetime_start=start, datetime_complete=None, params={}, distributions={},
                                        user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=-1)
    orphan = study._storage.create_new_trial(study._study_id, template_trial=template)
    search_optuna(problem, trials=5, storage=url, study_name="s")
    state = _study(url)._storage.get_trial(orphan).state
    assert state == (optuna.trial.TrialState.FAIL if failed else optuna.trial.TrialState.RUNNING)
