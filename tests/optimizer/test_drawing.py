"""Figures drawn by forked helpers are the same files as figures drawn in turn; a helper that fails
is redrawn by the run, a real error is raised in the run, and no helper outlives it."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from perflaw.optimizer.report.drawing import Drawers, cores, save_all

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="helpers are forked; this platform has no fork")


def _figure(k: int, slow: float = 0.0, fail_in_helper_of: int = 0):
    """A small figure (a module-level function: jobs name it and helpers unpickle it by name)."""
    if fail_in_helper_of and os.getpid() != fail_in_helper_of:
        raise RuntimeError("a helper's failure")
    time.sleep(slow)
    fig = Figure(figsize=(3, 2), dpi=60, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(range(k + 3), [x * x for x in range(k + 3)], "o-")
    ax.set_xscale("log")
    fig.suptitle(f"figure {k}")
    return fig


def _figure_noting(k: int, folder: str):
    """``_figure(k)``, noting in ``folder`` which process drew it."""
    (Path(folder) / f"pid-{k}").write_text(str(os.getpid()))
    return _figure(k)


def _broken():
    raise ValueError("no such column")


def _interrupted():
    raise KeyboardInterrupt


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
    jobs = [(f"f{k}", _figure, (k,)) for k in range(4)]
    (tmp_path / "one").mkdir()
    (tmp_path / "three").mkdir()
    alone = save_all(jobs, tmp_path / "one", processes=1)
    shared = save_all(jobs, tmp_path / "three", processes=3)
    assert list(shared) == [s for s, _, _ in jobs] and shared == alone
    assert _files(tmp_path / "one") == _files(tmp_path / "three") and len(_files(tmp_path / "one")) == 8
    assert len(helpers) == 2 and _all_reaped(helpers)


def test_a_helper_that_fails_is_redrawn_by_the_run(tmp_path, helpers):
    want = save_all([("a", _figure, (0,)), ("b", _figure, (1,))], tmp_path, processes=1)
    got = save_all([("a", _figure, (0,)), ("b", _figure, (1, 0.0, os.getpid()))], tmp_path, processes=2)
    assert got == want and _all_reaped(helpers)


def test_a_real_error_is_raised_in_the_run(tmp_path, helpers):
    with pytest.raises(ValueError, match="no such column"):
        save_all([("a", _figure, (0,)), ("b", _broken, ())], tmp_path, processes=2)
    assert _all_reaped(helpers)


def test_an_interrupted_run_stops_its_helpers(tmp_path, helpers):
    with pytest.raises(KeyboardInterrupt):  # the run's own share is interrupted while a helper still draws
        save_all([("a", _interrupted, ()), ("b", _figure, (1, 30.0))], tmp_path, processes=2)
    assert _all_reaped(helpers) and not (tmp_path / "b.png").exists()


# ---------------------------------------------------------------- helpers forked before drawing (the run command)
def test_drawers_draw_what_the_run_draws_and_end_with_the_block(tmp_path, helpers):
    jobs = [(f"f{k}", _figure, (k,)) for k in range(3)]
    folders = [tmp_path / name for name in ("alone", "first", "second")]
    for f in folders:
        f.mkdir()
    alone = save_all(jobs, folders[0], processes=1)
    with Drawers.started(2) as pool:
        assert len(helpers) == 2 and pool is not None
        assert save_all(jobs, folders[1]) == alone and save_all(jobs, folders[2]) == alone  # helpers serve twice
        assert len(helpers) == 2  # no more were forked
    assert _all_reaped(helpers) and all(_files(f) == _files(folders[0]) for f in folders[1:])


def test_a_spreading_drawer_shares_its_figures_with_forks_of_itself(tmp_path, helpers):
    """The run command's one helper: sent every figure, it draws them over one fork of itself per
    core (each figure in one process), and the files are those drawn in turn."""
    notes = tmp_path / "notes"
    notes.mkdir()
    jobs = [(f"f{k}", _figure_noting, (k, str(notes))) for k in range(3)]
    (tmp_path / "alone").mkdir()
    (tmp_path / "spread").mkdir()
    alone = save_all(jobs, tmp_path / "alone", processes=1)
    with Drawers.started(1, spread=True):
        assert save_all(jobs, tmp_path / "spread") == alone
    pids = {p.read_text() for p in notes.iterdir()}
    assert len(pids) == min(3, cores()) and str(os.getpid()) not in pids and str(helpers[0]) in pids
    assert _all_reaped(helpers) and _files(tmp_path / "spread") == _files(tmp_path / "alone")


def test_drawers_that_fail_or_died_leave_their_figures_to_the_run(tmp_path, helpers):
    want = save_all([("a", _figure, (0,)), ("b", _figure, (1,))], tmp_path, processes=1)
    with Drawers.started(2):
        got = save_all([("a", _figure, (0,)), ("b", _figure, (1, 0.0, os.getpid()))], tmp_path)
        assert got == want
        for pid in helpers:  # every helper still running killed (the failed one has been reaped)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        assert save_all([("a", _figure, (0,)), ("b", _figure, (1,))], tmp_path) == want
    assert _all_reaped(helpers)


def test_an_interrupt_while_drawers_draw_stops_them(tmp_path, helpers):
    with Drawers.started(1):
        timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                save_all([("slow", _figure, (1, 30.0))], tmp_path)
        finally:
            timer.cancel()
        assert _all_reaped(helpers)  # stopped at the interrupt, before the block ended
    assert not (tmp_path / "slow.png").exists()


def _slow_noting(k: int, folder: str):
    """Notes which process draws it in ``folder``, then takes 30 s."""
    (Path(folder) / f"pid-{k}").write_text(str(os.getpid()))
    return _figure(k, 30.0)


def _ended(pid: int) -> bool:
    """The process is gone, or a zombie (it has exited; init reaps it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="a helper's forks die with it by Linux's "
                    "parent-death signal, and their state is read from /proc")
def test_an_interrupt_stops_a_spreading_helper_and_its_forks(tmp_path, helpers):
    notes = tmp_path / "notes"
    notes.mkdir()
    drawing = min(2, cores())

    def interrupt_once_drawing():  # Ctrl-C once every process that draws has started (at most 60 s)
        deadline = time.monotonic() + 60
        while len(list(notes.iterdir())) < drawing and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    with Drawers.started(1, spread=True):
        watcher = threading.Thread(target=interrupt_once_drawing, daemon=True)
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            save_all([(f"slow{k}", _slow_noting, (k, str(notes))) for k in range(2)], tmp_path)
        watcher.join()
    drew = [int(p.read_text()) for p in notes.iterdir()]
    assert len(drew) == drawing and helpers[0] in drew
    deadline = time.monotonic() + 10
    while not all(_ended(pid) for pid in drew) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_ended(pid) for pid in drew) and _all_reaped(helpers)
    assert not list(tmp_path.glob("slow*.png"))


def test_a_run_draws_its_figures_while_it_completes_its_tables(tmp_path, monkeypatch):
    """With the run's helper started, the report writer sends the figures before it computes the
    tables no figure needs (trust checks, inference front: ReportData.complete), and the report is
    the one written without helpers, file for file."""
    import perflaw.optimizer.report.data as data_module
    import perflaw.optimizer.report.writer as writer
    from perflaw.optimizer.api import run_scenario
    from tests.optimizer.test_reports_reproduce import ROOT

    scenario = ROOT / "scenarios" / "moe-2048xh800.toml"  # it has an inference front
    run_scenario(scenario, tmp_path / "alone")
    events = []
    start, front = writer.start_drawing, data_module.inference_front
    monkeypatch.setattr(writer, "start_drawing", lambda jobs, folder: events.append("figures sent")
                        or start(jobs, folder))
    monkeypatch.setattr(data_module, "inference_front", lambda problem: events.append("inference front")
                        or front(problem))
    with Drawers.started(1, spread=True) as pool:
        assert pool is not None or cores() < 2
        run = run_scenario(scenario, tmp_path / "helped")
    assert events == ["figures sent", "inference front"] and len(run.data.inference_front) and run.data.scrutiny
    assert not run.data.pending
    alone, helped = _files(tmp_path / "alone"), _files(tmp_path / "helped")
    assert alone.keys() == helped.keys() and [k for k in alone if alone[k] != helped[k]] == []
