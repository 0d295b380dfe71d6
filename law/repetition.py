"""Repeated data: the tokens a run that repeats its unique data is worth (Muennighoff et al. 2023).

A run of T tokens over U unique tokens repeats them R = T/U − 1 times. Muennighoff et al.,
"Scaling Data-Constrained Language Models" (arXiv 2305.16264, Eq. 5), value it as

    T_rep = U + U · R* · (1 − exp(−R / R*))

so the first few repetitions are worth almost as much as new data, and no amount of repetition is
worth more than U · (1 + R*). R* = 15.387756 is their fit (the constant ``rd_star`` of the
"Parametric Fit" section of huggingface/datablations' README). perflaw feeds T_rep to the law's token
term in place of T whenever the unique tokens are known; with U unknown (infinite) T_rep = T.
"""

from __future__ import annotations

import numpy as np

#: R*, the repetitions after which repeated data has lost 1 − 1/e of its value (see the module docstring).
REPEAT_DECAY = 15.387756
#: Where planning stops repeating: a further repeat is worth less than 1 % of new data (R = R* · ln 100,
#: about 71 repeats); beyond it a plan would spend its budget for nothing the rule can measure.
MAX_REPEATS = REPEAT_DECAY * float(np.log(100.0))


def repeated_tokens(tokens_t, unique_tokens_t, decay: float = REPEAT_DECAY) -> np.ndarray:
    """T_rep of ``tokens_t`` trained over ``unique_tokens_t`` (both trillions; inf: no repetition)."""
    t = np.asarray(tokens_t, dtype=np.float64)
    u = np.asarray(unique_tokens_t, dtype=np.float64)
    if u.ndim == 0 and u == np.inf:  # nothing repeats: T itself (the formula below gives T, and NaN for NaN)
        return t
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        repeats = np.maximum(t / u - 1.0, 0.0)
        worth = u * (1.0 + decay * -np.expm1(-repeats / decay))
    return np.where(t <= u, t, worth)


def tokens_for_repeated(effective_t, unique_tokens_t, decay: float = REPEAT_DECAY) -> np.ndarray:
    """The training tokens whose T_rep is ``effective_t`` (the inverse of ``repeated_tokens``); inf
    where repetition can never be worth that much (``effective_t`` ≥ U · (1 + R*))."""
    e = np.asarray(effective_t, dtype=np.float64)
    u = np.asarray(unique_tokens_t, dtype=np.float64)
    if u.ndim == 0 and u == np.inf:  # nothing repeats: the same values as below, without the inverse
        return np.where(e <= u, e, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (e / u - 1.0) / decay  # 1 − exp(−R/R*)
        repeats = -decay * np.log1p(-np.minimum(share, 1.0))
        raw = u * (1.0 + repeats)
    return np.where(e <= u, e, np.where(share < 1.0, raw, np.inf))


def most_useful_tokens(unique_tokens_t, decay: float = REPEAT_DECAY) -> np.ndarray:
    """The most tokens worth training over ``unique_tokens_t``: U · (1 + ``MAX_REPEATS``) (inf for inf)."""
    return np.asarray(unique_tokens_t, dtype=np.float64) * (1.0 + decay * np.log(100.0))


def repetition_limit(unique_tokens_t, decay: float = REPEAT_DECAY) -> np.ndarray:
    """The most any amount of training over ``unique_tokens_t`` is worth: U · (1 + R*)."""
    return np.asarray(unique_tokens_t, dtype=np.float64) * (1.0 + decay)
