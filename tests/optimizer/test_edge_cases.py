"""Edge cases found in review: repeated samples, MoE lattices, resumed studies, flag names."""

import json

import optuna
import pytest

from perflaw.law.errors import InputError
from perflaw.law.hf_config import from_hf_config
from perflaw.optimizer.cli.main import main
from perflaw.optimizer.cost.hardware import default_utilization, get_hardware
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.strategies import search
from perflaw.optimizer.search.space import SearchSpace

optuna.logging.set_verbosity(optuna.logging.WARNING)
H100 = get_hardware("H100-SXM")
SMALL = SearchSpace(layers=(8, 48), layers_step=4, heads=(8, 48), heads_step=8, ffn_ratio=(2.5, 4.0),
                    ffn_ratio_step=0.5)


def _key(p):
    return tuple(getattr(p.architecture, k) for k in ("layers", "hidden", "ffn", "kv_heads", "experts", "active_experts",
                                       "shared_experts", "expert_ffn"))


@pytest.mark.parametrize("strategy", ["optuna", "scipy"])
def test_sampler_alternatives_are_distinct_plans(strategy):
    p = Problem(SMALL, 1e23, H100, 256, default_utilization(H100))
    r = search(p, strategy, trials=300, seed=0, top=5)
    plans = [r.best, *r.alternatives]
    assert len({_key(q) for q in plans}) == len(plans) == 6


def test_moe_lattice_has_no_dense_ffn_axis():
    space = SearchSpace(layers=(8, 16), heads=(16, 16), experts=(64,), active_experts=(2, 4), expert_ffn=(1024,),
                        ffn_ratio=(2.5, 4.0))
    lat = space.lattice()
    assert (lat["ffn"] == 0).all() and len(lat["layers"]) == 9 * 2
    r = search(Problem(space, 1e22, trust="law"), "exact", top=3)
    assert len({_key(q) for q in [r.best, *r.alternatives]}) == 4


def test_scipy_on_a_single_point_space():
    space = SearchSpace(layers=(32, 32), heads=(32, 32), ffn_ratio=(3.0, 3.0))
    r = search(Problem(space, 1e23), "scipy", trials=50, seed=0)
    assert r.best is not None and r.best.architecture.layers == 32


def test_a_stored_study_only_resumes_the_same_problem(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    p = Problem(SMALL, 1e23)
    search(p, "optuna", trials=10, seed=0, storage=url, study_name="a")
    with pytest.raises(InputError, match="^study_name: "):
        search(Problem(SearchSpace(layers=(8, 16)), 1e23), "optuna", trials=20, storage=url, study_name="a")


def test_in_memory_optuna_output_is_deterministic():
    p = Problem(SMALL, 1e23)
    a, b = (search(p, "optuna", trials=40, seed=3) for _ in range(2))
    assert a.message == b.message and a.best == b.best and a.alternatives == b.alternatives


def test_sparse_gemma3_config_uses_the_library_defaults():
    # google/gemma-3-4b-pt's text_config omits the keys that equal Gemma3TextConfig's defaults.
    cfg = {"model_type": "gemma3", "text_config": {"hidden_size": 2560, "intermediate_size": 10240,
                                                   "num_hidden_layers": 34, "model_type": "gemma3_text"}}
    a = from_hf_config(cfg)
    assert (a.heads, a.kv_heads, a.head_dim, a.vocab) == (8, 4, 256, 262208)


LLAMA = ["--layers", "32", "--hidden", "4096", "--ffn", "14336", "--kv-heads", "8", "--tokens", "1T"]


@pytest.mark.parametrize("argv,needle", [
    (["cost", *LLAMA, "--hardware", "H100", "--params", "80B"], "--params"),
    (["cost", *LLAMA, "--hardware", "H100", "--precision", "fp8"], "--mfu"),
    (["cost", *LLAMA, "--hardware", "H100", "--gpus", "64", "--pp", "64"], "--pp"),
    (["cost", *LLAMA, "--hardware", "H100", "--gpus", "64", "--tp", "16"], "--tp"),
    (["cost", *LLAMA, "--hardware", "H100", "--serve-hardware", "XYZ"], "--serve-hardware"),
    (["cost", *LLAMA, "--hardware", "H100", "--serve-hbm-gb", "-1"], "--serve-hbm-gb"),
    (["cost", *LLAMA, "--peak-tflops", "989", "--hbm-gb", "80", "--tdp-w", "-5"], "--tdp-w"),
    (["cost", *LLAMA, "--hardware", "H100", "--scaleup-domain", "4"], "--scaleup-domain"),
])
def test_cost_errors_name_the_flag(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {needle}") and err.count("\n") == 1


def test_cost_recompute_alone_still_searches_the_layout(capsys):
    argv = ["cost", "--layers", "80", "--hidden", "8192", "--ffn", "28672", "--heads", "64", "--kv-heads", "8",
            "--vocab", "128256", "--tokens", "15T", "--hardware", "H100", "--gpus", "1024", "--recompute",
            "selective", "--json"]
    assert main(argv) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["layout_feasible"] and d["layout"]["recompute"] == "selective"


def test_tdp_override_gives_tpu_energy(capsys):
    assert main(["cost", *LLAMA, "--hardware", "TPU-v4", "--tdp-w", "192", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["energy_kwh"] > 0


def test_studies_stored_before_law_forms_keep_their_fingerprint():
    # Golden digest computed by perflaw at commit c4c74e7 (before coefficient sets had a form) for
    # this problem; a stored study of it must still resume.
    from perflaw.optimizer.search.optuna_strategy import problem_fingerprint
    from perflaw.optimizer.search.problem import Constraints
    old = Problem(SearchSpace(), 1e23, constraints=Constraints(params_b=(0.01, 1e5)), trust="law")
    assert problem_fingerprint(old) == "784b6d9f3c595eaa"  # studies then searched the raw law
    assert problem_fingerprint(Problem(SearchSpace(), 1e23, constraints=Constraints(params_b=(0.01, 1e5)))) \
        != "784b6d9f3c595eaa"  # the default now searches only plans inside the law's domain
    from perflaw.law.coefficients import PAPER
    assert problem_fingerprint(Problem(SearchSpace(), 1e23, coefficients=PAPER.with_values(tokens="none"),
                                       constraints=Constraints(params_b=(0.01, 1e5)))) != "784b6d9f3c595eaa"
