"""Run every benchmark in one process and print the results side by side.

Usage: python benchmarks/run.py
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_law  # noqa: E402
import bench_memory  # noqa: E402
import bench_planner  # noqa: E402
import bench_search  # noqa: E402
import bench_startup  # noqa: E402


def main() -> int:
    print(f"perflaw benchmarks on {platform.machine()} Python {platform.python_version()} "
          "(ratios are measured in this run; absolute times depend on the machine's load)")
    print("\n[whole commands vs a bare import, best of 5 rounds run side by side]")
    for r in bench_startup.main():
        print(f"  {r['case']:<30} {r['seconds']:6.3f} s  {r['ratio']:5.2f}x {r['baseline']} "
              f"({r['baseline_s']:.3f} s; target {r['target']:g}x)")
    print("\n[law evaluation]")
    for row in bench_law.main():
        if "ratio" in row:
            print(f"  {row['case']:<48} {row['ratio']:>10.1f}x")
        else:
            print(f"  {row['case']:<48} {row['seconds']:>8.3f} s  {row['per_second'] / 1e6:>8.2f} M/s")
    print("\n[compatibility mode: perflaw plan vs a plain Python loop over the same grid]")
    for row in bench_planner.main():
        print(f"  {row['case']:<58} {row['seconds']:>7.3f} s vs {row['baseline']:>7.3f} s  {row['ratio']:>7.1f}x")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rate = bench_search.exact_rate()
    print("\n[exact strategy on a large lattice]")
    print(f"  {rate['candidates']:,} candidates: evaluated in {rate['evaluate_s']:.3f} s = "
          f"{rate['per_second'] / 1e6:.1f} M/s (best of 3); lattice built in {rate['build_s']:.2f} s "
          f"({rate['per_second_with_build'] / 1e6:.1f} M/s with the build)")
    print("\n[peak memory on the largest accepted lattices, each command in its own process]")
    for r in bench_memory.main():
        print(f"  {r['case']:<16} {r['candidates']:>10,} candidates  peak {r['peak_gb']:.2f} GB  {r['status']}")
    print("\n[strategies: exact vs optuna (1000 trials) vs scipy (10000 evaluations), seeds 0, 1, 2]")
    print(f"  {'problem':<38} {'strategy':<8} {'worst gap':>9} {'mean gap':>9} {'evals':>9} {'seconds':>8}")
    for r in bench_search.compare():
        print(f"  {r['problem']:<38} {r['strategy']:<8} {r['worst_gap']:>9.3f} {r['mean_gap']:>9.3f} "
              f"{r['evaluations']:>9,.0f} {r['seconds']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
