"""The distribution: one top-level name, every package listed, and a built wheel that works elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _package_folders() -> set[str]:
    """Dotted names of every folder holding an __init__.py, as pyproject.toml maps them."""
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    out = set()
    for name, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            out.add(".".join([name, *rel.parts]) if rel.parts else name)
    return out


def test_every_package_folder_is_listed_and_nothing_else():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == _package_folders()
    assert {p.split(".")[0] for p in listed} == {"perflaw"}


def test_the_law_layer_never_imports_the_optimizer():
    for path in (ROOT / "law").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "perflaw.optimizer" not in text.replace("never imports from ``perflaw.optimizer``", ""), path


def _run(argv, **kw):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kw)
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_a_built_wheel_works_in_a_fresh_virtual_environment(tmp_path):
    # Build from a clean copy: an in-tree build would leave build/ behind, and stale files there
    # would reach the next wheel.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "reports",
                                                                "__pycache__", ".pytest_cache", ".hypothesis"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)])
    (wheel,) = wheels.glob("perflaw-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.startswith("perflaw-")} == {"perflaw"}
    for data in ("perflaw/law/data/models.csv", "perflaw/optimizer/cost/data/hardware.csv",
                 "perflaw/optimizer/cost/data/training_runs.csv", "perflaw/optimizer/cost/data/throughput_models.json",
                 "perflaw/optimizer/cost/data/throughput_runs.csv", "perflaw/optimizer/cost/data/end_to_end_runs.json",
                 "perflaw/scenarios/7b-512xh100-30d.toml"):
        assert data in names
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    hardware = json.loads(_run([str(bin_dir / "perflaw"), "hardware", "--json"], cwd=elsewhere, env=env))
    assert any(h["name"] == "H100-SXM" for h in hardware["hardware"])
    report = json.loads(_run([str(bin_dir / "perflaw"), "run", "--out", "report", "--json"], cwd=elsewhere, env=env))
    assert report["reports"][0]["scenario"] == "7b-512xh100-30d"
    assert (elsewhere / "report" / "report.html").is_file()
    code = ("import perflaw, sys; r = perflaw.optimize(flops=1e23, hardware='H100-SXM', gpus=64); "
            "assert perflaw.__file__.startswith(sys.prefix), perflaw.__file__; print(r.best.mmlu)")
    mmlu = float(_run([str(bin_dir / "python"), "-c", code], cwd=elsewhere, env=env))
    assert 25 <= mmlu < 100
