"""Choosing a law form and prior by forecast error, and the honest forecast error of that choice.

Picking the lowest of many forecast errors measured on the same forecasts flatters the pick: some
candidate is lucky on those models. The choice is therefore also made the way a user would have
made it in the past (nested forward chaining): before each window, the candidate with the lowest
pooled error on the earlier windows only forecasts that window; the first window, with no past
to choose by, uses the first candidate (the paper's form). Those forecasts pooled are the error to
expect from the procedure, and they calibrate the interval of the law it writes.

A prior pulls a fit towards the paper's coefficients, which were fitted on models released up to
their publication (``PAPER_PUBLISHED``): a forecast of such a model by a fit with a prior is not a
forecast. With priors among the candidates, every candidate is therefore scored, and the nested
forecasts pooled, on the models released after that month only (``scored_after``); a table with
fewer than three of those is compared without priors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from perflaw.law.coefficients import PAPER_PUBLISHED
from perflaw.law.forecast import DEFAULT_CUTOFFS, Forecast, calibrate, forward_chaining


@dataclass(frozen=True)
class Candidate:
    """One law form at one ridge strength, with its forward-chaining forecasts."""

    form: str
    prior: float
    forecast: Forecast

    @property
    def label(self) -> str:
        return self.form + (f", prior {self.prior:g}" if self.prior else "")

    def row(self, scored_after: str | None = None) -> dict:
        """Pooled summary of the scored forecasts, and the MAE over all of them."""
        f = self.forecast if scored_after is None else calibrate(
            [w.released_after(scored_after) for w in self.forecast.windows], True, self.forecast.level)
        return {"form": self.form, "prior": self.prior, **f.pooled("all"), "mae_dense": f.pooled("dense")["mae"],
                "mae_moe": f.pooled("moe")["mae"], "mae_every_window": self.forecast.pooled("all")["mae"]}


@dataclass(frozen=True)
class Selection:
    """Every candidate's forecasts, the one chosen on all windows, and the nested forecasts."""

    candidates: tuple[Candidate, ...]
    chosen: Candidate
    nested: Forecast  # each window forecast by the candidate best on the windows before it (scored models)
    scored_after: str | None  # release month after which forecasts are scored (None: every forecast)

    @property
    def chose(self) -> bool:
        """Whether there was a choice (more than one candidate)."""
        return len(self.candidates) > 1


def _mae(windows) -> float:
    r = np.concatenate([w.residuals for w in windows]) if windows else np.zeros(0)
    return float(np.mean(np.abs(r))) if r.size else float("inf")


def select_law(table: pd.DataFrame, forms, priors, *, level: float = 0.8, cutoffs=DEFAULT_CUTOFFS,
               **fit_kwargs) -> Selection:
    """Forecast ``table`` with every form × prior (refit before each cut-off) and choose.

    ``forms`` and ``priors`` are sequences; their first pair is the nested choice's default for
    windows with no scored past. Ties keep the earlier candidate.
    """
    priors = tuple(float(p) for p in priors)
    scored_after = PAPER_PUBLISHED if any(priors) else None
    candidates = tuple(Candidate(form, prior, forward_chaining(table, form=form, prior=prior, level=level,
                                                               cutoffs=cutoffs, **fit_kwargs))
                       for form in forms for prior in priors)
    scored = [[w.released_after(scored_after) for w in c.forecast.windows] for c in candidates]
    if scored_after and sum(w.predicted.size for w in scored[0]) < 3:  # no newer models to judge priors on
        return select_law(table, forms, (0.0,), level=level, cutoffs=cutoffs, **fit_kwargs)
    chosen = candidates[int(np.argmin([_mae(s) for s in scored]))]
    nested = []
    for i in range(len(scored[0])):
        past = [_mae(s[:i]) for s in scored]
        pick = int(np.argmin(past)) if np.isfinite(min(past)) else 0
        nested.append(scored[pick][i])
    return Selection(candidates, chosen, calibrate(nested, True, level, candidates[0].forecast.skipped),
                     scored_after)
