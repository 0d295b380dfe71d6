"""perflaw optimize: the JSON contract, strategies by name, fronts and explained infeasibility."""

import json

import pytest

from perflaw.optimizer.cli.main import main

BASE = ["optimize", "--flops", "1e23", "--hardware", "H100-SXM", "--gpus", "256", "--params", "1B:30B",
        "--layers", "8:64", "--heads", "8:64", "--heads-step", "8"]


def run_json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)


def test_optimize_json_contract(capsys):
    d = run_json(capsys, BASE)
    for key in ("layers", "hidden", "ffn", "params_b", "tokens_t", "mmlu", "train_flops", "gpu_hours"):
        assert key in d["best"], key
    assert "front" in d and d["strategy"] == "exact"
    assert d["best"]["train_flops"] <= 1e23 * (1 + 1e-9)
    assert 1 <= d["best"]["params_b"] <= 30
    assert d["best"]["interval"][0] <= d["best"]["mmlu"] <= d["best"]["interval"][1]


def test_budget_as_days_matches_flops(capsys):
    d = run_json(capsys, ["optimize", "--days", "30", "--gpus", "512", "--hardware", "H100-SXM", "--params",
                          "1B:15B"])
    assert d["budget"]["flops"] == pytest.approx(30 * 86400 * 512 * 989.4e12 * d["budget"]["effective_utilization"])


@pytest.mark.parametrize("strategy", ["optuna", "scipy"])
def test_strategies_by_name_are_deterministic(capsys, strategy):
    argv = BASE + ["--strategy", strategy, "--trials", "150", "--seed", "4"]
    a = run_json(capsys, argv)
    b = run_json(capsys, argv)
    for d in (a, b):
        d.pop("wall_time_s")
        d.pop("message")
    assert a == b


def test_fronts_and_target(capsys):
    d = run_json(capsys, BASE + ["--front", "inference", "--target-mmlu", "65"])
    active = [p["active_params_b"] for p in d["front"]]
    assert active == sorted(active) and len(active) >= 2
    assert d["target"]["plan"]["mmlu"] == pytest.approx(65, abs=1e-6)


def test_text_output_names_the_plan(capsys):
    assert main(BASE + ["--front", "budget"]) == 0
    out = capsys.readouterr().out
    for needle in ("Best plan", "Predicted MMLU", "Layout", "Pareto front", "Alternatives"):
        assert needle in out


@pytest.mark.parametrize("argv,needle", [
    (["--strategy", "annealing"], "exact, optuna, scipy"),
    (["--flops", "1e16"], "smallest budget that would do"),
    (["--heads", "9:9", "--kv-heads", "8"], "empty"),
    (["--layers", "64:8"], "--layers"),
    (["--front", "sideways"], "--front"),
    (["--trials", "0"], "--trials"),
    (["--min-mmlu", "99"], "--min-mmlu"),
    (["--gpus", "1", "--params", "25B:30B"], "GPUs"),
])
def test_bad_or_infeasible_optimize_input(capsys, argv, needle):
    args = list(BASE)
    for i in range(0, len(argv), 2):  # replace a flag already in BASE, else append
        if argv[i] in args:
            args[args.index(argv[i]) + 1] = argv[i + 1]
        else:
            args += argv[i:i + 2]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err and "Traceback" not in err


def test_target_is_answered_even_when_the_budget_is_infeasible(capsys):
    d = run_json(capsys, ["optimize", "--flops", "1e17", "--target-mmlu", "60", "--layers", "8:64", "--heads",
                          "8:64", "--heads-step", "8"])
    assert d["best"] is None and "smallest budget" in d["infeasible_reason"]
    assert d["target"]["plan"]["mmlu"] == pytest.approx(60, abs=1e-6)


def test_unknown_hardware_lists_close_names(capsys):
    assert main(["optimize", "--days", "30", "--gpus", "8", "--hardware", "H1000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --hardware") and "H100-SXM" in err
