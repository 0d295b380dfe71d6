"""Run every benchmark in one process and print the results side by side.

Usage: python benchmarks/run.py
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_law  # noqa: E402
import bench_planner  # noqa: E402


def main() -> int:
    print(f"perflaw benchmarks on {platform.machine()} Python {platform.python_version()} "
          "(ratios are measured in this run; absolute times depend on the machine's load)")
    print("\n[law evaluation]")
    for row in bench_law.main():
        if "ratio" in row:
            print(f"  {row['case']:<48} {row['ratio']:>10.1f}x")
        else:
            print(f"  {row['case']:<48} {row['seconds']:>8.3f} s  {row['per_second'] / 1e6:>8.2f} M/s")
    print("\n[compatibility mode: perflaw plan vs a plain Python loop over the same grid]")
    for row in bench_planner.main():
        print(f"  {row['case']:<58} {row['seconds']:>7.3f} s vs {row['baseline']:>7.3f} s  {row['ratio']:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
