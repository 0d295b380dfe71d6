"""Fitting: plant known coefficients, recover them; cross-validation and intervals."""

import numpy as np
import pytest

from perflaw.law.coefficients import PAPER, load_coefficients, save_coefficients
from perflaw.law.errors import InputError
from perflaw.law.fit import calibrate_interval, fit_law, leave_one_out, predict_inputs
from perflaw.law.zoo import LawInputs

PLANTED = PAPER.with_values(w1=12.0, w2=0.6, w3=-0.9, w4=6.2, b=11.0, w5=2.5, moe_variant="expansion")


def synthetic(n: int, seed: int, moe_share: float = 0.3) -> LawInputs:
    rng = np.random.default_rng(seed)
    layers = rng.integers(8, 100, n).astype(float)
    hidden = rng.integers(8, 64, n) * 256.0
    ffn = hidden * rng.uniform(2.0, 5.0, n)
    total = rng.uniform(0.5, 400, n)
    moe = rng.random(n) < moe_share
    active = np.where(moe, total / rng.uniform(2, 20, n), total)
    tokens = rng.uniform(0.2, 20, n)
    month = rng.integers(2022 * 12, 2026 * 12, n).astype(float)  # release months, for the vintage term
    return LawInputs(layers, hidden, ffn, tokens, total, active, moe, month)


def test_plant_and_recover_exact():
    x = synthetic(300, 1)
    y = predict_inputs(x, PLANTED)
    fit = fit_law(x, y, variant="expansion")
    assert fit.success
    for name in ("w1", "w2", "w3", "w4", "b", "w5"):
        assert getattr(fit.coefficients, name) == pytest.approx(getattr(PLANTED, name), abs=1e-5), name
    assert fit.rmse < 1e-6


def test_plant_and_recover_with_noise():
    x = synthetic(2000, 2)
    rng = np.random.default_rng(3)
    y = predict_inputs(x, PLANTED) + rng.normal(0, 1.0, len(x))
    fit = fit_law(x, y, variant="expansion")
    # Tolerances: several standard errors of each coefficient at this size and noise level
    # (measured over seeds: w1 and w5 move by < 0.15, the rest by < 1).
    assert fit.coefficients.w1 == pytest.approx(PLANTED.w1, abs=0.5)
    assert fit.coefficients.w4 == pytest.approx(PLANTED.w4, abs=0.3)
    assert fit.coefficients.w5 == pytest.approx(PLANTED.w5, abs=0.4)
    assert fit.rmse == pytest.approx(1.0, abs=0.1)


def test_only_free_coefficients_move():
    x = synthetic(200, 4)
    y = predict_inputs(x, PLANTED)
    fit = fit_law(x, y, variant="expansion", free=("b",), start=PLANTED.with_values(b=0.0))
    assert fit.coefficients.b == pytest.approx(PLANTED.b, abs=1e-6)
    assert (fit.coefficients.w1, fit.coefficients.w4) == (PLANTED.w1, PLANTED.w4)


def test_leave_one_out_refits_without_the_model():
    x = synthetic(40, 5)
    y = predict_inputs(x, PLANTED)
    y_bad = y.copy()
    y_bad[0] += 30.0  # an outlier is predicted from the others, so its LOO residual stays large
    cv = leave_one_out(x, y_bad, variant="expansion")
    assert cv.residuals[0] == pytest.approx(30.0, abs=3.0)
    assert cv.failures == 0


def test_interval_quantiles_and_coverage():
    r = np.random.default_rng(0).normal(0, 2.0, 400)
    iv = calibrate_interval(r, 0.8)
    assert iv.low == pytest.approx(-2.56, abs=0.4) and iv.high == pytest.approx(2.56, abs=0.4)
    assert iv.coverage == pytest.approx(0.8, abs=0.05)


def test_coefficient_file_round_trip(tmp_path):
    iv = calibrate_interval(np.linspace(-5, 5, 50), 0.8)
    coef = PLANTED.with_values(source="test")
    from dataclasses import replace
    coef = replace(coef, interval=iv)
    save_coefficients(coef, tmp_path / "law.json", extra={"n": 3})
    back = load_coefficients(tmp_path / "law.json")
    assert back == coef and back.interval == iv


@pytest.mark.parametrize("kwargs,field", [
    (dict(variant="nope"), "variant"),
    (dict(free=("w9",)), "free"),
    (dict(free=("w5",), variant="active"), "free"),
    (dict(loss="l3"), "loss"),
])
def test_bad_fit_arguments(kwargs, field):
    x = synthetic(20, 6)
    with pytest.raises(InputError) as err:
        fit_law(x, predict_inputs(x, PLANTED), **kwargs)
    assert err.value.input_name == field


def test_prior_zero_is_the_plain_fit_and_a_strong_prior_stays_at_the_start():
    x = synthetic(120, 3)
    y = predict_inputs(x, PLANTED) + np.random.default_rng(3).normal(0, 2.0, 120)
    plain, zero = fit_law(x, y), fit_law(x, y, prior=0.0)
    assert plain.coefficients.vector() == zero.coefficients.vector()
    anchored = fit_law(x, y, prior=1e9).coefficients
    assert np.allclose(anchored.vector(("w1", "w2", "w3", "w4", "b")), PAPER.vector(("w1", "w2", "w3", "w4", "b")),
                       atol=1e-3)
    assert len(fit_law(x, y, prior=10.0).residuals) == 120  # the penalty is not a residual


def test_a_prior_does_not_stop_a_fit_recovering_exact_data():
    x = synthetic(300, 1)
    fit = fit_law(x, predict_inputs(x, PLANTED), prior=1.0, variant="expansion")
    assert fit.mae < 0.5  # exact data outweighs a weak prior


def test_bootstrap_spread_is_seeded_and_vanishes_on_exact_data():
    from perflaw.law.fit import bootstrap_spread
    x = synthetic(150, 2)
    y = predict_inputs(x, PLANTED)
    exact = bootstrap_spread(x, y, resamples=20, start=PLANTED, variant="expansion")
    assert all(s["std"] < 1e-6 and s["sign_flips"] == 0 for s in exact.values())
    noisy = y + np.random.default_rng(0).normal(0, 3.0, len(y))
    a = bootstrap_spread(x, noisy, resamples=20, seed=4)
    assert a == bootstrap_spread(x, noisy, resamples=20, seed=4) and all(s["std"] > 0 for s in a.values())


def test_a_negative_prior_is_refused():
    x = synthetic(30, 5)
    with pytest.raises(InputError, match="^prior: "):
        fit_law(x, predict_inputs(x, PAPER), prior=-1)
