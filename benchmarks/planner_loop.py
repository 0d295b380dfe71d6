"""A straightforward Python-loop implementation of the planning tool's grid (the benchmark's baseline
and the reference the vectorised compatibility mode is checked against)."""

from __future__ import annotations

import math

import numpy as np

W = (13.95018192, 0.23072027, -0.48523402, 5.39801689)
B = 9.195410648934768


def loop_planner(tflops=376.0, gpus=1024, mfu_percent=40.0, days=30.0, min_layers=20, max_layers=100,
                 min_params_b=10.0, max_params_b=100.0, max_tokens_t=20.0, gamma=1.0, min_mmlu=50.0):
    """Rows (layers, hidden, ffn, params_b, tokens_t, mmlu, budget_utilization) in enumeration order."""
    budget = tflops * 1e12 * 86400 * (mfu_percent / 100) * gpus * days
    rows = []
    # The plain shape: every grid point visited, every filter tested in the innermost loop.
    for k in range(0, 100, 2):
        for hidden in range(16384, 1024, -1024):
            for n in range(min_layers, max_layers):
                for t in np.arange(1, max_tokens_t, 0.5):
                    h = float(hidden)
                    d = h + 1024 * k
                    if d % 4096 != 0 or n % 8 not in (6, 7):
                        continue
                    t = float(t)
                    size = (h * 128 * 8 * 2 + 2 * h**2 + 3 * h * d) * n + h * 150000 * 2
                    if 6 * size * 1e12 * t > budget or size > max_params_b * 1e9 or size < min_params_b * 1e9:
                        continue
                    te = min(t, size / 1e9)
                    u = math.exp(-((10 / d + 20 / h) * (gamma * n)) ** 2)
                    if u == 0.0:
                        continue
                    y = (W[0] * math.log(u * n) + W[1] * math.log(u * h) + W[2] * math.log(u * d)
                         + W[3] * math.log(u * te)) + B
                    if y < min_mmlu:
                        continue
                    y = 25.0 if y < 25 else (90 + math.tanh(0.1 * y - 9) * 10 if y > 90 else y)
                    # The tool's values are numpy scalars, so they round the numpy way (scale, rint).
                    rows.append((n, hidden, int(d), float(round(np.float64(size / 1e9), 2)), t,
                                 float(round(np.float64(y), 2)),
                                 float(round(np.float64(6 * size * 1e12 * te / budget), 4))))
    return rows


def ranked(rows, rank: str, top: int):
    if rank == "performance":
        out = sorted(rows, key=lambda r: r[5], reverse=True)
    elif rank == "shallow":
        out = sorted(rows, key=lambda r: r[0])
    else:
        out = sorted(rows, key=lambda r: r[5] ** 2 / math.log(1 + r[0]), reverse=True)
    return out[:top]


if __name__ == "__main__":  # end-to-end timing from the benchmark: print the top rows as JSON
    import json
    import sys

    args = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    rank = args.pop("rank", "balance")
    top = args.pop("top", 10)
    print(json.dumps({"rows": ranked(loop_planner(**args), rank, top)}))
