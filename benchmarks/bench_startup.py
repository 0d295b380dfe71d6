"""Whole commands against a bare import, timed side by side in one run (issue targets in brackets).

Each round runs every command once, in turn, so load on the machine falls on all of them alike;
the best of the rounds is kept. perflaw's bytecode is compiled first, as an install or any first run
leaves it: numpy's was compiled when pip installed it, and where PYTHONDONTWRITEBYTECODE is set (it
is on the machines these figures come from) Python would otherwise compile perflaw's modules from
source in every command. Usage: python benchmarks/bench_startup.py
"""

from __future__ import annotations

import compileall
import importlib.util
import os
import subprocess
import sys
import tempfile
import time

PERFLAW = [sys.executable, "-m", "perflaw"]
BASE_NUMPY = [sys.executable, "-c", "import numpy"]
BASE_PLOT = [sys.executable, "-c", "import numpy, matplotlib.pyplot"]
OPTIMIZE = PERFLAW + ["optimize", "--flops", "1e24", "--hardware", "H100-SXM", "--gpus", "1024", "--params", "1B:70B"]
CASES = [  # (name, command, baseline, target ratio)
    ("optimize (exact, 1e24 FLOPs)", OPTIMIZE, "numpy", 3.0),
    ("perflaw --help", PERFLAW + ["--help"], "numpy", 1.5),
    ("an input error", PERFLAW + ["optimize", "--flops", "1e24", "--hardware", "H20"], "numpy", 1.5),
    ("run (default scenario)", PERFLAW + ["run", "--out", "default"], "numpy+pyplot", 2.5),
    ("run (MoE scenario)", PERFLAW + ["run", "moe-2048xh800", "--out", "moe"], "run (default scenario)", 1.5),
]


def compile_perflaw() -> list[str]:
    """Write the bytecode of perflaw's modules (``compileall``, which writes whatever
    PYTHONDONTWRITEBYTECODE says); the folders compiled."""
    folders = []
    for name in ("perflaw", "perflaw.law", "perflaw.optimizer", "perflaw.scenarios"):
        spec = importlib.util.find_spec(name)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            if folder not in folders and compileall.compile_dir(folder, quiet=1):
                folders.append(folder)
    return folders


def main(rounds: int = 5) -> list[dict]:
    compile_perflaw()
    with tempfile.TemporaryDirectory() as tmp:
        commands = {"numpy": BASE_NUMPY, "numpy+pyplot": BASE_PLOT}
        for name, cmd, _, _ in CASES:
            commands[name] = cmd
        best = {k: float("inf") for k in commands}
        for _ in range(rounds):
            for k, cmd in commands.items():
                t0 = time.perf_counter()
                done = subprocess.run(cmd, capture_output=True, cwd=tmp)
                if done.returncode != (2 if k == "an input error" else 0):
                    raise RuntimeError(f"{k}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
                best[k] = min(best[k], time.perf_counter() - t0)
    return [{"case": name, "seconds": best[name], "baseline": base, "baseline_s": best[base],
             "ratio": best[name] / best[base], "target": target} for name, _, base, target in CASES]


if __name__ == "__main__":
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE", "")
    print(f"PYTHONDONTWRITEBYTECODE={flag!r}; perflaw's bytecode compiled first")
    for r in main():
        print(f"{r['case']:<30} {r['seconds']:6.3f} s  {r['ratio']:5.2f}x {r['baseline']} "
              f"({r['baseline_s']:.3f} s; target {r['target']:g}x)")
