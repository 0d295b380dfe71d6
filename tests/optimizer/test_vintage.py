"""The data vintage reaches every command that predicts: said, applied by a vintage law, ignored (and said so) by the paper's."""

from dataclasses import replace

import pytest

from perflaw.law.coefficients import PAPER, save_coefficients
from perflaw.law.errors import InputError
from perflaw.law.predict import interval_for
from perflaw.optimizer.cli.main import main
from perflaw.optimizer.scenario.loader import load_scenario
from tests.optimizer.test_cli import LLAMA3_8B, run_json

VINTAGE_LAW = replace(PAPER.with_values(vintage="2025-08", w6=6.0, source="test law with a vintage term"),
                      interval=interval_for(PAPER))


@pytest.fixture
def law_file(tmp_path):
    path = tmp_path / "law.json"
    save_coefficients(VINTAGE_LAW, path)
    return path


def test_predict_applies_the_vintage_of_a_vintage_law(capsys, law_file):
    base = run_json(capsys, ["predict", *LLAMA3_8B, "--tokens", "15T", "--law", str(law_file)])
    later = run_json(capsys, ["predict", *LLAMA3_8B, "--tokens", "15T", "--law", str(law_file),
                              "--data-vintage", "2026-08"])
    assert base["data_vintage"] == "2025-08" and later["data_vintage"] == "2026-08"
    assert later["mmlu"] - base["mmlu"] == pytest.approx(6.0)


def test_the_paper_law_accepts_the_vintage_and_says_it_has_no_effect(capsys):
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T", "--data-vintage", "2026-08"]) == 0
    assert "--data-vintage 2026-08 has no effect" in capsys.readouterr().out
    d = run_json(capsys, ["optimize", "--flops", "1e23", "--params", "1B:20B", "--data-vintage", "2026-08"])
    assert d["data_vintage"] is None and d["data_vintage_given"] == "2026-08"


def test_optimize_uses_the_vintage(capsys, law_file):
    argv = ["optimize", "--flops", "1e23", "--params", "1B:20B", "--law", str(law_file)]
    base, later = run_json(capsys, argv), run_json(capsys, argv + ["--data-vintage", "2027-02"])
    assert later["best"]["mmlu"] > base["best"]["mmlu"] + 5 and later["data_vintage"] == "2027-02"


@pytest.mark.parametrize("month", ["2026-13", "next year", "26-01"])
def test_a_bad_vintage_is_refused_with_its_flag(capsys, month):
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T", "--data-vintage", month]) == 2
    assert "--data-vintage: must be a month YYYY-MM" in capsys.readouterr().err


def test_scenarios_take_the_vintage_under_law(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('name = "v"\ndescription = "d"\n[budget]\nflops = 1e23\n[law]\nvintage = "2026-03"\n')
    assert load_scenario(path).problems()[0].data_vintage == "2026-03"
    path.write_text('name = "v"\ndescription = "d"\n[budget]\nflops = 1e23\n[law]\nvintage = "2026-30"\n')
    with pytest.raises(InputError, match="law.vintage: must be a month YYYY-MM"):
        load_scenario(path)


def test_a_vintage_past_the_laws_data_is_called_an_extrapolation(capsys, law_file):
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T", "--law", str(law_file), "--data-vintage", "2026-08"]) == 0
    assert "12 months after the newest model the law was fitted on" in capsys.readouterr().out
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T", "--law", str(law_file), "--data-vintage", "2025-01"]) == 0
    assert "months after the newest model" not in capsys.readouterr().out
