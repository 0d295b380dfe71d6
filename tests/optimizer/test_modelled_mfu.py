"""The MFU of the best plan's fastest layout, put into the problem: the rounds agree, FLOPs budgets keep their FLOPs."""

from dataclasses import replace

import pytest

import perflaw
from perflaw.optimizer.cost.layout import search_layout
from perflaw.optimizer.search.modelled_mfu import AGREE, settle_mfu
from perflaw.optimizer.search.strategies import search_exact


@pytest.fixture(scope="module")
def gpu_hours_problem():
    from perflaw.optimizer.api import _scenario
    return _scenario({"gpu_hours": 2e6, "hardware": "H100-SXM", "gpus": 2048, "params_b": (1, 70)},
                     "test").problems()[0]


def test_the_settled_mfu_is_the_best_plans_fastest_layout(gpu_hours_problem):
    p = gpu_hours_problem
    assert p.model_mfu and not p.flops_fixed
    settled = settle_mfu(p)
    best = search_exact(settled, top=1).best
    found = search_layout(best.architecture, settled.hardware, settled.gpus, seq_len=settled.seq_len,
                          headroom=settled.constraints.headroom)
    assert abs(found.mfu - settled.utilization.mfu) <= AGREE * settled.utilization.mfu  # the rounds agree
    assert found.layout.summary() in settled.utilization.source
    # A budget in GPU-hours buys FLOPs in proportion to the MFU; goodput is untouched.
    assert settled.budget_flops / p.budget_flops == pytest.approx(settled.utilization.mfu / p.utilization.mfu)
    assert settled.utilization.goodput == p.utilization.goodput


def test_a_plan_found_again_is_not_timed_again(monkeypatch):
    """The MoE scenario's second and third rounds find one plan: its layouts are timed once."""
    import perflaw.optimizer.cost.layout as layout
    from perflaw.optimizer.scenario.loader import load_scenario
    from tests.optimizer.test_reports_reproduce import ROOT
    timed = []

    def counting(arch, *args, **kwargs):
        if kwargs.get("objective", "time") == "time":  # the plans' memory checks search by memory
            timed.append(arch)
        return search_layout(arch, *args, **kwargs)

    monkeypatch.setattr(layout, "search_layout", counting)
    p = load_scenario(ROOT / "scenarios" / "moe-2048xh800.toml").problems()[0]
    settled = settle_mfu(p)
    assert "3 rounds" in settled.utilization.source
    assert len(timed) == len(set(timed)) == 2


def test_a_flops_budget_keeps_its_flops_and_plan(gpu_hours_problem):
    p = replace(gpu_hours_problem, budget_flops=3e24, flops_fixed=True)
    settled = settle_mfu(p)
    assert settled.budget_flops == p.budget_flops and settled.utilization.mfu != p.utilization.mfu
    assert search_exact(settled, top=1).best.architecture == search_exact(p, top=1).best.architecture


def test_a_given_mfu_is_kept():
    r = perflaw.optimize(gpu_hours=2e6, hardware="H100-SXM", gpus=2048, params_b=(1, 70), mfu=0.4)
    assert r.best.cost.mfu == 0.4
    modelled = perflaw.optimize(gpu_hours=2e6, hardware="H100-SXM", gpus=2048, params_b=(1, 70))
    assert modelled.best.cost.mfu != 0.4 and modelled.best.cost.gpu_hours == pytest.approx(2e6, rel=1e-9)


def test_hardware_that_cannot_be_timed_keeps_the_published_mfu():
    # Inline hardware has no link bandwidths: the layouts are not timed and the published run's MFU stays.
    from perflaw.optimizer.api import _scenario
    p = _scenario({"gpu_hours": 1e6, "peak_bf16_tflops": 900, "hbm_gb": 80, "gpus": 1024, "params_b": (1, 70)},
                  "test").problems()[0]
    settled = settle_mfu(p)
    assert settled.utilization.mfu == p.utilization.mfu and settled.budget_flops == p.budget_flops
    assert "not modelled" in settled.utilization.source and not settled.model_mfu
