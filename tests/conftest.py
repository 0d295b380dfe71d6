"""Shared test helpers."""

import os
from pathlib import Path

import pytest

HF_CONFIGS = Path(__file__).parent / "law" / "hf_configs"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def hf_config():
    """Path of a fixture config.json by its stem."""
    return lambda stem: HF_CONFIGS / f"{stem}.json"


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session; each call of the yielded function makes a new
    database and returns its URL. Skips, saying why, where the server cannot start."""
    import shutil
    import tempfile

    from tests.optimizer.postgres import Server
    root = Path(tempfile.mkdtemp(prefix="perflaw-pg-"))  # not under pytest's folders: the server's user must reach it
    server = Server(root)
    try:
        server.start()
    except RuntimeError as exc:
        if os.environ.get("PERFLAW_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL server unavailable: {exc}")
    count = iter(range(1_000_000))
    try:
        yield lambda: server.new_database(f"study{next(count)}")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
