"""A prediction split into the law's terms: how much depth, width, FFN, tokens, the discount and MoE contribute.

y = w1·ln N + w2·ln h + w3·ln d + w4·ln T' + (w1 + w2 + w3 + w4)·ln u + b [+ w5·MoE] [+ w6·vintage],
then the output link (the chance floor, the tanh above the cap, or the logistic) maps y to MMLU.
The terms are in MMLU points for the bounded link (the paper's) and in logits for the logistic
one; ``link`` is what the link adds on top of their sum, so the terms and ``link`` sum to the
prediction for the bounded link.
"""

from __future__ import annotations

import numpy as np

from perflaw.law.coefficients import PAPER, LawCoefficients
from perflaw.law.performance import law_features, link_mmlu, log_discount

#: The terms, in the order outputs show them, with their words.
TERMS = {"depth": "depth w1·ln N", "width": "width w2·ln h", "ffn": "FFN w3·ln d", "tokens": "tokens w4·ln T'",
         "discount": "discount (w1+w2+w3+w4)·ln u", "intercept": "intercept b", "moe": "MoE w5", "vintage": "vintage w6",
         "link": "output link"}


def term_breakdown(layers, hidden, ffn, tokens_t, params_b, gamma=1.0, coefficients: LawCoefficients = PAPER,
                   expansion=1.0, vintage_years=0.0) -> dict[str, float]:
    """The terms of one prediction (scalars; the arguments of ``law.performance.law_terms``), and ``mmlu``."""
    c = coefficients
    f = law_features(layers, hidden, ffn, tokens_t, params_b, gamma, c, expansion, vintage_years)
    log_u = float(log_discount(layers, hidden, ffn, gamma))
    out = {"depth": c.w1 * float(f["w1"] - log_u), "width": c.w2 * float(f["w2"] - log_u),
           "ffn": c.w3 * float(f["w3"] - log_u), "tokens": c.w4 * float(f["w4"] - log_u),
           "discount": (c.w1 + c.w2 + c.w3 + c.w4) * log_u, "intercept": c.b,
           "moe": c.w5 * float(f["w5"]) if "w5" in f else 0.0,
           "vintage": c.w6 * float(f["w6"]) if "w6" in f else 0.0}
    raw = sum(out.values())
    mmlu = float(link_mmlu(np.asarray(raw), c))
    out["link"] = mmlu - raw if c.link == "bounded" else 0.0
    out["mmlu"] = mmlu
    return out
