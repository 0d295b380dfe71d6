"""The law's applicability domain: size-conditioned ranges of published models, checked per plan and per lattice."""

import numpy as np

from perflaw.law.domain import CHOSEN, SIZE_FACTOR, plan_features, zoo_domain
from perflaw.law.zoo import law_inputs, load_zoo


def _zoo():
    z = load_zoo()
    z = z[z["complete"]].reset_index(drop=True)
    return z, law_inputs(z)


def test_every_published_model_lies_inside_the_domain_of_its_own_size():
    z, x = _zoo()
    f = plan_features(x.layers, x.hidden, x.ffn, x.tokens_t, x.total_b, x.active_b,
                      z["active_experts"].fillna(0).to_numpy(dtype=float))
    d = zoo_domain()
    # on the grid a model is compared at the nearest tabulated size; its own value is within the range
    # of its neighbours up to the grid's resolution, so the distance is tiny, not zero
    assert np.all(d.distance(f, x.active_b, x.is_moe) < 0.05)


def test_ranges_come_from_models_of_comparable_size_only():
    z, x = _zoo()
    dense = ~x.is_moe
    d = zoo_domain()
    for size in (1.0, 8.0, 70.0):
        lo, hi = d.ranges(np.array([size]), np.array([False]))
        near = dense & (np.abs(np.log(x.active_b / size)) <= np.log(SIZE_FACTOR) * 1.02)
        ratio = (x.hidden / x.layers)[near]
        assert near.sum() >= 5
        assert lo["hidden_per_layer"][0] >= ratio.min() * 0.98 and hi["hidden_per_layer"][0] <= ratio.max() * 1.02
    # a ratio seen only at 0.5B is no evidence at 50B: small Qwen models are deep and narrow, large ones are not
    lo_small = d.ranges(np.array([0.5]), np.array([False]))[0]["hidden_per_layer"][0]
    lo_large = d.ranges(np.array([50.0]), np.array([False]))[0]["hidden_per_layer"][0]
    assert lo_small < 40 < 80 <= lo_large


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
    assert any(o["feature"] == "expansion" and o["high"] >= 31.0 for o in out["outside"])
