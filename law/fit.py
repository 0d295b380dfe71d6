"""Refit the law's coefficients on a model table, cross-validate, and calibrate intervals.

The functional form is fixed (law.performance); a fit frees a declared subset of the
coefficients (by default w1..w4 and b, plus w5 for the ``expansion`` MoE variant) and minimises
the squared error of the bounded prediction with ``scipy.optimize.least_squares``. Every number
a fit reports is measured on the table it was given: leave-one-out predictions refit the law
without the model they predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from perflaw.law.coefficients import (COEFFICIENT_NAMES, DEFAULT_MOE_VARIANT, LAW_FORMS, LOSSES, MOE_VARIANTS, PAPER,
                                      Interval, LawCoefficients)
from perflaw.law.errors import InputError
from perflaw.law.moe import law_size_b, moe_law_terms
from perflaw.law.performance import effective_tokens, log_discount
from perflaw.law.zoo import LawInputs

DEFAULT_FREE = ("w1", "w2", "w3", "w4", "b")


@dataclass(frozen=True)
class FitResult:
    """Outcome of one fit; non-convergence is recorded in ``success``/``message``, not raised."""

    coefficients: LawCoefficients
    free: tuple[str, ...]
    n: int
    predictions: np.ndarray  # in-sample, MMLU points
    residuals: np.ndarray  # reported − predicted, MMLU points
    success: bool
    message: str
    nfev: int

    @property
    def mae(self) -> float:
        return float(np.mean(np.abs(self.residuals)))

    @property
    def rmse(self) -> float:
        return float(np.sqrt(np.mean(self.residuals**2)))


@dataclass(frozen=True)
class CrossValidation:
    """Leave-one-out predictions: model i predicted by a fit on every other model."""

    predictions: np.ndarray
    residuals: np.ndarray  # reported − predicted
    is_moe: np.ndarray
    failures: int  # folds whose fit did not report convergence

    def mae(self, mask=None) -> float:
        r = self.residuals if mask is None else self.residuals[mask]
        return float(np.mean(np.abs(r))) if r.size else float("nan")

    def rmse(self, mask=None) -> float:
        r = self.residuals if mask is None else self.residuals[mask]
        return float(np.sqrt(np.mean(r**2))) if r.size else float("nan")

    @property
    def worst(self) -> float:
        return float(np.max(np.abs(self.residuals)))


def predict_inputs(inputs: LawInputs, coefficients: LawCoefficients = PAPER, gamma=1.0) -> np.ndarray:
    """Predicted MMLU (points) for every model of ``inputs``."""
    return moe_law_terms(inputs.layers, inputs.hidden, inputs.ffn, inputs.tokens_t, inputs.total_b,
                         inputs.active_b, gamma, coefficients).mmlu


def _resolve_free(variant: str, free) -> tuple[str, ...]:
    if variant not in MOE_VARIANTS:
        raise InputError("variant", f"must be one of {', '.join(MOE_VARIANTS)}", variant)
    if free is None:
        free = DEFAULT_FREE + (("w5",) if variant == "expansion" else ())
    free = tuple(free)
    if not free:
        raise InputError("free", "must name at least one coefficient", "")
    for name in free:
        if name not in COEFFICIENT_NAMES:
            raise InputError("free", f"must be among {', '.join(COEFFICIENT_NAMES)}", name)
    if "w5" in free and variant != "expansion":
        raise InputError("free", f"w5 is only used by the expansion MoE variant, not {variant}", "w5")
    if len(set(free)) != len(free):
        raise InputError("free", "must not repeat a name", ",".join(free))
    return tuple(n for n in COEFFICIENT_NAMES if n in free)


def law_start(form: str, inputs: LawInputs, mmlu, *, variant: str = DEFAULT_MOE_VARIANT, gamma=1.0) -> LawCoefficients:
    """Starting coefficients of a named form (``LAW_FORMS``) for a fit on these models.

    The bounded link starts from the paper's dense coefficients with w5 = 0 (perflaw's shipped w5
    was fitted on every MoE row of the zoo, so starting or anchoring there would let a forecast
    see later MoE models); the logistic link (coefficients in logits) from ordinary least squares
    of logit((MMLU − 25) / 75) on the law's log terms, which are linear in the coefficients once the
    discount u is fixed by the shapes, on these models only.
    """
    if form not in LAW_FORMS:
        raise InputError("form", f"must be one of {', '.join(LAW_FORMS)}", form)
    tokens, link = LAW_FORMS[form]
    start = PAPER.with_values(tokens=tokens, link=link, moe_variant=variant, w5=0.0)
    if link == "bounded":
        return start
    mmlu = np.asarray(mmlu, dtype=np.float64)
    size = law_size_b(inputs.total_b, inputs.active_b, variant)
    n, h, d = inputs.layers, inputs.hidden, inputs.ffn
    log_u = log_discount(n, h, d, gamma)
    columns = [log_u + np.log(n), log_u + np.log(h), log_u + np.log(d),
               log_u + np.log(effective_tokens(inputs.tokens_t, size, tokens)), np.ones_like(n)]
    if variant == "expansion":
        columns.append(np.log(inputs.total_b / inputs.active_b))
    share = np.clip((mmlu - PAPER.floor) / (100.0 - PAPER.floor), 0.02, 0.98)
    theta = np.linalg.lstsq(np.column_stack(columns), np.log(share / (1 - share)), rcond=None)[0]
    values = dict(zip(("w1", "w2", "w3", "w4", "b"), map(float, theta[:5])))
    if variant == "expansion":
        values["w5"] = float(theta[5])
    return start.with_values(**values)


def fit_law(inputs: LawInputs, mmlu, *, variant: str = DEFAULT_MOE_VARIANT, free=None, start: LawCoefficients = PAPER,
            loss: str = "linear", gamma=1.0, source: str = "", prior: float = 0.0, form: str | None = None) -> FitResult:
    """Fit the coefficients named in ``free`` to reported MMLU (points), the others held at ``start``.

    ``form`` (a name of ``LAW_FORMS``) replaces ``start`` by ``law_start`` of that form on these
    same models, so a forecast's fit never starts from knowledge of later models.

    ``prior`` (≥ 0) is a ridge towards ``start``: the loss adds prior · Σ ((θ − θ_start) / s)², with
    s = max(|θ_start|, 1) per coefficient, so one unit of relative departure costs as much as one
    squared MMLU point on one model. It keeps collinear terms (depth against width) from trading
    places unless the data insist. With a robust ``loss`` the penalty passes through the same loss
    (scipy applies it to every residual), so it is a ridge only for the linear loss.
    """
    mmlu = np.asarray(mmlu, dtype=np.float64)
    names = _resolve_free(variant, free)
    if loss not in LOSSES:
        raise InputError("loss", f"must be one of {', '.join(LOSSES)}", loss)
    if len(mmlu) != len(inputs):
        raise InputError("mmlu", f"must have one value per model ({len(inputs)})", len(mmlu))
    if len(mmlu) < len(names) + 1:
        raise InputError("fit table", f"needs more than {len(names)} complete rows to fit {len(names)} coefficients",
                         len(mmlu))
    if form is not None:
        start = law_start(form, inputs, mmlu, variant=variant, gamma=gamma)
    if not (isinstance(prior, (int, float)) and not isinstance(prior, bool) and np.isfinite(prior) and prior >= 0):
        raise InputError("prior", "must be a number >= 0", prior)
    base = start.with_values(moe_variant=variant, w5=start.w5 if variant == "expansion" else 0.0)
    anchor = np.array(base.vector(names))
    scale = np.maximum(np.abs(anchor), 1.0)
    weight = float(np.sqrt(prior))

    def model(theta) -> LawCoefficients:
        return base.with_values(**dict(zip(names, map(float, theta))))

    def residual(theta):
        r = predict_inputs(inputs, model(theta), gamma) - mmlu
        return np.concatenate([r, weight * (theta - anchor) / scale]) if weight else r

    result = least_squares(residual, np.array(base.vector(names)), loss=loss, x_scale="jac", method="trf")
    coef = model(result.x).with_values(source=source or f"fit on {len(mmlu)} models ({variant} MoE variant, {loss} loss"
                                                        + (f", prior {prior:g} towards the start" if prior else "") + ")")
    pred = predict_inputs(inputs, coef, gamma)
    return FitResult(coef, names, len(mmlu), pred, mmlu - pred, bool(result.success), str(result.message),
                     int(result.nfev))


def leave_one_out(inputs: LawInputs, mmlu, *, rows=None, **fit_kwargs) -> CrossValidation:
    """Leave-one-out cross-validation of ``fit_law`` (``rows``: only these folds; default all)."""
    mmlu = np.asarray(mmlu, dtype=np.float64)
    n = len(mmlu)
    folds = np.arange(n) if rows is None else np.flatnonzero(np.asarray(rows)) if np.asarray(rows).dtype == bool \
        else np.asarray(rows, dtype=int)
    preds = np.full(n, np.nan)
    failures = 0
    for i in folds:
        keep = np.ones(n, dtype=bool)
        keep[i] = False
        fit = fit_law(inputs.subset(keep), mmlu[keep], **fit_kwargs)
        failures += not fit.success
        preds[i] = predict_inputs(inputs.subset(np.array([i])), fit.coefficients, fit_kwargs.get("gamma", 1.0))[0]
    sel = np.zeros(n, dtype=bool)
    sel[folds] = True
    return CrossValidation(preds[sel], mmlu[sel] - preds[sel], inputs.is_moe[sel], failures)


BOOTSTRAP_RESAMPLES = 200


def bootstrap_spread(inputs: LawInputs, mmlu, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                     **fit_kwargs) -> dict:
    """How far each free coefficient moves when the models are resampled with replacement.

    Returns ``{name: {"std", "p10", "p90", "sign_flips"}}`` over ``resamples`` refits (seeded);
    ``sign_flips`` is the share of refits whose sign differs from the fit on all models.
    """
    mmlu = np.asarray(mmlu, dtype=np.float64)
    full = fit_law(inputs, mmlu, **fit_kwargs)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(0, len(mmlu), len(mmlu))
        fit = fit_law(inputs.subset(pick), mmlu[pick], **fit_kwargs)
        draws.append(fit.coefficients.vector(full.free))
    values = np.array(draws)
    out = {}
    for j, name in enumerate(full.free):
        v, at = values[:, j], getattr(full.coefficients, name)
        out[name] = {"std": float(v.std(ddof=1)), "p10": float(np.quantile(v, 0.1)),
                     "p90": float(np.quantile(v, 0.9)), "sign_flips": float(np.mean(np.sign(v) != np.sign(at)))}
    return out


def calibrate_interval(residuals, level: float = 0.8, method: str = "") -> Interval:
    """Empirical interval from out-of-sample residuals (reported − predicted).

    ``low``/``high`` are the (1−level)/2 and (1+level)/2 quantiles of the residuals, added to a
    point prediction. ``coverage`` is measured by jackknife: for each residual, the interval
    built from all the others, and whether it contains that residual.
    """
    r = np.asarray(residuals, dtype=np.float64)
    if not 0.0 < level < 1.0:
        raise InputError("level", "must be between 0 and 1 (exclusive)", level)
    if r.size < 3:
        raise InputError("interval", "needs at least 3 residuals", r.size)
    qs = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    low, high = np.quantile(r, qs)
    hits = 0
    for i in range(r.size):
        lo_i, hi_i = np.quantile(np.delete(r, i), qs)
        hits += lo_i <= r[i] <= hi_i
    return Interval(level=float(level), low=float(low), high=float(high), coverage=float(hits) / r.size, n=int(r.size),
                    method=method or "empirical quantiles of out-of-sample residuals")


def compare_moe_variants(inputs: LawInputs, mmlu, start: LawCoefficients = PAPER,
                         **fit_kwargs) -> dict[str, dict[str, float]]:
    """Leave-one-out error on the MoE rows of each MoE variant, two ways.

    ``anchored``: the dense coefficients stay at ``start`` (the paper's); only the variant's own
    parameter is fitted (w5 for ``expansion``, refit without the predicted model; the other
    variants have nothing to fit). ``refit``: every coefficient is refitted on all other rows.
    """
    mmlu = np.asarray(mmlu, dtype=np.float64)
    moe = inputs.is_moe
    out = {}
    for variant in MOE_VARIANTS:
        if variant == "expansion":
            anchored = leave_one_out(inputs, mmlu, rows=moe, variant=variant, free=("w5",), start=start,
                                     **fit_kwargs).residuals
        else:
            anchored = mmlu[moe] - predict_inputs(inputs.subset(moe), start.with_values(moe_variant=variant, w5=0.0),
                                                  fit_kwargs.get("gamma", 1.0))
        refit = leave_one_out(inputs, mmlu, rows=moe, variant=variant, start=start, **fit_kwargs)
        out[variant] = {
            "anchored_mae": float(np.mean(np.abs(anchored))),
            "anchored_rmse": float(np.sqrt(np.mean(anchored**2))),
            "refit_mae": refit.mae(),
            "refit_rmse": refit.rmse(),
            "n_moe": int(moe.sum()),
        }
    return out
