"""The perflaw command line: predict, fit and validate, text and JSON."""

import json
import shutil
import subprocess
import sys

import pytest

from perflaw.law.coefficients import LAW_FORMS, PAPER_PUBLISHED
from perflaw.optimizer.cli.law_commands import PRIOR_GRID
from perflaw.optimizer.cli.main import main

LLAMA3_8B = ["--layers", "32", "--hidden", "4096", "--ffn", "14336", "--kv-heads", "8", "--vocab", "128256"]


def run_json(capsys, argv):
    assert main(argv + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return json.loads(out)  # exactly one JSON document, nothing else


def test_predict_json_contract(capsys):
    d = run_json(capsys, ["predict", *LLAMA3_8B, "--tokens", "15T"])
    for key in ("mmlu", "params_b", "active_params_b", "tokens_t", "effective_tokens_t", "discount", "interval"):
        assert key in d
    assert round(d["params_b"], 2) == 8.03
    assert d["tokens_t"] == 15.0 and d["effective_tokens_t"] == pytest.approx(8.03, abs=0.005)
    assert d["interval"]["low"] <= d["mmlu"] <= d["interval"]["high"]
    assert sum(d["breakdown"][k] for k in ("embedding", "output", "attention", "ffn", "norms")) == \
        d["breakdown"]["total"]


def test_predict_params_override_matches_the_law(capsys):
    from perflaw.law.performance import predict_mmlu
    d = run_json(capsys, ["predict", "--layers", "32", "--hidden", "4096", "--ffn", "14336", "--tokens", "15T",
                          "--params", "8.03B"])
    assert d["params_b"] == 8.03 and d["params_source"] == "given"
    assert d["mmlu"] == pytest.approx(float(predict_mmlu(32, 4096, 14336, 15.0, 8.03)), abs=1e-12)


def test_predict_from_hf_config_equals_flags(capsys, hf_config):
    a = run_json(capsys, ["predict", "--hf-config", str(hf_config("llama-3-8b")), "--tokens", "15T"])
    b = run_json(capsys, ["predict", *LLAMA3_8B, "--tokens", "15T"])
    assert a["mmlu"] == b["mmlu"] and a["params_b"] == b["params_b"]


def test_predict_moe_flags(capsys):
    d = run_json(capsys, ["predict", "--layers", "32", "--hidden", "4096", "--kv-heads", "8", "--experts", "8",
                          "--active-experts", "2", "--expert-ffn", "14336", "--tokens", "8T"])
    assert round(d["params_b"], 1) == 46.7 and round(d["active_params_b"], 1) == 12.9
    assert d["law_ffn"] == 2 * 14336


def test_predict_text_names_the_pieces(capsys):
    assert main(["predict", *LLAMA3_8B, "--tokens", "15T"]) == 0
    out = capsys.readouterr().out
    for needle in ("Predicted MMLU", "interval", "Discount u", "effective", "saturated", "breakdown", "FLOPs"):
        assert needle in out


@pytest.mark.slow
def test_fit_writes_a_law_file_that_predict_uses(capsys, tmp_path):
    out = tmp_path / "law.json"
    d = run_json(capsys, ["fit", "--out", str(out)])
    assert out.exists() and not list(tmp_path.glob(".*tmp"))
    assert d["loo"]["mae"] > d["in_sample"]["mae"] > 0
    assert {r["name"] for r in d["residuals"]} >= {"Llama 3 8B", "DeepSeek-V3-Base"}
    assert "moe_variants" in d and all(r["forecast_n"] > 0 and r["forecast_mae"] > 0 for r in d["moe_variants"].values())
    p = run_json(capsys, ["predict", *LLAMA3_8B, "--tokens", "15T", "--law", str(out)])
    assert p["law"]["w1"] == d["coefficients"]["w1"]
    assert "forward-chaining forecasts" in p["interval"]["method"] and p["interval"]["widens"]


def test_fit_on_a_custom_table_with_free_subset(capsys, tmp_path):
    from perflaw.law.zoo import zoo_path
    table = tmp_path / "mine.csv"
    shutil.copy(zoo_path(), table)
    d = run_json(capsys, ["fit", "--data", str(table), "--free", "b", "--variant", "active",
                          "--exclude", "OLMo-7B", "--form", "paper", "--prior", "0"])
    assert d["free"] == ["b"] and d["coefficients"]["w1"] == d["paper"]["w1"]
    assert "OLMo-7B" not in {r["name"] for r in d["residuals"]}


def test_validate_json(capsys):
    d = run_json(capsys, ["validate"])
    s = d["law_summary"]
    assert s["n"] == len(d["rows"]) >= 80 and s["n_moe"] >= 10
    assert 0 < s["mae_dense"] < 10 and 0 < d["refit_loo_summary"]["mae"] < 10
    residuals = [abs(r["residual"]) for r in d["rows"]]
    assert residuals == sorted(residuals, reverse=True)


def test_validate_text_has_summary(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "MAE dense" in out and "refit, leave-one-out" in out


def test_help_and_version_exit_zero(capsys):
    assert main(["--help"]) == 0
    assert main(["predict", "--help"]) == 0
    capsys.readouterr()
    assert main(["--version"]) == 0
    from importlib.metadata import version
    assert capsys.readouterr().out == f"perflaw {version('perflaw')}\n"  # on stdout, read when asked for


def test_console_script_installed():
    exe = shutil.which("perflaw")
    if exe is None:
        pytest.skip("perflaw is not on PATH (package not installed)")
    done = subprocess.run([exe, "predict", *LLAMA3_8B, "--tokens", "15T", "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["mmlu"] > 25


def test_module_entry_point_exit_status():
    done = subprocess.run([sys.executable, "-m", "perflaw", "predict", "--layers", "0"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


LLAMA31_405B = ["--layers", "126", "--hidden", "16384", "--ffn", "53248", "--heads", "128", "--kv-heads", "8",
                "--vocab", "128256"]


def test_hardware_json_lists_the_catalog(capsys):
    d = run_json(capsys, ["hardware"])
    names = {h["name"] for h in d["hardware"]}
    assert {"H100-SXM", "TPU-v4", "MI300X"} <= names
    h100 = next(h for h in d["hardware"] if h["name"] == "H100-SXM")
    assert h100["peak_bf16_tflops"] == 989.4 and h100["default_mfu"] == 0.405


def test_cost_json_contract(capsys):
    d = run_json(capsys, ["cost", *LLAMA31_405B, "--tokens", "15.6T", "--hardware", "H100-SXM", "--gpus", "16384",
                          "--mfu", "0.4", "--price", "2", "--seq-len", "8192"])
    for key in ("train_flops", "gpu_hours", "days", "usd", "energy_kwh", "memory_per_gpu_gb", "layout"):
        assert d[key] is not None, key
    assert d["layout"]["tp"] * d["layout"]["pp"] * d["layout"]["dp"] == 16384
    assert d["memory_per_gpu_gb"] <= 72.0
    assert d["usd"] == pytest.approx(2 * d["gpu_hours"])
    assert d["mfu"] == 0.4 and d["goodput"] == pytest.approx(0.8542, abs=1e-4)


def test_cost_reports_infeasible_layout_and_serving(capsys):
    d = run_json(capsys, ["cost", *LLAMA31_405B, "--tokens", "1T", "--hardware", "H100", "--gpus", "8",
                          "--serve-hbm-gb", "80"])
    assert d["layout_feasible"] is False and d["binding"] == "memory" and d["shortfall_gb"] > 100
    assert d["serve"]["fits"] is False
    assert main(["cost", *LLAMA31_405B, "--tokens", "1T", "--hardware", "H100", "--gpus", "8"]) == 0
    assert "none fits" in capsys.readouterr().out


def test_cost_given_layout_must_divide_the_gpus(capsys):
    assert main(["cost", *LLAMA31_405B, "--tokens", "1T", "--hardware", "H100", "--gpus", "1000", "--tp", "8",
                 "--pp", "16"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --gpus") and "1000" in err


def test_cost_inline_hardware(capsys):
    d = run_json(capsys, ["cost", *LLAMA3_8B, "--tokens", "15T", "--peak-tflops", "500", "--hbm-gb", "96",
                          "--gpus", "64", "--tdp-w", "600"])
    assert d["hardware"] == "inline" and d["energy_kwh"] > 0


def test_cost_names_the_loss_law_baselines(capsys):
    d = run_json(capsys, ["cost", *LLAMA3_8B, "--tokens", "15T", "--hardware", "H100", "--gpus", "512"])
    assert set(d["baselines"]) == {"chinchilla", "chinchilla-unrounded", "epoch"}
    epoch = d["baselines"]["epoch"]
    flops = 6 * d["active_params_b"] * 1e9 * 15e12
    assert 6 * epoch["params_b"] * 1e9 * epoch["tokens_t"] * 1e12 == pytest.approx(flops)
    assert "Hoffmann" in d["baselines"]["chinchilla"]["source"]


def test_import_perflaw_and_perflaw_plan_load_neither_scipy_nor_pandas():
    # `perflaw plan` and `import perflaw` must start fast: the heavy libraries load only when used.
    code = ("import sys, perflaw; from perflaw.optimizer.cli.main import main; main(['plan', '--json']); "
            "print(sorted(m for m in ('scipy', 'pandas', 'matplotlib', 'optuna') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_validate_and_fit_report_forecasts(capsys):
    d = run_json(capsys, ["validate"])
    for which in ("law", "refit"):
        f = d["forecast"][which]
        assert f["pooled"]["all"]["n"] == sum(w["n"] for w in f["windows"]) > 0
        assert f["pooled"]["dense"]["n"] + f["pooled"]["moe"]["n"] == f["pooled"]["all"]["n"]
    assert d["forecast"]["refit"]["refit"] and not d["forecast"]["law"]["refit"]
    fit = run_json(capsys, ["fit", "--free", "w1,w4,b", "--variant", "active", "--form", "paper"])
    assert fit["forecast"]["refit"] and fit["forecast"]["pooled"]["all"]["n"] > 0
    assert set(fit["spread"]) == {"w1", "w4", "b"} and [c["prior"] for c in fit["candidates"]] == list(PRIOR_GRID)
    # with priors towards the paper's coefficients, every candidate is scored on the same newer models
    assert fit["scored_after"] == PAPER_PUBLISHED
    assert len({c["n"] for c in fit["candidates"]}) == 1 < fit["candidates"][0]["n"] < fit["forecast"]["pooled"]["all"]["n"]
    assert main(["validate"]) == 0
    assert "Forecast (the paper's form, refit before each cut-off): pooled MAE" in capsys.readouterr().out


@pytest.mark.slow
def test_fit_compares_the_law_forms_and_writes_the_chosen_one(capsys, tmp_path):
    out = tmp_path / "law.json"
    d = run_json(capsys, ["fit", "--out", str(out)])  # auto: every form at every prior
    assert [c["form"] for c in d["candidates"]][::len(PRIOR_GRID)] == list(LAW_FORMS)
    best = min(d["candidates"], key=lambda c: c["mae"])
    assert (d["form"], d["prior"]) == (best["form"], best["prior"]) and d["form_chosen_by"] == "lowest forecast MAE"
    # the choice made before each cut-off is judged on the same models, and is no better than the best in hindsight
    honest = d["nested_forecast"]["pooled"]["all"]
    assert honest["n"] == best["n"] and honest["mae"] >= best["mae"] and d["honest_forecast"]["mae"] == pytest.approx(
        honest["mae"], abs=1e-4)
    assert json.loads(out.read_text())["forecast"]["n"] == honest["n"]
    p = run_json(capsys, ["predict", "--layers", "32", "--hidden", "4096", "--ffn", "14336", "--tokens", "15T",
                          "--law", str(out)])
    assert p["law"]["form"] == d["form"]
    opt = run_json(capsys, ["optimize", "--flops", "1e23", "--law", str(out)])
    assert opt["best"]["mmlu"] > 25 and opt["law_form"] == d["form"]
    assert opt["tokens_unbounded"] == (LAW_FORMS[d["form"]][0] != "clip")
    logistic = run_json(capsys, ["fit", "--form", "logistic", "--free", "w1,w4,b", "--prior", "0"])
    assert logistic["form"] == "logistic" and logistic["form_chosen_by"] == "--form and --prior"
    assert logistic["scored_after"] is None and len(logistic["candidates"]) == 1
    assert main(["fit", "--form", "cubic"]) == 2
    assert capsys.readouterr().err.startswith("error: --form: must be auto or one of")


def test_cost_predicts_the_mfu_from_the_layout(capsys):
    # No --mfu: the step-time model of the fastest layout gives it; goodput stays the published run's.
    d = run_json(capsys, ["cost", *LLAMA31_405B, "--tokens", "15.6T", "--hardware", "H100-SXM", "--gpus", "16384",
                          "--seq-len", "8192", "--global-batch", "2048"])
    assert d["mfu_source"] == "model" and d["mfu"] == d["mfu_model"] == d["step"]["mfu"]
    assert 0.3 < d["mfu"] < 0.5 and d["goodput"] == pytest.approx(0.8542, abs=1e-4)
    assert d["global_batch"] == 2048 and d["layout_objective"] == "time"
    assert sum(d["step"]["breakdown"].values()) == pytest.approx(d["step"]["step_s"])
    assert len(d["runners_up"]) == 3 and all(r["mfu"] <= d["mfu"] for r in d["runners_up"])
    steady = d["train_flops"] / (3600 * 989.4e12 * d["mfu"])
    assert d["gpu_hours_steady"] == pytest.approx(steady)
    # --mfu wins, and the model's figure is still shown beside it.
    given = run_json(capsys, ["cost", *LLAMA31_405B, "--tokens", "15.6T", "--hardware", "H100-SXM", "--gpus",
                              "16384", "--seq-len", "8192", "--global-batch", "2048", "--mfu", "0.4"])
    assert given["mfu_source"] == "given" and given["mfu"] == 0.4 and given["mfu_model"] == d["mfu"]
    # Without GPUs there is no layout: the published run's MFU.
    assert run_json(capsys, ["cost", *LLAMA3_8B, "--tokens", "15T", "--hardware", "H100"])["mfu_source"] == \
        "published run"


def test_cost_times_a_given_layout_with_its_stages_and_batch(capsys):
    d = run_json(capsys, ["cost", *LLAMA31_405B, "--tokens", "15.6T", "--hardware", "H100-SXM", "--gpus", "16384",
                          "--seq-len", "8192", "--tp", "8", "--pp", "16", "--vpp", "4", "--zero", "1",
                          "--recompute", "none", "--global-batch", "2048"])
    assert d["layout"]["vpp"] == 4 and d["layout"]["dp"] == 128 and d["step"]["microbatches"] == 16
    assert d["mfu_source"] == "model" and d["step"]["bubble_s"] > 0
    # FP8 needs no --mfu when the model times it.
    fp8 = run_json(capsys, ["cost", *LLAMA3_8B, "--tokens", "15T", "--hardware", "H100", "--gpus", "64",
                            "--precision", "fp8"])
    assert fp8["mfu_source"] == "model" and fp8["precision"] == "fp8"


@pytest.mark.parametrize("argv, flag", [
    (["--gpus", "64", "--vpp", "2"], "--vpp"),
    (["--gpus", "64", "--tp", "8", "--global-batch", "12"], "--global-batch"),
    (["--gpus", "64", "--global-batch", "0"], "--global-batch"),
    (["--gpus", "64", "--tp", "8", "--cp", "0"], "--cp"),
    (["--gpus", "48", "--tp", "8", "--cp", "3"], "--cp"),
    (["--gpus", "64", "--scaleout-gbps", "-1"], "--scaleout-gbps"),
])
def test_cost_layout_flags_are_checked(capsys, argv, flag):
    assert main(["cost", *LLAMA3_8B, "--tokens", "15T", "--hardware", "H100", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flag}") and "Traceback" not in err


def test_cost_on_hardware_the_model_was_not_fitted_on(capsys):
    # MI300X is not a family the step-time constants were fitted on: its layouts are not timed (the memory
    # rule picks, and the published run's MFU stands), even with a network bandwidth given.
    base = ["cost", *LLAMA3_8B, "--tokens", "15T", "--hardware", "MI300X", "--gpus", "64"]
    for extra in ([], ["--scaleout-gbps", "50"]):
        d = run_json(capsys, base + extra)
        assert d["mfu_source"] == "published run" and d["layout_objective"] == "memory"
        assert "fitted" in d["layout_text"][0]


def test_throughput_command_reports_the_check(capsys):
    d = run_json(capsys, ["throughput"])
    assert len(d["rows"]) + len(d["skipped"]) == 142 and all(x["why"] for x in d["skipped"])
    errors = [abs(r["predicted_tokens_per_gpu_s"] / r["published_tokens_per_gpu_s"] - 1) for r in d["rows"]]
    assert [r["error"] for r in d["rows"]] == pytest.approx([e * (1 if r["error"] >= 0 else -1)
                                                             for e, r in zip(errors, d["rows"])])
    assert {r["run"] for r in d["end_to_end"]} >= {"Llama-3.1-405B", "BLOOM-176B", "DeepSeek-V3"}
    assert main(["throughput"]) == 0
    text = capsys.readouterr().out
    assert "held-out rows" in text and "end to end" in text


def test_cost_hours_do_not_depend_on_the_flops_rule_when_the_mfu_is_modelled(capsys):
    # The model's step time fixes the GPU-hours; the rule only changes how the same time is counted as MFU.
    base = ["cost", *LLAMA3_8B, "--tokens", "1T", "--hardware", "H100", "--gpus", "512", "--seq-len", "8192"]
    hours = {r: run_json(capsys, base + ["--flops-rule", r])["gpu_hours_steady"] for r in ("attention", "6N")}
    assert hours["attention"] == pytest.approx(hours["6N"], rel=1e-9)
