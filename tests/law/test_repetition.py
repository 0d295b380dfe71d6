"""Repeated data at its worth (law.repetition): the rule's shape, its inverse, and its use in the law."""

import numpy as np
import pytest

from perflaw.law.architecture import Architecture
from perflaw.law.predict import predict_architecture
from perflaw.law.repetition import REPEAT_DECAY, repeated_tokens, repetition_limit, tokens_for_repeated
from perflaw.law.zoo import law_inputs, load_zoo


def test_new_data_is_worth_itself_and_repetition_less():
    t = np.array([0.5, 1.0, 2.0, 4.0, 16.0, 200.0])
    worth = repeated_tokens(t, 1.0)
    assert worth[:2].tolist() == [0.5, 1.0]  # up to one epoch nothing is repeated
    assert np.all(np.diff(worth) > 0) and np.all(worth[2:] < t[2:])  # more always helps, never fully
    assert worth[-1] < repetition_limit(1.0) == pytest.approx(1.0 + REPEAT_DECAY)
    assert np.array_equal(repeated_tokens(t, np.inf), t)  # unknown unique tokens: no repetition
    # at R = R* repetitions the repeats have lost 1 - 1/e of their value (Muennighoff et al. 2023, Eq. 5)
    assert repeated_tokens(1.0 + REPEAT_DECAY, 1.0) == pytest.approx(1.0 + REPEAT_DECAY * (1 - np.exp(-1.0)))
    # two epochs are worth nearly two: the first repetitions cost little
    assert 1.9 < repeated_tokens(2.0, 1.0) < 2.0


def test_the_inverse_gives_back_the_tokens_and_inf_beyond_the_limit():
    t = np.geomspace(0.01, 30.0, 50)  # up to 100 epochs (far beyond, float64 cannot tell the worth from its limit)
    u = 0.3
    assert np.allclose(tokens_for_repeated(repeated_tokens(t, u), u), t, rtol=1e-9)
    assert np.isinf(tokens_for_repeated(repetition_limit(u) * 1.001, u))
    assert tokens_for_repeated(0.2, np.inf) == 0.2


def test_zoo_rows_with_stated_unique_tokens_feed_the_law_their_worth():
    z = load_zoo()
    x = law_inputs(z[z["complete"]].reset_index(drop=True))
    stated = np.isfinite(x.unique_tokens_t)
    assert stated.sum() >= 2  # Phi-2 (250B unique, 1.4T trained) and TinyLlama (950B unique) per law/data/ADDED.md
    assert np.all(x.law_tokens_t[stated] < x.tokens_t[stated])
    assert np.array_equal(x.law_tokens_t[~stated], x.tokens_t[~stated])


def test_a_prediction_counts_repeated_tokens_at_their_worth():
    phi2 = Architecture(layers=32, hidden=2560, ffn=10240, ffn_kind="plain", vocab=51200)
    new = predict_architecture(phi2, 1.4)
    repeated = predict_architecture(phi2, 1.4, unique_tokens_t=0.25)
    assert repeated.repeated_tokens_t == pytest.approx(float(repeated_tokens(1.4, 0.25)))
    assert repeated.mmlu < new.mmlu and new.repeated_tokens_t == 1.4 and new.unique_tokens_t is None
    assert predict_architecture(phi2, 1.4, unique_tokens_t=2.0).mmlu == new.mmlu  # less than one epoch


def test_planning_stops_repeating_where_a_repeat_is_worth_under_one_percent():
    from perflaw.law.repetition import MAX_REPEATS, most_useful_tokens
    u = 0.1
    cap = float(most_useful_tokens(u))
    assert cap == pytest.approx(u * (1 + MAX_REPEATS))
    # the marginal worth of a token there, d T_rep / d T = exp(-R / R*), is 1 %
    eps = 1e-6
    slope = (repeated_tokens(cap + eps, u) - repeated_tokens(cap - eps, u)) / (2 * eps)
    assert float(slope) == pytest.approx(0.01, rel=1e-3)
    assert np.isinf(most_useful_tokens(np.inf))
    # at the float limit the inverse says "never": the worth cannot be told from the limit
    assert np.isinf(tokens_for_repeated(repetition_limit(u), u))


def test_unknown_unique_tokens_give_the_general_formula_s_values():
    # with U infinite both functions return early; the general formula, fed U as an array, must agree
    t = np.array([0.0, 1e-6, 0.5, 15.0, 1e3, np.inf, np.nan])
    wide = np.full(t.shape, np.inf)
    with np.errstate(invalid="ignore"):
        for f in (repeated_tokens, tokens_for_repeated):
            assert np.array_equal(f(t, np.inf), f(t, wide), equal_nan=True)
