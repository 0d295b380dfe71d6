"""Where perflaw may write: a report folder or law file is replaced only if perflaw wrote it.

A report folder is perflaw's when it holds perflaw's manifest and nothing but the files a report
has; a law file is perflaw's when it is a ``perflaw-law/1`` JSON file. Anything else (a folder of
the user's files, a file where a folder is asked, a symbolic link, the current folder, a parent or
a mount point) is refused before any work is done, or, for a folder with ``force``, written into
without moving or deleting anything already there.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from perflaw.law.errors import InputError

#: The files a report folder holds (report.md, report.html, manifest.json and these patterns).
REPORT_SUFFIXES = (".csv", ".png", ".svg")
REPORT_NAMES = ("report.md", "report.html", "manifest.json")


def is_perflaw_report(folder: Path) -> bool:
    """Whether ``folder`` holds a perflaw report and nothing else."""
    manifest = folder / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not (isinstance(data, dict) and isinstance(data.get("versions"), dict) and "perflaw" in data["versions"]
            and "scenario" in data):
        return False
    return not foreign_files(folder)


def foreign_files(folder: Path) -> list[str]:
    """The entries of ``folder`` a report would not have written."""
    out = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() or entry.is_symlink() or not (entry.name in REPORT_NAMES
                                                        or entry.suffix in REPORT_SUFFIXES):
            out.append(entry.name)
    return out


def _refuse_special(path: Path, flag: str) -> None:
    if path.is_symlink():
        raise InputError(flag, "must not be a symbolic link (perflaw would replace the link, not its target)",
                         str(path))
    resolved = path.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path(resolved.anchor):
        raise InputError(flag, "must name a folder of its own, not the current folder or one above it", str(path))
    if resolved.exists() and os.path.ismount(resolved):
        raise InputError(flag, "must not be a mount point", str(path))


def check_report_folder(out: str | Path, force: bool = False, flag: str = "--out") -> str:
    """Check that a report may be written at ``out`` before any work: ``replace`` (absent, empty or
    perflaw's own report), ``into`` (a folder of other files, with ``force``); else ``InputError``."""
    path = Path(out)
    _refuse_special(path, flag)
    if not path.exists():
        return "replace"
    if not path.is_dir():
        raise InputError(flag, "names a file; a report is a folder: give a folder name", str(path))
    if not any(path.iterdir()) or is_perflaw_report(path):
        return "replace"
    if force:
        return "into"
    foreign = foreign_files(path)
    example = f" (such as {foreign[0]})" if foreign else ""
    raise InputError(flag, f"already holds files perflaw did not write{example}; choose a new folder, or add "
                           "--force to write the report's files into it (nothing there is deleted)", str(path))


def check_law_file(out: str | Path, force: bool = False, flag: str = "--out") -> None:
    """Check that a law file may be written at ``out``: absent, or perflaw's own law file (or ``force``)."""
    path = Path(out)
    _refuse_special(path, flag)
    if path.is_dir():
        raise InputError(flag, "must be a file path, not a folder", str(path))
    if not path.exists() or force:
        return
    try:
        ours = json.loads(path.read_text(encoding="utf-8")).get("format") == "perflaw-law/1"
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise InputError(flag, "names a file perflaw did not write; choose a new name, or add --force to replace it",
                         str(path))


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` as the user's umask leaves it (what a newly created file gets)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def os_error(exc: OSError, flag: str, path) -> InputError:
    """A disk error as one line: which path, what happened."""
    words = {errno.ENOSPC: "the disk is full", errno.EACCES: "permission denied", errno.EPERM: "permission denied",
             errno.EBUSY: "the path is busy (a mount point or in use)", errno.EROFS: "the file system is read-only",
             errno.EDQUOT: "the disk quota is exceeded"}
    return InputError(flag, f"could not be written: {words.get(exc.errno, exc.strerror or str(exc))}; nothing was "
                            "left half-written", str(path))
