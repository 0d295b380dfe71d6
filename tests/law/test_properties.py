"""Property tests (hypothesis) of the law's invariants: bounds, monotonicity, reference equivalence,
parameter accounting, FLOPs rules, quantity round trips and interval calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from perflaw.law.architecture import Architecture
from perflaw.law.coefficients import PAPER
from perflaw.law.fit import calibrate_interval
from perflaw.law.moe import moe_law_terms
from perflaw.law.performance import law_terms, predict_mmlu
from perflaw.optimizer.cli.quantities import format_quantity, parse_quantity

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------ strategies
layers = st.integers(1, 200)
hidden = st.integers(1, 256).map(lambda k: 64 * k)  # multiples of 64 up to 16384
ffn = st.integers(64, 65536)
tokens_t = st.floats(1e-3, 100.0)  # trillions
params_b = st.floats(0.01, 2000.0)  # billions
gamma = st.floats(1.0, 3.0)

#: exp(-x) is a positive float64 (not an underflowed 0.0) for x below this.
_EXP_UNDERFLOW = -math.log(np.finfo(float).tiny)


def _x(n, h, d, g):
    """The argument of the discount, u = exp(-x^2)."""
    return (10.0 / d + 20.0 / h) * g * n


@st.composite
def moe_sizes(draw):
    """(total_b, active_b) with 0.01 <= active <= total <= 2000 billions."""
    active = draw(params_b)
    total = draw(st.floats(active, 2000.0))
    return total, active


@st.composite
def attention_shape(draw):
    """hidden (multiple of 64, <= 16384), heads dividing it, kv_heads dividing heads."""
    head_dim = draw(st.sampled_from([64, 128]))
    heads = draw(st.integers(1, 16384 // head_dim))
    kv_divisors = [k for k in range(1, heads + 1) if heads % k == 0]
    kv = draw(st.sampled_from(kv_divisors))
    return dict(hidden=heads * head_dim, heads=heads, kv_heads=kv)


@st.composite
def dense_architectures(draw):
    return Architecture(
        layers=draw(layers), ffn=draw(ffn), **draw(attention_shape()),
        vocab=draw(st.integers(256, 256_000)), tied_embeddings=draw(st.booleans()),
        ffn_kind=draw(st.sampled_from(["gated", "plain"])), norm=draw(st.sampled_from(["rmsnorm", "layernorm",
                                                                                       "nonparametric"])),
        norms_per_layer=draw(st.sampled_from([2, 4])), qk_norm=draw(st.sampled_from(["none", "head", "full"])),
        qkv_bias=draw(st.booleans()), out_bias=draw(st.booleans()), mlp_bias=draw(st.booleans()),
        learned_positions=draw(st.sampled_from([0, 1024, 2048])),
    )


@st.composite
def moe_architectures(draw):
    n = draw(st.integers(2, 200))
    experts = draw(st.integers(1, 256))
    dense_layers = draw(st.integers(0, min(3, n - 1)))
    return Architecture(
        layers=n, ffn=draw(ffn) if dense_layers else 0, **draw(attention_shape()),
        vocab=draw(st.integers(256, 256_000)), tied_embeddings=draw(st.booleans()),
        experts=experts, active_experts=draw(st.integers(1, experts)), shared_experts=draw(st.integers(0, 2)),
        expert_ffn=draw(st.integers(64, 8192)), dense_layers=dense_layers, router_bias=draw(st.booleans()),
        shared_expert_gate=draw(st.booleans()), qk_norm=draw(st.sampled_from(["none", "head", "full"])),
    )


@st.composite
def mla_architectures(draw):
    """DeepSeek-style multi-head latent attention (dense or MoE)."""
    heads = draw(st.integers(1, 128))
    moe = draw(st.booleans())
    n = draw(st.integers(2, 100))
    experts = draw(st.integers(1, 64)) if moe else 0
    return Architecture(
        layers=n, hidden=64 * draw(st.integers(1, 128)), ffn=draw(ffn), heads=heads,
        head_dim=draw(st.sampled_from([64, 128])), attention="mla",
        q_lora_rank=draw(st.sampled_from([0, 512, 1536])), kv_lora_rank=draw(st.sampled_from([256, 512])),
        qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
        experts=experts, active_experts=draw(st.integers(1, experts)) if moe else 0,
        expert_ffn=draw(st.integers(64, 4096)) if moe else 0, dense_layers=draw(st.integers(0, 1)) if moe else 0,
    )


architectures = st.one_of(dense_architectures(), moe_architectures(), mla_architectures())


# ------------------------------------------------------------------------------ the law
@FAST
@given(layers, hidden, ffn, tokens_t, params_b, gamma)
def test_dense_mmlu_is_between_chance_and_100(n, h, d, t, s, g):
    y = float(predict_mmlu(n, h, d, t, s, g, PAPER))
    assert 25.0 <= y < 100.0


@FAST
@given(layers, hidden, ffn, tokens_t, moe_sizes(), gamma)
def test_moe_mmlu_is_between_chance_and_100(n, h, d, t, sizes, g):
    total, active = sizes
    y = float(moe_law_terms(n, h, d, t, total, active, g, PAPER).mmlu)
    assert 25.0 <= y < 100.0


@FAST
@given(layers, hidden, ffn, st.lists(tokens_t, min_size=2, max_size=20), params_b, gamma)
@example(1, 16384, 65536, [99.0, 100.0], 2000.0, 1.0)  # deep in the tanh saturation
def test_mmlu_is_non_decreasing_in_tokens(n, h, d, tokens, s, g):
    t = np.sort(np.asarray(tokens))
    y = predict_mmlu(n, h, d, t, s, g, PAPER)
    assert np.all(np.diff(y) >= 0.0)


@FAST
@given(layers, hidden, ffn, st.lists(tokens_t, min_size=2, max_size=20), moe_sizes(), gamma)
def test_moe_mmlu_is_non_decreasing_in_tokens(n, h, d, tokens, sizes, g):
    t = np.sort(np.asarray(tokens))
    y = moe_law_terms(n, h, d, t, sizes[0], sizes[1], g, PAPER).mmlu
    assert np.all(np.diff(y) >= 0.0)


@FAST
@given(layers, hidden, ffn, tokens_t, params_b, st.lists(gamma, min_size=2, max_size=10))
def test_mmlu_is_non_increasing_in_gamma(n, h, d, t, s, gammas):
    # w1 + w2 + w3 + w4 > 0, so a smaller discount never helps.
    y = predict_mmlu(n, h, d, t, s, np.sort(np.asarray(gammas)), PAPER)
    assert np.all(np.diff(y) <= 0.0)


@FAST
@given(layers, hidden, ffn, tokens_t, params_b, gamma)
def test_discount_is_in_0_1(n, h, d, t, s, g):
    u = float(law_terms(n, h, d, t, s, g, PAPER).discount)
    assert 0.0 < u <= 1.0  # clamped to the smallest positive float where exp underflows
    if _x(n, h, d, g) ** 2 < _EXP_UNDERFLOW:  # representable: strictly positive
        assert u > 0.0


def test_discount_is_strictly_positive_within_realistic_ranges():
    # 200 layers, h 256, d 1024, gamma 3: x = (10/1024 + 20/256) * 3 * 200 = 52.7, u = exp(-2777).
    assert float(law_terms(200, 256, 1024, 1.0, 1.0, 3.0, PAPER).discount) > 0.0


@FAST
@given(layers, hidden, ffn, tokens_t, params_b, gamma)
def test_effective_tokens_never_exceed_tokens_nor_params(n, h, d, t, s, g):
    t_eff = float(law_terms(n, h, d, t, s, g, PAPER).effective_tokens_t)
    assert t_eff <= t and t_eff <= s
    assert t_eff == min(t, s)


@FAST
@given(layers, hidden, ffn, tokens_t, moe_sizes(), gamma)
def test_moe_effective_tokens_never_exceed_tokens_nor_total(n, h, d, t, sizes, g):
    total, active = sizes
    t_eff = float(moe_law_terms(n, h, d, t, total, active, g, PAPER).effective_tokens_t)
    # The default (expansion) variant clips at the activated size, which is at most the total.
    assert t_eff <= t and t_eff <= active <= total


_ROW = st.tuples(layers, hidden, ffn, tokens_t, params_b, gamma)


@FAST
@given(st.lists(_ROW, min_size=1, max_size=50))
def test_vectorised_law_equals_elementwise_scalar_calls(rows):
    cols = [np.asarray(c, dtype=float) for c in zip(*rows)]
    vec = law_terms(*cols, coefficients=PAPER)
    for i, row in enumerate(rows):
        one = law_terms(*row, coefficients=PAPER)
        for field in ("discount", "effective_tokens_t", "raw", "mmlu"):
            assert float(getattr(vec, field)[i]) == pytest.approx(float(getattr(one, field)), rel=1e-13, abs=1e-300)


_MOE_ROW = st.tuples(layers, hidden, ffn, tokens_t, moe_sizes(), gamma)


@FAST
@given(st.lists(_MOE_ROW, min_size=1, max_size=50))
def test_vectorised_moe_law_equals_elementwise_scalar_calls(rows):
    n, h, d, t, sizes, g = (np.asarray(c) for c in zip(*rows))
    vec = moe_law_terms(n, h, d, t, sizes[:, 0], sizes[:, 1], g, PAPER).mmlu
    for i, (ni, hi, di, ti, (total, active), gi) in enumerate(rows):
        assert float(vec[i]) == pytest.approx(float(moe_law_terms(ni, hi, di, ti, total, active, gi, PAPER).mmlu),
                                              rel=1e-13)


def _reference_mmlu(n, h, d, t, s, g, c=PAPER):
    """DESIGN.md section 1 written out with the math module, one model at a time."""
    u = math.exp(-(((10 / d + 20 / h) * g * n) ** 2))
    t_eff = min(t, s)
    y = c.w1 * math.log(u * n) + c.w2 * math.log(u * h) + c.w3 * math.log(u * d) + c.w4 * math.log(u * t_eff) + c.b
    if y < 25:
        return 25.0
    if y > 90:
        return 90 + 10 * math.tanh(0.1 * y - 9)
    return y


@FAST
@given(layers, hidden, ffn, tokens_t, params_b, gamma)
def test_law_equals_the_written_out_formula(n, h, d, t, s, g):
    # ln(u·N) with u computed first needs u·N to stay a normal float.
    assume(_x(n, h, d, g) ** 2 < 700.0)
    assert float(predict_mmlu(n, h, d, t, s, g, PAPER.with_values(w5=0.0))) == \
        pytest.approx(_reference_mmlu(n, h, d, t, s, g), rel=1e-12, abs=1e-9)


# ------------------------------------------------------------------------------ parameters and FLOPs
_PARTS = ("embedding", "output", "attention", "ffn_dense", "experts_routed", "experts_shared", "router", "norms")


@FAST
@given(architectures)
def test_breakdown_adds_up_to_total(arch):
    p = arch.params()
    assert sum(getattr(p, k) for k in _PARTS) == p.total
    assert p.ffn_dense + p.experts_routed + p.experts_shared + p.router == p.ffn
    assert all(getattr(p, k) >= 0 for k in _PARTS) and p.experts_routed_active <= p.experts_routed
    assert 0 < p.active <= p.total
    d = p.as_dict()
    assert d["total"] == p.total and d["active"] == p.active


@FAST
@given(dense_architectures())
def test_dense_active_equals_total(arch):
    p = arch.params()
    assert p.active == p.total
    assert p.experts_routed == p.experts_routed_active == p.experts_shared == p.router == 0


@FAST
@given(dense_architectures(), st.integers(1, 200))
def test_params_strictly_increase_with_layers(arch, more):
    deeper = arch.replace(layers=min(arch.layers + more, 4096))
    assume(deeper.layers > arch.layers)
    assert deeper.params().total > arch.params().total


@FAST
@given(dense_architectures(), st.integers(1, 65536))
def test_params_strictly_increase_with_ffn(arch, more):
    wider = arch.replace(ffn=arch.ffn + more)
    assert wider.params().total > arch.params().total


@FAST
@given(architectures, st.integers(1, 1 << 17))
def test_flops_6n_rule_is_six_times_active_params(arch, seq_len):
    assert arch.flops_per_token(seq_len, rule="6N") == 6.0 * arch.params().active


@FAST
@given(architectures, st.integers(1, 1 << 16), st.integers(1, 1 << 16))
def test_attention_flops_increase_with_seq_len(arch, seq, more):
    assert arch.flops_per_token(seq + more, rule="attention") > arch.flops_per_token(seq, rule="attention")
    assert arch.flops_per_token(seq, rule="attention") > 0


# ------------------------------------------------------------------------------ quantities
@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 1e18))
@example(1.0)
@example(999.5)
@example(999_999.0)
@example(9.995e14)
@example(1e18)
def test_format_quantity_round_trips(x):
    text = format_quantity(x)
    assert parse_quantity(text, "--tokens") == pytest.approx(x, rel=1e-2)


@settings(max_examples=200, deadline=None)
@given(st.floats(1.0, 1e18), st.sampled_from([3, 4, 6]))
def test_format_quantity_round_trips_at_any_precision(x, digits):
    assert parse_quantity(format_quantity(x, digits), "--tokens") == pytest.approx(x, rel=10.0 ** (1 - digits))


# ------------------------------------------------------------------------------ intervals
_RESIDUAL = st.floats(-50.0, 50.0, allow_nan=False)


@FAST
@given(st.lists(_RESIDUAL, min_size=3, max_size=60), st.floats(0.01, 0.99))
def test_calibrated_interval_is_ordered_with_coverage_in_0_1(residuals, level):
    iv = calibrate_interval(residuals, level)
    assert iv.low <= iv.high
    assert min(residuals) <= iv.low and iv.high <= max(residuals)
    assert 0.0 <= iv.coverage <= 1.0
    assert iv.n == len(residuals) and iv.level == level


@FAST
@given(st.lists(_RESIDUAL, min_size=3, max_size=60), st.floats(0.01, 0.98), st.floats(0.001, 0.01))
def test_calibrated_interval_widens_with_level(residuals, level, step):
    narrow, wide = calibrate_interval(residuals, level), calibrate_interval(residuals, level + step)
    assert wide.low <= narrow.low and narrow.high <= wide.high
