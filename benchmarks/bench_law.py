"""Benchmark: law evaluations per second, vectorised numpy vs a plain Python loop, side by side."""

from __future__ import annotations

import math

import numpy as np
from timing import best_of

from perflaw.law.coefficients import PAPER
from perflaw.law.performance import planner_params_b, predict_mmlu


def python_loop_law(layers, hidden, ffn, tokens_t, params_b) -> list[float]:
    """The same law written the straightforward way, one candidate at a time."""
    c = PAPER
    out = []
    for n, h, d, t, s in zip(layers, hidden, ffn, tokens_t, params_b):
        u = math.exp(-(((10 / d + 20 / h) * n) ** 2))
        te = min(t, s)
        y = c.w1 * math.log(u * n) + c.w2 * math.log(u * h) + c.w3 * math.log(u * d) + c.w4 * math.log(u * te) + c.b
        y = 25.0 if y < 25 else (90 + 10 * math.tanh(0.1 * y - 9) if y > 90 else y)
        out.append(y)
    return out


def candidates(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    layers = rng.integers(8, 200, n).astype(np.float64)
    hidden = rng.integers(2, 128, n) * 128.0
    ffn = hidden * rng.integers(2, 6, n)
    tokens = rng.uniform(0.5, 60, n)
    return layers, hidden, ffn, tokens, planner_params_b(layers, hidden, ffn)




def main(n_vec: int = 10_000_000, n_loop: int = 200_000) -> list[dict]:
    vec_args = candidates(n_vec)
    loop_args = [a[:n_loop] for a in vec_args]
    # Agreement first: the benchmark compares two implementations of one law.
    ref = predict_mmlu(*loop_args)
    assert np.allclose(python_loop_law(*(a.tolist() for a in loop_args)), ref, rtol=1e-12, atol=1e-9)
    t_vec = best_of(lambda: predict_mmlu(*vec_args), 3)
    lists = [a.tolist() for a in loop_args]
    t_loop = best_of(lambda: python_loop_law(*lists), 3)
    vec_rate, loop_rate = n_vec / t_vec, n_loop / t_loop
    return [
        {"case": f"law, numpy over {n_vec:,} candidates", "seconds": t_vec, "per_second": vec_rate},
        {"case": f"law, Python loop over {n_loop:,} candidates", "seconds": t_loop, "per_second": loop_rate},
        {"case": "speed-up numpy / Python loop", "ratio": vec_rate / loop_rate},
    ]

