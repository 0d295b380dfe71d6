"""Parse quantities typed on the command line: ``15T``, ``300B``, ``8.03B``, ``2M``, ``1e24``."""

from __future__ import annotations

import math
import re

from perflaw.law.errors import InputError

#: Suffix multipliers (case-sensitive upper case; ``k`` also accepted for thousands).
SUFFIXES = {"k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12, "P": 1e15}

_PATTERN = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([kKMBGTP]?)$")


def parse_quantity(text: str, name: str) -> float:
    """Absolute value of a quantity: ``15T`` → 1.5e13. Plain numbers are absolute counts."""
    cleaned = str(text).strip().replace("_", "").replace(",", "")
    match = _PATTERN.match(cleaned)
    if not match:
        raise InputError(name, "must be a number with an optional suffix k, M, B, T or P (e.g. 15T, 8.03B, 1e24)",
                         text)
    value = float(match.group(1)) * SUFFIXES.get(match.group(2), 1.0)
    if not math.isfinite(value):
        raise InputError(name, "must be finite", text)
    return value


def parse_positive(text: str, name: str, minimum: float = 0.0, maximum: float = math.inf, hint: str = "") -> float:
    """``parse_quantity`` that must lie in (``minimum``, ``maximum``]; ``hint`` follows the rule."""
    value = parse_quantity(text, name)
    if value <= 0:
        raise InputError(name, "must be positive", text)
    if not minimum <= value <= maximum:
        rule = f"must be between {format_quantity(minimum)} and {format_quantity(maximum)}"
        raise InputError(name, rule + (f" ({hint})" if hint else ""), text)
    return value


def parse_range(text: str, name: str, minimum: float = 0.0) -> tuple[float, float]:
    """``LOW:HIGH`` with quantities on either side (``1B:70B``); both ends required, LOW ≤ HIGH."""
    parts = str(text).split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise InputError(name, "must be a range LOW:HIGH (e.g. 1B:70B)", text)
    low, high = (parse_quantity(p, name) for p in parts)
    if low < minimum:
        raise InputError(name, f"lower end must be at least {format_quantity(minimum)}", text)
    if low > high:
        raise InputError(name, "lower end must not exceed the upper end", text)
    return low, high


def format_quantity(value: float, digits: int = 3) -> str:
    """Inverse of ``parse_quantity`` for display: 1.5e13 → ``15T``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    for suffix, mult in (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= mult:
            return f"{value / mult:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"
