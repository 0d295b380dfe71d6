"""The Python API: the README's example runs, keywords match scenario keys and CLI defaults, errors name keywords."""

from __future__ import annotations

import inspect
import json
from dataclasses import replace
from pathlib import Path

import pytest

import perflaw
from perflaw.optimizer.cli.main import main
from perflaw.optimizer.scenario.schema import BUDGET, CONSTRAINTS, HARDWARE, LAW, SEARCH, SPACE
from perflaw.optimizer.search.problem import Constraints
from tests.conftest import HF_CONFIGS

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_python_block_runs(tmp_path, monkeypatch, capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Python API", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md (Python API)", "exec"), {})
    out = capsys.readouterr().out
    assert "MMLU" in out and "GPU-hours" in out
    assert (tmp_path / "my-report" / "report.html").is_file()


def test_optimize_takes_every_scenario_key_as_a_keyword():
    params = set(inspect.signature(perflaw.optimize).parameters)
    keys = {f.key for s in (BUDGET, HARDWARE, CONSTRAINTS, SPACE, SEARCH, LAW) for f in s.fields}
    keys -= {"sweep", "review", "name"}  # one budget per call; hardware.name is the keyword hardware
    assert params == keys | {"hardware", "top", "tolerance", "storage", "study_name"}


def test_api_and_command_line_share_their_defaults(capsys):
    argv = ["optimize", "--flops", "1e23", "--hardware", "H100-SXM", "--gpus", "256", "--json"]
    assert main(argv) == 0
    cli = json.loads(capsys.readouterr().out)
    api = perflaw.optimize(flops=1e23, hardware="H100-SXM", gpus=256)
    assert api.best.as_dict() == cli["best"]
    assert cli["lattice_size"] == len(api.evaluated) == api.n_evaluations


def test_best_plan_is_typed_and_the_frames_have_the_promised_columns():
    r = perflaw.optimize(gpu_hours=2e5, hardware="H100-SXM", gpus=256, params_b=(1, 20), top=3)
    best = r.best
    assert isinstance(best, perflaw.Plan) and isinstance(best.architecture, perflaw.Architecture)
    assert best.interval.low <= best.mmlu <= best.interval.high and best.interval.level == 0.8
    assert best.cost.gpu_hours == best.gpu_hours > 0 and best.layout.gpus == 256
    assert best.params_b == pytest.approx(best.architecture.params().total / 1e9)
    plans = r.to_frame()
    for col in ("layers", "hidden", "ffn", "params_b", "tokens_t", "mmlu", "mmlu_low", "mmlu_high", "gpu_hours"):
        assert col in plans
    assert len(plans) == len(r.plans) == 4 and plans["mmlu"].iloc[0] == best.mmlu
    assert plans["mmlu"].is_monotonic_decreasing
    everything = r.evaluated.to_frame()
    assert len(everything) == r.n_evaluations
    row = everything[(everything["layers"] == best.architecture.layers) & (everything["hidden"] == best.architecture.hidden)
                     & (everything["ffn"] == best.architecture.ffn)].iloc[0]
    assert (row["mmlu_low"], row["mmlu_high"]) == tuple(best.interval)
    assert row["gpu_hours"] == pytest.approx(best.gpu_hours, rel=1e-12)


@pytest.mark.parametrize("kwargs, name", [
    (dict(flops=1e24, params_b=(10, 5)), "params_b"),
    (dict(flops=1e24, hardware="H999"), "hardware"),
    (dict(flops=1e24, hardware="H100-SXM", gpus=0), "gpus"),
    (dict(flops=1e24, hardware="H100-SXM", mfu=1.5), "mfu"),
    (dict(flops=1e24, layers=(1, 5000)), "layers"),
    (dict(flops=1e24, strategy="grid"), "strategy"),
    (dict(flops=1e24, kv_heads=7, heads=(8, 16), heads_step=8), "kv_heads"),
    (dict(days=30, hardware="H100-SXM"), "days"),
    (dict(usd=5e6, hardware="H100-SXM", gpus=8), "usd"),
    (dict(gpu_hours=1e6), "gpu_hours"),
    (dict(), "budget"),
    (dict(flops=1e24, usd=5e6), "budget"),
    (dict(flops=1e24, coefficients="nowhere.json"), "coefficients"),
])
def test_errors_name_the_keyword_not_a_flag_or_a_file_key(kwargs, name):
    with pytest.raises(perflaw.InputError) as info:
        perflaw.optimize(**kwargs)
    assert info.value.input_name == name
    assert "--" not in str(info.value) and "[hardware]" not in str(info.value)


def test_library_types_name_their_fields():
    with pytest.raises(perflaw.InputError) as info:
        Constraints(params_b=(10, 5))
    assert info.value.input_name == "params_b" and "--" not in str(info.value)


def test_hardware_may_be_a_catalog_entry_or_a_custom_accelerator():
    h100 = perflaw.get_hardware("H100-SXM")
    by_name = perflaw.optimize(flops=1e23, hardware="H100-SXM", gpus=64).best
    assert perflaw.optimize(flops=1e23, hardware=h100, gpus=64).best == by_name
    custom = replace(h100, name="my-accelerator", hbm_gb=40.0)
    plan = perflaw.optimize(flops=1e23, hardware=custom, gpus=64).best
    assert plan.memory_per_gpu_gb <= 40.0 * 0.9


def test_predict_and_hf_configs():
    arch = perflaw.Architecture.from_hf_config(HF_CONFIGS / "llama-3-8b.json")
    assert arch.params().total == 8_030_261_248  # meta-llama/Meta-Llama-3-8B, model card total
    p = perflaw.predict(arch, tokens_t=15)
    assert p.interval.low <= p.mmlu <= p.interval.high
    with pytest.raises(perflaw.InputError) as info:
        perflaw.predict(arch, tokens_t=0)
    assert info.value.input_name == "tokens_t"
    with pytest.raises(perflaw.InputError, match="^architecture: "):
        perflaw.predict("llama", tokens_t=15)


def test_no_feasible_plan_raises_with_the_reason_in_field_names():
    with pytest.raises(perflaw.InputError) as info:
        perflaw.optimize(flops=1e24, min_mmlu=95)
    assert info.value.input_name == "constraints" and "lower min_mmlu to" in info.value.rule


def test_a_notebook_finds_what_it_guesses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # outside the checkout
    assert {"optimize", "predict", "run_scenario", "load_scenario", "Architecture", "Plan"} <= set(dir(perflaw))
    assert perflaw.__version__ != "unknown"
    r = perflaw.optimize(flops=1e23, hardware="H100-SXM", gpus=64.0, kv_heads=8.0)  # whole floats are whole
    assert repr(r).startswith("SearchResult(exact: best=Plan(") and len(repr(r)) < 400
    shipped = perflaw.load_scenario("moe-2048xh800.toml")  # a shipped scenario, found from any folder
    assert shipped.name == "moe-2048xh800" and shipped.path.is_file()
    with pytest.raises(perflaw.InputError, match="shipped scenario: 7b-512xh100-30d"):
        perflaw.load_scenario("no-such-scenario.toml")
    with pytest.raises(perflaw.InputError, match="file must exist"):  # a path is a path: no silent fallback
        perflaw.load_scenario("typo/moe-2048xh800.toml")


def test_sampler_options_with_the_exact_strategy_are_refused_as_on_the_command_line():
    with pytest.raises(perflaw.InputError, match="^trials: applies to the optuna and scipy strategies only"):
        perflaw.optimize(flops=1e23, trials=5)


def test_a_scenario_without_a_plan_names_its_own_keys(tmp_path):
    path = tmp_path / "tight.toml"
    path.write_text('name = "tight"\ndescription = "d"\n[budget]\nflops = 1e22\n[constraints]\nmin_mmlu = 95\n',
                    encoding="utf-8")
    with pytest.raises(perflaw.InputError) as info:
        perflaw.run_scenario(path, out=tmp_path / "out")
    assert "lower constraints.min_mmlu to" in str(info.value) and "`" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_report_tables_show_experts_not_a_zero_ffn_and_name_undrawn_references():
    import pandas as pd

    from perflaw.optimizer.report.data import unplotted_references
    from perflaw.optimizer.report.writer import _columns
    moe = pd.DataFrame({"layers": [94], "hidden": [5120], "ffn": [0], "heads": [40], "kv_heads": [8],
                        "experts": [256], "active_experts": [4], "shared_experts": [0], "expert_ffn": [2048]})
    shown = [c for c, _ in _columns(moe)]
    assert "ffn" not in shown and {"experts", "active_experts", "shared_experts", "expert_ffn", "kv_heads"} <= set(shown)
    assert unplotted_references(["Mistral 7B", "Llama 3 8B"]) == [{"name": "Mistral 7B",
                                                                    "reason": "no published token count"}]
