"""Draw the report's figures from its tables (matplotlib's object API; no global pyplot state).

A table arrives as its columns, ``{name: numpy array}`` (report.data.columns): the figure helpers
that draw them (report.drawing) import matplotlib, not pandas."""

from __future__ import annotations

import io
from pathlib import Path

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

import numpy as np

from perflaw.optimizer.report.placing import place

_COLORS = {"chinchilla": "#999999", "chinchilla-unrounded": "#555555", "epoch": "#c0504d"}
#: What each loss-law line is (law.baselines), for legends.
_LAW_WORDS = {"chinchilla": "Chinchilla approach 3, rounded constants",
              "chinchilla-unrounded": "Chinchilla approach 3, unrounded constants",
              "epoch": "Epoch AI refit of approach 3"}
RULE_OF_THUMB = 20.0  # tokens per parameter of Chinchilla's approaches 1 and 2 (Hoffmann et al. 2022)


Columns = dict  # {column name: numpy array}, every array of one length


def _rows(cols: Columns):
    """Each row as a dict."""
    for i in range(_length(cols)):
        yield {c: v[i] for c, v in cols.items()}


def _length(cols: Columns) -> int:
    return len(next(iter(cols.values()))) if cols else 0


def _sorted(cols: Columns, *keys: str) -> Columns:
    """The rows sorted by ``keys`` (the first one first)."""
    if not _length(cols):
        return cols
    order = np.argsort(cols[keys[0]], kind="quicksort") if len(keys) == 1 \
        else np.lexsort([np.asarray(cols[k]) for k in reversed(keys)])
    return {c: np.asarray(v)[order] for c, v in cols.items()}


def _known(values) -> np.ndarray:
    """Which entries hold a value (not None, not NaN)."""
    return np.array([v is not None and v == v for v in values], dtype=bool)


def _literal(text) -> str:
    """User text drawn as written: matplotlib would read $...$ as TeX."""
    return str(text).replace("$", r"\$")


def _dollars(x, _pos=None) -> str:
    """$2M, $500k: a dollar tick label."""
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"${x / scale:g}{unit}"
    return f"${x:g}"


def _quiet_minor(axis) -> None:
    """No labels on a log axis's minor ticks (they collide: '3×10¹4×10¹')."""
    axis.set_minor_formatter(NullFormatter())


def _number(x, _pos=None) -> str:
    """2, 50, 2e24: a tick label without overlapping superscripts."""
    if x <= 0:
        return ""
    if 1e-3 <= x < 1e5:
        return f"{x:g}"
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _log_ticks(axis, fmt=_number) -> None:
    """Labelled ticks at 1, 2 and 5 of each decade (a span under a decade still gets labels), no minor labels."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(fmt))
    _quiet_minor(axis)


def _label_offsets(x, y, ax_span) -> list[tuple[float, float]]:
    """Text offsets (points) that keep labels of nearby points apart: each label goes up one line
    per earlier label within 0.2 decades and 2 % of the MMLU span, and to the left near the right edge."""
    lx = np.log10(np.asarray(x, dtype=float))
    y = np.asarray(y, dtype=float)
    placed, out = [], []
    x_hi = lx.max() if len(lx) else 0.0
    for xi, yi in zip(lx, y):
        clashes = sum(1 for (px, py) in placed if abs(px - xi) < 0.2 and abs(py - yi) < 0.02 * ax_span)
        placed.append((xi, yi))
        left = len(lx) > 1 and xi > x_hi - 0.15
        out.append((-6.0 if left else 4.0, 4.0 + 9.0 * clashes))
    return out


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(7.5, 4.6), dpi=110)  # no layout engine: report.placing places the plot
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _title(fig: Figure, title: str):
    """The figure's title (its suptitle), or None without one."""
    return fig.suptitle(title, fontsize=10) if title else None


def pareto(front: Columns, refs: Columns, review: bool, title: str = "") -> Figure:
    """Predicted MMLU against training compute, the interval as a band, zoo models overlaid."""
    fig, ax = _figure()
    f = _sorted(front, "train_flops")
    n = _length(f)
    budgets, models = [], []  # the point labels
    if n:
        if review or n == 1:  # separate budgets (or one point): an interval bar each, not a band
            ax.errorbar(f["train_flops"], f["mmlu"], yerr=[f["mmlu"] - f["mmlu_low"], f["mmlu_high"] - f["mmlu"]],
                        fmt="o", color="#1f4e79", ecolor="#4f81bd", capsize=4,
                        label="best plan per budget (predicted, with interval)")
        else:
            ax.fill_between(f["train_flops"], f["mmlu_low"], f["mmlu_high"], color="#4f81bd", alpha=0.18,
                            label="prediction interval")
            ax.plot(f["train_flops"], f["mmlu"], "o-", color="#1f4e79", label="best plan (predicted)")
        if review:
            last = n - 1
            for k, r in enumerate(_rows(f)):  # the rightmost label goes left, inside the axes
                left = k == last and last
                budgets.append(ax.annotate(_literal(r["budget"]), (r["train_flops"], r["mmlu"]),
                                           textcoords="offset points", xytext=(-7 if left else 5, -12), fontsize=8,
                                           ha="right" if left else "left"))
    if _length(refs):
        ax.scatter(refs["train_flops"], refs["reported_mmlu"], marker="s", color="#c0504d", zorder=3,
                   label="published model (reported MMLU)")
        reported = np.asarray(refs["reported_mmlu"], dtype=float)
        span = float(np.nanmax(reported) - np.nanmin(reported)) or 10.0
        ordered = _sorted(refs, "train_flops", "reported_mmlu")
        offsets = _label_offsets(ordered["train_flops"], ordered["reported_mmlu"], max(span, 10.0))
        for r, (dx, dy) in zip(_rows(ordered), offsets):
            models.append(ax.annotate(r["name"], (r["train_flops"], r["reported_mmlu"]), textcoords="offset points",
                                      xytext=(dx, dy), fontsize=7, ha="right" if dx < 0 else "left",
                                      annotation_clip=True))
    xs = np.concatenate([np.asarray(f.get("train_flops", []), dtype=float),
                         np.asarray(refs.get("train_flops", []), dtype=float)])
    if len(xs) and xs.min() == xs.max():  # one compute value: a decade each side (not a singular axis)
        ax.set_xlim(xs[0] / 10, xs[0] * 10)
    ax.set_xscale("log")
    ax.set_xlabel("training compute (FLOPs, log scale)")
    ax.set_ylabel("5-shot MMLU (percentage points)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    top = None
    if "usd" in f and _known(f["usd"]).any():  # a price was given: the same axis in dollars on top
        per_flop = float(np.nanmedian(np.asarray(f["usd"], dtype=float) / f["train_flops"]))
        top = ax.secondary_xaxis("top", functions=(lambda x: x * per_flop, lambda x: x / per_flop))
        top.set_xlabel("cost (US dollars at the stated price, log scale)", fontsize=8)
        top.tick_params(labelsize=8)
        _log_ticks(top.xaxis, _dollars)
    _log_ticks(ax.xaxis)
    place(fig, ax, title=_title(fig, title), top_axis=top)
    _unclash(fig, budgets, models)
    return fig


def _unclash(fig: Figure, fixed: list, movable: list, line: float = 9.0, tries: int = 8) -> None:
    """Move each of the ``movable`` labels (annotations offset in points) a line up or down, then two,
    and so on, to the first offset where it covers none of the ``fixed`` ones nor those placed before
    it (kept where it was if none of ``tries`` is clear). Measured once the plot is placed."""
    renderer = fig.canvas.get_renderer()
    placed = [a.get_window_extent(renderer) for a in fixed]
    for label in movable:
        dx, dy = label.xyann
        for k in range(tries + 1):
            label.xyann = (dx, dy + line * ((k + 1) // 2) * (1 if k % 2 else -1))  # 0, +1, -1, +2, -2 lines...
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        else:
            label.xyann = (dx, dy)
            box = label.get_window_extent(renderer)
        placed.append(box)


def allocation(plans: Columns, baselines: Columns, at_flops: float | None = None, title: str = "") -> Figure:
    """Parameters against tokens of the best plans, with the loss laws' compute-optimal lines
    (each named with what it implies at ``at_flops``) and the 20-tokens-per-parameter rule."""
    fig, ax = _figure()
    laws = baselines.get("law", np.array([]))
    for name in dict.fromkeys(laws):  # each law's line, in the table's order
        b = {c: v[laws == name] for c, v in baselines.items()}
        words = _LAW_WORDS.get(name, name)
        if at_flops is not None:
            i = int(np.argmin(np.abs(np.log(np.asarray(b["flops"], dtype=float) / at_flops))))
            words += f": {1e3 * b['tokens_t'][i] / b['params_b'][i]:.0f} tokens per parameter at {at_flops:.2g}"
        ax.plot(b["params_b"], b["tokens_t"], "-", color=_COLORS.get(name, "#777777"), label=words)
    if len(laws):
        n = np.geomspace(np.min(baselines["params_b"]), np.max(baselines["params_b"]), 20)
        ax.plot(n, RULE_OF_THUMB * n / 1e3, ":", color="#333333",
                label="20 tokens per parameter (Chinchilla approaches 1 and 2)")
    if _length(plans):
        ax.scatter(plans["params_b"], plans["tokens_t"], color="#1f4e79", zorder=3,
                   label="best plans (Performance Law)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if _length(plans) and "budget" in plans and _length(plans) <= 5:  # few plans: say which budget each is
        lo, hi = np.log10(ax.get_xlim())
        for r in _rows(plans):  # a label in the plot's right third goes left of its point, inside the plot
            left = np.log10(r["params_b"]) > lo + 2 / 3 * (hi - lo)
            ax.annotate(_literal(r["budget"]), (r["params_b"], r["tokens_t"]), textcoords="offset points",
                        xytext=(-6 if left else 6, -3), fontsize=8, ha="right" if left else "left")
    _log_ticks(ax.xaxis)
    _log_ticks(ax.yaxis)
    ax.set_xlabel("parameters (billions, log scale)")
    ax.set_ylabel("training tokens (trillions, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    place(fig, ax, title=_title(fig, title))
    return fig


def landscape(grid: Columns, best: dict | None, title: str = "") -> Figure:
    """Best predicted MMLU over layers × hidden size at the budget; the best plan marked."""
    fig, ax = _figure()
    x, col = np.unique(grid["layers"], return_inverse=True)
    y, row = np.unique(grid["hidden"], return_inverse=True)
    table = np.full((len(y), len(x)), np.nan)
    table[row, col] = np.asarray(grid["mmlu"], dtype=float)
    mesh = ax.pcolormesh(x, y, table, shading="nearest", cmap="viridis", rasterized=True)
    bar = fig.add_axes((0.9, 0.1, 0.02, 0.8))  # placed with the plot (report.placing)
    fig.colorbar(mesh, cax=bar, label="predicted MMLU (points)")
    if best is not None:
        ax.plot([best["layers"]], [best["hidden"]], marker="*", color="white", markersize=16,
                markeredgecolor="black", label="best plan")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel("layers")
    ax.set_ylabel("hidden size")
    place(fig, ax, title=_title(fig, title), colorbar=bar)
    return fig


def save(fig: Figure, folder: Path, stem: str) -> bytes:
    """Write ``stem``.png and ``stem``.svg (no timestamps in the files); return the PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    png = buf.getvalue()
    (folder / f"{stem}.png").write_bytes(png)
    with rc_context({"svg.hashsalt": "perflaw"}):  # stable element ids: identical files run to run
        fig.savefig(folder / f"{stem}.svg", format="svg", metadata={"Date": None, "Creator": None})
    return png

