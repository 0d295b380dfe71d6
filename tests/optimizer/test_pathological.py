"""Input that parses but is pathological, and law files wrong in any field: one error line, exit 2, never a traceback."""

import json

import pytest

from perflaw.law.coefficients import PAPER, save_coefficients
from perflaw.law.predict import interval_for
from perflaw.optimizer.cli.main import main
from perflaw.optimizer.search.space import MAX_CANDIDATES

BASE = 'name = "p"\ndescription = "x"\n[budget]\nflops = 1e23\n'
TOML = {
    "integer of 5000 digits": (BASE.replace("1e23", "9" * 5000), "4,300 digits"),
    "arrays 3000 deep": (BASE + "[space]\nlayers = " + "[" * 3000 + "]" * 3000 + "\n", "deep"),
    "expert width 0": (BASE + "[space]\nexperts = [8]\nactive_experts = [2]\nexpert_ffn = [0]\n", "space.expert_ffn"),
    "vocabulary 0": (BASE + "[space]\nvocab = 0\n", "space.vocab"),
    "fp8 without an MFU": ('name = "p"\ndescription = "x"\n[budget]\ndays = 10\n[hardware]\nname = "H100-SXM"\n'
                           'gpus = 64\nprecision = "fp8"\n', "hardware.mfu"),
    "a lattice past the memory limit": (BASE + "[space]\nheads_step = 1\nkv_heads = [1, 2, 4, 8, 16]\n"
                                        "ffn_ratio = [1.0, 8.0]\n[constraints]\nlayers = [8, 512]\n",
                                        f"{MAX_CANDIDATES:,} candidates"),
    "a tab in a label": ('name = "p"\ndescription = "x"\n[[budget.review]]\nlabel = "a\\tb"\nflops = 1e22\n'
                         '[[budget.review]]\nlabel = "c"\nflops = 2e22\n', "control characters"),
}


@pytest.mark.parametrize("case", list(TOML))
def test_pathological_scenarios(tmp_path, capsys, case):
    text, needle = TOML[case]
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def _law(**changes):
    d = json.loads(json.dumps({"format": "perflaw-law/1", **{k: v for k, v in vars_of(PAPER).items()}}))
    for k, v in changes.items():
        if k.startswith("interval."):
            d["interval"][k.split(".", 1)[1]] = v
        else:
            d[k] = v
    return d


def vars_of(coef):
    import tempfile
    from dataclasses import replace
    from pathlib import Path
    with tempfile.TemporaryDirectory() as t:
        p = Path(t) / "l.json"
        save_coefficients(replace(coef, interval=interval_for(coef)), p)
        return json.loads(p.read_text(encoding="utf-8"))


LAWS = {
    "interval level 1.5": ({"interval.level": 1.5}, "interval level"),
    "interval level 0": ({"interval.level": 0}, "interval level"),
    "negative n": ({"interval.n": -3}, "interval n"),
    "n as text": ({"interval.n": "many"}, "interval n"),
    "coverage above 1": ({"interval.coverage": 1.2}, "interval coverage"),
    "method a number": ({"interval.method": 3}, "interval method"),
    "covariance with text": ({"interval.covariance": [["a"]]}, "interval covariance"),
    "source a list": ({"source": ["a"]}, "source"),
    "vintage a number": ({"vintage": 2024}, "vintage"),
    "moe variant a number": ({"moe_variant": 3}, "moe_variant"),
    "expansion cap negative": ({"expansion_cap": -1.0}, "expansion_cap"),
    "w1 infinite": ({"w1": "Infinity"}, "w1"),
    "w2 a list": ({"w2": [1]}, "w2"),
    "forecast n true": ({"forecast": {"n": True, "mae": 1, "method": "m"}}, "forecast"),
}


@pytest.mark.parametrize("case", list(LAWS))
def test_law_files_wrong_in_any_field(tmp_path, capsys, case):
    changes, needle = LAWS[case]
    path = tmp_path / "law.json"
    path.write_text(json.dumps(_law(**changes)), encoding="utf-8")
    assert main(["predict", "--layers", "32", "--hidden", "4096", "--ffn", "14336", "--tokens", "15T",
                 "--law", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --law") and err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_a_law_file_with_huge_or_deep_json_is_refused(tmp_path, capsys):
    for text, needle in (('{"format": "perflaw-law/1", "w1": 1' + "0" * 5000 + "}", "4,300 digits"),
                         ('{"format": "perflaw-law/1", "source": ' + "[" * 100000 + "]" * 100000 + "}", "deep")):
        path = tmp_path / "law.json"
        path.write_text(text, encoding="utf-8")
        assert main(["predict", "--layers", "32", "--hidden", "4096", "--ffn", "14336", "--tokens", "15T",
                     "--law", str(path)]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["plan", "--gamma", "1e6"], ["plan", "--gamma", "99"], ["plan", "--days", "1e12"],
                                  ["plan", "--tflops", "1e-12"],
                                  ["predict", "--layers", "32", "--hidden", "4096", "--ffn", "14336", "--tokens", "15T",
                                   "--gamma", "99"]])
def test_extreme_results_never_reach_json_as_nan_or_rows_of_dashes(capsys, argv):
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "NaN" not in out and "Infinity" not in out
    assert code == 0 or (code == 2 and err.startswith("error: ") and err.count("\n") == 1)
    if code == 0 and argv[0] == "plan":
        assert all(r["mmlu"] == r["mmlu"] for r in json.loads(out)["rows"])  # no NaN rows
    assert main(argv) in (0, 2) and "—" not in capsys.readouterr().out


def test_a_non_finite_result_is_an_error_not_json(monkeypatch, capsys):
    from perflaw.optimizer.cli import main as cli
    monkeypatch.setattr(cli, "_run", lambda args, names: ({"best": {"mmlu": float("nan")}}, "text"))
    assert cli.main(["hardware", "--json"]) == 2
    assert "best.mmlu" in capsys.readouterr().err


def test_the_candidate_limit_is_the_lattice_the_search_holds(capsys):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from perflaw.optimizer.search.space import SearchSpace

    @settings(max_examples=40, deadline=None)
    @given(st.integers(1, 8), st.sampled_from([(4,), (1, 2), (2, 8), (3, 4, 8)]), st.sampled_from([(0,), (8, 16)]),
           st.sampled_from([(1.0, 4.0), (2.5, 2.5), (3.0, 8.0)]))
    def counted(step, kv, experts, ratio):
        moe = dict(experts=experts, active_experts=(1, 2, 12), expert_ffn=(512, 1024), shared_experts=(0, 1)) \
            if experts != (0,) else {}
        space = SearchSpace(layers=(4, 9), heads=(8, 40), heads_step=step, kv_heads=kv, ffn_ratio=ratio, **moe)
        assert space.candidate_count() == space.size  # counted in closed form, then enumerated

    counted()
    # the CLI refuses a space over the limit with its count, before building anything
    assert main(["optimize", "--flops", "1e23", "--heads-step", "1", "--kv-heads", "1,2,4,8,16", "--ffn-ratio", "1:8",
                 "--layers", "8:512"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: space") and f"{MAX_CANDIDATES:,} candidates" in err and "Traceback" not in err


def test_run_checks_every_scenario_before_writing_any_report(tmp_path, monkeypatch, capsys):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(BASE.replace('"p"', '"good"', 1), encoding="utf-8")
    bad.write_text(TOML["vocabulary 0"][0].replace('"p"', '"bad"', 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(good), str(bad)]) == 2  # the good one comes first and is not run
    err = capsys.readouterr().err
    assert "bad.toml" in err and "space.vocab" in err and err.count("\n") == 1
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--strategy", "scipy", "--storage", "sqlite:///never.db"], "storage: applies to the optuna strategy only"),
    (["--strategy", "scipy", "--study-name", "s"], "study_name: applies to the optuna strategy only"),
    (["--strategy", "exact", "--trials", "10"], "trials: applies to the optuna and scipy strategies only"),
    (["--storage", "sqlite:///never.db"], "storage: applies to the optuna strategy only"),
], ids=["storage-scipy", "study-name-scipy", "trials-exact", "storage-exact"])
def test_a_flag_without_effect_for_the_strategy_is_refused(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert main(["optimize", "--flops", "1e22", *argv]) == 2
    err = capsys.readouterr().err
    flag, rule = needle.split(": ")
    assert flag.replace("_", "-") in err and rule in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "never.db").exists()  # refused before any storage is opened
