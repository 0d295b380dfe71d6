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

from perflaw.law.coefficients import (COEFFICIENT_NAMES, DEFAULT_MOE_VARIANT, EXPANSION_VARIANTS, LAW_FORMS, LOSSES,
                                      MOE_VARIANTS, PAPER, Interval, LawCoefficients)
from perflaw.law.errors import InputError
from perflaw.law.performance import law_features, linear_predictor, link_mmlu
from perflaw.law.predict import law_args, predict_inputs
from perflaw.law.rules import month_text
from perflaw.law.uncertainty import link_slope
from perflaw.law.zoo import LawInputs

DEFAULT_FREE = ("w1", "w2", "w3", "w4", "b")
#: The coefficients the paper gives, which a prior keeps near its start; w5 and w6 are perflaw's own.
ANCHORED = DEFAULT_FREE


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
    covariance: np.ndarray  # of the free coefficients (Gauss-Newton at the fit, with the prior)
    scale: float  # residual standard deviation, MMLU points (n − free degrees of freedom)

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


def _resolve_free(variant: str, free, vintage: bool = False) -> tuple[str, ...]:
    if variant not in MOE_VARIANTS:
        raise InputError("variant", f"must be one of {', '.join(MOE_VARIANTS)}", variant)
    if free is None:
        free = DEFAULT_FREE + (("w5",) if variant in EXPANSION_VARIANTS else ()) + (("w6",) if vintage else ())
    free = tuple(free)
    if not free:
        raise InputError("free", "must name at least one coefficient", "")
    for name in free:
        if name not in COEFFICIENT_NAMES:
            raise InputError("free", f"must be among {', '.join(COEFFICIENT_NAMES)}", name)
    if "w5" in free and variant not in EXPANSION_VARIANTS:
        raise InputError("free", f"w5 is only used by the expansion and capped MoE variants, not {variant}", "w5")
    if "w6" in free and not vintage:
        raise InputError("free", "w6 is only used by a law with a data-vintage term (a +vintage form)", "w6")
    if len(set(free)) != len(free):
        raise InputError("free", "must not repeat a name", ",".join(free))
    return tuple(n for n in COEFFICIENT_NAMES if n in free)


def largest_expansion(inputs: LawInputs) -> float:
    """The largest total/activated ratio among these models (1 without MoE models)."""
    return float(np.max(inputs.total_b / inputs.active_b, initial=1.0))


def free_names(coefficients: LawCoefficients) -> tuple[str, ...]:
    """The coefficients a fit of this set's form and MoE variant frees by default."""
    return _resolve_free(coefficients.moe_variant, None, coefficients.has_vintage)


def law_start(form: str, inputs: LawInputs, mmlu, *, variant: str = DEFAULT_MOE_VARIANT, gamma=1.0) -> LawCoefficients:
    """Starting coefficients of a named form (``LAW_FORMS``) for a fit on these models.

    The bounded link starts from the paper's dense coefficients with w5 = w6 = 0 (perflaw's shipped
    w5 was fitted on every MoE row of the zoo, so starting or anchoring there would let a forecast
    see later MoE models); the logistic link (coefficients in logits) from ordinary least squares
    of logit((MMLU − 25) / 75) on the law's features, which are linear in the coefficients once the
    discount u is fixed by the shapes, on these models only. A ``+vintage`` form takes the newest
    release month of these models as its reference; the ``capped`` MoE variant caps the expansion
    at the largest of these models' expansions.
    """
    if form not in LAW_FORMS:
        raise InputError("form", f"must be one of {', '.join(LAW_FORMS)}", form)
    tokens, link, vintage = LAW_FORMS[form]
    if vintage and inputs.month is None:
        raise InputError("release", f"the {form} form needs every model's release month", "missing")
    reference = month_text(int(np.max(inputs.month))) if vintage else ""
    cap = largest_expansion(inputs) if variant == "capped" else 0.0
    start = PAPER.with_values(tokens=tokens, link=link, moe_variant=variant, w5=0.0, w6=0.0, vintage=reference,
                              expansion_cap=cap)
    if link == "bounded":
        return start
    mmlu = np.asarray(mmlu, dtype=np.float64)
    names = _resolve_free(variant, None, vintage)
    features = law_features(*law_args(inputs, start, gamma))
    columns = np.column_stack([np.broadcast_to(features[n], inputs.layers.shape) for n in names])
    share = np.clip((mmlu - PAPER.floor) / (100.0 - PAPER.floor), 0.02, 0.98)
    theta = np.linalg.lstsq(columns, np.log(share / (1 - share)), rcond=None)[0]
    return start.with_values(**dict(zip(names, map(float, theta))))


def coefficient_covariance(inputs: LawInputs, mmlu, coefficients: LawCoefficients, names, *, gamma=1.0,
                           penalty=None) -> tuple[np.ndarray, float]:
    """Covariance of the coefficients ``names`` at ``coefficients`` from these models, and the
    residual standard deviation it is scaled by (MMLU points).

    Gauss-Newton: s² · (JᵀJ + P)⁻¹, with J the prediction's derivative by each coefficient (the
    link's slope times the law's feature), s² the residuals' mean square over n − p degrees of
    freedom and P the prior's curvature (``penalty``: one number per coefficient, default none).
    A direction the models do not pin down (depth against width) gets a large variance, which is
    what widens intervals away from the data.
    """
    mmlu = np.asarray(mmlu, dtype=np.float64)
    features = law_features(*law_args(inputs, coefficients, gamma))
    raw = np.broadcast_to(linear_predictor(features, coefficients), inputs.layers.shape)
    slope = link_slope(raw, coefficients)
    jac = np.column_stack([slope * np.broadcast_to(features[n], slope.shape) for n in names])
    residuals = mmlu - link_mmlu(raw, coefficients)
    dof = max(len(mmlu) - len(names), 1)
    s2 = float(np.sum(residuals**2) / dof)
    curvature = jac.T @ jac + (np.diag(penalty) if penalty is not None else 0.0)
    return s2 * np.linalg.pinv(curvature, hermitian=True), float(np.sqrt(s2))


def fit_law(inputs: LawInputs, mmlu, *, variant: str = DEFAULT_MOE_VARIANT, free=None, start: LawCoefficients = PAPER,
            loss: str = "linear", gamma=1.0, source: str = "", prior: float = 0.0, form: str | None = None) -> FitResult:
    """Fit the coefficients named in ``free`` to reported MMLU (points), the others held at ``start``.

    ``form`` (a name of ``LAW_FORMS``) replaces ``start`` by ``law_start`` of that form on these
    same models, so a forecast's fit never starts from knowledge of later models.

    ``prior`` (≥ 0) is a ridge towards ``start`` on the paper's coefficients (w1..w4, b): the loss
    adds prior · Σ ((θ − θ_start) / s)², with s = max(|θ_start|, 1) per coefficient, so one unit of
    relative departure costs as much as one squared MMLU point on one model. It keeps collinear
    terms (depth against width) from trading places unless the data insist. perflaw's own terms
    (w5 for MoE, w6 for the data vintage) have no published value to stay near and are not held.
    With a robust ``loss`` the penalty passes through the same loss (scipy applies it to every
    residual), so it is a ridge only for the linear loss.
    """
    mmlu = np.asarray(mmlu, dtype=np.float64)
    if form is not None:
        start = law_start(form, inputs, mmlu, variant=variant, gamma=gamma)
    names = _resolve_free(variant, free, start.has_vintage)
    if loss not in LOSSES:
        raise InputError("loss", f"must be one of {', '.join(LOSSES)}", loss)
    if len(mmlu) != len(inputs):
        raise InputError("mmlu", f"must have one value per model ({len(inputs)})", len(mmlu))
    if len(mmlu) < len(names) + 1:
        raise InputError("fit table", f"needs more than {len(names)} complete rows to fit {len(names)} coefficients",
                         len(mmlu))
    if not (isinstance(prior, (int, float)) and not isinstance(prior, bool) and np.isfinite(prior) and prior >= 0):
        raise InputError("prior", "must be a number >= 0", prior)
    cap = start.expansion_cap if start.expansion_cap >= 1 else largest_expansion(inputs)
    base = start.with_values(moe_variant=variant, w5=start.w5 if variant in EXPANSION_VARIANTS else 0.0,
                             expansion_cap=cap if variant == "capped" else start.expansion_cap)
    anchor = np.array(base.vector(names))
    held = np.array([n in ANCHORED for n in names])
    scale = np.maximum(np.abs(anchor), 1.0)
    weight = float(np.sqrt(prior)) * held

    def model(theta) -> LawCoefficients:
        return base.with_values(**dict(zip(names, map(float, theta))))

    def residual(theta):
        r = predict_inputs(inputs, model(theta), gamma) - mmlu
        return np.concatenate([r, (weight * (theta - anchor) / scale)[held]]) if prior else r

    result = least_squares(residual, np.array(base.vector(names)), loss=loss, x_scale="jac", method="trf")
    coef = model(result.x).with_values(source=source or f"fit on {len(mmlu)} models ({variant} MoE variant, {loss} loss"
                                                        + (f", prior {prior:g} towards the start" if prior else "") + ")")
    pred = predict_inputs(inputs, coef, gamma)
    covariance, sd = coefficient_covariance(inputs, mmlu, coef, names, gamma=gamma, penalty=(weight / scale) ** 2)
    return FitResult(coef, names, len(mmlu), pred, mmlu - pred, bool(result.success), str(result.message),
                     int(result.nfev), covariance, sd)


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


def jackknife_quantiles(z, level: float) -> tuple[float, np.ndarray, np.ndarray, float]:
    """The smallest central quantile range q (a multiple of 0.005 from level on, at most 0.99) whose jackknife
    coverage of ``z`` reaches ``level``: each value is checked against the range of all the others.

    Returns q, each value's own jackknife bounds (low, high) and the coverage they give.
    """
    z = np.asarray(z, dtype=np.float64)
    others = np.array([np.delete(z, i) for i in range(z.size)])
    # q runs over multiples of 0.005 from level up, the same steps for every level, so a higher
    # level never gets a narrower interval.
    step = int(np.ceil(level * 200 - 1e-9))
    while True:
        q = min(step / 200, 0.99)
        low, high = np.quantile(others, [(1.0 - q) / 2.0, (1.0 + q) / 2.0], axis=1)
        coverage = float(np.mean((z >= low) & (z <= high)))
        if coverage >= level or q >= 0.99:
            return q, low, high, coverage
        step += 1


def calibrate_interval(residuals, level: float = 0.8, method: str = "", tau=None, *, scale: float = 1.0,
                       names: tuple[str, ...] = (), covariance=()) -> Interval:
    """Empirical interval from out-of-sample residuals (reported − predicted): ``calibrated_bounds``'
    interval, without each residual's own jackknife bounds."""
    return calibrated_bounds(residuals, level, method, tau, scale=scale, names=names, covariance=covariance)[0]


def calibrated_bounds(residuals, level: float = 0.8, method: str = "", tau=None, *, scale: float = 1.0,
                      names: tuple[str, ...] = (), covariance=()) -> tuple[Interval, np.ndarray, np.ndarray]:
    """Empirical interval from out-of-sample residuals (reported − predicted), and each residual's
    jackknife bounds (the interval's multipliers built from all the other residuals).

    With ``tau`` (each residual's τ = √(scale² + sd²) at its own point, law.uncertainty) the
    residuals are studentised first, so ``low``/``high`` multiply τ; without it they are offsets in
    points. They are the quantiles of the (studentised) residuals at (1 − q)/2 and (1 + q)/2,
    with q the smallest multiple of 0.005 from level on for which the jackknife coverage reaches
    ``level``: each residual is checked against the interval built from all the others, and
    ``coverage`` is the share inside. ``scale``, ``names`` and ``covariance`` are stored with the
    interval, for the points it will be used at.
    """
    r = np.asarray(residuals, dtype=np.float64)
    if not 0.0 < level < 1.0:
        raise InputError("level", "must be between 0 and 1 (exclusive)", level)
    if r.size < 3:
        raise InputError("interval", "needs at least 3 residuals", r.size)
    z = r if tau is None else r / np.asarray(tau, dtype=np.float64)
    q, low_each, high_each, coverage = jackknife_quantiles(z, level)
    low, high = np.quantile(z, [(1.0 - q) / 2.0, (1.0 + q) / 2.0])
    interval = Interval(level=float(level), low=float(low), high=float(high), coverage=float(coverage), n=int(r.size),
                        method=method or "empirical quantiles of out-of-sample residuals", scale=float(scale),
                        names=tuple(names),
                        covariance=tuple(map(tuple, np.asarray(covariance, dtype=float).tolist())))
    return interval, low_each, high_each


def compare_moe_variants(inputs: LawInputs, mmlu, start: LawCoefficients = PAPER,
                         **fit_kwargs) -> dict[str, dict[str, float]]:
    """Leave-one-out error on the MoE rows of each MoE variant, two ways.

    ``anchored``: the dense coefficients stay at ``start`` (the paper's); only the variant's own
    parameter is fitted (w5 for ``expansion``, refit without the predicted model; the other
    variants have nothing to fit). ``refit``: every coefficient is refitted on all other rows.
    """
    mmlu = np.asarray(mmlu, dtype=np.float64)
    moe = inputs.is_moe
    start = start.with_values(moe_variant="expansion", expansion_cap=0.0)  # each fold caps at its own models
    out = {}
    for variant in MOE_VARIANTS:
        if variant in EXPANSION_VARIANTS:
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
