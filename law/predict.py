"""Predict MMLU: one architecture with every intermediate, its interval and parameter counts, or a model table."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from perflaw.law.architecture import Architecture, ParamBreakdown
from perflaw.law.coefficients import PAPER, Interval, LawCoefficients
from perflaw.law.errors import InputError
from perflaw.law.rules import PARAMS_B, TOKENS_T, Range, month_index  # noqa: F401 (PARAMS_B, TOKENS_T: re-exported)
from perflaw.law.moe import law_size_b, moe_law_args
from perflaw.law.repetition import repeated_tokens
from perflaw.law.performance import law_terms
from perflaw.law.uncertainty import interval_bounds, prediction_sd  # noqa: F401 (interval_bounds: re-exported)

if TYPE_CHECKING:
    from perflaw.law.zoo import LawInputs

DEFAULT_LEVEL = 0.8
GAMMA = Range(1.0, 100.0)  # precision loss of the training stack; 1 is none


@dataclass(frozen=True)
class PredictionInterval:
    """Bounds around one prediction, MMLU points: ``low, high = plan.interval`` works."""

    low: float
    high: float
    level: float  # nominal coverage, e.g. 0.8

    def __iter__(self):
        return iter((self.low, self.high))


@dataclass(frozen=True)
class Prediction:
    """A point prediction (MMLU points) with its interval and the law's intermediates."""

    mmlu: float
    interval: PredictionInterval
    calibration: Interval  # the offsets the interval was built from, and their measured coverage
    discount: float  # u in (0, 1]
    tokens_t: float  # training tokens, trillions
    effective_tokens_t: float  # T' = min(T, S), trillions
    law_params_b: float  # S entering the saturation clip, billions
    params_b: float  # total parameters, billions
    active_params_b: float  # activated parameters, billions
    law_ffn: int  # d entering the law (MoE: activated width)
    gamma: float
    breakdown: ParamBreakdown
    coefficients: LawCoefficients
    sd: float = 0.0  # the prediction's spread from the coefficients' uncertainty, MMLU points
    data_vintage: str | None = None  # the month whose data quality the law assumed (None: no vintage term)
    unique_tokens_t: float | None = None  # unique tokens the run repeats, trillions (None: none repeated)
    repeated_tokens_t: float = 0.0  # what the run's tokens are worth with repetition (= tokens_t without), trillions


def check_tokens_t(tokens_t: float, name: str = "tokens_t") -> float:
    if not isinstance(tokens_t, (int, float)) or isinstance(tokens_t, bool) or not math.isfinite(tokens_t):
        raise InputError(name, "must be a finite number", tokens_t)
    if tokens_t not in TOKENS_T:
        raise InputError(name, "must be between 1M and 10,000T tokens (in trillions: 15 means 15T)", f"{tokens_t:g}T")
    return float(tokens_t)


def check_gamma(gamma: float, name: str = "gamma") -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not math.isfinite(gamma):
        raise InputError(name, "must be a finite number", gamma)
    if gamma not in GAMMA:
        raise InputError(name, f"must be between {GAMMA.low:g} (no precision loss) and {GAMMA.high:g}", gamma)
    return float(gamma)


def interval_for(coefficients: LawCoefficients, level: float = DEFAULT_LEVEL) -> Interval:
    """The coefficients' own interval if they carry one (a fitted file), else one calibrated on
    the shipped zoo for these coefficients (no refit): the covariance of the coefficients on the
    zoo's models gives each prediction its spread, and forward-chaining forecasts of the zoo's
    newer models from its older ones calibrate the multipliers of that spread (law.forecast)."""
    if coefficients.interval is not None:
        return coefficients.interval
    from perflaw.law import shipped
    return shipped.interval(coefficients, level) or _zoo_interval(coefficients, level)


def expected_error(coefficients: LawCoefficients, level: float = DEFAULT_LEVEL) -> dict:
    """The error to expect on models newer than the law's data (law.forecast.forecast_summary): the
    one a fitted file states; for the paper's coefficients, their forecasts of the zoo's models
    released after their publication; for any other set, its form refit before each cut-off (the
    set itself was likely fitted on the zoo, so scoring it there would be in-sample)."""
    if coefficients.forecast is not None:
        return coefficients.forecast
    from perflaw.law import shipped
    from perflaw.law.coefficients import shares_paper_coefficients
    if shares_paper_coefficients(coefficients):
        return shipped.forecast(coefficients, level) or _paper_forecast(coefficients, level)
    return _form_forecast(coefficients.form, coefficients.moe_variant, level)


@lru_cache(maxsize=16)
def _paper_forecast(coefficients: LawCoefficients, level: float) -> dict:
    from perflaw.law.forecast import forecast_summary
    forecast = _zoo_forecast(coefficients, level)[0]
    return forecast_summary(forecast, "the paper's coefficients as given, published before every one of these "
                                      "models (perflaw's MoE term w5 and its cap were fitted on every MoE row, so "
                                      "the MoE forecasts are partly in-sample)")


@lru_cache(maxsize=16)
def _form_forecast(form: str, variant: str, level: float) -> dict:
    from perflaw.law.forecast import forecast_summary, forward_chaining
    from perflaw.law.zoo import load_zoo
    f = forward_chaining(load_zoo(), form=form, variant=variant, level=level)
    return forecast_summary(f, f"the {form} form refit before each cut-off on the older models only")


@lru_cache(maxsize=16)
def _zoo_forecast(coefficients: LawCoefficients, level: float):
    """Forecasts of the shipped zoo by fixed coefficients, with the table and the first window."""
    from perflaw.law.forecast import fixed_cutoffs, forward_chaining
    from perflaw.law.zoo import load_zoo
    table = load_zoo()
    table = table[table["complete"]].reset_index(drop=True)
    cutoffs = fixed_cutoffs(coefficients)
    forecast = forward_chaining(table, coefficients=coefficients, refit=False, level=level, cutoffs=cutoffs)
    return forecast, table, cutoffs, cutoffs[0]


@lru_cache(maxsize=16)
def _zoo_interval(coefficients: LawCoefficients, level: float) -> Interval:
    # scipy and pandas: only when calibrating
    from perflaw.law.fit import coefficient_covariance, free_names
    from perflaw.law.forecast import stated_interval
    from perflaw.law.zoo import law_inputs
    forecast, table, cutoffs, first = _zoo_forecast(coefficients, level)
    names = free_names(coefficients)
    covariance = coefficient_covariance(law_inputs(table), table["mmlu"].to_numpy(dtype=float), coefficients, names)[0]
    return stated_interval(forecast, names, covariance,
                           f"these coefficients (not refit): spread from their covariance on the {len(table)} "
                           f"complete zoo models, calibrated on {forecast.pooled()['n']} forecasts of models released "
                           f"from {first} on, from older ones")


def predict_architecture(arch: Architecture, tokens_t: float, *, coefficients: LawCoefficients = PAPER,
                         gamma: float = 1.0, params_b: float | None = None,
                         active_params_b: float | None = None, data_vintage: str | None = None,
                         unique_tokens_t: float | None = None) -> Prediction:
    """Predict ``arch`` trained on ``tokens_t`` trillion tokens.

    ``params_b`` / ``active_params_b`` override the counts computed from the architecture (for
    example a published total); for a dense model the activated count follows the total.
    ``data_vintage`` (YYYY-MM) is the month whose data quality the run's data matches; a law with
    a vintage term defaults to its reference month, a law without one ignores it.
    ``unique_tokens_t``: the unique tokens the run has (trillions); training beyond them repeats
    data, which the law counts at its worth (law.repetition). None: every token is new.
    """
    tokens_t = check_tokens_t(tokens_t)
    unique = np.inf if unique_tokens_t is None else check_tokens_t(unique_tokens_t, "unique_tokens_t")
    law_tokens = float(repeated_tokens(tokens_t, unique))
    gamma = check_gamma(gamma)
    breakdown = arch.params()
    total = breakdown.total / 1e9 if params_b is None else _check_b("params_b", params_b)
    if active_params_b is not None:
        if not arch.is_moe:
            raise InputError("active_params_b", "only applies to a MoE model (set `experts`)", f"{active_params_b:g}B")
        active = _check_b("active_params_b", active_params_b)
    else:
        active = total if not arch.is_moe else (breakdown.active / 1e9 if params_b is None
                                                else total * breakdown.active / breakdown.total)
    if active > total:
        raise InputError("active_params_b", f"must not exceed the total ({total:g}B)", f"{active:g}B")
    years = coefficients.vintage_years(data_vintage)
    args = moe_law_args(arch.layers, arch.hidden, arch.active_ffn, law_tokens, total, active, gamma, coefficients,
                        years)
    terms = law_terms(*args)
    iv = interval_for(coefficients)
    mmlu = float(terms.mmlu)
    if not math.isfinite(mmlu):
        raise InputError("law coefficients", "must give a finite prediction", coefficients.source or "unnamed set")
    sd = float(prediction_sd(iv, args))
    low, high = interval_bounds(mmlu, iv, coefficients.floor, sd)
    return Prediction(
        mmlu=mmlu, interval=PredictionInterval(low, high, iv.level), calibration=iv,
        discount=float(terms.discount), tokens_t=tokens_t, effective_tokens_t=float(terms.effective_tokens_t),
        law_params_b=float(law_size_b(total, active, coefficients.moe_variant)), params_b=total,
        active_params_b=active, law_ffn=arch.active_ffn, gamma=gamma, breakdown=breakdown,
        coefficients=coefficients, sd=sd,
        data_vintage=coefficients.used_vintage(data_vintage),
        unique_tokens_t=unique_tokens_t and float(unique_tokens_t), repeated_tokens_t=law_tokens,
    )


def _check_b(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(name, "must be a finite number", value)
    if value not in PARAMS_B:
        raise InputError(name, "must be between 1M and 100,000B parameters", f"{value:g}B")
    return float(value)


def predict_inputs(inputs: LawInputs, coefficients: LawCoefficients = PAPER, gamma=1.0) -> np.ndarray:
    """Predicted MMLU (points) for every model of ``inputs``."""
    return law_terms(*law_args(inputs, coefficients, gamma)).mmlu


def law_args(inputs: LawInputs, coefficients: LawCoefficients, gamma=1.0) -> tuple:
    """``law_terms``' arguments for every model of ``inputs`` under ``coefficients``."""
    return moe_law_args(inputs.layers, inputs.hidden, inputs.ffn, inputs.law_tokens_t, inputs.total_b, inputs.active_b,
                        gamma, coefficients, vintage_of(inputs, coefficients))


def vintage_of(inputs: LawInputs, coefficients: LawCoefficients):
    """Each model's data vintage for the law: years its release lies after the law's reference month."""
    if not coefficients.has_vintage:
        return 0.0
    if inputs.month is None:
        raise InputError("release", "a law with a data-vintage term needs every model's release month", "missing")
    return (inputs.month - month_index(coefficients.vintage)) / 12.0
