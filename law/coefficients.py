"""Coefficients of the Performance Law: the published set, and reading/writing fitted sets."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from perflaw.law.errors import InputError, read_json_file

#: Variants of our MoE extension (the paper's MoE formula is not available; see law.moe).
MOE_VARIANTS = ("active", "total", "geomean", "expansion")

#: The variant chosen by leave-one-out error on the zoo's MoE rows (README, "MoE").
DEFAULT_MOE_VARIANT = "expansion"

#: Robust losses a fit accepts (scipy.optimize.least_squares names; here so the CLI need not load scipy).
LOSSES = ("linear", "soft_l1", "huber", "cauchy")

#: How the token term sees training tokens T against the size S (trillions vs billions):
#: ``clip`` T' = min(T, S) (the paper's), ``none`` T' = T, ``smooth`` T' = T·S / √(T² + S²).
TOKEN_TERMS = ("clip", "none", "smooth")
#: How the linear predictor becomes MMLU: ``bounded`` (the paper's: chance floor, tanh above the
#: cap, coefficients in MMLU points) or ``logistic`` (floor + (100 − floor) · σ(y), coefficients in logits).
LINKS = ("bounded", "logistic")
#: perflaw's named law forms: (token term, link). ``paper`` is the paper's law.
LAW_FORMS = {"paper": ("clip", "bounded"), "no-clip": ("none", "bounded"), "smooth": ("smooth", "bounded"),
             "logistic": ("clip", "logistic"), "logistic-no-clip": ("none", "logistic")}

#: Names of the coefficients a fit may free, in file order.
COEFFICIENT_NAMES = ("w1", "w2", "w3", "w4", "b", "w5")


@dataclass(frozen=True)
class Interval:
    """Empirical prediction interval: add ``low``/``high`` (MMLU points) to a point prediction.

    ``level`` is the nominal coverage; ``coverage`` the leave-one-out coverage measured on the
    ``n`` models it was calibrated on (see law.fit.calibrate_interval).
    """

    level: float
    low: float
    high: float
    coverage: float
    n: int
    method: str


@dataclass(frozen=True)
class LawCoefficients:
    """One coefficient set of y = w1·ln(uN) + w2·ln(uh) + w3·ln(ud) + w4·ln(uT') + b.

    ``w5`` multiplies ln(total/activated parameters) and is used only by the ``expansion`` MoE
    variant (zero for dense models whatever its value). ``floor`` and ``cap`` are the output
    bounds in MMLU points (chance level, start of the tanh saturation). ``tokens`` and ``link``
    declare the law's form (``TOKEN_TERMS``, ``LINKS``; the paper's form is clip + bounded).
    """

    w1: float
    w2: float
    w3: float
    w4: float
    b: float
    w5: float = 0.0
    moe_variant: str = DEFAULT_MOE_VARIANT
    floor: float = 25.0
    cap: float = 90.0
    source: str = ""
    interval: Interval | None = field(default=None, compare=False)
    tokens: str = "clip"
    link: str = "bounded"

    def __post_init__(self) -> None:
        for name in COEFFICIENT_NAMES + ("floor", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"coefficient {name}", "must be a finite number", value)
        if self.moe_variant not in MOE_VARIANTS:
            raise InputError("moe_variant", f"must be one of {', '.join(MOE_VARIANTS)}", self.moe_variant)
        if self.tokens not in TOKEN_TERMS:
            raise InputError("tokens", f"must be one of {', '.join(TOKEN_TERMS)}", self.tokens)
        if self.link not in LINKS:
            raise InputError("link", f"must be one of {', '.join(LINKS)}", self.link)
        if not self.floor < self.cap:
            raise InputError("floor/cap", "floor must be below cap", (self.floor, self.cap))

    def with_values(self, **values: float) -> "LawCoefficients":
        """Return a copy with some coefficients replaced (the interval is dropped)."""
        return replace(self, interval=None, **values)

    @property
    def form(self) -> str:
        """The named form (``LAW_FORMS``) of this set, e.g. ``paper`` or ``logistic-no-clip``."""
        return next(n for n, f in LAW_FORMS.items() if f == (self.tokens, self.link)) \
            if (self.tokens, self.link) in LAW_FORMS.values() else f"{self.tokens}+{self.link}"

    def vector(self, names: tuple[str, ...] = COEFFICIENT_NAMES) -> list[float]:
        return [float(getattr(self, n)) for n in names]


# The published coefficients w1..w4, b. Source: the Performance Law first author's public
# planning tool (GitHub wuch15/performance-law-planner) for arXiv 2408.09895; natural logarithms.
# w5 is perflaw's own MoE term (not the paper's): fitted with w1..b held at these values on the
# 11 complete MoE rows of law/data/models.csv, fit_law(variant="expansion", free=("w5",));
# tests/law/test_moe.py refits it and checks this value.
PAPER = LawCoefficients(
    w1=13.95018192,
    w2=0.23072027,
    w3=-0.48523402,
    w4=5.39801689,
    b=9.195410648934768,
    w5=3.264054,
    moe_variant="expansion",
    source="Performance Law (Wu & Tang, arXiv 2408.09895), coefficients of the author's planning tool; "
    "MoE term w5 fitted by perflaw on the zoo's MoE rows",
)


def save_coefficients(coef: LawCoefficients, path: str | Path, extra: dict | None = None) -> None:
    """Write a coefficient set as JSON (``extra`` adds provenance such as fit statistics)."""
    payload = {"format": "perflaw-law/1", **asdict(coef)}
    if extra:
        payload["fit"] = extra
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


_FILE_KEYS = {"format", "fit", "interval", "moe_variant", "floor", "cap", "source", "tokens", "link",
              *COEFFICIENT_NAMES}


def load_coefficients(path: str | Path) -> LawCoefficients:
    """Read a coefficient file written by ``save_coefficients`` (``perflaw fit --out``)."""
    name = str(Path(path))
    data = read_json_file(path, name)
    if not isinstance(data, dict) or data.get("format") != "perflaw-law/1":
        raise InputError(name, "must be a perflaw coefficient file (format perflaw-law/1)",
                         data.get("format") if isinstance(data, dict) else type(data).__name__)
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise InputError(name, "unknown key", unknown[0])
    missing = [k for k in ("w1", "w2", "w3", "w4", "b") if k not in data]
    if missing:
        raise InputError(name, "missing coefficient", missing[0])
    interval = None
    if data.get("interval") is not None:
        iv = data["interval"]
        try:
            interval = Interval(**iv)
            if not interval.low <= interval.high:
                raise TypeError
        except TypeError:
            raise InputError(name, "interval must have level, low <= high, coverage, n, method", iv) from None
    kwargs = {k: data[k] for k in ("w1", "w2", "w3", "w4", "b", "w5", "moe_variant", "floor", "cap", "source", "tokens",
                                   "link") if k in data}
    for key in COEFFICIENT_NAMES:
        value = kwargs.get(key, 0.0)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > 1e4:
            raise InputError(f"{name} {key}", "must be within ±10,000 MMLU points per log unit", value)
    try:
        return LawCoefficients(interval=interval, **kwargs)
    except InputError as exc:
        raise InputError(f"{name} {exc.input_name}", exc.rule, exc.value) from None
