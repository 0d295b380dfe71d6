"""Compatibility mode: `perflaw plan` reproduces the author's planning tool exactly."""

import json
import sys
from pathlib import Path

import pytest

from perflaw.optimizer.cli.main import main
from perflaw.optimizer.search.planner import PlannerSettings, run_planner
from tests.law.test_performance import screenshot

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from planner_loop import loop_planner, ranked  # noqa: E402


def test_screenshot_balance_ranking_row_for_row(capsys):
    # shared/reference/planner_screenshot.csv: the tool's defaults, "Balance" ranking.
    assert main(["plan", "--rank", "balance", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    ref = screenshot()
    assert len(d["rows"]) == 10
    for got, (_, want) in zip(d["rows"], ref.iterrows()):
        for key in ("layers", "hidden", "ffn", "params_b", "tokens_t", "mmlu", "budget_utilization"):
            assert got[key] == pytest.approx(want[key], abs=0), key


SETTINGS = [
    PlannerSettings(),
    PlannerSettings(min_layers=8, max_layers=200, min_params_b=1, max_params_b=1000, max_tokens_t=60),
    PlannerSettings(tflops=989.4, gpus=512, mfu_percent=35, days=90, gamma=1.5, min_mmlu=30),
    PlannerSettings(min_mmlu=95, days=3000, max_params_b=1000, max_tokens_t=40),
]


@pytest.mark.parametrize("settings", [
    pytest.param(SETTINGS[0], id="defaults"),
    pytest.param(SETTINGS[1], id="large", marks=pytest.mark.slow),
    pytest.param(SETTINGS[2], id="gamma"),
    pytest.param(SETTINGS[3], id="saturating", marks=pytest.mark.slow),
])
def test_vectorised_equals_plain_loop(settings):
    table = run_planner(settings)
    rows = loop_planner(**settings.__dict__)
    assert len(table) == len(rows)
    for rank in ("performance", "shallow", "balance"):
        got = [tuple(r.values()) for r in table.ranked(rank, None)]
        assert got == ranked(rows, rank, len(rows)), rank


def test_every_row_respects_the_budget_and_ranges():
    s = PlannerSettings(days=10)
    t = run_planner(s)
    assert len(t) > 0
    assert (t.budget_utilization <= 1.0).all()
    assert ((t.layers >= 20) & (t.layers < 100) & (t.layers % 8 >= 6)).all()
    assert ((t.params_b >= 10) & (t.params_b <= 100)).all()
    assert (t.ffn % 4096 == 0).all() and (t.tokens_t < 20).all()


def test_shallow_ranking_sorts_by_layers():
    rows = run_planner().ranked("shallow", 50)
    assert [r["layers"] for r in rows] == sorted(r["layers"] for r in rows)


@pytest.mark.parametrize("argv,needle", [
    (["--layers", "100:20"], "--layers"),
    (["--params", "10B"], "--params"),
    (["--mfu", "140"], "--mfu"),
    (["--gamma", "0.5"], "--gamma"),
    (["--max-tokens", "20"], "--max-tokens"),
    (["--top", "0"], "--top"),
    (["--rank", "fastest"], "--rank"),
])
def test_bad_plan_flags(capsys, argv, needle):
    assert main(["plan", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err


def test_empty_result_is_explained(capsys):
    assert main(["plan", "--min-mmlu", "99"]) == 0
    assert "No plan passes" in capsys.readouterr().out
