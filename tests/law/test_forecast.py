"""Forecast validation: windows are honest (no model is seen before its window), planted laws are forecast exactly."""

import numpy as np
import pytest

from perflaw.law.coefficients import PAPER
from perflaw.law.errors import InputError
from perflaw.law.fit import predict_inputs
from perflaw.law.forecast import DEFAULT_CUTOFFS, forward_chaining, month_index
from perflaw.law.zoo import law_inputs, load_zoo

PLANTED = PAPER.with_values(w1=12.0, w2=0.6, w3=-0.9, w4=6.2, b=11.0, w5=2.5)


def _zoo():
    z = load_zoo()
    return z[z["complete"]].reset_index(drop=True)


def test_windows_forecast_each_model_once_and_fit_only_on_the_past():
    z = _zoo()
    f = forward_chaining(z, refit=False)
    months = np.array([month_index(r) for r in z["release"]])
    seen = []
    for w in f.windows:
        start, end = month_index(w.cutoff), month_index(w.end)
        assert end - start == 5 and w.n_train == int((months < start).sum())
        for name in w.names:
            assert start <= months[z.index[z["name"] == name][0]] <= end
        seen += list(w.names)
    assert len(seen) == len(set(seen)) == f.pooled()["n"] == 111  # the shipped zoo's five windows: 28 + 34 + 25 + 21 + 3


def _points(window: dict) -> dict:
    """A window's fit and point forecasts, without its intervals (those are calibrated on every
    other forecast, later ones included, by design: see law.forecast)."""
    out = {k: v for k, v in window.items() if k not in ("coverage", "dense", "moe", "models")}
    out["models"] = [{k: v for k, v in m.items() if k not in ("low", "high", "tau")} for m in window["models"]]
    return out


def test_a_window_is_blind_to_what_came_after_it():
    z = _zoo()
    before = _points(forward_chaining(z).as_dict()["windows"][0])
    late = z["release"].astype(str) >= "2024-01"  # after the first window (2023-07 to 2023-12)
    z2 = z.copy()
    z2.loc[late, "mmlu"] = 30.0
    after = _points(forward_chaining(z2).as_dict()["windows"][0])
    assert after == before


def test_a_planted_law_is_forecast_exactly():
    # w5 = 0: the first window's past holds no MoE model, so no honest fit can know an MoE term.
    planted = PLANTED.with_values(w5=0.0)
    z = _zoo()
    z = z.assign(mmlu=predict_inputs(law_inputs(z), planted))
    f = forward_chaining(z, refit=True, variant="expansion")
    pooled = f.pooled()
    assert pooled["mae"] < 1e-6
    fixed = forward_chaining(z, coefficients=planted, refit=False).pooled()
    assert fixed["mae"] < 1e-9


def test_summaries_split_dense_and_moe_and_report_bias_sign():
    f = forward_chaining(_zoo(), refit=False)
    p = {part: f.pooled(part) for part in ("all", "dense", "moe")}
    assert p["dense"]["n"] + p["moe"]["n"] == p["all"]["n"] and p["moe"]["n"] > 0
    residuals = np.concatenate([w.residuals for w in f.windows])
    assert p["all"]["bias"] == pytest.approx(residuals.mean())  # reported − forecast
    assert 0.0 <= p["all"]["coverage"] <= 1.0


def test_too_little_history_skips_a_window_and_says_why():
    f = forward_chaining(_zoo(), refit=False, cutoffs=("2021-01",) + DEFAULT_CUTOFFS[:1])
    assert len(f.windows) == 1 and "2021-01" in f.skipped[0]


@pytest.mark.parametrize("text", ["2024", "24-05", "2024-13", "May 2024"])
def test_release_months_are_checked(text):
    with pytest.raises(InputError, match="YYYY-MM"):
        month_index(text)


def test_a_table_without_release_months_still_fits_but_cannot_be_forecast():
    from perflaw.law.fit import fit_law
    z = _zoo()
    z.loc[z.index[0], "release"] = ""
    x = law_inputs(z)
    assert x.month is None and fit_law(x, z["mmlu"].to_numpy(dtype=float)).success
    with pytest.raises(InputError, match="release of GPT-3 175B: must be a month YYYY-MM"):
        forward_chaining(z)


def test_the_paper_is_judged_only_on_models_released_after_it_and_a_file_states_its_own_error(tmp_path):
    from dataclasses import replace

    from perflaw.law.coefficients import PAPER, PAPER_PUBLISHED, load_coefficients, save_coefficients
    from perflaw.law.forecast import fixed_cutoffs
    from perflaw.law.predict import expected_error
    from perflaw.law.rules import month_index
    z = _zoo()
    after = z[z["complete"] & (z["release"].map(month_index) > month_index(PAPER_PUBLISHED))]
    e = expected_error(PAPER)
    assert fixed_cutoffs(PAPER)[0] == "2024-09" and e["n"] == len(after)
    assert e["first_month"] > PAPER_PUBLISHED and 0 < e["mae"] < 10
    refit = PAPER.with_values(w1=14.0)  # no longer the paper's: every window counts
    assert fixed_cutoffs(refit) == DEFAULT_CUTOFFS
    stated = {"n": 7, "mae": 3.5, "bias": 0.1, "rmse": 4.0, "coverage": 0.8, "mae_dense": 3.0, "mae_moe": None,
              "first_month": "2024-09", "last_month": "2025-08", "method": "a fit's own forecasts"}
    path = tmp_path / "law.json"
    save_coefficients(replace(refit, forecast=stated), path)
    loaded = load_coefficients(path)
    assert expected_error(loaded) == stated and loaded == refit  # the error is metadata, not a coefficient
    # a set without a stated error is judged by its form refit on the past, not in-sample
    assert expected_error(refit)["n"] == 111 and "refit before each cut-off" in expected_error(refit)["method"]
    for bad in ({**stated, "n": True}, {**stated, "mae": float("nan")}, {k: v for k, v in stated.items()
                                                                        if k != "first_month"}):
        save_coefficients(replace(refit, forecast=bad), path)
        with pytest.raises(InputError, match="forecast"):
            load_coefficients(path)
