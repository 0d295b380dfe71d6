"""Ctrl-C: one line, exit status 130, no temporary folder, no RUNNING trial left in a stored study."""

import os
import signal
import subprocess
import sys
import time

import optuna
import pytest

SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "scenarios", "moe-2048xh800.toml")


def _interrupt(args, cwd, after, when=None):
    """Run perflaw, and send SIGINT ``after`` seconds, or as soon as ``when()`` is true."""
    proc = subprocess.Popen([sys.executable, "-m", "perflaw", *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    start = time.monotonic()
    while when is not None and not when() and proc.poll() is None and time.monotonic() - start < 120:
        time.sleep(0.005)
    if when is None:
        time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["search", "writing"])
def test_ctrl_c_during_a_run_leaves_no_temporary_folder(tmp_path, moment):
    writing = (lambda: any(p.name.startswith(".rep.tmp-") for p in tmp_path.iterdir())) if moment == "writing" else None
    code, err = _interrupt(["run", os.path.abspath(SCENARIO), "--out", "rep"], tmp_path, 1.0, writing)
    if code == 0:
        pytest.skip("the run finished before the interrupt arrived on this machine")
    assert code == 130 and err.count("\n") == 1 and err.startswith("interrupted") and "Traceback" not in err, \
        (code, err[-600:])
    left = [p.name for p in tmp_path.iterdir()]
    assert not [n for n in left if n.startswith(".")]  # no .rep.tmp-PID
    # the interrupt may land after the report was swapped into place: then it is whole
    assert left in ([], ["rep"]) and (not left or (tmp_path / "rep" / "manifest.json").exists())


@pytest.mark.slow
def test_ctrl_c_during_an_optuna_study_leaves_no_running_trial(tmp_path):
    db = f"sqlite:///{tmp_path / 'study.db'}"
    code, err = _interrupt(["optimize", "--flops", "1e23", "--strategy", "optuna", "--trials", "100000",
                            "--storage", db, "--study-name", "s"], tmp_path, 6.0)
    assert code == 130 and err.startswith("interrupted") and "Traceback" not in err
    study = optuna.load_study(study_name="s", storage=db)
    states = [t.state for t in study.trials]
    assert states and optuna.trial.TrialState.RUNNING not in states


def test_optunas_chatter_stays_off_stderr(tmp_path):
    db = f"sqlite:///{tmp_path / 'quiet.db'}"
    for trials in ("40", "60"):  # a new study, then a resumed one
        done = subprocess.run([sys.executable, "-m", "perflaw", "optimize", "--flops", "1e23", "--strategy", "optuna",
                               "--trials", trials, "--storage", db, "--study-name", "q", "--json"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0 and done.stderr == "" and done.stdout.startswith("{"), (done.returncode, done.stderr)


@pytest.mark.slow
def test_workers_started_together_all_open_the_study(tmp_path):
    db = f"sqlite:///{tmp_path / 'race.db'}"
    procs = [subprocess.Popen([sys.executable, "-m", "perflaw", "optimize", "--flops", "1e22", "--trust", "law",
                               "--strategy", "optuna", "--trials", "20", "--storage", db, "--study-name", "r", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert all(code == 0 for _, _, code in results), [err for _, err, code in results if code]
    assert not any("storage URL" in err for _, err, _ in results)
