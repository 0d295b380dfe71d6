"""The budget optimizer: exact against a brute-force reference, samplers against exact, fronts."""

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perflaw.law.architecture import Architecture, param_arrays
from perflaw.law.errors import InputError
from perflaw.law.predict import predict_architecture
from perflaw.optimizer.search.fronts import budget_front, cheapest_for_target, inference_front
from perflaw.optimizer.cost.hardware import default_utilization, get_hardware
from perflaw.optimizer.search.pareto import non_dominated
from perflaw.optimizer.search.candidates import evaluate
from perflaw.optimizer.search.problem import Constraints, Problem
from perflaw.optimizer.search.strategies import search
from perflaw.optimizer.search.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)
H100 = get_hardware("H100-SXM")
SMALL = SearchSpace(layers=(8, 64), layers_step=4, heads=(8, 64), heads_step=8, ffn_ratio=(2.5, 4.0),
                    ffn_ratio_step=0.5, kv_heads=(4, 8))


def problem(budget=1e23, space=SMALL, gpus=256, **constraints) -> Problem:
    return Problem(space, budget, H100, gpus, default_utilization(H100), Constraints(**constraints))


def test_param_arrays_match_architecture():
    rng = np.random.default_rng(0)
    for _ in range(50):
        heads = int(rng.choice([8, 16, 32, 40]))
        kv = int(rng.choice([k for k in (1, 2, 4, 8) if heads % k == 0]))
        moe = rng.random() < 0.5
        kw = dict(layers=int(rng.integers(2, 100)), hidden=heads * 128, ffn=int(rng.integers(1, 80)) * 256,
                  heads=heads, kv_heads=kv, head_dim=128, vocab=int(rng.integers(1000, 200000)),
                  tied_embeddings=bool(rng.random() < 0.5))
        if moe:
            kw.update(ffn=0, experts=64, active_experts=int(rng.integers(1, 9)), shared_experts=int(rng.integers(0, 3)),
                      expert_ffn=1408)
        a = Architecture(**kw)
        total, active = param_arrays(kw["layers"], kw["hidden"], kw["ffn"], heads, kv, 128, kw["vocab"],
                                     kw["tied_embeddings"], True, kw.get("experts", 0), kw.get("active_experts", 0),
                                     kw.get("shared_experts", 0), kw.get("expert_ffn", 0))
        assert (total, active) == (a.params().total, a.params().active)


@pytest.mark.parametrize("trust", ["law", "data"])
def test_exact_equals_brute_force_reference(trust):
    # Reference: every lattice point as an Architecture, tokens from the budget, the scalar law,
    # and (trust data) the scalar domain check of each plan.
    from perflaw.law.domain import plan_features, zoo_domain
    p = Problem(SMALL, 3e22, trust=trust)
    arch = SMALL.lattice()
    best = (-1.0, None)
    for i in range(len(arch["layers"])):
        a = Architecture(int(arch["layers"][i]), int(arch["hidden"][i]), int(arch["ffn"][i]),
                         heads=int(arch["heads"][i]), kv_heads=int(arch["kv_heads"][i]), vocab=SMALL.vocab)
        size = a.params().total / 1e9
        tokens = min(3e22 / a.flops_per_token(4096) / 1e12, size)
        if tokens < 0.01:
            continue
        if trust == "data":
            f = plan_features(a.layers, a.hidden, a.ffn, tokens, size, size)
            if not zoo_domain().describe({k: float(v) for k, v in f.items()}, size, False)["inside"]:
                continue
        mmlu = predict_architecture(a, tokens).mmlu
        if mmlu > best[0]:
            best = (mmlu, i)
    r = search(p, "exact")
    assert r.best.mmlu == pytest.approx(best[0], abs=1e-9)
    assert r.best.architecture.layers == arch["layers"][best[1]] and r.best.architecture.hidden == arch["hidden"][best[1]]
    assert r.best.domain["inside"] or trust == "law"


@pytest.mark.parametrize("strategy,trials", [("optuna", 400), ("scipy", 2500)])
def test_samplers_reach_the_exact_optimum_and_are_deterministic(strategy, trials):
    p = problem(params_b=(1, 30))
    exact = search(p, "exact")
    a = search(p, strategy, trials=trials, seed=7)
    b = search(p, strategy, trials=trials, seed=7)
    assert a.best == b.best and a.n_evaluations == b.n_evaluations
    assert exact.best.mmlu - a.best.mmlu <= 0.1
    assert a.best.mmlu <= exact.best.mmlu + 1e-9  # never better than the exact lattice optimum


def test_returned_plans_are_feasible():
    p = problem(params_b=(2, 20), serve_hbm_gb=48)
    r = search(p, "exact", top=5)
    for plan in [r.best, *r.alternatives]:
        assert 2 <= plan.params_b <= 20
        assert plan.train_flops <= p.budget_flops * (1 + 1e-12)
        assert plan.memory_per_gpu_gb <= 80 * 0.9
        kv = 2 * plan.architecture.layers * plan.architecture.kv_heads * 128 * 8192 * 2
        assert 2 * plan.params_b * 1e9 + kv <= 48e9 * 0.9


def test_tokens_are_the_most_the_budget_allows_up_to_saturation():
    p = Problem(SMALL, 1e22)
    arch = SMALL.lattice()
    ev = evaluate(p, arch)
    unsaturated = ev["tokens_t"] < ev["params_b"] - 1e-12
    assert np.allclose(ev["train_flops"][unsaturated], 1e22)
    assert np.allclose(ev["tokens_t"][~unsaturated], ev["params_b"][~unsaturated])


def test_budget_too_small_names_the_smallest_budget():
    p = problem(budget=1e18, params_b=(7, 70))
    r = search(p, "exact")
    assert r.best is None and "smallest budget that would do" in r.infeasible_reason


def test_memory_binds_on_too_few_gpus():
    p = problem(budget=1e24, gpus=2, params_b=(30, 70))
    r = search(p, "exact")
    assert r.best is None and "memory" in r.infeasible_reason


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(InputError, match="exact, optuna, scipy"):
        search(Problem(SMALL, 1e22), "annealing")


def test_empty_space_is_refused():
    with pytest.raises(InputError, match="empty"):
        SearchSpace(heads=(9, 9), kv_heads=(8,))
    with pytest.raises(InputError):
        SearchSpace(layers=(64, 8))


@pytest.mark.parametrize("trust", ["law", "data"])
def test_cheapest_plan_for_a_target_is_cheapest_and_reaches_it(trust):
    p = Problem(SMALL, 1e22, trust=trust)
    plan, reason = cheapest_for_target(p, 70.0)
    assert reason is None and plan.mmlu == pytest.approx(70.0, abs=1e-6)
    assert plan.domain["inside"] or trust == "law"
    # Brute force: no feasible lattice point (inside the law's data, with trust data) reaches 70 for fewer FLOPs.
    arch = SMALL.lattice()
    for budget in (plan.train_flops * 0.999,):
        ev = evaluate(p.with_budget(budget), arch)
        assert ev["mmlu"][ev["feasible"]].max() < 70.0


def test_budget_front_is_non_dominated_and_increasing():
    front = budget_front(problem(budget=1e23, params_b=(1, 30)), points=6)
    cost = np.array([f.train_flops for f in front])
    mmlu = np.array([f.mmlu for f in front])
    assert len(front) >= 3 and np.all(np.diff(cost) > 0) and np.all(np.diff(mmlu) > 0)


def test_inference_front_trades_active_params_for_mmlu():
    front = inference_front(problem(budget=1e23, params_b=(1, 30)))
    active = np.array([f.active_params_b for f in front])
    mmlu = np.array([f.mmlu for f in front])
    assert np.all(np.diff(active) > 0) and np.all(np.diff(mmlu) > 0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), min_size=1, max_size=40),
       st.tuples(st.booleans(), st.booleans()))
def test_non_dominated_is_sound_and_complete(points, maximize):
    y = np.array(points, dtype=float)
    mask = non_dominated(y, maximize)
    z = y * np.where(maximize, -1, 1)
    for i in range(len(z)):
        dominated = any(np.all(z[j] <= z[i]) and np.any(z[j] < z[i]) for j in range(len(z)))
        assert mask[i] == (not dominated)


def test_optuna_study_resumes_from_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    p = problem(params_b=(1, 30))
    first = search(p, "optuna", trials=15, seed=1, storage=url, study_name="s")
    second = search(p, "optuna", trials=25, seed=1, storage=url, study_name="s")
    assert first.n_evaluations == 15 and second.n_evaluations == 25
    from tests.optimizer.studies import census
    c = census(optuna.load_study(study_name="s", storage=url))
    # 25 lattice points hold a value, each evaluated once; repeated proposals are answered, not counted
    assert c["points"] == 25 and c["evaluated_twice"] == 0 and c["complete"] == 25 + c["answered"], c


def test_a_new_stored_study_is_the_in_memory_study_trial_for_trial(tmp_path, monkeypatch):
    # each worker seeds by its first trial's number (ids differ between storages); the first worker
    # of a new study keeps the seed. 120 trials reach repeats, each followed by a random draw.
    import optuna.study as study_module
    studies = []
    real = study_module.create_study
    monkeypatch.setattr(study_module, "create_study", lambda *a, **k: studies.append(real(*a, **k)) or studies[-1])
    monkeypatch.setattr(optuna, "create_study", study_module.create_study)
    p = problem(params_b=(1, 30))
    runs = [search(p, "optuna", trials=120, seed=3, storage=s, study_name="s")
            for s in (None, f"sqlite:///{tmp_path / 's.db'}", f"journal:///{tmp_path / 's.log'}")]
    sequences = [[(t.params, t.state.name) for t in s.trials] for s in studies]
    assert sequences[0] == sequences[1] == sequences[2] and len(sequences[0]) > 120  # repeats were answered
    assert len({(r.best.mmlu, r.best.architecture) for r in runs}) == 1 and all(r.n_evaluations == 120 for r in runs)


def test_a_stored_two_objective_study_runs_and_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'nsga.db'}"
    p = problem(params_b=(1, 30))
    first = search(p, "optuna", trials=30, seed=0, storage=url, study_name="n", objectives="mmlu,active_params")
    again = search(p, "optuna", trials=45, seed=0, storage=url, study_name="n", objectives="mmlu,active_params")
    assert first.n_evaluations == 30 and again.n_evaluations == 45 and again.best is not None


def test_a_worker_whose_trial_was_reclaimed_while_it_lived_goes_on(tmp_path, monkeypatch):
    # a worker stopped (Ctrl-Z, a suspended host) past the grace period finds its trial failed by
    # another worker, which reruns the point: it moves on instead of crashing
    from perflaw.optimizer.search import study as study_module
    url = f"sqlite:///{tmp_path / 'r.db'}"
    real, hit = study_module.Ledger.twin, []

    def twin(self, point, trial):
        if not hit and trial.number == 12:
            hit.append(trial.number)
            self.study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        return real(self, point, trial)
    monkeypatch.setattr(study_module.Ledger, "twin", twin)
    result = search(problem(params_b=(1, 30)), "optuna", trials=25, storage=url, study_name="r")
    states = [t.state for t in optuna.load_study(study_name="r", storage=url).trials]
    assert hit == [12] and result.n_evaluations == 25 and states[12] == optuna.trial.TrialState.FAIL


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 2000), st.integers(1, 300), st.integers(0, 10**6))
def test_best_first_is_the_head_of_a_full_sort(n, k, seed):
    # the partition keeps every tie at the k-th score, so its order is the full sort's first rows
    from perflaw.optimizer.search.result import best_first
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(3 * n, n, replace=False))
    score = np.round(rng.normal(size=3 * n), 1)  # coarse scores: many ties
    full = idx[np.lexsort((idx, -score[idx]))]
    got = best_first(idx, score, k)
    assert len(got) >= min(k, n) and np.array_equal(got, full[:len(got)])


def test_tpe_starts_from_a_tenth_of_the_trials_at_random_up_to_its_window(monkeypatch):
    from perflaw.optimizer.search import windowed_tpe
    from perflaw.optimizer.search.optuna_strategy import startup_trials
    made = []
    init = windowed_tpe.WindowedTPESampler.__init__

    def recording(self, **options):
        made.append(options["n_startup_trials"])
        init(self, **options)

    monkeypatch.setattr(windowed_tpe.WindowedTPESampler, "__init__", recording)
    search(problem(params_b=(1, 30)), "optuna", trials=150, seed=0)
    assert made == [15]  # the sampler the search drew with
    shares = {n: startup_trials(n) for n in (20, 99, 500, 1000, 1999, 2000, 10_000)}
    assert shares == {20: 10, 99: 10, 500: 50, 1000: 100, 1999: 199, 2000: windowed_tpe.WINDOW,
                      10_000: windowed_tpe.WINDOW}
