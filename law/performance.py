"""The dense Performance Law, vectorised over numpy arrays: MMLU from layers, widths and tokens.

    T' = min(T, S)                          (tokens in trillions, parameters in billions)
    u  = exp(-((10/d + 20/h) · γ · N)²)     (instability discount)
    y  = w1·ln(uN) + w2·ln(uh) + w3·ln(ud) + w4·ln(uT') + b  [+ w5·ln(expansion)] [+ w6·vintage]
    y < floor → floor;  y > cap → cap + 10·tanh(0.1·y − cap/10)

Source: Wu & Tang, "Performance Law of Large Language Models", arXiv 2408.09895, with the
coefficients and bounds of the first author's planning tool (law.coefficients.PAPER).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from perflaw.law.coefficients import EXPANSION_VARIANTS, PAPER, LawCoefficients


class LawTerms(NamedTuple):
    """Every intermediate of one law evaluation (arrays broadcast to a common shape)."""

    discount: np.ndarray | None  # u in (0, 1] (None when not asked for)
    effective_tokens_t: np.ndarray  # T' of the token term (the paper's: min(T, S)), trillions
    raw: np.ndarray  # y before the output link: MMLU points (bounded link) or logits (logistic)
    mmlu: np.ndarray  # bounded prediction, MMLU points


def law_terms(
    layers,
    hidden,
    ffn,
    tokens_t,
    params_b,
    gamma=1.0,
    coefficients: LawCoefficients = PAPER,
    expansion=1.0,
    vintage_years=0.0,
    *,
    with_discount: bool = True,
) -> LawTerms:
    """Evaluate the law with all its intermediates (``with_discount=False``: ``discount`` is None,
    for callers that need the prediction only; it is the one intermediate that costs an exp).

    ``layers`` N, ``hidden`` h and ``ffn`` d are counts, ``tokens_t`` the training tokens in
    trillions, ``params_b`` the parameter count S in billions used for the saturation clip,
    ``gamma`` ≥ 1 the precision loss of the training stack, ``expansion`` the MoE expansion
    factor total/activated parameters (1 for dense models; used only with a non-zero ``w5``),
    ``vintage_years`` how many years the data's vintage lies after the law's reference month
    (``LawCoefficients.vintage_years``; used only by a law with a vintage term).
    Inputs broadcast with numpy rules; scalars give 0-d arrays.
    """
    c = coefficients
    features, log_u, t_eff = _features(layers, hidden, ffn, tokens_t, params_b, gamma, c, expansion, vintage_years)
    raw = linear_predictor(features, c)
    # u is reported clamped to the smallest positive float: exp underflows for extreme depth, but
    # the prediction itself is computed in log space and is exact.
    discount = np.maximum(np.exp(log_u), np.finfo(np.float64).tiny) if with_discount else None
    return LawTerms(discount, t_eff, raw, link_mmlu(raw, c))


def linear_predictor(features: dict[str, np.ndarray], coefficients: LawCoefficients = PAPER) -> np.ndarray:
    """y = Σ coefficient · feature over ``law_features`` (the law before its output link)."""
    c, f = coefficients, features
    raw = c.w1 * f["w1"] + c.w2 * f["w2"] + c.w3 * f["w3"] + c.w4 * f["w4"] + c.b
    if "w5" in f and c.w5 != 0.0:
        raw = raw + c.w5 * f["w5"]
    if "w6" in f and c.w6 != 0.0:
        raw = raw + c.w6 * f["w6"]
    return raw


def law_features(layers, hidden, ffn, tokens_t, params_b, gamma=1.0, coefficients: LawCoefficients = PAPER,
                 expansion=1.0, vintage_years=0.0) -> dict[str, np.ndarray]:
    """The law's terms before their coefficients: y = Σ coefficient · feature, so each feature is
    ∂y/∂coefficient (``b``'s is 1). ``w5`` and ``w6`` appear only where the law uses them."""
    return _features(layers, hidden, ffn, tokens_t, params_b, gamma, coefficients, expansion, vintage_years)[0]


def _features(layers, hidden, ffn, tokens_t, params_b, gamma, c: LawCoefficients, expansion, vintage_years):
    n = np.asarray(layers, dtype=np.float64)
    h = np.asarray(hidden, dtype=np.float64)
    d = np.asarray(ffn, dtype=np.float64)
    t_eff = effective_tokens(tokens_t, params_b, c.tokens)
    log_u = log_discount(n, h, d, gamma)
    # ln(u·v) = ln(u) + ln(v): exact, and avoids ln(0) when u underflows for very deep models.
    features = {"w1": log_u + np.log(n), "w2": log_u + np.log(h), "w3": log_u + np.log(d),
                "w4": log_u + np.log(t_eff), "b": np.ones(())}
    if c.moe_variant in EXPANSION_VARIANTS:
        e = np.asarray(expansion, dtype=np.float64)
        if c.moe_variant == "capped":
            e = np.minimum(e, c.expansion_cap)
        features["w5"] = np.log(e)
    if c.has_vintage:
        features["w6"] = np.asarray(vintage_years, dtype=np.float64)
    return features, log_u, t_eff


def link_mmlu(raw, coefficients: LawCoefficients = PAPER) -> np.ndarray:
    """MMLU points from the linear predictor through the law's output link."""
    c = coefficients
    return bound_mmlu(raw, c.floor, c.cap) if c.link == "bounded" else logistic_mmlu(raw, c.floor)


def log_discount(layers, hidden, ffn, gamma=1.0) -> np.ndarray:
    """ln u = −((10/d + 20/h) · γ · N)², the log of the instability discount."""
    x = (10.0 / np.asarray(ffn, dtype=np.float64) + 20.0 / np.asarray(hidden, dtype=np.float64)) \
        * np.asarray(gamma, dtype=np.float64) * np.asarray(layers, dtype=np.float64)
    return -(x * x)


def effective_tokens(tokens_t, params_b, term: str = "clip") -> np.ndarray:
    """T' of the token term: ``clip`` min(T, S), ``none`` T, ``smooth`` T·S / √(T² + S²)."""
    t = np.asarray(tokens_t, dtype=np.float64)
    s = np.asarray(params_b, dtype=np.float64)
    if term == "clip":
        return np.minimum(t, s)
    if term == "none":
        return np.broadcast_to(t, np.broadcast(t, s).shape).copy()
    with np.errstate(invalid="ignore"):  # S = inf: T' = T
        return np.where(np.isinf(s), t, t * s / np.sqrt(t * t + s * s))


def logistic_mmlu(logit, floor: float = 25.0) -> np.ndarray:
    """The logistic link: floor + (100 − floor) · σ(logit), never reaching 100."""
    z = np.asarray(logit, dtype=np.float64)
    return np.minimum(floor + (100.0 - floor) / (1.0 + np.exp(-z)), np.nextafter(100.0, 0.0))


def bound_mmlu(raw, floor: float = 25.0, cap: float = 90.0) -> np.ndarray:
    """Apply the law's output bounds: chance-level floor and smooth tanh saturation above cap."""
    raw = np.asarray(raw, dtype=np.float64)
    out = np.maximum(raw, floor, out=np.empty_like(raw))
    high = raw > cap
    if np.any(high):  # tanh only where needed; the asymptote cap + 10 is never reached in float64
        out[high] = np.minimum(cap + 10.0 * np.tanh(0.1 * raw[high] - cap / 10.0), np.nextafter(cap + 10.0, -np.inf))
    return out


def predict_mmlu(layers, hidden, ffn, tokens_t, params_b, gamma=1.0,
                 coefficients: LawCoefficients = PAPER, expansion=1.0, vintage_years=0.0) -> np.ndarray:
    """Predicted 5-shot MMLU in percentage points (see ``law_terms`` for the arguments)."""
    return law_terms(layers, hidden, ffn, tokens_t, params_b, gamma, coefficients, expansion, vintage_years).mmlu


# The planning tool's fixed parameter rule (DESIGN.md section 1): 8 KV heads of size 128,
# untied 150,000-token vocabulary, SwiGLU FFN, norms ignored.
PLANNER_KV_HEADS = 8
PLANNER_HEAD_DIM = 128
PLANNER_VOCAB = 150_000


def planner_params_b(layers, hidden, ffn) -> np.ndarray:
    """Parameters in billions by the planning tool's rule: N·(2·h·128·8 + 2h² + 3hd) + 2·150000·h."""
    n = np.asarray(layers, dtype=np.float64)
    h = np.asarray(hidden, dtype=np.float64)
    d = np.asarray(ffn, dtype=np.float64)
    per_layer = 2.0 * h * PLANNER_HEAD_DIM * PLANNER_KV_HEADS + 2.0 * h * h + 3.0 * h * d
    return (n * per_layer + 2.0 * PLANNER_VOCAB * h) / 1e9
