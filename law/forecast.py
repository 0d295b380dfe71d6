"""Forecast validation: fit on the models released before a cut-off, predict the ones released after it.

perflaw's users plan runs that have not happened yet, so the error that matters is the error on
models newer than every model a law was fitted on. Forward chaining measures it: for each cut-off
month, the law is fitted on the models released before it (or, for a fixed coefficient set, only
its interval is calibrated there) and predicts the models released in the following window. The
forecasts of all windows pooled are the headline error; each window's interval, calibrated on that
window's past alone (leave-one-out residuals of the refit), is checked against the forecasts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from perflaw.law.coefficients import PAPER, LawCoefficients
from perflaw.law.errors import InputError
from perflaw.law.fit import calibrate_interval, fit_law, leave_one_out, predict_inputs
from perflaw.law.predict import interval_bounds
from perflaw.law.zoo import law_inputs

#: First months of the forecast windows (each six months long): 20 + 28 + 7 + 9 forecasts on the shipped zoo.
DEFAULT_CUTOFFS = ("2023-07", "2024-01", "2024-07", "2025-01")
WINDOW_MONTHS = 6
MIN_TRAIN = 12  # models a window's fit needs before its cut-off
_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def month_index(text: str, name: str = "release") -> int:
    """Months since year 0 of a ``YYYY-MM`` (or ``YYYY-MM-DD``) date."""
    match = _MONTH.match(str(text).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(name, "must be a month YYYY-MM", text)
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def _month_text(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class ForecastWindow:
    """The models released in one window, forecast by a law that saw only the models before it."""

    cutoff: str  # first month forecast, YYYY-MM
    end: str  # last month forecast, inclusive
    n_train: int
    names: tuple[str, ...]
    reported: np.ndarray  # MMLU points
    predicted: np.ndarray
    low: np.ndarray  # the interval of each forecast, from the window's past alone
    high: np.ndarray
    is_moe: np.ndarray

    @property
    def residuals(self) -> np.ndarray:
        """Reported − forecast: positive when the law under-predicts."""
        return self.reported - self.predicted

    @property
    def covered(self) -> np.ndarray:
        """Whether each reported value lies in its forecast's interval."""
        return (self.reported >= self.low) & (self.reported <= self.high)


def summary(residuals: np.ndarray, covered: np.ndarray) -> dict:
    """n, MAE, bias (mean reported − forecast), RMSE and interval coverage of some forecasts."""
    r = np.asarray(residuals, dtype=np.float64)
    if r.size == 0:
        return {"n": 0, "mae": None, "bias": None, "rmse": None, "coverage": None}
    return {"n": int(r.size), "mae": float(np.mean(np.abs(r))), "bias": float(np.mean(r)),
            "rmse": float(np.sqrt(np.mean(r**2))), "coverage": float(np.mean(covered))}


@dataclass(frozen=True)
class Forecast:
    """Forward-chaining forecasts of one law (refit per window, or fixed coefficients)."""

    windows: tuple[ForecastWindow, ...]
    refit: bool
    level: float  # nominal coverage of the intervals
    skipped: tuple[str, ...]  # windows left out, with the reason

    def _pooled(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(w, name) for w in self.windows]) if self.windows else np.zeros(0)

    def pooled(self, part: str = "all") -> dict:
        """The pooled summary of ``part``: all, dense or moe forecasts."""
        moe = self._pooled("is_moe").astype(bool)
        mask = {"all": np.ones_like(moe), "dense": ~moe, "moe": moe}[part]
        return summary(self._pooled("residuals")[mask], self._pooled("covered")[mask])

    def as_dict(self) -> dict:
        windows = []
        for w in self.windows:
            covered = w.covered
            row = {"cutoff": w.cutoff, "end": w.end, "n_train": w.n_train, **summary(w.residuals, covered)}
            for part, mask in (("dense", ~w.is_moe), ("moe", w.is_moe)):
                row[part] = summary(w.residuals[mask], covered[mask])
            row["models"] = [{"name": n, "reported": float(r), "forecast": float(p), "low": float(lo),
                              "high": float(hi)} for n, r, p, lo, hi in zip(w.names, w.reported, w.predicted, w.low,
                                                                            w.high)]
            windows.append(row)
        return {"refit": self.refit, "level": self.level, "window_months": WINDOW_MONTHS, "windows": windows,
                "pooled": {part: self.pooled(part) for part in ("all", "dense", "moe")},
                "skipped": list(self.skipped)}


def forward_chaining(table: pd.DataFrame, *, coefficients: LawCoefficients = PAPER, refit: bool = True,
                     cutoffs=DEFAULT_CUTOFFS, window_months: int = WINDOW_MONTHS, level: float = 0.8,
                     **fit_kwargs) -> Forecast:
    """Forecast each window of ``table``'s complete rows (a validated zoo table with ``release``).

    ``refit``: fit the law on the models before each cut-off, from ``law_start`` of its form
    (``fit_kwargs["form"]``, default ``paper``) on those models alone, so no start or prior
    carries knowledge of later models; else keep ``coefficients`` and calibrate only the interval
    on those models' residuals.
    """
    if refit:
        fit_kwargs.setdefault("form", "paper")
    table = table[table["complete"]].reset_index(drop=True) if "complete" in table else table
    months = np.array([month_index(v, f"release of {n}") for v, n in zip(table["release"], table["name"])])
    inputs, mmlu = law_inputs(table), table["mmlu"].to_numpy(dtype=float)
    windows, skipped = [], []
    for cutoff in cutoffs:
        start = month_index(cutoff, "cutoff")
        train = months < start
        test = (months >= start) & (months < start + window_months)
        label = f"{cutoff} to {_month_text(start + window_months - 1)}"
        if not test.any() or train.sum() < MIN_TRAIN:
            skipped.append(f"{label}: {int(test.sum())} models to forecast, {int(train.sum())} before it "
                           f"(at least 1 and {MIN_TRAIN} needed)")
            continue
        past = inputs.subset(train)
        if refit:
            coef = fit_law(past, mmlu[train], start=coefficients, **fit_kwargs).coefficients
            past_residuals = leave_one_out(past, mmlu[train], start=coefficients, **fit_kwargs).residuals
        else:
            coef = coefficients
            past_residuals = mmlu[train] - predict_inputs(past, coef)
        interval = calibrate_interval(past_residuals, level)
        predicted = predict_inputs(inputs.subset(test), coef)
        low, high = interval_bounds(predicted, interval, coef.floor)
        windows.append(ForecastWindow(cutoff, _month_text(start + window_months - 1), int(train.sum()),
                                      tuple(table["name"][test]), mmlu[test], predicted, low, high,
                                      inputs.is_moe[test]))
    return Forecast(tuple(windows), refit, float(level), tuple(skipped))
