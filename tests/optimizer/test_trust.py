"""Recommendations a reviewer can trust: data by default, the law's own optimum beside, edges, flatness, risk."""

import numpy as np
import pytest

from perflaw.optimizer.cli.main import main
from perflaw.optimizer.search.flatness import conventional, flatness, near_optimal, sensitivity
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.scrutiny import at_bounds, law_optimum
from perflaw.optimizer.search.space import SearchSpace
from perflaw.optimizer.search.strategies import search
from tests.optimizer.test_cli import run_json

ARGS = ["--flops", "1e24", "--params", "1B:70B"]


def test_data_trust_recommends_inside_and_shows_the_laws_own_optimum(capsys):
    d = run_json(capsys, ["optimize", *ARGS])
    raw = run_json(capsys, ["optimize", *ARGS, "--trust", "law"])
    assert d["trust"] == "data" and d["best"]["domain"]["inside"]
    opt = d["law_optimum"]
    assert opt["mmlu"] == pytest.approx(raw["best"]["mmlu"]) and opt["gain"] == pytest.approx(opt["mmlu"] - d["best"]["mmlu"])
    assert opt["gain"] > 0 and not opt["domain"]["inside"]  # the law claims more where it has no data
    assert raw["law_optimum"] is None and not raw["best"]["domain"]["inside"]
    assert main(["optimize", *ARGS]) == 0
    out = capsys.readouterr().out
    assert "Law alone" in out and "claimed" in out and "published models of its size" in out


def test_edges_are_said_with_what_widening_gives(capsys):
    d = run_json(capsys, ["optimize", "--flops", "1e26", "--trust", "law"])
    edges = {(h["axis"], h["bound"]): h for h in d["at_bounds"]}
    layers = edges[("layers", "high")]
    assert layers["value"] == layers["limit"] == 128 and layers["widened_to"] == 192
    wider = run_json(capsys, ["optimize", "--flops", "1e26", "--trust", "law", "--layers", "8:192"])
    assert layers["gain"] == pytest.approx(wider["best"]["mmlu"] - d["best"]["mmlu"])
    capped = run_json(capsys, ["optimize", *ARGS, "--max-tokens", "1T"])
    assert any(h["axis"] == "max_tokens_t" for h in capped["at_bounds"])
    assert any(h["axis"] == "budget" and h["bound"] == "unspent" for h in capped["at_bounds"])


def test_heads_at_the_bottom_of_their_range_widen_by_whole_steps(capsys):
    """At 1e20 FLOPs the raw law's best plan has the fewest heads (8, step 4): the edge check widens
    them to 4 (8 KV heads still divide 8), where one step below 1 would leave no head count KV 8 divides."""
    d = run_json(capsys, ["optimize", "--flops", "1e20", "--trust", "law"])
    heads = {(h["axis"], h["bound"]): h for h in d["at_bounds"]}[("heads", "low")]
    assert heads["value"] == heads["limit"] == 8 and heads["widened_to"] == 4
    wider = run_json(capsys, ["optimize", "--flops", "1e20", "--trust", "law", "--heads", "4:128"])
    assert heads["gain"] == pytest.approx(wider["best"]["mmlu"] - d["best"]["mmlu"])


def test_near_optimal_plans_sensitivity_and_the_conventional_shape():
    p = Problem(SearchSpace(), 1e24)
    r = search(p, "exact", top=0)
    n = near_optimal(p, r, 0.5)
    ev = r.evaluated
    best = ev["score"][ev["feasible"]].max()
    assert n["count"] == int(((ev["score"] >= best - 0.5) & ev["feasible"]).sum()) >= 1
    assert all(pl["mmlu"] >= r.best.mmlu - 0.5 for pl in n["plans"])
    lo, hi = n["ranges"]["layers"]
    assert lo <= r.best.architecture.layers <= hi
    for s in sensitivity(p, r, 0.5):
        assert s["slack"][0] <= s["best"] <= s["slack"][1]
        assert all(loss > 0.5 for _, loss in s["beyond"]) and min(loss for _, loss in s["profile"]) == pytest.approx(0)
    c = conventional(p, r)
    assert c is not None and c.mmlu <= r.best.mmlu and c.domain["inside"]
    f = flatness(p, r)
    terms = f["terms"]["best"]
    assert sum(v for k, v in terms.items() if k != "mmlu") == pytest.approx(terms["mmlu"])


def test_the_lower_objective_prefers_a_plan_with_a_higher_low_end(capsys):
    mean = run_json(capsys, ["optimize", *ARGS, "--trust", "law"])
    lower = run_json(capsys, ["optimize", *ARGS, "--trust", "law", "--objective", "lower"])
    assert lower["objective"] == "lower"
    assert lower["best"]["interval"][0] >= mean["best"]["interval"][0] - 1e-9
    assert lower["best"]["mmlu"] <= mean["best"]["mmlu"] + 1e-9
    assert main(["optimize", *ARGS, "--trust", "maybe"]) == 2
    assert "trust" in capsys.readouterr().err


def test_law_optimum_is_none_when_the_problem_trusts_the_law():
    p = Problem(SearchSpace(), 1e23, trust="law")
    assert law_optimum(p) is None
    r = search(p, "exact", top=0)
    assert isinstance(at_bounds(p, r.best, widen=False), list)


def test_the_api_carries_what_the_cli_says(capsys):
    import perflaw
    r = perflaw.optimize(flops=1e24, params_b=(1, 70), tolerance=1.0)
    d = run_json(capsys, ["optimize", *ARGS, "--tolerance", "1"])
    assert r.law_optimum.as_dict()["mmlu"] == d["law_optimum"]["mmlu"]
    assert [h["axis"] for h in r.at_bounds] == [h["axis"] for h in d["at_bounds"]]
    assert r.flatness["near_optimal"]["count"] == d["near_optimal"]["count"]
    assert perflaw.optimize(flops=1e24, params_b=(1, 70), trust="law").law_optimum is None


def test_a_domain_edge_is_said_only_where_it_binds(capsys):
    d = run_json(capsys, ["optimize", *ARGS, "--ffn-ratio", "3:4", "--layers", "8:40"])
    same = all(d["law_optimum"][k] == d["best"][k] for k in ("layers", "hidden", "ffn"))
    assert same and not any(h["bound"].startswith("domain") for h in d["at_bounds"])
    binding = run_json(capsys, ["optimize", *ARGS])
    assert binding["law_optimum"]["gain"] > 0 and any(h["bound"].startswith("domain") for h in binding["at_bounds"])


def test_a_sampler_is_judged_on_the_exact_lattice(capsys):
    exact = run_json(capsys, ["optimize", *ARGS])
    sampled = run_json(capsys, ["optimize", *ARGS, "--strategy", "scipy", "--trials", "300"])
    assert sampled["basis"].startswith("the exact lattice")
    assert sampled["near_optimal"]["count"] == exact["near_optimal"]["count"]
    # a widened bound is credited against the exact optimum, never with the sampler's shortfall
    for h in sampled["at_bounds"]:
        assert h.get("gain") is None or h["gain"] >= 0


def test_a_review_prices_each_step_of_budget(tmp_path):
    from perflaw.optimizer.api import run_scenario
    from perflaw.optimizer.scenario.loader import load_scenario
    from tests.optimizer.test_scenario import SCENARIOS
    out = tmp_path / "rev"
    run_scenario(load_scenario(SCENARIOS / "review-2048xh100-lean-base-stretch.toml"), out=str(out))
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "What each step buys: lean to base:" in text and "more, " in text and "per $1M" in text


def test_memory_is_an_edge_only_where_more_of_it_would_help(capsys):
    tight = run_json(capsys, ["optimize", "--flops", "1e23", "--peak-tflops", "300", "--hbm-gb", "16", "--gpus", "4",
                              "--params", "1B:70B", "--trust", "law"])
    mem = [h for h in tight["at_bounds"] if h["axis"] == "train_memory"]
    assert mem and mem[0]["widened_to"] == 8 and mem[0]["gain"] > 0
    roomy = run_json(capsys, ["optimize", "--flops", "1e23", "--peak-tflops", "300", "--hbm-gb", "16", "--gpus", "32",
                              "--params", "1B:70B", "--trust", "law"])
    assert not any(h["axis"] == "train_memory" for h in roomy["at_bounds"])
    serve = run_json(capsys, ["optimize", "--gpu-hours", "1M", "--hardware", "H100-SXM", "--gpus", "1024",
                              "--params", "0.5B:30B", "--serve-hbm-gb", "24"])
    assert any(h["axis"] == "serve_memory" and h["gain"] > 0 for h in serve["at_bounds"])


def test_the_nearest_ratio_is_the_one_a_full_comparison_picks():
    from perflaw.optimizer.search.flatness import _nearest
    axis = np.round(np.arange(1.0, 8.0 + 0.0625, 0.125), 6)
    x = np.concatenate([np.random.default_rng(3).uniform(0.0, 9.0, 20000), axis, (axis[1:] + axis[:-1]) / 2])
    assert np.array_equal(_nearest(axis, x), axis[np.argmin(np.abs(x[:, None] - axis[None, :]), axis=1)])
