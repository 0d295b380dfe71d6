"""Draw and save the report's figures, several at once in helper processes where there are cores for it.

Drawing is matplotlib's pure-Python work (ticks, text layout, paths), and importing matplotlib is a
third of a second more; one process does one at a time. A job is ``(stem, draw, args)``: ``draw`` is
the name of a function of ``figures`` (or a module-level function, which pickles by name), the
figure is ``draw(*args)``, saved as ``stem``.png and .svg.

- ``Drawers`` helpers are forked, import matplotlib and then draw the jobs they are sent (pickled
  through a pipe). The ``run`` command starts one before matplotlib is imported here, so it imports
  it while the run searches; sent the figures, it forks one copy of itself per spare core (matplotlib
  already imported, the jobs already read) and they draw them together. The report writer sends
  them (``start_drawing``) as soon as the tables they are drawn from exist, and computes the rest
  of the report (trust checks, inference front) while they draw.
- Otherwise ``save_all`` starts them when it draws, one per spare core, and draws a share itself
  (Linux and macOS; on one core, or without fork, it draws in turn).

A helper dies with the run (Linux: a parent-death signal; a spreading helper's forks die with it
the same way), ignores Ctrl-C, which the run handles by killing and reaping its helpers before its
folder is kept or removed. The files do not depend on which process drew them. A helper that fails
is not trusted: its figures are drawn again in the run itself, so a real error is raised there,
with its traceback, as without helpers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import os
import pickle
import signal
from contextlib import contextmanager
from pathlib import Path

_POOL: "Drawers | None" = None  # the helpers ``Drawers.started`` made, while its block runs


@contextmanager
def _held():
    """Ctrl-C held back (delivered at the end): a fork and the record of its pid, or a reap and the
    removal of its pid, happen together or not at all (no lost helper, no signal to a reused pid)."""
    mask = getattr(signal, "pthread_sigmask", None)
    if mask is None:
        yield
        return
    old = mask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        mask(signal.SIG_SETMASK, old)


def _fork() -> int:
    """``os.fork`` with Ctrl-C held back: the child ignores SIGINT before it can take one, the
    parent takes a pending one only after the caller has recorded the pid (inside ``_held``)."""
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the run, which stops its helpers
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return pid


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def draw_here(jobs, folder: Path) -> dict[str, bytes]:
    """Draw and save ``jobs`` in this process; the PNG bytes by stem (none: matplotlib is not loaded)."""
    if not jobs:
        return {}
    from perflaw.optimizer.report import figures
    return {stem: figures.save((getattr(figures, draw) if isinstance(draw, str) else draw)(*args), folder, stem)
            for stem, draw, args in jobs}


def save_all(jobs: list[tuple], folder: Path, processes: int | None = None) -> dict[str, bytes]:
    """Draw each job ``(stem, draw, args)`` and save ``stem``.png and .svg in ``folder``; return the PNG
    bytes by stem, in the order of ``jobs``. Uses the ``Drawers`` that are started, else forks:
    ``processes`` (default: the cores, at most one per figure) counts this one; 1 draws here."""
    if _POOL is not None and processes is None:
        out = _POOL.draw(jobs, folder)
        return {stem: out[stem] for stem, _, _ in jobs}
    n = max(1, min(len(jobs), cores() if processes is None else processes))
    if n == 1 or not hasattr(os, "fork"):
        return draw_here(jobs, folder)
    pool = Drawers(n - 1)
    try:
        out = pool.draw(jobs, folder, here=True)
    finally:
        pool.stop()
    return {stem: out[stem] for stem, _, _ in jobs}


def _collected(share, folder: Path) -> dict[str, bytes]:
    return {stem: (folder / f"{stem}.png").read_bytes() for stem, _, _ in share}


class Drawers:
    """Helper processes forked now: each imports matplotlib at once (forked before this process has,
    while it goes on with its search) and then draws the jobs ``draw`` sends it."""

    def __init__(self, n: int, spread: bool = False) -> None:
        self.helpers: list[list] = []  # [pid, job pipe (write end), answer pipe (read end)]
        run = os.getpid()
        for _ in range(n):
            jobs_r, jobs_w = os.pipe()
            answers_r, answers_w = os.pipe()
            with _held():
                pid = _fork()
                if pid == 0:
                    for _, jobs, answers in self.helpers:  # the other helpers' pipes stay theirs alone
                        jobs.close()
                        answers.close()
                    os.close(jobs_w)
                    os.close(answers_r)
                    _serve(jobs_r, answers_w, run, spread)
                self.helpers.append([pid, os.fdopen(jobs_w, "wb"), os.fdopen(answers_r, "rb")])
            os.close(jobs_r)
            os.close(answers_w)

    @classmethod
    @contextmanager
    def started(cls, n: int, spread: bool = False):
        """``n`` helpers for the block (none: ``save_all`` forks as usual); stopped when it ends.
        ``spread``: each helper draws what it is sent with ``save_all``, over forks of itself."""
        global _POOL
        if n < 1 or not hasattr(os, "fork") or _POOL is not None:
            yield None
            return
        _POOL = cls(n, spread)
        try:
            yield _POOL
        finally:
            pool, _POOL = _POOL, None
            pool.stop()

    def draw(self, jobs, folder: Path, here: bool = False) -> dict[str, bytes]:
        """Send each helper its share of ``jobs`` (``here``: this process draws one share too, while
        they draw theirs) and collect the figures; a share a helper does not draw (it failed, or
        died) is drawn here."""
        drawing = self.start(jobs, folder, here)
        try:
            return drawing.finish()
        except BaseException:  # interrupted: the helpers still drawing stop before the folder goes
            drawing.cancel()
            raise

    def start(self, jobs, folder: Path, here: bool = False) -> "Drawing":
        """Send the helpers their shares of ``jobs`` and return at once: ``finish`` collects them."""
        live = [h for h in self.helpers if h[0]][:len(jobs) - here]
        k = len(live) + here
        shares = [jobs[j::k] for j in range(k)] if live else [jobs]
        mine, theirs = (shares[0], shares[1:]) if here or not live else ([], shares)
        drawing = Drawing(self, folder, mine)
        try:
            for helper, share in zip(live, theirs):
                drawing.busy.append((helper, share))  # before the send: an interrupt during it stops the helper
                if not self._send(helper, (str(folder), share)):
                    drawing.busy.pop()
                    drawing.mine += share
        except BaseException:
            drawing.cancel()
            raise
        return drawing

    def _send(self, helper, job) -> bool:
        try:
            pickle.dump(job, helper[1], protocol=pickle.HIGHEST_PROTOCOL)
            helper[1].flush()
            return True
        except OSError:  # the helper is gone
            self._end(helper)
            return False

    def _answer(self, helper) -> bool:
        try:
            return pickle.load(helper[2]) is True
        except (EOFError, OSError, pickle.UnpicklingError):
            self._end(helper)
            return False

    def _end(self, helper) -> None:
        with _held():
            pid, jobs, answers = helper
            for pipe in (jobs, answers):
                try:
                    pipe.close()
                except OSError:
                    pass
            if pid:
                _stop(pid)
                helper[0] = 0

    def stop(self) -> None:
        """Stop and reap every helper (they hold nothing worth waiting for)."""
        for helper in self.helpers:
            self._end(helper)


class Drawing:
    """Figures sent to helpers (``Drawers.start``): ``finish`` draws this process's share and collects
    theirs (a share a helper did not draw is drawn here); ``cancel`` stops the helpers still drawing."""

    def __init__(self, pool: Drawers, folder: Path, mine: list) -> None:
        self.pool, self.folder, self.mine, self.busy = pool, folder, list(mine), []

    def finish(self) -> dict[str, bytes]:
        out = draw_here(self.mine, self.folder)
        while self.busy:
            helper, share = self.busy[0]
            out.update(_collected(share, self.folder) if self.pool._answer(helper) else draw_here(share, self.folder))
            self.busy.pop(0)
        return out

    def cancel(self) -> None:
        for helper, _ in self.busy:
            self.pool._end(helper)
        self.busy = []


def start_drawing(jobs: list[tuple], folder: Path) -> Drawing | None:
    """Send ``jobs`` to the run's started helpers (``Drawers.started``) and return at once, so that
    the run computes the rest of its report while they draw; None when no helpers are started (then
    ``save_all`` draws them when asked)."""
    return _POOL.start(jobs, folder) if _POOL is not None else None


def _serve(jobs_fd: int, answers_fd: int, run: int, spread: bool) -> None:
    code = 1
    try:
        _die_with(run)
        importlib.import_module("perflaw.optimizer.report.figures")  # the slow import, while the run searches
        with os.fdopen(jobs_fd, "rb") as jobs, os.fdopen(answers_fd, "wb") as answers:
            while True:
                try:
                    folder, share = pickle.load(jobs)
                except EOFError:
                    break
                (save_all if spread else draw_here)(share, Path(folder))
                pickle.dump(True, answers)
                answers.flush()
        code = 0
    except BaseException:  # noqa: B902 (the run draws what this helper did not)
        pass
    finally:
        os._exit(code)


def _die_with(run: int) -> None:
    """On Linux, ask for SIGKILL when the run dies (a killed run leaves no helper drawing)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != run:  # the run died before the request took effect
        os._exit(1)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
