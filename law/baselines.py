"""Loss-based scaling-law baselines (Chinchilla and its Epoch AI replication) and their compute-optimal frontier.

    L(N, D) = E + A / N^alpha + B / D^beta          (N parameters, D training tokens, absolute counts;
                                                      L in nats per token on the fit's corpus, MassiveText)
    C = 6·N·D                                        (training FLOPs)
    N_opt = G·(C/6)^a,  D_opt = (C/6)^b / G,  G = (alpha·A / (beta·B))^(1/(alpha+beta)),
    a = beta / (alpha+beta),  b = alpha / (alpha+beta)

Source of the frontier: Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
arXiv 2203.15556, Section 3.3 ("Efficient frontier"). These laws predict *loss*, not MMLU; reports use
them only to show where a plan sits against the usual baselines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perflaw.law.errors import InputError

#: Training FLOPs per parameter per token in the frontier's compute rule C = 6·N·D
#: (Hoffmann et al. 2022, Section 3.3, after Kaplan et al. 2020).
FLOPS_PER_PARAM_TOKEN = 6.0


@dataclass(frozen=True)
class LossLaw:
    """One constant set of L(N, D) = E + A/N^alpha + B/D^beta (N, D absolute counts, L in nats/token).

    ``E`` is the irreducible loss (≥ 0); ``A``, ``B``, ``alpha``, ``beta`` are positive. ``source`` cites
    the paper, section or table the numbers come from.
    """

    name: str
    E: float  # irreducible loss, nats per token
    A: float  # parameter-term coefficient
    B: float  # data-term coefficient
    alpha: float  # parameter exponent
    beta: float  # data exponent
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError("LossLaw.name", "must be a non-empty string", self.name)
        for key in ("E", "A", "B", "alpha", "beta"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"LossLaw.{key}", "must be a finite number", value)
            if key == "E":
                if value < 0:
                    raise InputError("LossLaw.E", "must be >= 0", value)
            elif value <= 0:
                raise InputError(f"LossLaw.{key}", "must be > 0", value)

    @property
    def a(self) -> float:
        """Exponent of N_opt ∝ C^a: beta / (alpha + beta)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of D_opt ∝ C^b: alpha / (alpha + beta)."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """Frontier constant G = (alpha·A / (beta·B))^(1/(alpha+beta)) (parameters per (FLOPs/6)^a)."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))


#: Hoffmann et al. 2022 Approach 3 exactly as printed (rounded).
CHINCHILLA = LossLaw(
    name="chinchilla",
    E=1.69,
    A=406.4,
    B=410.7,
    alpha=0.34,
    beta=0.28,
    source="Hoffmann et al. 2022, arXiv 2203.15556, Appendix D.2 eq. (10) (Approach 3, as printed; rounded)",
)

#: The same Approach 3 fit at the precision of the paper's TeX source (E, alpha, beta unrounded; A, B as
#: printed), which Besiroglu et al. 2024 point out the printed values round. These exponents reproduce
#: Hoffmann et al.'s own "40B parameters at the Gopher budget" (Figure 4) and a = 0.46 (Table 2); the
#: rounded ones do not.
CHINCHILLA_UNROUNDED = LossLaw(
    name="chinchilla-unrounded",
    E=1.6934,
    A=406.4,
    B=410.7,
    alpha=0.3392,
    beta=0.2849,
    source=(
        "Hoffmann et al. 2022, arXiv 2203.15556, Approach 3 at TeX-source precision, as discussed by "
        "Besiroglu et al. 2024, 'Chinchilla Scaling: A replication attempt', arXiv 2404.10102 "
        "(digits cross-checked against independent public copies, not read from the paper's own table)"
    ),
)

#: Besiroglu et al. 2024 refit of Approach 3 on data reconstructed from Hoffmann et al.'s Figure 4.
EPOCH = LossLaw(
    name="epoch",
    E=1.8172,
    A=482.01,
    B=2085.43,
    alpha=0.3478,
    beta=0.3658,
    source=(
        "Besiroglu, Erdil, Barnett & You 2024, 'Chinchilla Scaling: A replication attempt', "
        "arXiv 2404.10102, their Approach 3 estimates (digits cross-checked against independent public "
        "copies, not read from the paper's own table)"
    ),
)

#: Every named baseline, by short id.
LOSS_LAWS: dict[str, LossLaw] = {law.name: law for law in (CHINCHILLA, CHINCHILLA_UNROUNDED, EPOCH)}


@dataclass(frozen=True)
class ComputeOptimal:
    """The loss-minimising allocation of a FLOPs budget under C = 6·N·D (arrays broadcast like ``flops``)."""

    flops: np.ndarray  # training FLOPs C
    params: np.ndarray  # N_opt, parameters (absolute count)
    tokens: np.ndarray  # D_opt, training tokens (absolute count)
    loss: np.ndarray  # L(N_opt, D_opt), nats per token
    tokens_per_param: np.ndarray  # D_opt / N_opt
    law_name: str

    def as_columns(self) -> dict[str, np.ndarray]:
        """The arrays by column name (units in the names), ready for a CSV next to a figure."""
        return {
            "flops": self.flops,
            "params": self.params,
            "tokens": self.tokens,
            "loss_nats": self.loss,
            "tokens_per_param": self.tokens_per_param,
        }


def get_loss_law(name: str) -> LossLaw:
    """The named baseline from ``LOSS_LAWS``; an unknown name raises ``InputError`` listing the valid ones."""
    if not isinstance(name, str) or name not in LOSS_LAWS:
        raise InputError("loss law", f"must be one of {', '.join(LOSS_LAWS)}", name)
    return LOSS_LAWS[name]


def loss(law: LossLaw, params, tokens) -> np.ndarray:
    """Predicted loss in nats per token for ``params`` parameters trained on ``tokens`` tokens.

    Inputs broadcast with numpy rules; scalars give 0-d arrays.
    """
    n = _positive_finite("params", params)
    d = _positive_finite("tokens", tokens)
    return _loss(law, n, d)


def compute_optimal(law: LossLaw, flops) -> ComputeOptimal:
    """Closed-form loss-minimising parameters and tokens for ``flops`` training FLOPs (C = 6·N·D)."""
    c = _positive_finite("flops", flops)
    scale = c / FLOPS_PER_PARAM_TOKEN
    g = law.G
    n = np.asarray(g * scale**law.a, dtype=np.float64)
    d = np.asarray(scale**law.b / g, dtype=np.float64)
    return ComputeOptimal(c, n, d, _loss(law, n, d), np.asarray(d / n, dtype=np.float64), law.name)


def optimal_line(law: LossLaw, flops_array) -> ComputeOptimal:
    """The compute-optimal frontier sampled at a 1-D array of FLOPs budgets, for plotting."""
    try:
        c = np.asarray(flops_array, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("flops", "must be a 1-D array of numbers", flops_array) from None
    if c.ndim != 1 or c.size == 0:
        raise InputError("flops", "must be a non-empty 1-D array", flops_array)
    return compute_optimal(law, c)


def _loss(law: LossLaw, n: np.ndarray, d: np.ndarray) -> np.ndarray:
    return np.asarray(law.E + law.A / n**law.alpha + law.B / d**law.beta, dtype=np.float64)


def _positive_finite(name: str, value) -> np.ndarray:
    """``value`` as a float64 array, or InputError naming the first offending element."""
    if isinstance(value, (str, bytes)):
        raise InputError(name, "must be a number or an array of numbers", value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(name, "must be a number or an array of numbers", value) from None
    bad = ~(np.isfinite(arr) & (arr > 0))
    if np.any(bad):
        raise InputError(name, "must be finite and > 0", arr[bad].flat[0] if arr.ndim else float(arr))
    return arr

