"""How uncertain one prediction is: the coefficients' spread at that point, and the interval it gives.

A fitted law knows its coefficients only as well as its models pin them down. With their
covariance Σ (law.fit.coefficient_covariance), a prediction whose law features are f has a
linear predictor with variance fᵀΣf; through the output link that is ``sd`` MMLU points. The
interval around the point prediction is low · τ to high · τ with τ = √(scale² + sd²): near the
models the law was fitted on it is the law's usual scatter, and it widens as a plan leaves them
(a depth-to-width ratio, size or token count the models never had).
"""

from __future__ import annotations

import numpy as np

from perflaw.law.coefficients import Interval, LawCoefficients
from perflaw.law.performance import law_features, linear_predictor, link_mmlu


def link_slope(raw, coefficients: LawCoefficients) -> np.ndarray:
    """d MMLU / d y of the output link at the linear predictor ``raw``."""
    c = coefficients
    y = np.asarray(raw, dtype=np.float64)
    if c.link == "logistic":
        p = 1.0 / (1.0 + np.exp(-y))
        return (100.0 - c.floor) * p * (1.0 - p)
    tanh_slope = 1.0 - np.tanh(0.1 * y - c.cap / 10.0) ** 2
    return np.where(y < c.floor, 0.0, np.where(y > c.cap, tanh_slope, 1.0))


def prediction_sd(interval: Interval, law_args: tuple) -> np.ndarray:
    """Standard deviation (MMLU points) of predictions from the coefficients' covariance.

    ``law_args`` are ``law_terms``' arguments (law.moe.moe_law_args builds them for MoE models).
    The spread of the linear predictor is carried through the link as the half-difference of the
    predictions one standard deviation either side, so a point at the chance floor or in the
    saturation still widens when its coefficients are uncertain. Zero without a covariance.
    """
    if not interval.covariance:
        return np.zeros(())
    coefficients = law_args[6]
    features = law_features(*law_args)
    raw = np.broadcast_to(linear_predictor(features, coefficients), np.broadcast_shapes(*(
        np.shape(v) for v in features.values())))
    names = [n for n in interval.names if n in features]
    index = [interval.names.index(n) for n in names]
    cov = np.asarray(interval.covariance)[np.ix_(index, index)]
    columns = [np.broadcast_to(features[n], raw.shape) for n in names]
    var = np.zeros(raw.shape)
    for i, fi in enumerate(columns):
        for j, fj in enumerate(columns):
            if cov[i, j] != 0.0:
                var = var + cov[i, j] * fi * fj
    sd_y = np.sqrt(np.maximum(var, 0.0))
    return 0.5 * (link_mmlu(raw + sd_y, coefficients) - link_mmlu(raw - sd_y, coefficients))


def interval_bounds(mmlu, interval: Interval, floor: float = 25.0, sd=0.0):
    """The interval around point predictions (a number or an array) whose coefficient spread is
    ``sd`` points, kept within [floor, 100] and containing the point; floats for a number."""
    tau = np.sqrt(interval.scale**2 + np.asarray(sd, dtype=np.float64) ** 2)
    low = np.minimum(np.clip(mmlu + interval.low * tau, floor, 100.0), mmlu)
    high = np.maximum(np.clip(mmlu + interval.high * tau, floor, 100.0), mmlu)
    if np.ndim(mmlu) == 0 and np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def interval_summary(interval: Interval) -> dict:
    """The interval's calibration for JSON: multipliers of τ (offsets in points when it does not widen)."""
    return {"level": interval.level, "coverage": interval.coverage, "n": interval.n, "scale": interval.scale,
            "multipliers": [interval.low, interval.high], "widens": bool(interval.covariance),
            "method": interval.method}


def interval_sentence(interval: Interval) -> str:
    """One sentence saying how the interval is built and how well it covered."""
    iv = interval
    if not iv.covariance:
        return (f"{iv.level:.0%} interval of {iv.scale * iv.low:+.1f} / {iv.scale * iv.high:+.1f} MMLU points around "
                f"each prediction, measured coverage {iv.coverage:.0%} on {iv.n} models")
    return (f"{iv.level:.0%} interval from {iv.low:+.2f}·τ to {iv.high:+.2f}·τ around each prediction, "
            f"τ = √({iv.scale:.1f}² + sd²), where sd is the spread the law's coefficient uncertainty gives that "
            f"plan, so it widens away from the models the law was fitted on (near them about "
            f"{iv.scale * iv.low:+.1f} / {iv.scale * iv.high:+.1f} points); it covered {iv.coverage:.0%} of {iv.n} "
            f"forecasts of newer models")
