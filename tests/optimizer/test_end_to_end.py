"""Published runs end to end: GPU-hours from each report's layout against the hours it publishes."""

import pytest

from perflaw.optimizer.cost.end_to_end import end_to_end_runs

TOLERANCE = 0.25  # the README's stated tolerance for runs whose report states the layout


@pytest.fixture(scope="module")
def runs():
    return {r.run: r for r in end_to_end_runs()}


def test_runs_with_a_stated_layout_come_within_the_tolerance(runs):
    stated = [r for r in runs.values() if r.layout_stated]
    assert {r.run for r in stated} == {"Llama-3.1-405B", "BLOOM-176B", "DeepSeek-V3"}
    for r in stated:
        assert abs(r.ratio - 1) <= TOLERANCE, (r.run, r.ratio)


def test_gpu_hours_are_tokens_over_throughput_and_goodput(runs):
    tokens = {"Llama-3.1-405B": 15.6e12, "Llama-3.1-70B": 15.6e12, "Llama-3.1-8B": 15.6e12, "BLOOM-176B": 366e9,
              "DeepSeek-V3": 14.8e12}
    for name, r in runs.items():
        assert r.predicted_gpu_hours == pytest.approx(tokens[name] / (r.step.tokens_per_gpu_s * 3600 * r.goodput))
        assert r.not_seen and r.source
    assert runs["Llama-3.1-405B"].goodput == 0.9 and runs["BLOOM-176B"].goodput == 1.0  # stated / none published


def test_the_stated_layouts_are_the_reports(runs):
    llama = runs["Llama-3.1-405B"].layout
    assert (llama.tp, llama.pp, llama.dp, llama.gpus) == (8, 16, 128, 16384)  # arXiv 2407.21783 Table 4
    bloom = runs["BLOOM-176B"].layout
    assert (bloom.tp, bloom.pp, bloom.dp, bloom.recompute) == (4, 12, 8, "full")
    ds = runs["DeepSeek-V3"].layout
    assert (ds.tp, ds.pp, ds.ep, ds.gpus) == (1, 16, 64, 2048)  # arXiv 2412.19437 §3.2
