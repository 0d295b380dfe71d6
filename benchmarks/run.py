"""Run every benchmark in one process and print the results side by side, then a table of the targets.

Usage: python benchmarks/run.py
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_law  # noqa: E402
import bench_memory  # noqa: E402
import bench_planner  # noqa: E402
import bench_search  # noqa: E402
import bench_startup  # noqa: E402


def main() -> int:
    t_start = time.perf_counter()
    print(f"perflaw benchmarks on {platform.machine()} Python {platform.python_version()} "
          "(ratios are measured in this run; absolute times depend on the machine's load)")
    targets = []  # (what, measured, target, met)
    print("\n[whole commands vs a bare import, best of 5 rounds run side by side; perflaw's bytecode compiled first, "
          f"as an install or a first run leaves it (PYTHONDONTWRITEBYTECODE here: "
          f"{os.environ.get('PYTHONDONTWRITEBYTECODE', 'unset')!r})]")
    for r in bench_startup.main():
        print(f"  {r['case']:<30} {r['seconds']:6.3f} s  {r['ratio']:5.2f}x {r['baseline']} "
              f"({r['baseline_s']:.3f} s; target {r['target']:g}x)")
        targets.append((f"`{r['case']}` vs {r['baseline']}", f"{r['ratio']:.2f}x ({r['seconds']:.2f} s)",
                        f"<= {r['target']:g}x", r["ratio"] <= r["target"]))
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
    r = bench_search.exact_vs_law()
    print("\n[exact strategy through the API vs the bare numpy law over as many candidates, alternately, best of 5]")
    print(f"  {r['candidates']:,} candidates: search {r['exact_s']:.3f} s = {r['exact_per_s'] / 1e6:.1f} M/s; "
          f"law {r['law_s']:.3f} s = {r['law_per_s'] / 1e6:.1f} M/s; ratio {r['ratio']:.2f} (target 0.5); "
          f"peak traced memory {r['peak_bytes_per_candidate']:.0f} bytes per candidate")
    targets.append(("exact search rate / bare law rate", f"{r['ratio']:.2f} ({r['exact_per_s'] / 1e6:.1f} vs "
                    f"{r['law_per_s'] / 1e6:.1f} M/s)", ">= 0.5", r["ratio"] >= 0.5))
    targets.append(("exact search, peak memory per candidate", f"{r['peak_bytes_per_candidate']:.0f} bytes",
                    "<= 113 bytes", r["peak_bytes_per_candidate"] <= 113))
    g = bench_search.optuna_growth()
    print(f"\n[optuna: {g['large']} trials vs {g['small']}, back to back, {g['rounds']} rounds]")
    print(f"  best {g['large_s']:.2f} s vs {g['small_s']:.2f} s; round ratios "
          f"{', '.join(f'{r:.2f}' for r in g['ratios'])}: median {g['ratio']:.2f}x (target 2.3x)")
    targets.append((f"optuna {g['large']} trials / {g['small']}", f"{g['ratio']:.2f}x", "<= 2.3x", g["ratio"] <= 2.3))
    print("\n[peak memory on the largest accepted lattices, each command in its own process]")
    for m in bench_memory.main():
        print(f"  {m['case']:<16} {m['candidates']:>10,} candidates  peak {m['peak_gb']:.2f} GB  {m['status']}")
    print("\n[strategies: exact vs optuna (1000 trials) vs scipy (10000 evaluations), seeds 0, 1, 2]")
    print(f"  {'problem':<38} {'strategy':<8} {'worst gap':>9} {'mean gap':>9} {'evals':>9} {'seconds':>8}")
    for c in bench_search.compare():
        print(f"  {c['problem']:<38} {c['strategy']:<8} {c['worst_gap']:>9.3f} {c['mean_gap']:>9.3f} "
              f"{c['evaluations']:>9,.0f} {c['seconds']:>8.2f}")
    minutes = (time.perf_counter() - t_start) / 60
    targets.append(("`benchmarks/run.py`, whole run", f"{minutes:.1f} min", "<= 5 min", minutes <= 5))
    print("\n[targets, as a Markdown table]")
    print("| what | measured | target | met |\n|---|---|---|---|")
    for what, measured, target, met in targets:
        print(f"| {what} | {measured} | {target} | {'yes' if met else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
