"""Figures drawn by forked helpers are the same files as figures drawn in turn; a helper that fails
is redrawn by the run, a real error is raised in the run, and no helper outlives it."""

import os
import time

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from perflaw.optimizer.report.drawing import save_all

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="helpers are forked; this platform has no fork")


def _figure(k: int, slow: float = 0.0):
    def draw():
        time.sleep(slow)
        fig = Figure(figsize=(3, 2), dpi=60, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot(range(k + 3), [x * x for x in range(k + 3)], "o-")
        ax.set_xscale("log")
        fig.suptitle(f"figure {k}")
        return fig
    return draw


@pytest.fixture
def helpers(monkeypatch):
    """The pids of the helpers save_all forks."""
    forked, fork = [], os.fork

    def recording_fork():
        pid = fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", recording_fork)
    return forked


def _all_reaped(pids) -> bool:
    """Every helper has ended and been waited for (none still running, none a zombie)."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return bool(pids)


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_helpers_write_the_same_files_as_drawing_in_turn(tmp_path, helpers):
    jobs = [(f"f{k}", _figure(k)) for k in range(4)]
    (tmp_path / "one").mkdir()
    (tmp_path / "three").mkdir()
    alone = save_all(jobs, tmp_path / "one", processes=1)
    shared = save_all(jobs, tmp_path / "three", processes=3)
    assert list(shared) == [s for s, _ in jobs] and shared == alone
    assert _files(tmp_path / "one") == _files(tmp_path / "three") and len(_files(tmp_path / "one")) == 8
    assert len(helpers) == 2 and _all_reaped(helpers)


def test_a_helper_that_fails_is_redrawn_by_the_run(tmp_path, helpers):
    run = os.getpid()

    def only_here():
        if os.getpid() != run:
            raise RuntimeError("a helper's failure")
        return _figure(1)()

    want = save_all([("a", _figure(0)), ("b", _figure(1))], tmp_path, processes=1)
    got = save_all([("a", _figure(0)), ("b", only_here)], tmp_path, processes=2)
    assert got == want and _all_reaped(helpers)


def test_a_real_error_is_raised_in_the_run(tmp_path, helpers):
    def broken():
        raise ValueError("no such column")

    with pytest.raises(ValueError, match="no such column"):
        save_all([("a", _figure(0)), ("b", broken)], tmp_path, processes=2)
    assert _all_reaped(helpers)


def test_an_interrupted_run_stops_its_helpers(tmp_path, helpers):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # the run's own share is interrupted while a helper still draws
        save_all([("a", interrupted), ("b", _figure(1, slow=30.0))], tmp_path, processes=2)
    assert _all_reaped(helpers) and not (tmp_path / "b.png").exists()
