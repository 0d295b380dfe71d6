"""Scenario files: every shipped scenario loads and solves, the README carries the generated schema,
strict rejection names the file and the dotted key, the digest follows the bytes, loading is
deterministic, and a scenario builds the same problem as the equivalent `perflaw optimize` flags."""

import hashlib
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from perflaw.law.coefficients import PAPER, save_coefficients
from perflaw.law.errors import InputError
from perflaw.optimizer.cli.main import build_parser
from perflaw.optimizer.cli.optimize_commands import problem_from_args
from perflaw.optimizer.scenario.docs import schema_markdown
from perflaw.optimizer.scenario.loader import load_scenario
from perflaw.optimizer.scenario.schema import SECTIONS
from perflaw.optimizer.search.strategies import search

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))


def test_at_least_seven_scenarios_ship():
    assert len(SHIPPED) >= 7


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_loads_and_solves(path):
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Purpose:")
    assert f"perflaw run scenarios/{path.name}" in text
    s = load_scenario(path)
    assert s.name == path.stem
    assert len(s.labels) == len(s.budgets) == len(s.problems())
    for problem in s.problems():
        t0 = time.perf_counter()
        result = search(problem, "exact")
        assert time.perf_counter() - t0 < 10
        assert result.best is not None, result.infeasible_reason
        assert result.best.train_flops <= problem.budget_flops * (1 + 1e-9)
        # the expectation in the opening comment quotes the MMLU the search gives
        assert f"{result.best.mmlu:.2f}" in text


def test_shipped_scenarios_cover_the_required_questions():
    by_name = {p.stem: load_scenario(p) for p in SHIPPED}
    seven_b = by_name["7b-512xh100-30d"]
    assert (seven_b.hardware.name, seven_b.gpus, seven_b.budgets[0].days) == ("H100-SXM", 512, 30)
    assert seven_b.constraints.params_b == (1.0, 15.0)
    seed = by_name["seed-planner-1024x376tf-30d"]
    assert seed.hardware.peak_bf16_tflops == 376 and seed.gpus == 1024
    assert (seed.utilization.mfu, seed.utilization.goodput) == (0.40, 1.0)
    assert seed.budgets[0].flops == pytest.approx(376e12 * 1024 * 0.40 * 30 * 86400)
    assert seed.space.layers == (20, 99) and seed.constraints.params_b == (10.0, 100.0)
    frontier = by_name["frontier-1e25-16384xh100"]
    assert frontier.budgets[0].flops == 1e25 and frontier.gpus == 16384
    assert by_name["edge-24gb-1024xh100"].constraints.serve_hbm_gb == 24
    moe = by_name["moe-2048xh800"]
    assert moe.space.is_moe and moe.hardware.name == "H800-SXM" and moe.gpus == 2048
    assert moe.space.size < 2_000_000
    review = by_name["review-2048xh100-lean-base-stretch"]
    assert review.review and review.labels == ("lean", "base", "stretch")
    assert by_name["data-3t-1024xh100"].constraints.max_tokens_t == 3.0


def test_readme_contains_the_generated_schema_and_every_scenario():
    readme = (SCENARIOS / "README.md").read_text(encoding="utf-8")
    assert schema_markdown() in readme
    for path in SHIPPED:
        assert f"`{path.name}`" in readme


def test_schema_documents_every_key():
    md = schema_markdown()
    for section in SECTIONS:
        for field in section.fields:
            assert f"| `{field.key}` |" in md


def _argv(text: str) -> list[str]:
    return ["optimize", *text.split()]


@pytest.mark.parametrize("stem, flags", [
    ("7b-512xh100-30d", "--days 30 --gpus 512 --hardware H100-SXM --params 1B:15B"),
    ("frontier-1e25-16384xh100", "--flops 1e25 --hardware H100-SXM --gpus 16384"),
    ("edge-24gb-1024xh100", "--gpu-hours 1M --hardware H100-SXM --gpus 1024 --params 0.5B:30B --serve-hbm-gb 24"),
    ("moe-2048xh800", "--gpu-hours 2M --hardware H800-SXM --gpus 2048 --experts 64,128,256 --active-experts 4,6,8 "
                      "--shared-experts 0,1,2 --expert-ffn 1024,1536,2048 --ffn-ratio 3:3"),
    ("data-3t-1024xh100", "--flops 1e24 --hardware H100-SXM --gpus 1024 --max-tokens 3T"),
])
def test_scenario_builds_the_problem_of_the_equivalent_flags(stem, flags):
    from_cli, _ = problem_from_args(build_parser().parse_args(_argv(flags)))
    assert load_scenario(SCENARIOS / f"{stem}.toml").problems() == [from_cli]


def test_inline_hardware_matches_the_flags_but_for_its_source():
    flags = "--days 30 --gpus 1024 --peak-tflops 376 --hbm-gb 80 --mfu 0.40 --goodput 1.0 --params 10B:100B " \
            "--layers 20:99"
    from_cli, _ = problem_from_args(build_parser().parse_args(_argv(flags)))
    (problem,) = load_scenario(SCENARIOS / "seed-planner-1024x376tf-30d.toml").problems()
    assert replace(problem, hardware=replace(problem.hardware, source=from_cli.hardware.source)) == from_cli


def _toml(top='name = "t"\ndescription = "d"', **sections) -> str:
    """A scenario text: top-level lines, then one table per keyword (None leaves it out)."""
    parts = {"budget": "flops = 1e23", "hardware": 'name = "H100-SXM"\ngpus = 64', **sections}
    text = top + "\n"
    for name, body in parts.items():
        if body is not None:
            text += body + "\n" if body.startswith("[[") else f"\n[{name}]\n{body}\n"
    return text


def test_minimal_scenario_takes_the_defaults_of_optimize(tmp_path):
    path = tmp_path / "min.toml"
    path.write_text(_toml(), encoding="utf-8")
    s = load_scenario(path)
    from_cli, _ = problem_from_args(build_parser().parse_args(_argv("--flops 1e23 --hardware H100-SXM --gpus 64")))
    assert s.problems() == [from_cli]
    assert (s.strategy, s.trials, s.seed, s.top, s.fronts, s.reference_models, s.target_mmlu) == \
        ("exact", None, 0, 10, (), (), None)
    assert s.review is False and s.labels == ("1e+23 FLOPs",)


def test_flops_budget_without_hardware(tmp_path):
    path = tmp_path / "bare.toml"
    path.write_text(_toml(hardware=None), encoding="utf-8")
    s = load_scenario(path)
    assert s.hardware is None and s.gpus is None and s.utilization is None
    assert search(s.problems()[0], "exact").best is not None


def test_sweep_review_and_coefficient_file(tmp_path):
    save_coefficients(PAPER, tmp_path / "law.json")
    path = tmp_path / "sweep.toml"
    path.write_text(_toml(budget="sweep = [1e21, 1e22, 1e23]", law='coefficients = "law.json"'), encoding="utf-8")
    s = load_scenario(path)
    assert [p.budget_flops for p in s.problems()] == [1e21, 1e22, 1e23] and not s.review
    assert s.coefficients.vector() == PAPER.vector()
    review = "\n".join(f'[[budget.review]]\nlabel = "{lab}"\n{kind} = {value}' for lab, kind, value in
                       [("a", "flops", "1e22"), ("b", "gpu_hours", "1e5"), ("c", "days", "10")])
    path.write_text(_toml(budget=review), encoding="utf-8")
    s = load_scenario(path)
    assert s.review and s.labels == ("a", "b", "c")
    assert [b.kind for b in s.budgets] == ["flops", "gpu_hours", "days"]
    assert s.budgets[2].gpu_hours == 10 * 24 * 64


def _review(n: int) -> str:
    return "\n".join(f'[[budget.review]]\nlabel = "r{i}"\nflops = 1e2{i % 10}' for i in range(n))


BIG_SPACE = "heads = [1, 65536]\nheads_step = 1\nffn_ratio_step = 0.001"
REJECT = [  # (case, scenario text, dotted key; None when the error is about the whole file)
    ("unknown top-level key", _toml(top='name = "t"\ndescription = "d"\ncolour = "red"'), "colour"),
    ("unknown section", _toml(serving="gpus = 1"), "serving"),
    ("unknown nested key", _toml(hardware='name = "H100-SXM"\nmfu_pct = 40'), "hardware.mfu_pct"),
    ("unknown key in a review entry", _toml(budget=_review(2) + "\ngpus = 8"), "budget.review[2].gpus"),
    ("section not a table", _toml(top='name = "t"\ndescription = "d"\nlaw = 5'), "law"),
    ("wrong type: string for integer", _toml(hardware='name = "H100-SXM"\ngpus = "512"'), "hardware.gpus"),
    ("wrong type: float for integer", _toml(hardware='name = "H100-SXM"\ngpus = 512.0'), "hardware.gpus"),
    ("wrong type: string for boolean", _toml(space='tied_embeddings = "yes"'), "space.tied_embeddings"),
    ("wrong type: number for list", _toml(space="kv_heads = 8"), "space.kv_heads"),
    ("out of range: mfu above 1", _toml(hardware='name = "H100-SXM"\nmfu = 1.5'), "hardware.mfu"),
    ("out of range: headroom 1", _toml(constraints="headroom = 1.0"), "constraints.headroom"),
    ("out of range: seq_len 0", _toml(law="seq_len = 0"), "law.seq_len"),
    ("not finite: gamma nan", _toml(law="gamma = nan"), "law.gamma"),
    ("range reversed", _toml(constraints="params_b = [15.0, 1.0]"), "constraints.params_b"),
    ("missing name", _toml(top='description = "d"'), "name"),
    ("missing description", _toml(top='name = "t"'), "description"),
    ("missing budget", _toml(budget=None), "budget"),
    ("empty budget", _toml(budget=""), "budget"),
    ("two budgets given", _toml(budget="flops = 1e23\ndays = 30"), "budget.days"),
    ("days without gpus", _toml(budget="days = 30", hardware='name = "H100-SXM"'), "budget.days"),
    ("usd without price", _toml(budget="usd = 1e6"), "budget.usd"),
    ("usd below 1e15 FLOPs", _toml(budget="usd = 0.001", hardware='name = "H100-SXM"\nprice_usd_per_gpu_hour = 2.0'),
     "budget.usd"),
    ("gpu-hours without hardware", _toml(budget="gpu_hours = 1e5", hardware=None), "budget.gpu_hours"),
    ("unknown hardware", _toml(hardware='name = "H999-SXM"'), "hardware.name"),
    ("catalog and inline hardware", _toml(hardware='name = "H100-SXM"\npeak_bf16_tflops = 989'),
     "hardware.peak_bf16_tflops"),
    ("inline hardware without memory", _toml(hardware="peak_bf16_tflops = 989"), "hardware.hbm_gb"),
    ("fp8 on inline hardware without an FP8 peak", _toml(hardware='peak_bf16_tflops = 989\nhbm_gb = 80\n'
                                                                   'precision = "fp8"'), "hardware.precision"),
    ("name with a slash", _toml(top='name = "a/b"\ndescription = "d"'), "name"),
    ("name ..", _toml(top='name = ".."\ndescription = "d"'), "name"),
    ("name with a script tag", _toml(top='name = "<script>alert(1)</script>"\ndescription = "d"'), "name"),
    ("name in capitals", _toml(top='name = "Run"\ndescription = "d"'), "name"),
    ("name too long", _toml(top=f'name = "{"a" * 65}"\ndescription = "d"'), "name"),
    ("empty description", _toml(top='name = "t"\ndescription = "  "'), "description"),
    ("reference model not in the zoo", _toml(report='reference_models = ["Llama 9 1T"]'), "report.reference_models"),
    ("empty review list", _toml(budget="review = []"), "budget.review"),
    ("review with 7 entries", _toml(budget=_review(7)), "budget.review"),
    ("review with one entry", _toml(budget=_review(1)), "budget.review"),
    ("review labels repeated", _toml(budget=_review(2).replace('"r1"', '"r0"')), "budget.review[2].label"),
    ("review entry with two budgets", _toml(budget=_review(2) + "\ndays = 3"), "budget.review[2].days"),
    ("sweep not increasing", _toml(budget="sweep = [1e23, 1e22]"), "budget.sweep"),
    ("coefficients file missing", _toml(law='coefficients = "nowhere.json"'), "law.coefficients"),
    ("strategy unknown", _toml(search='strategy = "grid"'), "search.strategy"),
    ("fronts unknown", _toml(report='fronts = ["latency"]'), "report.fronts"),
    ("fronts repeated", _toml(report='fronts = ["budget", "budget"]'), "report.fronts"),
    ("MoE without active experts", _toml(space="experts = [64]\nexpert_ffn = [1024]"), "space.active_experts"),
    ("shared experts without MoE", _toml(space="shared_experts = [1]"), "space.shared_experts"),
    ("KV heads dividing no heads", _toml(space="heads = [8, 8]\nkv_heads = [3]"), "space.kv_heads"),
    ("max tokens below min tokens", _toml(constraints="min_tokens_t = 1.0\nmax_tokens_t = 0.5"),
     "constraints.max_tokens_t"),
    ("lattice too large", _toml(space=BIG_SPACE), "space"),
    ("malformed TOML: unterminated string", _toml(top='name = "t\ndescription = "d"'), None),
    ("malformed TOML: table declared twice", _toml() + "\n[budget]\nflops = 1e22\n", None),
]


@pytest.mark.parametrize("case, text, key", REJECT, ids=[c[0] for c in REJECT])
def test_strict_rejection(tmp_path, case, text, key):
    path = tmp_path / "case.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    expected = str(path) if key is None else f"{path} {key}"
    assert info.value.input_name == expected
    assert str(path) in str(info.value) and (key is None or f" {key}:" in str(info.value))


def test_rejection_reports_the_offending_value(tmp_path):
    path = tmp_path / "v.toml"
    path.write_text(_toml(hardware='name = "H100-SXM"\ngpus = "512"'), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert info.value.value == "512" and "whole number" in info.value.rule


def test_non_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(_toml(top='name = "t"\ndescription = "caf\xe9"').encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8") as info:
        load_scenario(path)
    assert info.value.input_name == str(path)
    missing = tmp_path / "absent.toml"
    with pytest.raises(InputError, match="file must exist") as info:
        load_scenario(missing)
    assert info.value.input_name == str(missing)
    with pytest.raises(InputError, match="file must exist"):
        load_scenario(tmp_path)  # a folder is not a scenario file


def test_digest_follows_the_bytes(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text(_toml(), encoding="utf-8")
    first = load_scenario(path).digest
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_text(_toml() + "# a comment changes the bytes\n", encoding="utf-8")
    assert load_scenario(path).digest != first


@pytest.mark.parametrize("path", SHIPPED[:2], ids=lambda p: p.stem)
def test_loading_is_deterministic(path):
    a, b = load_scenario(path), load_scenario(path)
    assert a == b and a.digest == b.digest and a.problems() == b.problems()


def test_error_rules_come_from_the_schema_table(tmp_path):
    path = tmp_path / "r.toml"
    path.write_text(_toml(search="seed = -1"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert re.sub(r"^must be ", "", info.value.rule) in schema_markdown()
