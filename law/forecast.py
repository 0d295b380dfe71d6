"""Forecast validation: fit on the models released before a cut-off, predict the ones released after it.

perflaw's users plan runs that have not happened yet, so the error that matters is the error on
models newer than every model a law was fitted on. Forward chaining measures it: for each cut-off
month, the law is fitted on the models released before it (or, for a fixed coefficient set, only
its interval is calibrated there) and predicts the models released in the following window. The
forecasts of all windows pooled are the headline error.

Each forecast also gets its spread: the window's law has a coefficient covariance from its own
past (law.fit.coefficient_covariance), so a forecast far from that past has a large sd. How
much of the forecast error that spread explains is measured on the forecasts themselves
(``spread_model``: τ² = σ0² + (k·sd)²). The forecast residuals divided by their τ, pooled over the
windows, calibrate the interval a law states (``Forecast.interval``), and each forecast is checked
against the interval calibrated on all the other forecasts (jackknife), which is the coverage
reported.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from perflaw.law.coefficients import PAPER, PAPER_PUBLISHED, Interval, LawCoefficients, shares_paper_coefficients
from perflaw.law.errors import InputError
from perflaw.law.fit import calibrated_bounds, coefficient_covariance, fit_law, free_names, law_args, predict_inputs
from perflaw.law.uncertainty import prediction_sd
from perflaw.law.rules import month_index, month_text
from perflaw.law.zoo import law_inputs, release_months

#: First months of the forecast windows (each six months long): 28 + 34 + 25 + 21 + 3 forecasts on the shipped zoo.
DEFAULT_CUTOFFS = ("2023-07", "2024-01", "2024-07", "2025-01", "2025-07")
WINDOW_MONTHS = 6
MIN_TRAIN = 12  # models a window's fit needs before its cut-off


@dataclass(frozen=True)
class ForecastWindow:
    """The models released in one window, forecast by a law that saw only the models before it."""

    cutoff: str  # first month forecast, YYYY-MM
    end: str  # last month forecast, inclusive
    n_train: int
    names: tuple[str, ...]
    reported: np.ndarray  # MMLU points
    predicted: np.ndarray
    low: np.ndarray  # the interval of each forecast (calibrated on every other forecast)
    high: np.ndarray
    is_moe: np.ndarray
    sd: np.ndarray  # each forecast's spread from its window's coefficient covariance, MMLU points
    tau: np.ndarray  # √(σ0² + (k·sd)²) of each forecast, MMLU points
    floor: float = 25.0  # the window's law's chance floor (an interval never goes below it)
    law: str = ""  # the form and prior that forecast this window (a selection may mix them)
    months: np.ndarray | None = None  # release month of each model (law.rules.month_index)

    @property
    def residuals(self) -> np.ndarray:
        """Reported − forecast: positive when the law under-predicts."""
        return self.reported - self.predicted

    def subset(self, mask) -> "ForecastWindow":
        """The window's forecasts where ``mask`` holds."""
        m = np.asarray(mask, dtype=bool)
        arrays = {k: getattr(self, k)[m] for k in ("reported", "predicted", "low", "high", "is_moe", "sd", "tau")}
        return replace(self, names=tuple(n for n, keep in zip(self.names, m) if keep),
                       months=None if self.months is None else self.months[m], **arrays)

    def released_after(self, month: str | None) -> "ForecastWindow":
        """The window's forecasts of models released after ``month`` (YYYY-MM; None: all)."""
        return self if month is None else self.subset(self.months > month_index(month))

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
    interval: Interval | None  # multipliers of τ calibrated on every forecast; None with fewer than 3
    spread: tuple[float, float]  # σ0 and k of τ² = σ0² + (k·sd)² (spread_model)

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
            row = {"cutoff": w.cutoff, "end": w.end, "n_train": w.n_train, "law": w.law,
                   **summary(w.residuals, covered)}
            for part, mask in (("dense", ~w.is_moe), ("moe", w.is_moe)):
                row[part] = summary(w.residuals[mask], covered[mask])
            row["models"] = [{"name": n, "reported": float(r), "forecast": float(p), "low": float(lo),
                              "high": float(hi), "sd": float(sd), "tau": float(t)}
                             for n, r, p, lo, hi, sd, t in zip(w.names, w.reported, w.predicted, w.low, w.high, w.sd,
                                                               w.tau)]
            windows.append(row)
        return {"refit": self.refit, "level": self.level, "window_months": WINDOW_MONTHS, "windows": windows,
                "pooled": {part: self.pooled(part) for part in ("all", "dense", "moe")},
                "skipped": list(self.skipped),
                "interval": None if self.interval is None else {
                    "low": self.interval.low, "high": self.interval.high, "coverage": self.interval.coverage,
                    "n": self.interval.n, "sigma0": self.spread[0], "k": self.spread[1]}}


def fixed_cutoffs(coefficients: LawCoefficients) -> tuple[str, ...]:
    """Cut-offs for forecasts by fixed coefficients: for the paper's, windows of models released after
    their publication only (older models may have been in their fit); else ``DEFAULT_CUTOFFS``."""
    if not shares_paper_coefficients(coefficients):
        return DEFAULT_CUTOFFS
    first = month_index(PAPER_PUBLISHED) + 1
    return tuple(month_text(first + WINDOW_MONTHS * i) for i in range(4))


def forecast_summary(forecast: Forecast, method: str) -> dict:
    """The pooled forecast error a law file or report states: n, MAE, bias, RMSE, coverage (all,
    dense, MoE), the release months of the first and last model forecast, and ``method``, how the
    forecasts were made."""
    months = [w.months for w in forecast.windows if w.months is not None and w.months.size]
    months = np.concatenate(months) if months else np.zeros(0, dtype=int)
    out = {**forecast.pooled("all"), "mae_dense": forecast.pooled("dense")["mae"],
           "mae_moe": forecast.pooled("moe")["mae"],
           "first_month": month_text(int(months.min())) if months.size else None,
           "last_month": month_text(int(months.max())) if months.size else None, "method": method}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}  # fit noise stays out of files


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
    inputs, mmlu = law_inputs(table), table["mmlu"].to_numpy(dtype=float)
    months = inputs.month if inputs.month is not None else release_months(table)  # the latter names a bad row
    windows, skipped = [], []
    for cutoff in cutoffs:
        start = month_index(cutoff, "cutoff")
        train = months < start
        test = (months >= start) & (months < start + window_months)
        label = f"{cutoff} to {month_text(start + window_months - 1)}"
        if not test.any() or train.sum() < MIN_TRAIN:
            skipped.append(f"{label}: {int(test.sum())} models to forecast, {int(train.sum())} before it "
                           f"(at least 1 and {MIN_TRAIN} needed)")
            continue
        past, future = inputs.subset(train), inputs.subset(test)
        if refit:
            fit = fit_law(past, mmlu[train], start=coefficients, **fit_kwargs)
            coef, names, cov = fit.coefficients, fit.free, fit.covariance
        else:
            coef, names = coefficients, free_names(coefficients)
            cov = coefficient_covariance(past, mmlu[train], coef, names)[0]
        spread = Interval(level, 0.0, 0.0, 0.0, 0, "", names=names, covariance=cov)
        sd = np.broadcast_to(prediction_sd(spread, law_args(future, coef)), future.layers.shape)
        predicted = predict_inputs(future, coef)
        nan = np.full(predicted.shape, np.nan)
        windows.append(ForecastWindow(cutoff, month_text(start + window_months - 1), int(train.sum()),
                                      tuple(table["name"][test]), mmlu[test], predicted, nan, nan,
                                      inputs.is_moe[test], sd, nan, coef.floor, label_of(fit_kwargs, refit),
                                      months[test]))
    return calibrate(windows, refit, level, skipped)


def label_of(fit_kwargs: dict, refit: bool) -> str:
    """How a window's law was made, e.g. ``paper+vintage, prior 1000`` or ``fixed``."""
    if not refit:
        return "fixed"
    prior = fit_kwargs.get("prior", 0.0)
    return fit_kwargs.get("form", "paper") + (f", prior {prior:g}" if prior else "")


def calibrate(windows, refit: bool, level: float = 0.8, skipped=()) -> Forecast:
    """Intervals for forecast windows: the spread model and the jackknife-calibrated multipliers of
    τ, measured on all the windows' forecasts pooled (each window's ``low``, ``high`` and ``tau``
    are replaced)."""
    windows = tuple(windows)
    if not windows:
        return Forecast((), refit, float(level), tuple(skipped), None, (float("nan"), float("nan")))
    residuals = np.concatenate([w.residuals for w in windows])
    sds = np.concatenate([w.sd for w in windows])
    sigma0, k = spread_model(residuals, sds)
    taus = np.sqrt(sigma0**2 + (k * sds) ** 2)
    if residuals.size >= 3:
        interval, z_low, z_high = calibrated_bounds(residuals, level, "forecast residuals over their spread, pooled "
                                                    "over the windows", tau=taus, scale=sigma0)
    else:
        interval, z_low, z_high = None, np.full(residuals.size, -np.inf), np.full(residuals.size, np.inf)
    out, at = [], 0
    for w in windows:
        at_w = slice(at, at + w.predicted.size)
        at += w.predicted.size
        tau, p = taus[at_w], w.predicted
        low = np.minimum(np.clip(p + z_low[at_w] * tau, w.floor, 100.0), p)
        high = np.maximum(np.clip(p + z_high[at_w] * tau, w.floor, 100.0), p)
        out.append(replace(w, low=low, high=high, tau=tau))
    return Forecast(tuple(out), refit, float(level), tuple(skipped), interval, (sigma0, k))


def spread_model(residuals, sd) -> tuple[float, float]:
    """How forecast errors grow with the coefficient spread: σ0 and k ≥ 1 of τ² = σ0² + (k·sd)².

    Maximum likelihood of the residuals (centred on their median) as normal with standard
    deviation τ, over a grid (σ0 from 0.25 to 30 points, k from 1 to 30): k = 1 is the spread
    the fits' covariance predicts, k > 1 says that forecasts far from their past miss by more
    than that. Exact forecasts (a planted law) give the grid's smallest σ0.
    """
    r = np.asarray(residuals, dtype=np.float64)
    r = r - np.median(r)
    sd = np.asarray(sd, dtype=np.float64)
    sigma0 = np.geomspace(0.25, 30.0, 120)[:, None, None]
    k = np.geomspace(1.0, 30.0, 90)[None, :, None]
    var = sigma0**2 + (k * sd[None, None, :]) ** 2
    nll = np.sum(0.5 * np.log(var) + 0.5 * r**2 / var, axis=2)
    i, j = np.unravel_index(np.argmin(nll), nll.shape)
    return float(sigma0[i, 0, 0]), float(k[0, j, 0])


def stated_interval(forecast: Forecast, names, covariance, method: str) -> Interval:
    """The interval a law states at any point: the forecasts' calibrated multipliers and σ0, and the
    covariance of the law's own coefficients (``names``), inflated by k² where forecasts showed the
    spread explains more of the error (``spread_model``)."""
    iv, (sigma0, k) = forecast.interval, forecast.spread
    if iv is None:
        raise InputError("forecast", "needs at least 3 forecasts to calibrate an interval", forecast.pooled()["n"])
    return Interval(level=iv.level, low=iv.low, high=iv.high, coverage=iv.coverage, n=iv.n, method=method,
                    scale=sigma0, names=tuple(names), covariance=k * k * np.asarray(covariance, dtype=float))
