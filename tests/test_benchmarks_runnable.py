"""The benchmarks stay runnable (tiny sizes; speed is measured by benchmarks/run.py, not here)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_law  # noqa: E402


def test_law_benchmark_runs_and_agrees():
    rows = bench_law.main(n_vec=2000, n_loop=500)
    assert rows[-1]["ratio"] > 0


def test_planner_benchmark_imports():
    import bench_planner  # noqa: F401  (its run takes seconds; benchmarks/run.py runs it)

    assert bench_planner.LARGE["max_tokens_t"] == 60


def test_cli_loss_names_match_the_fit_module():
    from perflaw.law.fit import LOSSES
    from perflaw.optimizer.cli.main import LOSSES as CLI_LOSSES

    assert CLI_LOSSES == LOSSES


def test_memory_benchmark_probes_the_largest_accepted_lattices():
    import bench_memory

    from perflaw.optimizer.search.space import MAX_CANDIDATES, SearchSpace
    for kw in (bench_memory.DENSE, bench_memory.MOE):
        low, high = bench_memory.largest_layers(kw)
        assert 0.9 * MAX_CANDIDATES < SearchSpace(layers=(low, high), **kw).candidate_count() <= MAX_CANDIDATES


def test_startup_benchmark_names_its_baselines():
    import bench_startup

    names = {c[0] for c in bench_startup.CASES}  # a baseline is a bare import or another case of the run
    assert {c[2] for c in bench_startup.CASES} <= {"numpy", "numpy+pyplot"} | names


def test_search_benchmarks_run_small():
    import bench_search

    rows = bench_search.compare(trials_optuna=80, trials_scipy=300, seeds=(0,))
    assert len(rows) == 3 * len(bench_search.problems()) and all(r["worst_gap"] >= 0 for r in rows)
    grown = bench_search.optuna_growth(rounds=1, small=40, large=80)
    assert grown["ratio"] > 0 and grown["large_s"] > 0


def test_the_command_benchmark_compiles_perflaws_bytecode_first():
    """Commands are timed with perflaw's bytecode written, as numpy's is (pip compiles it on install)."""
    import importlib.util

    import bench_startup
    import perflaw.optimizer.search.candidates as module

    cached = Path(importlib.util.cache_from_source(module.__file__))
    cached.unlink(missing_ok=True)  # so that the check below sees a file the call wrote
    folders = bench_startup.compile_perflaw()
    assert any(Path(module.__file__).is_relative_to(f) for f in folders)
    assert cached.is_file()
