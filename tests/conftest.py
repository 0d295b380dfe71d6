"""Shared test helpers."""

from pathlib import Path

import pytest

HF_CONFIGS = Path(__file__).parent / "law" / "hf_configs"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def hf_config():
    """Path of a fixture config.json by its stem."""
    return lambda stem: HF_CONFIGS / f"{stem}.json"
