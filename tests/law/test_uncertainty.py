"""Intervals that know where they are: the coefficient spread widens them away from the data; the
vintage term shifts predictions by its years; calibration covers what it claims."""

import numpy as np
import pytest

from perflaw.law.architecture import Architecture
from perflaw.law.coefficients import PAPER, load_coefficients, save_coefficients
from perflaw.law.fit import calibrate_interval, fit_law, predict_inputs
from perflaw.law.forecast import spread_model
from perflaw.law.predict import interval_for, predict_architecture
from perflaw.law.rules import month_text
from tests.law.test_fit import synthetic

LLAMA3_8B = Architecture(32, 4096, 14336, heads=32, kv_heads=8, vocab=128256)


def test_the_interval_widens_for_a_shape_no_published_model_has():
    near = predict_architecture(LLAMA3_8B, 15.0)
    # 8 layers of width 16384: hidden/layers 2048, ten times the widest published dense model's
    far = predict_architecture(Architecture(8, 16384, 65536, heads=128, kv_heads=8, vocab=128256), 10.0)
    assert far.sd > 3 * near.sd > 0
    assert far.interval.high - far.interval.low > near.interval.high - near.interval.low


def test_the_paper_interval_is_calibrated_on_models_released_after_the_paper():
    iv = interval_for(PAPER)
    assert iv.covariance and iv.names[:5] == ("w1", "w2", "w3", "w4", "b")
    assert "2024-09" in iv.method and iv.coverage >= iv.level


@pytest.mark.parametrize("seed", range(5))
def test_calibrated_coverage_reaches_the_level_in_jackknife(seed):
    rng = np.random.default_rng(seed)
    r = rng.standard_t(3, 40) * 5 + 2
    tau = rng.uniform(1, 3, 40)
    iv = calibrate_interval(r, 0.8, tau=tau)
    assert iv.coverage >= 0.8
    inside = (r / tau >= iv.low) & (r / tau <= iv.high)
    assert inside.mean() >= 0.8  # the full-sample quantiles cover at least as much as the jackknife


def test_spread_model_finds_errors_that_grow_with_the_spread():
    rng = np.random.default_rng(4)
    sd = rng.uniform(0.5, 6.0, 400)
    r = rng.normal(0, np.sqrt(2.0**2 + (3.0 * sd) ** 2))
    sigma0, k = spread_model(r, sd)
    assert 1.4 < sigma0 < 2.8 and 2.5 < k < 3.6
    _, k_flat = spread_model(rng.normal(0, 4.0, 400), sd)  # errors that ignore the spread
    assert k_flat < 1.3


def test_a_planted_vintage_term_is_recovered():
    x = synthetic(300, 21, moe_share=0.0)
    ref = month_text(int(x.month.max()))
    planted = PAPER.with_values(w1=12.0, w2=0.6, w3=-0.9, w4=6.2, b=11.0, w6=2.5, vintage=ref, moe_variant="active")
    y = predict_inputs(x, planted)
    fit = fit_law(x, y, form="paper+vintage", variant="active")
    assert fit.coefficients.vintage == ref and fit.coefficients.w6 == pytest.approx(2.5, abs=1e-4)
    assert fit.mae < 1e-6


def test_the_data_vintage_shifts_a_vintage_law_and_not_the_paper():
    law = PAPER.with_values(vintage="2025-07", w6=2.0)
    base = predict_architecture(LLAMA3_8B, 15.0, coefficients=law)
    later = predict_architecture(LLAMA3_8B, 15.0, coefficients=law, data_vintage="2026-07")
    assert base.data_vintage == "2025-07" and later.data_vintage == "2026-07"
    assert later.mmlu - base.mmlu == pytest.approx(2.0)
    paper = predict_architecture(LLAMA3_8B, 15.0, data_vintage="2026-07")
    assert paper.data_vintage is None and paper.mmlu == predict_architecture(LLAMA3_8B, 15.0).mmlu


def test_law_files_keep_the_vintage_and_the_covariance(tmp_path):
    x = synthetic(120, 5, moe_share=0.2)
    fit = fit_law(x, predict_inputs(x, PAPER) + np.random.default_rng(1).normal(0, 2, 120), form="no-clip+vintage",
                  variant="capped")
    iv = calibrate_interval(np.linspace(-5, 5, 20), 0.8, tau=np.ones(20), scale=fit.scale, names=fit.free,
                            covariance=fit.covariance)
    coef = fit.coefficients.with_values()
    from dataclasses import replace
    coef = replace(coef, interval=iv)
    save_coefficients(coef, tmp_path / "law.json")
    back = load_coefficients(tmp_path / "law.json")
    assert back == coef and back.interval == iv and back.form == "no-clip+vintage"
    assert back.expansion_cap == pytest.approx(float(np.max(x.total_b / x.active_b)))
