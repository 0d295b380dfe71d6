"""Draw the report's figures from its tables (matplotlib's object API; no global pyplot state)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_COLORS = {"chinchilla": "#999999", "chinchilla-unrounded": "#555555", "epoch": "#c0504d"}


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(7.5, 4.6), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def pareto(front: pd.DataFrame, refs: pd.DataFrame, review: bool) -> Figure:
    """Predicted MMLU against training compute, the interval as a band, zoo models overlaid."""
    fig, ax = _figure()
    f = front.sort_values("train_flops")
    if len(f):
        if review:  # separate budgets: an interval bar each, not a band between them
            ax.errorbar(f["train_flops"], f["mmlu"], yerr=[f["mmlu"] - f["mmlu_low"], f["mmlu_high"] - f["mmlu"]],
                        fmt="o", color="#1f4e79", ecolor="#4f81bd", capsize=4,
                        label="best plan per budget (predicted, with interval)")
        else:
            ax.fill_between(f["train_flops"], f["mmlu_low"], f["mmlu_high"], color="#4f81bd", alpha=0.18,
                            label="prediction interval")
            ax.plot(f["train_flops"], f["mmlu"], "o-", color="#1f4e79", label="best plan (predicted)")
        if review:
            for _, r in f.iterrows():
                ax.annotate(str(r["budget"]), (r["train_flops"], r["mmlu"]), textcoords="offset points",
                            xytext=(5, -12), fontsize=8)
    if len(refs):
        ax.scatter(refs["train_flops"], refs["reported_mmlu"], marker="s", color="#c0504d", zorder=3,
                   label="published model (reported MMLU)")
        for _, r in refs.iterrows():
            ax.annotate(r["name"], (r["train_flops"], r["reported_mmlu"]), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("training compute (FLOPs, log scale)")
    ax.set_ylabel("5-shot MMLU (percentage points)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def allocation(plans: pd.DataFrame, baselines: pd.DataFrame) -> Figure:
    """Parameters against tokens of the best plans, with the loss laws' compute-optimal lines."""
    fig, ax = _figure()
    for name, b in baselines.groupby("law", sort=False):
        ax.plot(b["params_b"], b["tokens_t"], "-", color=_COLORS.get(name, "#777777"),
                label=f"compute-optimal ({name})")
    if len(plans):
        ax.scatter(plans["params_b"], plans["tokens_t"], color="#1f4e79", zorder=3, label="best plans (Performance Law)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("parameters (billions, log scale)")
    ax.set_ylabel("training tokens (trillions, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def landscape(grid: pd.DataFrame, best: dict | None) -> Figure:
    """Best predicted MMLU over layers × hidden size at the budget; the best plan marked."""
    fig, ax = _figure()
    table = grid.pivot(index="hidden", columns="layers", values="mmlu")
    x, y = table.columns.to_numpy(), table.index.to_numpy()
    mesh = ax.pcolormesh(x, y, table.to_numpy(dtype=float), shading="nearest", cmap="viridis",
                         rasterized=True)
    fig.colorbar(mesh, ax=ax, label="predicted MMLU (points)")
    if best is not None:
        ax.plot([best["layers"]], [best["hidden"]], marker="*", color="white", markersize=16,
                markeredgecolor="black", label="best plan")
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xlabel("layers")
    ax.set_ylabel("hidden size")
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

