"""Golden, property and input tests of the loss-based baselines (Chinchilla, Epoch AI replication)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from perflaw.law.baselines import (
    CHINCHILLA,
    CHINCHILLA_UNROUNDED,
    EPOCH,
    LOSS_LAWS,
    ComputeOptimal,
    LossLaw,
    compute_optimal,
    get_loss_law,
    loss,
    optimal_line,
)
from perflaw.law.errors import InputError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOPHER_FLOPS = 5.76e23  # Hoffmann et al. 2022, Table 3 ("67 Billion ... 5.76e+23 ... 1" Gopher unit)

# ------------------------------------------------------------------------------ constants


@pytest.mark.parametrize(
    "law, expected",
    [
        # Hoffmann et al. 2022 (arXiv 2203.15556), Appendix D.2 eq. (10).
        (CHINCHILLA, (1.69, 406.4, 410.7, 0.34, 0.28)),
        # Same fit at TeX-source precision, as discussed by Besiroglu et al. 2024 (arXiv 2404.10102).
        (CHINCHILLA_UNROUNDED, (1.6934, 406.4, 410.7, 0.3392, 0.2849)),
        # Besiroglu et al. 2024 (arXiv 2404.10102), replication fit.
        (EPOCH, (1.8172, 482.01, 2085.43, 0.3478, 0.3658)),
    ],
    ids=lambda v: v.name if isinstance(v, LossLaw) else "",
)
def test_published_constants_pinned(law, expected):
    assert (law.E, law.A, law.B, law.alpha, law.beta) == expected
    assert "arXiv" in law.source


def test_registry_and_lookup():
    assert set(LOSS_LAWS) == {"chinchilla", "chinchilla-unrounded", "epoch"}
    for name, law in LOSS_LAWS.items():
        assert law.name == name
        assert get_loss_law(name) is law


def test_unknown_law_lists_valid_names():
    with pytest.raises(InputError) as err:
        get_loss_law("kaplan")
    msg = str(err.value)
    assert err.value.input_name == "loss law"
    assert "'kaplan'" in msg
    for name in LOSS_LAWS:
        assert name in msg


# ------------------------------------------------------------------------------ golden checks


def test_hand_computed_chinchilla_loss_at_70b_1_4t():
    # Chinchilla itself: 70B parameters, 1.4T tokens (Hoffmann et al. 2022, Section 4). Rounded eq. (10),
    # evaluated here with the math module as an independent code path.
    expected = 1.69 + 406.4 / (70e9**0.34) + 410.7 / (1.4e12**0.28)
    got = loss(CHINCHILLA, 70e9, 1.4e12)
    assert got.shape == ()
    assert float(got) == pytest.approx(expected, rel=1e-12)
    assert float(got) == pytest.approx(1.93665, abs=1e-5)


def test_gopher_budget_gives_40b_parameters():
    # Hoffmann et al. 2022, Section 3.3 / Figure 4: "We project the optimal model size given the Gopher FLOP
    # budget to be 40B parameters." "40B" is stated to the nearest billion, so we accept [39.5B, 40.5B].
    opt = compute_optimal(CHINCHILLA_UNROUNDED, GOPHER_FLOPS)
    assert 39.5e9 <= float(opt.params) <= 40.5e9
    # Besiroglu et al. 2024: the rounded printed constants bias the predictions. They give ~32B here.
    rounded = compute_optimal(CHINCHILLA, GOPHER_FLOPS)
    assert float(rounded.params) < 35e9


def test_approach3_exponents_match_table2():
    # Hoffmann et al. 2022, Table 2, Approach 3: a = 0.46, b = 0.54 (two decimals). The unrounded constants
    # reproduce both; the rounded ones give 0.45 / 0.55.
    assert round(CHINCHILLA_UNROUNDED.a, 2) == 0.46
    assert round(CHINCHILLA_UNROUNDED.b, 2) == 0.54
    assert round(CHINCHILLA.a, 2) == 0.45


# Hoffmann et al. 2022, Table A3, Approach 3 columns: parameters -> training tokens for compute-optimal models.
TABLE_A3_APPROACH3_TOKENS = {
    400e6: 9.2e9,
    1e9: 27.1e9,
    10e9: 410.1e9,
    67e9: 4.1e12,
    175e9: 12.0e12,
    280e9: 20.1e12,
    520e9: 43.5e12,
    1e12: 94.1e12,
    10e12: 1425.5e12,
}


def _optimal_tokens_for_params(law: LossLaw, n: float) -> float:
    # Invert N_opt = G·(C/6)^a, then D = (C/6)/N (independent of compute_optimal's code path).
    g = (law.alpha * law.A / (law.beta * law.B)) ** (1 / (law.alpha + law.beta))
    a = law.beta / (law.alpha + law.beta)
    return (n / g) ** (1 / a) / n


@pytest.mark.parametrize("params", sorted(TABLE_A3_APPROACH3_TOKENS))
def test_table_a3_approach3_tokens(params):
    # No published constant set reproduces Table A3 exactly: its rows are printed to 2-3 digits and are not
    # consistent with C = 6ND at that precision (67B row: 6·67e9·4.1e12 = 1.65e24 vs 1.71e24 printed), and the
    # gap to the unrounded constants grows with extrapolation (7 % at 400M, 19 % at 280B). We therefore check
    # (1) within 12 % up to 67B, i.e. within ~4x of the largest trained model (16B) and at the Gopher budget,
    # and (2) at every row the unrounded constants are closer than the rounded ones (off by 1.6x-2.2x).
    table = TABLE_A3_APPROACH3_TOKENS[params]
    unrounded = _optimal_tokens_for_params(CHINCHILLA_UNROUNDED, params)
    rounded = _optimal_tokens_for_params(CHINCHILLA, params)
    if params <= 67e9:
        assert unrounded == pytest.approx(table, rel=0.12)
    assert abs(math.log(unrounded / table)) < abs(math.log(rounded / table))


def test_epoch_fit_gives_about_20_tokens_per_param():
    # Besiroglu et al. 2024 (arXiv 2404.10102; Epoch AI blog, Figure 1): their estimates imply an optimal
    # ratio consistent with Chinchilla's ~20 tokens per parameter (70B on 1.4T). The ratio drifts slowly,
    # as (C/6)^(b-a) with b-a = -0.025, so we accept 20 ± 25 % over four decades around the Gopher budget.
    opt = compute_optimal(EPOCH, np.geomspace(1e21, 1e25, 9))
    assert np.all((opt.tokens_per_param > 15.0) & (opt.tokens_per_param < 25.0))
    assert float(compute_optimal(EPOCH, GOPHER_FLOPS).tokens_per_param) == pytest.approx(20.0, rel=0.1)
    # ... whereas the Hoffmann et al. constants are far from 20 at that budget (Besiroglu et al.'s point).
    assert float(compute_optimal(CHINCHILLA_UNROUNDED, GOPHER_FLOPS).tokens_per_param) > 40.0


# ------------------------------------------------------------------------------ frontier properties


@pytest.mark.parametrize("law", list(LOSS_LAWS.values()), ids=list(LOSS_LAWS))
def test_exponents_sum_to_one_and_budget_is_spent(law):
    assert law.a + law.b == pytest.approx(1.0, abs=1e-15)
    flops = np.geomspace(1e18, 1e27, 19)
    opt = compute_optimal(law, flops)
    np.testing.assert_allclose(6.0 * opt.params * opt.tokens, flops, rtol=1e-12)
    np.testing.assert_allclose(opt.tokens_per_param, opt.tokens / opt.params, rtol=1e-15)
    np.testing.assert_allclose(opt.loss, loss(law, opt.params, opt.tokens), rtol=1e-15)
    assert opt.law_name == law.name


@pytest.mark.parametrize("law", list(LOSS_LAWS.values()), ids=list(LOSS_LAWS))
@pytest.mark.parametrize("flops", [1e19, 1e21, GOPHER_FLOPS, 1e25, 1e27])
def test_closed_form_minimises_loss_on_the_isoflop_line(law, flops):
    # Reference: numerical 1-D minimisation of L(N, C/(6N)) over ln N (scipy, bounded Brent).
    def on_line(log_n):
        n = math.exp(log_n)
        return law.E + law.A / n**law.alpha + law.B / (flops / (6.0 * n)) ** law.beta

    res = minimize_scalar(on_line, bounds=(math.log(1e3), math.log(flops / 6.0 / 1e3)), method="bounded",
                          options={"xatol": 1e-10})
    assert res.success
    opt = compute_optimal(law, flops)
    assert float(opt.params) == pytest.approx(math.exp(res.x), rel=1e-5)
    assert float(opt.loss) <= res.fun + 1e-12
    # Moving off the optimum along the line raises the loss on both sides.
    for factor in (0.9, 1.1):
        assert on_line(math.log(float(opt.params) * factor)) > float(opt.loss)


laws = st.sampled_from(list(LOSS_LAWS.values()))
counts = st.floats(1e6, 1e15)
budgets = st.floats(1e15, 1e30)
steps = st.floats(1.01, 100.0)


@FAST
@given(laws, counts, counts, steps)
def test_loss_decreases_in_params_and_tokens(law, n, d, k):
    base = float(loss(law, n, d))
    assert float(loss(law, n * k, d)) < base
    assert float(loss(law, n, d * k)) < base
    assert base > law.E


@FAST
@given(laws, budgets, steps)
def test_optimum_grows_with_compute(law, c, k):
    small, big = compute_optimal(law, c), compute_optimal(law, c * k)
    assert float(big.params) > float(small.params)
    assert float(big.tokens) > float(small.tokens)
    assert float(big.loss) < float(small.loss)


def test_vectorised_matches_scalar_and_keeps_shape():
    n = np.array([[1e8, 1e9, 1e10], [7e10, 2e11, 1e12]])
    d = np.array([2e9, 2e10, 2e11])
    out = loss(EPOCH, n, d)
    assert out.shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert out[i, j] == float(loss(EPOCH, float(n[i, j]), float(d[j])))
    opt = compute_optimal(EPOCH, n * 1e13)
    assert opt.params.shape == opt.tokens.shape == opt.loss.shape == (2, 3)
    assert float(compute_optimal(EPOCH, 1e22).params) == compute_optimal(EPOCH, [1e22]).params[0]


def test_optimal_line_for_plotting():
    flops = np.geomspace(1e20, 1e26, 13)
    line = optimal_line(CHINCHILLA, flops)
    assert isinstance(line, ComputeOptimal)
    np.testing.assert_array_equal(line.flops, flops)
    cols = line.as_columns()
    assert list(cols) == ["flops", "params", "tokens", "loss_nats", "tokens_per_param"]
    assert all(v.shape == (13,) for v in cols.values())
    assert np.all(np.diff(np.log(line.params)) > 0)
    # A straight line in log-log space with slope a (Hoffmann et al. 2022, Figure 4 caption).
    slopes = np.diff(np.log(line.params)) / np.diff(np.log(flops))
    np.testing.assert_allclose(slopes, CHINCHILLA.a, rtol=1e-10)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("bad", [0.0, -1e9, float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("which", ["params", "tokens"])
def test_bad_params_or_tokens_raise(which, bad):
    args = {"params": 70e9, "tokens": 1.4e12, which: bad}
    with pytest.raises(InputError) as err:
        loss(EPOCH, **args)
    assert err.value.input_name == which
    assert "finite and > 0" in err.value.rule
    assert str(err.value).startswith(f"{which}: must be finite and > 0 (got ")


@pytest.mark.parametrize("bad", [0, -5.76e23, float("nan"), float("inf"), [1e21, 0.0]])
def test_bad_flops_raise(bad):
    with pytest.raises(InputError) as err:
        compute_optimal(CHINCHILLA, bad)
    assert err.value.input_name == "flops"
    assert "finite and > 0" in err.value.rule


def test_array_error_names_the_offending_value():
    with pytest.raises(InputError) as err:
        loss(CHINCHILLA, [1e9, -3.0, 1e10], 1e12)
    assert err.value.value == -3.0
    assert "(got -3.0)" in str(err.value)


@pytest.mark.parametrize("bad", ["70B", None, [1e9, "x"], object()])
def test_non_numeric_inputs_raise(bad):
    with pytest.raises(InputError) as err:
        loss(CHINCHILLA, bad, 1e12)
    assert err.value.input_name == "params"


@pytest.mark.parametrize("bad", [[], [[1e21, 1e22]], 1e21])
def test_optimal_line_needs_a_1d_array(bad):
    with pytest.raises(InputError) as err:
        optimal_line(EPOCH, bad)
    assert err.value.input_name == "flops"


@pytest.mark.parametrize(
    "field, value",
    [("alpha", 0.0), ("beta", -0.3), ("A", float("nan")), ("B", float("inf")), ("E", -0.1), ("alpha", "0.3")],
)
def test_bad_law_constants_raise(field, value):
    kwargs = dict(name="custom", E=1.8, A=400.0, B=400.0, alpha=0.34, beta=0.28)
    kwargs[field] = value
    with pytest.raises(InputError) as err:
        LossLaw(**kwargs)
    assert err.value.input_name == f"LossLaw.{field}"


def test_laws_are_frozen():
    with pytest.raises(AttributeError):
        EPOCH.alpha = 0.5  # type: ignore[misc]
