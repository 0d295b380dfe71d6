"""Benchmark: `perflaw plan` (vectorised) against a plain Python loop over the same grid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from planner_loop import loop_planner
from timing import best_of

from perflaw.optimizer.search.planner import PlannerSettings, run_planner

LARGE = dict(min_layers=8, max_layers=200, min_params_b=1, max_params_b=1000, max_tokens_t=60)
LARGE_FLAGS = ["--layers", "8:200", "--params", "1B:1000B", "--max-tokens", "60T"]




def _cli(argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "perflaw", *argv]


def main(repeats: int = 3) -> list[dict]:
    here = Path(__file__).resolve().parent
    loop_script = [sys.executable, str(here / "planner_loop.py")]
    out = []
    for label, kwargs, flags in (("default grid", {}, []), ("large grid", LARGE, LARGE_FLAGS)):
        settings = PlannerSettings(**kwargs)
        t_vec = best_of(lambda: run_planner(settings).ranked("balance", 10), repeats)
        t_loop = best_of(lambda: loop_planner(**settings.__dict__), 1 if kwargs else repeats)
        out.append({"case": f"plan {label}, in process: numpy vs loop", "seconds": t_vec, "baseline": t_loop,
                    "ratio": t_loop / t_vec})
        e2e_vec = best_of(lambda: subprocess.run(_cli(["plan", "--rank", "balance", "--json", *flags]), check=True,
                                               capture_output=True), repeats)
        payload = json.dumps({**kwargs, "rank": "balance", "top": 10})
        e2e_loop = best_of(lambda: subprocess.run([*loop_script, payload], check=True, capture_output=True),
                         1 if kwargs else repeats)
        out.append({"case": f"plan {label}, end to end (process start included)", "seconds": e2e_vec,
                    "baseline": e2e_loop, "ratio": e2e_loop / e2e_vec})
    return out
