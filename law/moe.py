"""Our MoE extension of the law (not the paper's): which parameter count a MoE model enters with.

The dense law takes layers N, widths h and d, tokens T and a size S for the saturation clip
T' = min(T, S). For a MoE model, d is the activated FFN width ((top-k + shared) × expert
size) and S depends on the variant:

- ``active``: S = activated parameters (compute per token is what the law sees);
- ``total``: S = total parameters (every expert stores knowledge);
- ``geomean``: S = √(total · activated), an equivalent dense size between the two;
- ``expansion``: S = activated parameters plus a fitted term w5 · ln(total / activated).

For dense models every variant is the dense law (total = activated, ln 1 = 0). The variant used
by default (``expansion``) was chosen by leave-one-out error on the zoo's MoE rows;
the README records that comparison.
"""

from __future__ import annotations

import numpy as np

from law.coefficients import MOE_VARIANTS, PAPER, LawCoefficients
from law.errors import InputError
from law.performance import LawTerms, law_terms


def law_size_b(total_b, active_b, variant: str) -> np.ndarray:
    """Size S in billions entering the saturation clip under ``variant``."""
    total = np.asarray(total_b, dtype=np.float64)
    active = np.asarray(active_b, dtype=np.float64)
    if variant in ("active", "expansion"):
        return active
    if variant == "total":
        return total
    if variant == "geomean":
        return np.sqrt(total * active)
    raise InputError("moe_variant", f"must be one of {', '.join(MOE_VARIANTS)}", variant)


def moe_law_terms(layers, hidden, ffn, tokens_t, total_b, active_b, gamma=1.0,
                  coefficients: LawCoefficients = PAPER) -> LawTerms:
    """The law for dense or MoE models given total and activated parameters (billions)."""
    size = law_size_b(total_b, active_b, coefficients.moe_variant)
    expansion = np.asarray(total_b, dtype=np.float64) / np.asarray(active_b, dtype=np.float64)
    return law_terms(layers, hidden, ffn, tokens_t, size, gamma, coefficients, expansion)
