"""Our MoE extension: the shipped w5 and the default variant are what the zoo says they are."""

import numpy as np
import pytest

from perflaw.law.architecture import Architecture
from perflaw.law.coefficients import DEFAULT_MOE_VARIANT, MOE_VARIANTS, PAPER
from perflaw.law.fit import compare_moe_variants, fit_law, largest_expansion
from perflaw.law.moe import law_size_b, moe_law_terms
from perflaw.law.predict import predict_architecture
from perflaw.law.zoo import law_inputs, load_zoo


@pytest.fixture(scope="module")
def zoo():
    t = load_zoo()
    t = t[t["complete"]]
    return law_inputs(t), t["mmlu"].to_numpy(dtype=float)


def test_shipped_w5_and_cap_are_the_fit_on_the_zoo(zoo):
    x, y = zoo
    assert PAPER.expansion_cap == largest_expansion(x)  # the zoo's largest MoE expansion
    for variant in ("capped", "expansion"):  # no zoo model lies beyond the cap, so both fits agree
        fit = fit_law(x, y, variant=variant, free=("w5",), start=PAPER.with_values(w5=0.0))
        assert fit.success
        assert PAPER.w5 == pytest.approx(fit.coefficients.w5, abs=1e-5)


def test_the_capped_variant_credits_no_expansion_beyond_the_cap():
    coef = PAPER
    at_cap = moe_law_terms(48, 4096, 2 * 1536, 10.0, 31.25 * 20, 20.0, 1.0, coef).mmlu
    beyond = moe_law_terms(48, 4096, 2 * 1536, 10.0, 90.0 * 20, 20.0, 1.0, coef).mmlu
    below = moe_law_terms(48, 4096, 2 * 1536, 10.0, 10.0 * 20, 20.0, 1.0, coef).mmlu
    assert beyond == at_cap > below
    uncapped = moe_law_terms(48, 4096, 2 * 1536, 10.0, 90.0 * 20, 20.0, 1.0,
                             coef.with_values(moe_variant="expansion")).mmlu
    assert uncapped > at_cap


def test_default_variant_has_the_lowest_leave_one_out_error(zoo):
    x, y = zoo
    table = compare_moe_variants(x, y)
    assert set(table) == set(MOE_VARIANTS)
    best = min(table, key=lambda v: table[v]["anchored_mae"])
    assert best == DEFAULT_MOE_VARIANT == PAPER.moe_variant
    assert min(table, key=lambda v: table[v]["refit_mae"]) == DEFAULT_MOE_VARIANT


def test_variants_agree_on_dense_models():
    for v in MOE_VARIANTS:
        coef = PAPER.with_values(moe_variant=v)
        a = moe_law_terms(32, 4096, 14336, 15.0, 8.03, 8.03, 1.0, coef).mmlu
        b = moe_law_terms(32, 4096, 14336, 15.0, 8.03, 8.03, 1.0, PAPER.with_values(moe_variant="active")).mmlu
        assert a == b


def test_law_sizes():
    assert law_size_b(100.0, 25.0, "active") == 25.0
    assert law_size_b(100.0, 25.0, "total") == 100.0
    assert law_size_b(100.0, 25.0, "geomean") == 50.0


def test_more_experts_at_same_activated_size_predicts_higher():
    base = Architecture(24, 2048, 0, experts=8, active_experts=2, expert_ffn=1408, vocab=50000)
    wide = base.replace(experts=64)
    assert base.params().active == pytest.approx(wide.params().active, rel=0.01)  # only the router grows
    assert predict_architecture(wide, 2.0).mmlu > predict_architecture(base, 2.0).mmlu


def test_prediction_interval_contains_point():
    p = predict_architecture(Architecture(32, 4096, 14336, kv_heads=8, vocab=128256), 15.0)
    assert p.interval.low <= p.mmlu <= p.interval.high
    assert 0.5 < p.calibration.coverage < 1.0
    assert np.isfinite(list(p.interval)).all()
