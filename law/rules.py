"""The validation vocabulary shared by the library, the command line and the scenario loader.

A rule is said one way everywhere: ``must be a number in [1e15, 1e32]``, ``must be a whole
number in [1, 10,000,000]``, ``must be one of exact, optuna, scipy``. Library code names the
field (``gpus``, ``params_b``); the command line and the scenario loader rename it to a flag or a
dotted key at their edge (``InputError.renamed``), so the rule and the value reach the user
unchanged. Each limit is a ``Range`` constant written once, next to the code it protects.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from perflaw.law.errors import InputError


def fmt_number(v: float) -> str:
    """1e15 for exact powers of ten from 1e7 on, 16,777,216 for other whole numbers, 0.125 otherwise."""
    if float(v).is_integer():
        short = f"{v:.0e}"
        if abs(v) >= 1e7 and float(short) == v:
            mantissa, exp = short.split("e")
            return f"{mantissa}e{int(exp)}"
        return f"{int(v):,}"
    mantissa, _, exp = f"{v:g}".partition("e")
    return f"{mantissa}e{int(exp)}" if exp else mantissa


@dataclass(frozen=True)
class Range:
    """An interval of allowed values; an open end excludes its bound."""

    low: float
    high: float
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, v) -> bool:
        if v < self.low or (self.open_low and v == self.low):
            return False
        return not (v > self.high or (self.open_high and v == self.high))

    def text(self) -> str:
        """``[1, 10,000,000]`` or ``(0, 1]``."""
        return (f"{'(' if self.open_low else '['}{fmt_number(self.low)}, {fmt_number(self.high)}"
                f"{')' if self.open_high else ']'}")


def is_whole(v) -> bool:
    """An int (numpy integers included), not a bool."""
    return isinstance(v, int) and not isinstance(v, bool) or type(v).__name__.startswith(("int", "uint"))


def is_number(v) -> bool:
    """A finite int or float (numpy scalars included), not a bool."""
    if isinstance(v, bool) or not (isinstance(v, (int, float)) or hasattr(v, "dtype") and getattr(v, "ndim", 1) == 0):
        return False
    try:
        return math.isfinite(v)
    except TypeError:
        return False


def number_rule(allowed: Range, whole: bool = False) -> str:
    return f"must be a {'whole number' if whole else 'number'} in {allowed.text()}"


def check_number(name: str, value, allowed: Range, *, whole: bool = False):
    """``value`` as a float (an int when ``whole``) if it lies in ``allowed``; else ``InputError``."""
    ok = (is_whole(value) if whole else is_number(value)) and value in allowed
    if not ok:
        raise InputError(name, number_rule(allowed, whole), value)
    return int(value) if whole else float(value)


def check_choice(name: str, value, options: tuple):
    """``value`` if it is one of ``options``; else ``InputError`` listing them."""
    if isinstance(value, bool) or value not in options:
        raise InputError(name, f"must be one of {', '.join(map(str, options))}", value)
    return value


_MONTH = re.compile(r"^(\d{4})-(\d{2})")


def month_index(text: str, name: str = "release") -> int:
    """Months since year 0 of a ``YYYY-MM`` (or ``YYYY-MM-DD``) date."""
    match = _MONTH.match(str(text).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(name, "must be a month YYYY-MM", text)
    return int(match.group(1)) * 12 + int(match.group(2)) - 1


def month_text(index: int) -> str:
    """``YYYY-MM`` of a month index (``month_index``'s inverse)."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


TOKENS_T = Range(1e-6, 1e4)  # training tokens, trillions: 1M to 10,000T
PARAMS_B = Range(1e-3, 1e5)  # parameters, billions: 1M to 100,000B
