"""The exact strategy evaluates the lattice in blocks (every layer value times some inner choices) and
keeps only scores and feasibility: its plans, its kept columns and every column it builds later are
those of one evaluation of the whole lattice, to the last bit."""

import time

import numpy as np
import pytest

from perflaw.optimizer.cost.hardware import default_utilization, get_hardware
from perflaw.optimizer.search import strategies
from perflaw.optimizer.search.candidates import evaluate
from perflaw.optimizer.search.problem import Constraints, Problem
from perflaw.optimizer.search.result import finish
from perflaw.optimizer.search.space import SearchSpace

H100 = get_hardware("H100-SXM")
MOE = SearchSpace(layers=(8, 64), heads=(8, 64), kv_heads=(4, 8), experts=(32, 64, 128), active_experts=(2, 4, 8),
                  shared_experts=(0, 1), expert_ffn=(1024, 1536, 2048))
PROBLEMS = {
    "dense, trust data": Problem(SearchSpace(), 1e24, H100, 1024, default_utilization(H100), Constraints(params_b=(1, 70))),
    "dense, raw law, lower end": Problem(SearchSpace(), 3e23, trust="law", objective="lower"),
    "dense, serve on 24 GB": Problem(SearchSpace(), 3e23, H100, 256, default_utilization(H100),
                                     Constraints(serve_hbm_gb=24)),
    "moe": Problem(MOE, 3e24, get_hardware("H800-SXM"), 2048, default_utilization(get_hardware("H800-SXM"))),
    "nothing fits": Problem(SearchSpace(), 1e20, H100, 8, default_utilization(H100), Constraints(params_b=(60, 70))),
}


def _whole(problem, top):
    arch = problem.space.lattice()
    ev = evaluate(problem, arch)
    return finish(problem, "exact", None, arch, ev, len(arch["layers"]), time.perf_counter(), top, dedupe=False), ev


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("rows", [strategies.CHUNK_ROWS, 1000, 7])
def test_blocks_give_what_one_evaluation_gives(name, rows, monkeypatch):
    monkeypatch.setattr(strategies, "CHUNK_ROWS", rows)  # 7: one inner choice a block; 1000: a few
    problem = PROBLEMS[name]
    got, (want, ev) = strategies.search_exact(problem, top=5), _whole(problem, 5)
    assert [p.as_dict() for p in got.plans] == [p.as_dict() for p in want.plans]
    assert got.infeasible_reason == want.infeasible_reason and got.n_evaluations == want.n_evaluations
    assert np.array_equal(got.evaluated["score"], ev["score"]) and np.array_equal(got.evaluated["feasible"],
                                                                                ev["feasible"])
    later = got.evaluated.columns  # built on first use
    assert later.keys() == want.evaluated.columns.keys() and len(got.evaluated) == len(want.evaluated)
    assert all(np.array_equal(later[k], want.evaluated.columns[k], equal_nan=True) for k in later)
