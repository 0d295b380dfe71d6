"""Benchmark: exact vs Optuna vs scipy on realistic planning problems, and the exact strategy's rate."""

from __future__ import annotations

import time

import numpy as np

from perflaw.optimizer.cost.hardware import default_utilization, get_hardware
from perflaw.optimizer.search.candidates import evaluate
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


def exact_rate(repeats: int = 3) -> dict:
    """Candidates per second of the exact strategy's evaluation on a large lattice."""
    kw = dict(heads=(8, 256), heads_step=1, ffn_ratio=(2.0, 6.0), ffn_ratio_step=0.0625, kv_heads=(1, 2, 4, 8, 16))
    space = SearchSpace(layers=largest_layers(kw), **kw)  # the largest lattice accepted
    p = Problem(space, 1e25)
    t0 = time.perf_counter()
    arch = space.lattice()
    t_build = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ev = evaluate(p, arch)
        best = int(np.argmax(np.where(ev["feasible"], ev["mmlu"], -np.inf)))
        times.append(time.perf_counter() - t0)
    n = len(arch["layers"])
    return {"candidates": n, "build_s": t_build, "evaluate_s": min(times), "per_second": n / min(times),
            "per_second_with_build": n / (min(times) + t_build), "best_mmlu": float(ev["mmlu"][best])}
