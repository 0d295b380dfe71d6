"""Plain-text tables and number formats for the command line (no printing here)."""

from __future__ import annotations

import math
from typing import Callable, Sequence


def fmt(value, spec: str = ".2f") -> str:
    """Format a number, with '—' for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec)


def table(rows: Sequence[dict], columns: Sequence[tuple[str, str, Callable[[object], str] | str]]) -> str:
    """Render ``rows`` as an aligned text table; ``columns`` are (key, header, formatter or spec)."""
    cells = []
    for row in rows:
        line = []
        for key, _, f in columns:
            value = row.get(key)
            line.append(f(value) if callable(f) else (fmt(value, f) if f else str(value)))
        cells.append(line)
    headers = [h for _, h, _ in columns]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    numeric = [all(_looks_numeric(c[i]) for c in cells) and bool(cells) for i in range(len(headers))]

    def render(line: Sequence[str]) -> str:
        parts = [s.rjust(w) if num else s.ljust(w) for s, w, num in zip(line, widths, numeric)]
        return "  ".join(parts).rstrip()

    out = [render(headers), render(["-" * w for w in widths])]
    out += [render(c) for c in cells]
    return "\n".join(out)


def _looks_numeric(text: str) -> bool:
    t = text.strip().lstrip("+-").replace(".", "", 1).replace("e", "", 1).replace("%", "")
    return t.isdigit() or text.strip() == "—"
