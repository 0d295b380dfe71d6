"""Unique tokens in the optimizer, the CLI, scenarios and the API: plans may repeat data, at its worth."""

import pytest

from perflaw.law.errors import InputError
from perflaw.law.repetition import repeated_tokens
from perflaw.optimizer.api import optimize
from perflaw.optimizer.cli.main import main
from tests.optimizer.test_cli import LLAMA3_8B, run_json

BUDGET = ["--flops", "1e24", "--params", "1B:200B", "--layers", "20:128"]


def test_little_unique_data_makes_the_plan_repeat_it_and_grow_the_model(capsys):
    free = run_json(capsys, ["optimize", *BUDGET])["best"]
    rep = run_json(capsys, ["optimize", *BUDGET, "--unique-tokens", "300B"])
    hard = run_json(capsys, ["optimize", *BUDGET, "--max-tokens", "300B"])["best"]
    best = rep["best"]
    assert rep["repetition"]["epochs"] == pytest.approx(best["tokens_t"] / 0.3) and rep["repetition"]["epochs"] > 1
    assert rep["repetition"]["worth_t"] == pytest.approx(float(repeated_tokens(best["tokens_t"], 0.3)))
    assert best["effective_tokens_t"] <= rep["repetition"]["worth_t"] + 1e-12
    # repeating is worth less than new data, and more than stopping at one epoch
    assert hard["mmlu"] < best["mmlu"] < free["mmlu"]
    assert best["params_b"] > free["params_b"]  # scarce data moves compute into parameters
    assert main(["optimize", *BUDGET, "--unique-tokens", "300B"]) == 0
    assert "0.3T unique tokens; the best plan trains on" in capsys.readouterr().out


def test_predict_reports_the_worth_of_repeated_tokens(capsys):
    d = run_json(capsys, ["predict", *LLAMA3_8B, "--tokens", "15T", "--unique-tokens", "3T"])
    assert d["unique_tokens_t"] == 3.0 and d["repeated_tokens_t"] == pytest.approx(float(repeated_tokens(15.0, 3.0)))
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T", "--unique-tokens", "3T"]) == 0
    assert "Repeated data   3T unique, 5.00 epochs" in capsys.readouterr().out
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T", "--unique-tokens", "-1T"]) == 2
    assert "--unique-tokens" in capsys.readouterr().err


def test_the_api_and_scenarios_take_unique_tokens(tmp_path):
    api = optimize(flops=1e24, params_b=(1, 200), layers=(20, 128), unique_tokens_t=0.3)
    assert api.best.tokens_t > 0.3
    scenario = tmp_path / "s.toml"
    scenario.write_text('name = "rep"\ndescription = "repeated data"\n[budget]\nflops = 1e24\n'
                        '[constraints]\nparams_b = [1, 200]\nlayers = [20, 128]\nunique_tokens_t = 0.3\n')
    from perflaw.optimizer.scenario.loader import load_scenario
    problem = load_scenario(scenario).problems()[0]
    assert problem.constraints.unique_tokens_t == 0.3
    with pytest.raises(InputError, match="unique_tokens_t"):
        optimize(flops=1e24, unique_tokens_t=-1)


def test_scarce_data_does_not_spend_the_budget_on_useless_repeats(capsys):
    from perflaw.law.repetition import most_useful_tokens
    d = run_json(capsys, ["optimize", "--flops", "1e24", "--params", "1B:2B", "--unique-tokens", "100B"])
    assert d["best"]["tokens_t"] <= float(most_useful_tokens(0.1)) * (1 + 1e-9)
    assert any(h["axis"] == "budget" for h in d["at_bounds"])  # and it says the budget is not spent


def test_a_target_with_scarce_data_needs_more_than_new_data_would(capsys):
    new = run_json(capsys, ["optimize", *BUDGET, "--target-mmlu", "70"])["target"]["plan"]
    rep = run_json(capsys, ["optimize", *BUDGET, "--target-mmlu", "70", "--unique-tokens", "500B"])["target"]["plan"]
    assert rep["train_flops"] > new["train_flops"]
    assert float(repeated_tokens(rep["tokens_t"], 0.5)) <= rep["tokens_t"]
