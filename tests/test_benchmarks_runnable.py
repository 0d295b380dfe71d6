"""The benchmarks stay runnable (tiny sizes; speed is measured by benchmarks/run.py, not here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_law  # noqa: E402


def test_law_benchmark_runs_and_agrees():
    rows = bench_law.main(n_vec=2000, n_loop=500)
    assert rows[-1]["ratio"] > 0
