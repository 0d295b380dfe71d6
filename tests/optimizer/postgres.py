"""A throwaway PostgreSQL server for the shared-study tests: Debian's postgresql binaries, a data
folder under the test's temporary path, trust authentication on a free loopback port."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def bindir() -> str | None:
    """The folder of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    def version(d: str) -> int:
        v = d.split("/")[-2]
        return int(v) if v.isdigit() else 0
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)
    return dirs[-1] if dirs and os.path.exists(os.path.join(dirs[-1], "initdb")) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``start()`` returns a SQLAlchemy URL or raises RuntimeError with the reason; ``stop()`` ends it."""

    def __init__(self, root: Path):
        self.root, self.data, self.port, self.run_as = root, root / "data", _free_port(), []
        self.bin = bindir()

    def _run(self, *argv, check=True):
        return subprocess.run(self.run_as + list(argv), capture_output=True, text=True, timeout=120, check=check)

    def start(self) -> str:
        if self.bin is None:
            raise RuntimeError("PostgreSQL's initdb is not installed (Debian package postgresql)")
        try:
            import psycopg2  # noqa: F401  (SQLAlchemy's PostgreSQL driver)
            del psycopg2
        except ImportError:
            raise RuntimeError("the PostgreSQL driver psycopg2 is not installed (pip install '.[test]')") from None
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
            runner = shutil.which("runuser")
            try:
                import pwd
                user = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no postgres user to run the server") from None
            if runner is None:
                raise RuntimeError("running as root and runuser is missing")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.run_as = [runner, "-u", "postgres", "--"]
        try:
            self._run(os.path.join(self.bin, "initdb"), "-D", str(self.data), "-U", "perflaw", "--auth=trust",
                      "--no-sync", "-E", "UTF8")
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-l",
                      str(self.root / "server.log"), "-o",
                      f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off", "start")
        except subprocess.CalledProcessError as exc:
            log = self.root / "server.log"
            tail = log.read_text()[-400:] if log.exists() else ""
            said = (exc.stderr or exc.stdout).strip()[-400:]
            raise RuntimeError(f"the server did not start: {said} {tail}") from None
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        return f"postgresql+psycopg2://perflaw@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.bin and (self.data / "postmaster.pid").exists():
            self._run(os.path.join(self.bin, "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def new_database(self, name: str) -> str:
        """A fresh database on this server (one per test keeps studies apart)."""
        self._run(os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "perflaw", name)
        return f"postgresql+psycopg2://perflaw@127.0.0.1:{self.port}/{name}"
