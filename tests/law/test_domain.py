"""The law's applicability domain: size-conditioned ranges of published models, checked per plan and per lattice."""

import numpy as np

from perflaw.law.domain import CHOSEN, SIZE_FACTOR, SUPPORT, plan_features, zoo_domain
from perflaw.law.zoo import law_inputs, load_zoo


def _zoo():
    z = load_zoo()
    z = z[z["complete"]].reset_index(drop=True)
    return z, law_inputs(z)


def test_most_published_models_lie_inside_and_the_rest_are_the_extremes_of_their_size():
    z, x = _zoo()
    f = plan_features(x.layers, x.hidden, x.ffn, x.tokens_t, x.total_b, x.active_b,
                      z["active_experts"].fillna(0).to_numpy(dtype=float))
    d = zoo_domain()
    inside = d.distance(f, x.active_b, x.is_moe, CHOSEN) == 0
    assert inside.mean() > 0.8
    # no single model stretches the domain: Qwen3-0.6B's 60,000 tokens per parameter is its own extreme
    q = int(np.flatnonzero(z["name"] == "Qwen3-0.6B-Base")[0])
    out = d.describe({k: float(v[q]) for k, v in f.items()}, float(x.active_b[q]), False)["outside"]
    assert not inside[q] and "tokens_per_param" in {o["feature"] for o in out}


def _support(values, sizes, size, side):
    """Scalar reference: the most extreme value with SUPPORT models' worth of weight at or beyond it."""
    w = np.exp(-0.5 * (np.log(sizes / size) / np.log(SIZE_FACTOR)) ** 2)
    need = min(SUPPORT, 0.5 * w.sum())
    for v in (sorted(set(values), reverse=side == "high")):
        beyond = values >= v if side == "high" else values <= v
        if w[beyond].sum() >= need:
            return v
    raise AssertionError


def test_ranges_are_the_values_enough_comparable_models_support():
    z, x = _zoo()
    dense = ~x.is_moe
    d = zoo_domain()
    ratio = (x.hidden / x.layers)[dense]
    for size in (1.0, 8.0, 21.7, 70.0):
        # the table is looked up at the nearest grid size: compare there
        kinds = d.dense
        step = kinds.log_sizes[1] - kinds.log_sizes[0]
        at = float(np.exp(kinds.log_sizes[int(round((np.log(size) - kinds.log_sizes[0]) / step))]))
        lo, hi = d.ranges(np.array([size]), np.array([False]))
        assert lo["hidden_per_layer"][0] == _support(ratio, x.active_b[dense], at, "low")
        assert hi["hidden_per_layer"][0] == _support(ratio, x.active_b[dense], at, "high")
    # a ratio seen only at 0.5B is no evidence at 50B: small Qwen models are deep and narrow, large ones are not
    lo_small = d.ranges(np.array([0.5]), np.array([False]))[0]["hidden_per_layer"][0]
    lo_large = d.ranges(np.array([50.0]), np.array([False]))[0]["hidden_per_layer"][0]
    assert lo_small < 40 < 80 <= lo_large


def test_the_ranges_do_not_jump_where_one_model_leaves_the_size_window():
    d = zoo_domain()
    sizes = np.geomspace(5, 100, 400)
    hi = d.ranges(sizes, np.zeros(400, dtype=bool))[1]["tokens_per_param"]
    # across 5B to 100B the ceiling falls smoothly: no step halves it from one grid size to the next
    assert np.all(hi[1:] / hi[:-1] > 0.5)


def test_describe_names_each_feature_outside_and_by_how_much():
    d = zoo_domain()
    f = plan_features(82, 4096, 10240, 9.78, 14.8, 14.8)  # the law's own 1e24 favourite: deep, narrow, FFN 2.5x
    out = d.describe({k: float(v) for k, v in f.items()}, 14.8, False)
    names = {o["feature"] for o in out["outside"]}
    assert not out["inside"] and {"hidden_per_layer", "ffn_per_hidden"} <= names
    for o in out["outside"]:
        assert o["value"] < o["low"] or o["value"] > o["high"]
    llama = plan_features(32, 4096, 14336, 15.0, 8.03, 8.03)
    assert d.describe({k: float(v) for k, v in llama.items()}, 8.03, False)["inside"]
    # the vectorised distance agrees with the description on the features a search chooses
    assert d.distance({k: np.atleast_1d(v) for k, v in f.items()}, np.array([14.8]), np.array([False]), CHOSEN)[0] > 0
    assert d.distance({k: np.atleast_1d(v) for k, v in llama.items()}, np.array([8.03]), np.array([False]),
                      CHOSEN)[0] == 0


def test_moe_plans_are_judged_against_moe_models():
    d = zoo_domain()
    f = plan_features(61, 7168, 9 * 2048, 14.8, 1500.0, 37.0, 8)  # 40x expanded: beyond Kimi K2's 31x
    out = d.describe({k: float(v) for k, v in f.items()}, 37.0, True)
    assert any(o["feature"] == "expansion" and o["value"] > o["high"] for o in out["outside"])


def test_a_lattice_of_one_kind_gets_the_distances_plans_of_both_kinds_get():
    # distance looks the table of a one-kind lattice up once, without per-plan masks; the same plans
    # beside one plan of the other kind take the per-plan path: the distances must be the same floats
    rng = np.random.default_rng(7)
    n = 4000
    layers = rng.integers(4, 200, n).astype(float)
    hidden = rng.integers(4, 160, n) * 128.0
    ffn = hidden * rng.uniform(0.5, 9.0, n)
    active = rng.uniform(0.05, 900.0, n)
    tokens = rng.uniform(0.01, 60.0, n)
    d = zoo_domain()
    for moe in (False, True):
        total = active * (rng.uniform(1.5, 60.0, n) if moe else 1.0)
        k = rng.integers(1, 9, n).astype(float) if moe else np.zeros(n)
        f = plan_features(layers, hidden, ffn, tokens, total, active, k)
        alone = d.distance(f, active, np.full(n, moe), CHOSEN)
        other = plan_features(32.0, 4096.0, 14336.0, 15.0, 8.0 if moe else 47.0, 8.0, 0.0 if moe else 2.0)
        both = {key: np.append(f[key], other[key]) for key in f}
        mixed = d.distance(both, np.append(active, 8.0), np.append(np.full(n, moe), not moe), CHOSEN)
        assert alone.tolist() == mixed[:n].tolist()
        assert (alone == 0).any() and (alone > 0).any()  # both inside and outside plans were compared


def test_the_distance_is_the_sum_of_each_features_log_excess():
    """The product form (one log per plan, max(v / high, low / v, 1) per feature, a second pass only
    where some plan lacks a feature) against the definition, feature by feature: Σ ln(v / high) above
    the range and ln(low / v) below it, no term where the value or the range is missing."""
    rng = np.random.default_rng(11)
    n = 3000
    moe = rng.random(n) < 0.4
    active = rng.uniform(0.05, 900.0, n)
    total = np.where(moe, active * rng.uniform(1.5, 60.0, n), active)
    f = plan_features(rng.integers(4, 200, n).astype(float), rng.integers(4, 160, n) * 128.0,
                      rng.uniform(500.0, 60000.0, n), rng.uniform(0.01, 60.0, n), total, active,
                      np.where(moe, rng.integers(1, 9, n), 0).astype(float))
    f["tokens_t"][:5] = np.nan  # plans without a token count: no tokens term
    d = zoo_domain()
    low, high = d.ranges(active, moe)
    want = np.zeros(n)
    for k in CHOSEN:
        v, lo, hi = f[k], low[k], high[k]
        known = np.isfinite(v) & np.isfinite(lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            want += np.where(known, np.log(np.maximum(v / hi, 1.0)) + np.log(np.maximum(lo / v, 1.0)), 0.0)
    got = d.distance(f, active, moe, CHOSEN)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    assert (got == 0).any() and (got > 0).any()
    one_kind = ~moe
    alone = d.distance({k: v[one_kind] for k, v in f.items()}, active[one_kind], moe[one_kind], CHOSEN)
    assert np.allclose(alone, want[one_kind], rtol=1e-12, atol=1e-12)
