"""Choosing a law form and prior by forecast error: the pick, the nested choice and what is scored."""

import numpy as np
import pytest

from perflaw.law.coefficients import PAPER_PUBLISHED
from perflaw.law.rules import month_index
from perflaw.law.selection import select_law
from perflaw.law.zoo import load_zoo


@pytest.fixture(scope="module")
def zoo():
    z = load_zoo()
    return z[z["complete"]].reset_index(drop=True)


def _scored_mae(candidate, after):
    r = np.concatenate([w.released_after(after).residuals for w in candidate.forecast.windows])
    return float(np.mean(np.abs(r)))


def test_without_a_prior_every_forecast_is_scored_and_the_lowest_error_wins(zoo):
    s = select_law(zoo, ["paper", "no-clip", "smooth"], [0.0], variant="capped")
    assert s.scored_after is None and s.chose
    errors = [c.forecast.pooled()["mae"] for c in s.candidates]
    assert s.chosen is s.candidates[int(np.argmin(errors))]
    assert s.nested.pooled()["n"] == s.chosen.forecast.pooled()["n"]


def test_the_nested_choice_uses_only_earlier_windows(zoo):
    s = select_law(zoo, ["paper", "no-clip", "smooth"], [0.0], variant="capped")
    windows = [c.forecast.windows for c in s.candidates]
    assert s.nested.windows[0].law == "paper"  # no past to choose by: the first candidate
    for i, w in enumerate(s.nested.windows[1:], start=1):
        past = [np.mean(np.abs(np.concatenate([x.residuals for x in ws[:i]]))) for ws in windows]
        assert w.law == s.candidates[int(np.argmin(past))].label
        assert np.array_equal(w.predicted, windows[int(np.argmin(past))][i].predicted)
    # the honest error of choosing cannot beat the best choice in hindsight
    assert s.nested.pooled()["mae"] >= s.chosen.forecast.pooled()["mae"] - 1e-12


def test_a_prior_towards_the_paper_scores_only_models_released_after_it(zoo):
    s = select_law(zoo, ["paper", "paper+vintage"], [0.0, 1000.0], variant="capped")
    assert s.scored_after == PAPER_PUBLISHED
    after = month_index(PAPER_PUBLISHED)
    assert all((w.months > after).all() for w in s.nested.windows)
    n_after = int((zoo["release"].map(lambda m: month_index(m)) > after).sum())
    assert s.nested.pooled()["n"] == sum(w.released_after(PAPER_PUBLISHED).predicted.size
                                         for w in s.candidates[0].forecast.windows) <= n_after
    scored = [_scored_mae(c, PAPER_PUBLISHED) for c in s.candidates]
    assert s.chosen is s.candidates[int(np.argmin(scored))]
    assert s.chosen.row(PAPER_PUBLISHED)["mae"] == pytest.approx(min(scored))


def test_a_table_without_newer_models_is_compared_without_priors(zoo):
    old = zoo[zoo["release"].map(month_index) <= month_index(PAPER_PUBLISHED)].reset_index(drop=True)
    s = select_law(old, ["paper", "no-clip"], [0.0, 1000.0], variant="capped")
    assert s.scored_after is None and {c.prior for c in s.candidates} == {0.0}
    assert s.nested.pooled()["n"] >= 3
