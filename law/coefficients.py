"""Coefficients of the Performance Law: the published set, and reading/writing fitted sets."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from perflaw.law.errors import InputError, read_json_file
from perflaw.law.rules import month_index

#: Variants of our MoE extension (the paper's MoE formula is not available; see law.moe).
MOE_VARIANTS = ("active", "total", "geomean", "expansion", "capped")
#: Variants with the fitted expansion term w5 (``capped`` stops it at ``expansion_cap``).
EXPANSION_VARIANTS = ("expansion", "capped")

#: The variant chosen by leave-one-out error on the zoo's MoE rows (README, "MoE").
DEFAULT_MOE_VARIANT = "capped"

#: Robust losses a fit accepts (scipy.optimize.least_squares names; here so the CLI need not load scipy).
LOSSES = ("linear", "soft_l1", "huber", "cauchy")

#: How the token term sees training tokens T against the size S (trillions vs billions):
#: ``clip`` T' = min(T, S) (the paper's), ``none`` T' = T, ``smooth`` T' = T·S / √(T² + S²).
TOKEN_TERMS = ("clip", "none", "smooth")
#: How the linear predictor becomes MMLU: ``bounded`` (the paper's: chance floor, tanh above the
#: cap, coefficients in MMLU points) or ``logistic`` (floor + (100 − floor) · σ(y), coefficients in logits).
LINKS = ("bounded", "logistic")
_BASE_FORMS = {"paper": ("clip", "bounded"), "no-clip": ("none", "bounded"), "smooth": ("smooth", "bounded"),
               "logistic": ("clip", "logistic"), "logistic-no-clip": ("none", "logistic")}
#: perflaw's named law forms: (token term, link, data-vintage term). ``paper`` is the paper's law;
#: ``+vintage`` adds w6 · (years of the data's vintage after the fit table's newest release).
LAW_FORMS = {**{n: (*f, False) for n, f in _BASE_FORMS.items()},
             **{f"{n}+vintage": (*f, True) for n, f in _BASE_FORMS.items()}}

#: Names of the coefficients a fit may free, in file order.
COEFFICIENT_NAMES = ("w1", "w2", "w3", "w4", "b", "w5", "w6")


@dataclass(frozen=True)
class Interval:
    """A prediction interval that widens where the law's coefficients are uncertain.

    At a point whose prediction has standard deviation ``sd`` from the coefficients' uncertainty
    (``covariance`` over the coefficients ``names``, law.uncertainty), the interval is the point
    plus ``low`` · τ to ``high`` · τ with τ = √(scale² + sd²): ``scale`` is the law's scatter around
    a model it has data for, in MMLU points. Without a covariance and with ``scale`` 1, ``low`` and
    ``high`` are plain offsets in points (the older, constant interval). ``level`` is the nominal
    coverage; ``coverage`` the coverage measured on the ``n`` residuals it was calibrated on.
    """

    level: float
    low: float
    high: float
    coverage: float
    n: int
    method: str
    scale: float = 1.0
    names: tuple[str, ...] = ()
    covariance: tuple[tuple[float, ...], ...] = ()

    def __post_init__(self) -> None:
        def number(v) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        if not (number(self.level) and 0 < self.level < 1):
            raise InputError("interval level", "must be a number between 0 and 1 (the nominal coverage)", self.level)
        if not (number(self.coverage) and 0 <= self.coverage <= 1):
            raise InputError("interval coverage", "must be a number from 0 to 1", self.coverage)
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 0:
            raise InputError("interval n", "must be a whole number of residuals, 0 or more", self.n)
        if not (number(self.low) and number(self.high)):
            raise InputError("interval low/high", "must be finite numbers", (self.low, self.high))
        if not isinstance(self.method, str):
            raise InputError("interval method", "must be text", self.method)
        if isinstance(self.names, str) or not all(isinstance(n, str) for n in self.names):
            raise InputError("interval names", "must be a list of coefficient names", self.names)
        try:
            rows = tuple(tuple(float(v) for v in row) for row in self.covariance)
        except (TypeError, ValueError):
            raise InputError("interval covariance", "must be a matrix of finite numbers", self.covariance) from None
        if not all(math.isfinite(v) for row in rows for v in row):
            raise InputError("interval covariance", "must be a matrix of finite numbers", self.covariance)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "covariance", rows)
        if self.covariance and (len(self.covariance) != len(self.names)
                                or any(len(row) != len(self.names) for row in self.covariance)):
            raise InputError("interval covariance", f"must be a {len(self.names)}×{len(self.names)} matrix over "
                             "its names", len(self.covariance))
        for name in self.names:
            if name not in COEFFICIENT_NAMES:
                raise InputError("interval names", f"must be among {', '.join(COEFFICIENT_NAMES)}", name)
        if not (number(self.scale) and self.scale > 0):
            raise InputError("interval scale", "must be a positive number", self.scale)


@dataclass(frozen=True)
class LawCoefficients:
    """One coefficient set of y = w1·ln(uN) + w2·ln(uh) + w3·ln(ud) + w4·ln(uT') + b.

    ``w5`` multiplies ln(total/activated parameters) and is used only by the ``expansion`` and
    ``capped`` MoE variants (zero for dense models whatever its value; ``capped`` counts the
    expansion only up to ``expansion_cap``). ``floor`` and ``cap`` are the output bounds in MMLU
    points (chance level, start of the tanh saturation). ``tokens`` and ``link`` declare the law's
    form (``TOKEN_TERMS``, ``LINKS``; the paper's form is clip + bounded). ``vintage`` is the
    reference month of the data-vintage term (empty: the law has none); ``w6`` adds that many
    points (or logits) per year that a run's data vintage lies after it.
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
    w6: float = 0.0
    vintage: str = ""
    expansion_cap: float = 0.0
    #: The error this set is expected to make on models newer than its data (law.forecast.forecast_summary
    #: of the procedure that made it), or None where it is measured when needed (the paper's set).
    forecast: dict | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in COEFFICIENT_NAMES + ("floor", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"coefficient {name}", "must be a finite number", value)
        for name in ("source", "vintage"):
            if not isinstance(getattr(self, name), str):
                raise InputError(name, "must be text", getattr(self, name))
        if isinstance(self.expansion_cap, bool) or not isinstance(self.expansion_cap, (int, float)) \
                or not math.isfinite(self.expansion_cap) or self.expansion_cap < 0:
            raise InputError("expansion_cap", "must be a finite number >= 0", self.expansion_cap)
        if not isinstance(self.moe_variant, str) or self.moe_variant not in MOE_VARIANTS:
            raise InputError("moe_variant", f"must be one of {', '.join(MOE_VARIANTS)}", self.moe_variant)
        if self.tokens not in TOKEN_TERMS:
            raise InputError("tokens", f"must be one of {', '.join(TOKEN_TERMS)}", self.tokens)
        if self.link not in LINKS:
            raise InputError("link", f"must be one of {', '.join(LINKS)}", self.link)
        if not self.floor < self.cap:
            raise InputError("floor/cap", "floor must be below cap", (self.floor, self.cap))
        if self.vintage:
            month_index(self.vintage, "vintage")
        if self.moe_variant == "capped" and not (math.isfinite(self.expansion_cap) and self.expansion_cap >= 1):
            raise InputError("expansion_cap", "must be a number >= 1 for the capped MoE variant", self.expansion_cap)

    @property
    def has_vintage(self) -> bool:
        """Whether the law has a data-vintage term."""
        return bool(self.vintage)

    def used_vintage(self, given: str | None = None) -> str | None:
        """The data vintage a prediction uses: ``given``, else the reference month; None for a law
        without a vintage term."""
        return (given or self.vintage) if self.has_vintage else None

    def vintage_years(self, month: str | None, name: str = "data_vintage") -> float:
        """Years that ``month`` (YYYY-MM; None: the reference) lies after the law's reference month;
        0 for a law without a vintage term."""
        if month is None or not self.vintage:
            if month is not None:
                month_index(month, name)
            return 0.0
        return (month_index(month, name) - month_index(self.vintage)) / 12.0

    def with_values(self, **values: float) -> "LawCoefficients":
        """Return a copy with some coefficients replaced (the interval and forecast error are dropped)."""
        return replace(self, interval=None, forecast=None, **values)

    @property
    def form(self) -> str:
        """The named form (``LAW_FORMS``) of this set, e.g. ``paper`` or ``logistic-no-clip+vintage``."""
        key = (self.tokens, self.link, self.has_vintage)
        return next((n for n, f in LAW_FORMS.items() if f == key), f"{self.tokens}+{self.link}")

    def vector(self, names: tuple[str, ...] = COEFFICIENT_NAMES) -> list[float]:
        return [float(getattr(self, n)) for n in names]


# The published coefficients w1..w4, b. Source: the Performance Law first author's public
# planning tool (GitHub wuch15/performance-law-planner) for arXiv 2408.09895; natural logarithms.
# w5 is perflaw's own MoE term (not the paper's): fitted with w1..b held at these values on the
# 21 complete MoE rows of law/data/models.csv, fit_law(variant="capped", free=("w5",)); the
# expansion counts up to the largest in that table (Kimi-K2-Base, 1000B / 32B = 31.25).
# tests/law/test_moe.py refits both and checks these values.
PAPER = LawCoefficients(
    w1=13.95018192,
    w2=0.23072027,
    w3=-0.48523402,
    w4=5.39801689,
    b=9.195410648934768,
    w5=3.443221,
    moe_variant="capped",
    expansion_cap=31.25,
    source="Performance Law (Wu & Tang, arXiv 2408.09895), coefficients of the author's planning tool; "
    "MoE term w5 fitted by perflaw on the zoo's MoE rows",
)


def vintage_words(used: str | None, given: str | None, name: str = "--data-vintage",
                  reference: str | None = None) -> str:
    """What a law assumed about the data's vintage, for text outputs (``name``: the input's name there;
    ``reference``: the law's reference month, to say when a given vintage lies beyond its data)."""
    if used is None:
        return "not modelled: this law has no vintage term" + (f", so {name} {given} has no effect" if given else "")
    text = f"{used}" + (" (given)" if given else " (the law's reference: the newest release in its fit table)")
    ahead = month_index(used) - month_index(reference) if reference else 0
    if ahead > 0:
        text += (f"; {ahead} months after the newest model the law was fitted on, so the gain it credits for "
                 "that is the past trend extended, not evidence")
    return text


#: Month the paper's coefficients were published (arXiv 2408.09895, 2024-08): only models released
#: after it are forecasts for them; earlier ones may have been in their fit.
PAPER_PUBLISHED = "2024-08"


def shares_paper_coefficients(coefficients: LawCoefficients) -> bool:
    """Whether a set keeps the paper's published w1..w4 and b (whatever its MoE term)."""
    return coefficients.vector(("w1", "w2", "w3", "w4", "b")) == PAPER.vector(("w1", "w2", "w3", "w4", "b")) \
        and (coefficients.tokens, coefficients.link, coefficients.has_vintage) == ("clip", "bounded", False)


def save_coefficients(coef: LawCoefficients, path: str | Path, extra: dict | None = None) -> None:
    """Write a coefficient set as JSON (``extra`` adds provenance such as fit statistics)."""
    payload = {"format": "perflaw-law/1", **asdict(coef)}
    if extra:
        payload["fit"] = extra
    Path(path).write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n", encoding="utf-8")


_FILE_KEYS = {"format", "fit", "interval", "forecast", "moe_variant", "floor", "cap", "source", "tokens", "link", "vintage",
              "expansion_cap", *COEFFICIENT_NAMES}


_FORECAST_NUMBERS = ("mae", "bias", "rmse", "coverage", "mae_dense", "mae_moe")


def _check_forecast(f, name: str) -> None:
    """A law file's stated forecast error: the keys of law.forecast.forecast_summary, with sane values."""
    if not isinstance(f, dict):
        raise InputError(name, "must be an object (as perflaw fit writes it)", type(f).__name__)
    n = f.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise InputError(f"{name} n", "must be a whole number of forecasts, at least 3", n)
    for key in _FORECAST_NUMBERS:
        v = f.get(key)
        if key in ("mae_dense", "mae_moe") and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"{name} {key}", "must be a finite number", v)
    for key in ("first_month", "last_month"):
        month_index(f.get(key) if isinstance(f.get(key), str) else "", f"{name} {key}")
    if not isinstance(f.get("method"), str):
        raise InputError(f"{name} method", "must be text saying how the forecasts were made", f.get("method"))


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
        except InputError as exc:
            raise InputError(f"{name} {exc.input_name}", exc.rule, exc.value) from None
        except (TypeError, ValueError):
            raise InputError(name, "interval must have level, low <= high, coverage, n, method", iv) from None
    forecast = data.get("forecast")
    if forecast is not None:
        _check_forecast(forecast, f"{name} forecast")
    kwargs = {k: data[k] for k in (*COEFFICIENT_NAMES, "moe_variant", "floor", "cap", "source", "tokens", "link",
                                   "vintage", "expansion_cap") if k in data}
    for key in COEFFICIENT_NAMES:
        value = kwargs.get(key, 0.0)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > 1e4:
            raise InputError(f"{name} {key}", "must be within ±10,000 MMLU points per log unit", value)
    try:
        return LawCoefficients(interval=interval, forecast=forecast, **kwargs)
    except InputError as exc:
        raise InputError(f"{name} {exc.input_name}", exc.rule, exc.value) from None
