"""A trial's one folded constraint is the sum TPE and NSGA-II took over the named constraints."""

import numpy as np

from perflaw.optimizer.cost.hardware import default_utilization, get_hardware
from perflaw.optimizer.search.candidates import CONSTRAINTS
from perflaw.optimizer.search.indices import axis_sizes, evaluate_indices
from perflaw.optimizer.search.optuna_strategy import trial_constraints
from perflaw.optimizer.search.problem import Constraints, Problem
from perflaw.optimizer.search.space import SearchSpace


def test_the_folded_constraint_is_the_sum_of_the_named_ones_positive_parts():
    h100 = get_hardware("H100-SXM")
    space = SearchSpace(layers=(8, 16), layers_step=4, heads=(8, 16), heads_step=4, ffn_ratio=(2.5, 4.0),
                        kv_heads=(8,))
    problems = [Problem(space, 1e22), Problem(space, 1e24, h100, 8, default_utilization(h100),
                                              Constraints(params_b=(5, 6), serve_hbm_gb=8, min_mmlu=60))]
    sizes = axis_sizes(problems[0])
    rng = np.random.default_rng(0)
    seen_invalid = seen_feasible = 0
    for problem in problems:
        for _ in range(60):
            idx = np.array([[int(rng.integers(n)) for n in sizes]])
            _, ev = evaluate_indices(problem, idx)
            named = [float(ev[k][0]) for k in CONSTRAINTS] + [0.0 if ev["valid_point"][0] else 1.0]
            folded = trial_constraints(ev)["violation"]
            assert folded == sum(v for v in named if v > 0)  # the same float: the same sum in the same order
            assert (folded <= 0) == all(v <= 0 for v in named)
            seen_invalid += not ev["valid_point"][0]
            seen_feasible += folded <= 0
    assert seen_invalid and seen_feasible  # both kinds of point were compared
