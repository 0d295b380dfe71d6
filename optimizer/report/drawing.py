"""Draw and save the report's figures, several at once in forked processes where there are cores for it.

Drawing is matplotlib's pure-Python work (ticks, text layout, paths), a second or so for a report,
and one process draws one figure at a time. ``save_all`` forks one helper per spare core (Linux and
macOS; elsewhere, or on one core, it draws in turn). A helper draws its share of the figures into the
report's temporary folder and exits; it dies with the run (Linux: a parent-death signal), and the
run waits for every helper, or kills it, before its folder is kept or removed. The files do not
depend on which process drew them. A helper that fails is not trusted: its figures are drawn again
in the run itself, so a real error is raised there, with its traceback, as without helpers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from pathlib import Path
from typing import Callable

from perflaw.optimizer.report.figures import save

Drawing = Callable[[], object]  # returns a matplotlib Figure


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def save_all(jobs: list[tuple[str, Drawing]], folder: Path, processes: int | None = None) -> dict[str, bytes]:
    """Draw each ``(stem, drawing)`` of ``jobs`` and save ``stem``.png and .svg in ``folder``; return the
    PNG bytes by stem, in the order of ``jobs``. ``processes`` (default: the cores, at most one per
    figure) counts this one; 1 draws everything here."""
    n = max(1, min(len(jobs), cores() if processes is None else processes))
    if n == 1 or not hasattr(os, "fork"):
        return {stem: save(draw(), folder, stem) for stem, draw in jobs}
    shares = [jobs[k::n] for k in range(n)]
    helpers: dict[int, list] = {}
    run = os.getpid()
    try:
        for share in shares[1:]:
            pid = os.fork()
            if pid == 0:  # the helper: draw, then leave at once (no cleanup of the parent's state)
                _helper(share, folder, run)
            helpers[pid] = share
        out = {stem: save(draw(), folder, stem) for stem, draw in shares[0]}
        while helpers:
            pid, share = next(iter(helpers.items()))
            _, status = os.waitpid(pid, 0)
            del helpers[pid]
            for stem, draw in share:
                out[stem] = (folder / f"{stem}.png").read_bytes() if status == 0 else save(draw(), folder, stem)
    finally:
        for pid in helpers:  # interrupted: no helper outlives the run or writes into a removed folder
            _stop(pid)
    return {stem: out[stem] for stem, _ in jobs}


def _helper(share, folder: Path, run: int) -> None:
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the run, which stops its helpers
        _die_with(run)
        for stem, draw in share:
            save(draw(), folder, stem)
        code = 0
    except BaseException:  # noqa: B902 (any failure: the run draws these figures again itself)
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
