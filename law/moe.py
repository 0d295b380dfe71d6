"""Our MoE extension of the law (not the paper's): which parameter count a MoE model enters with.

The dense law takes layers N, widths h and d, tokens T and a size S for the saturation clip
T' = min(T, S). For a MoE model, d is the activated FFN width ((top-k + shared) × expert
size) and S depends on the variant:

- ``active``: S = activated parameters (compute per token is what the law sees);
- ``total``: S = total parameters (every expert stores knowledge);
- ``geomean``: S = √(total · activated), an equivalent dense size between the two;
- ``expansion``: S = activated parameters plus a fitted term w5 · ln(total / activated);
- ``capped``: as ``expansion``, but the expansion counts only up to ``expansion_cap``, the largest
  expansion in the law's fit table, so the law credits no expansion beyond published models'.

For dense models every variant is the dense law (total = activated, ln 1 = 0). The variant used
by default (``expansion``) was chosen by leave-one-out error on the zoo's MoE rows;
the README records that comparison.
"""

from __future__ import annotations

import numpy as np

from perflaw.law.coefficients import MOE_VARIANTS, PAPER, LawCoefficients
from perflaw.law.errors import InputError
from perflaw.law.performance import LawTerms, law_terms


def law_size_b(total_b, active_b, variant: str) -> np.ndarray:
    """Size S in billions entering the saturation clip under ``variant``."""
    total = np.asarray(total_b, dtype=np.float64)
    active = np.asarray(active_b, dtype=np.float64)
    if variant in ("active", "expansion", "capped"):
        return active
    if variant == "total":
        return total
    if variant == "geomean":
        return np.sqrt(total * active)
    raise InputError("moe_variant", f"must be one of {', '.join(MOE_VARIANTS)}", variant)


def moe_law_terms(layers, hidden, ffn, tokens_t, total_b, active_b, gamma=1.0,
                  coefficients: LawCoefficients = PAPER, vintage_years=0.0, *, with_discount: bool = True) -> LawTerms:
    """The law for dense or MoE models given total and activated parameters (billions)."""
    return law_terms(*moe_law_args(layers, hidden, ffn, tokens_t, total_b, active_b, gamma, coefficients,
                                   vintage_years), with_discount=with_discount)


def moe_law_args(layers, hidden, ffn, tokens_t, total_b, active_b, gamma=1.0, coefficients: LawCoefficients = PAPER,
                 vintage_years=0.0) -> tuple:
    """``law_terms``' arguments for a dense or MoE model given total and activated parameters."""
    size = law_size_b(total_b, active_b, coefficients.moe_variant)
    # one array for both counts (dense models): an expansion of exactly 1, as the division would give
    expansion = 1.0 if total_b is active_b else np.asarray(total_b, dtype=np.float64) / np.asarray(active_b,
                                                                                                 dtype=np.float64)
    return layers, hidden, ffn, tokens_t, size, gamma, coefficients, expansion, vintage_years


def tokens_for_mmlu(target, layers, hidden, ffn, total_b, active_b, gamma=1.0,
                    coefficients: LawCoefficients = PAPER, vintage_years=0.0) -> np.ndarray:
    """Training tokens (trillions) at which the law reaches ``target`` MMLU; NaN when unreachable.

    Inverts the output link (the tanh saturation above the cap, or the logistic) and then the token
    term: w4·ln(u·T') = y − (every other term), then T from T' (clip: T = T' up to S; smooth:
    T = T'·S / √(S² − T'²) below S; none: T = T'). A target at or below the chance floor needs no
    tokens beyond the smallest (returned as 0); one the law cannot reach within its saturation
    gives NaN.
    """
    c = coefficients
    target = np.asarray(target, dtype=np.float64)
    top = c.cap + 10 if c.link == "bounded" else 100.0
    if np.any(target >= top):
        raise InputError("target MMLU", f"must be below {top:g}, the law's asymptote", float(np.max(target)))
    with np.errstate(invalid="ignore", divide="ignore"):
        if c.link == "bounded":
            raw = np.where(target > c.cap, c.cap + 10.0 * np.arctanh((target - c.cap) / 10.0), target)
        else:
            share = (target - c.floor) / (100.0 - c.floor)
            raw = np.log(share / (1.0 - share))
    size = law_size_b(total_b, active_b, c.moe_variant)
    # The law at T' = 1 (no saturation: S = inf) has w4·ln(u·1); the rest is w4·ln(T').
    base = law_terms(layers, hidden, ffn, 1.0, np.inf, gamma, c, np.asarray(total_b) / np.asarray(active_b),
                     vintage_years)
    t_eff = np.exp((raw - base.raw) / c.w4)
    with np.errstate(invalid="ignore", divide="ignore"):
        if c.tokens == "clip":  # T' = T up to S, never more
            tokens = np.where(t_eff <= size, t_eff, np.nan)
        elif c.tokens == "smooth":  # T' = T·S / √(T² + S²) < S
            tokens = np.where(t_eff < size, t_eff * size / np.sqrt(size * size - t_eff * t_eff), np.nan)
        else:
            tokens = np.broadcast_to(t_eff, np.broadcast(t_eff, size).shape).copy()
    return np.where(target <= c.floor, 0.0, tokens)
