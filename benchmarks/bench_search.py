"""Benchmark: exact vs Optuna vs scipy on realistic planning problems, and the exact strategy's rate."""

from __future__ import annotations

import time

import numpy as np

from perflaw.optimizer.cost.hardware import default_utilization, get_hardware
from perflaw.optimizer.search.problem import Constraints, Problem
from perflaw.optimizer.search.strategies import gap, search

from bench_memory import largest_layers
from perflaw.optimizer.search.space import SearchSpace


def problems() -> list[tuple[str, Problem]]:
    h100, h800 = get_hardware("H100-SXM"), get_hardware("H800-SXM")
    dense = SearchSpace()
    moe = SearchSpace(layers=(8, 64), heads=(8, 64), kv_heads=(4, 8), experts=(32, 64, 128), active_experts=(2, 4, 8),
                      shared_experts=(0, 1), expert_ffn=(1024, 1536, 2048))
    return [
        ("7B-class: 512 H100 x 30 days", Problem(dense, 512 * 30 * 24 * 3600 * 989.4e12 * 0.3459, h100, 512,
                                                  default_utilization(h100), Constraints(params_b=(1, 15)))),
        ("1e24 FLOPs on 1024 H100, 1B-70B", Problem(dense, 1e24, h100, 1024, default_utilization(h100),
                                                    Constraints(params_b=(1, 70)))),
        ("edge: serve on one 24 GB GPU", Problem(dense, 3e23, h100, 256, default_utilization(h100),
                                                 Constraints(serve_hbm_gb=24))),
        ("data-constrained: 3T unique tokens", Problem(dense, 1e24, h100, 1024, default_utilization(h100),
                                                       Constraints(max_tokens_t=3.0))),
        ("MoE on 2048 H800", Problem(moe, 3e24, h800, 2048, default_utilization(h800), Constraints())),
    ]


def compare(trials_optuna: int = 1000, trials_scipy: int = 10000, seeds=(0, 1, 2)) -> list[dict]:
    """Each sampler on each problem with several seeds: worst and mean optimality gap (MMLU points
    below the exact optimum), mean evaluations and mean wall time."""
    rows = []
    for name, p in problems():
        exact = search(p, "exact", top=0)
        rows.append({"problem": name, "strategy": "exact", "worst_gap": 0.0, "mean_gap": 0.0,
                     "evaluations": exact.n_evaluations, "seconds": exact.wall_time_s, "mmlu": exact.best.mmlu})
        for strategy, trials in (("optuna", trials_optuna), ("scipy", trials_scipy)):
            runs = [search(p, strategy, trials=trials, seed=s, top=0) for s in seeds]
            gaps = [gap(r, exact) for r in runs]
            rows.append({"problem": name, "strategy": strategy, "worst_gap": max(gaps), "mean_gap": float(np.mean(gaps)),
                         "evaluations": float(np.mean([r.n_evaluations for r in runs])),
                         "seconds": float(np.mean([r.wall_time_s for r in runs])), "mmlu": runs[0].best.mmlu})
    return rows


def exact_vs_law(repeats: int = 5) -> dict:
    """The exact strategy through the Python API (``search``) on the largest accepted lattice, timed
    alternately with the bare numpy law (``predict_mmlu``) over as many random candidates; then the
    search's peak traced memory (numpy arrays included) per candidate, in a run of its own."""
    import tracemalloc

    from bench_law import candidates
    from perflaw.law.performance import predict_mmlu

    kw = dict(heads=(8, 256), heads_step=1, ffn_ratio=(2.0, 6.0), ffn_ratio_step=0.0625, kv_heads=(1, 2, 4, 8, 16))
    space = SearchSpace(layers=largest_layers(kw), **kw)  # the largest lattice accepted
    h100 = get_hardware("H100-SXM")
    p = Problem(space, 1e25, h100, 2048, default_utilization(h100))
    n = space.candidate_count()
    law_args = candidates(n)
    search(p, "exact", top=10)  # warm: the zoo's domain and the calibration load once
    t_exact, t_law = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = search(p, "exact", top=10)
        t_exact.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        predict_mmlu(*law_args)
        t_law.append(time.perf_counter() - t0)
    del result
    tracemalloc.start()
    search(p, "exact", top=10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"candidates": n, "exact_s": min(t_exact), "law_s": min(t_law), "exact_per_s": n / min(t_exact),
            "law_per_s": n / min(t_law), "ratio": min(t_law) / min(t_exact), "peak_bytes_per_candidate": peak / n}


def optuna_growth(rounds: int = 7, small: int = 500, large: int = 1000) -> dict:
    """Optuna with ``large`` trials against ``small`` on one problem: each round runs the two back to
    back, and the ratio is the median of the rounds' ratios (a pair shares the machine's load of its
    moment, which the best time of each, taken from different moments, does not). A short study
    first loads what a study loads once (Optuna's sampler modules, scipy.special)."""
    _, p = problems()[1]
    search(p, "optuna", trials=60, seed=0, top=0)
    best, ratios = {small: float("inf"), large: float("inf")}, []
    for _ in range(rounds):
        took = {}
        for trials in (small, large):
            t0 = time.perf_counter()
            search(p, "optuna", trials=trials, seed=0, top=0)
            took[trials] = time.perf_counter() - t0
            best[trials] = min(best[trials], took[trials])
        ratios.append(took[large] / took[small])
    return {"small": small, "large": large, "rounds": rounds, "small_s": best[small], "large_s": best[large],
            "ratios": ratios, "ratio": float(np.median(ratios))}
