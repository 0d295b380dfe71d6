"""Compatibility mode: the Performance Law author's planning tool, reproduced exactly and vectorised.

The tool (DESIGN.md section 1) enumerates a fixed grid, keeps plans within the compute budget
6·S·T ≤ TFLOPS·1e12·86400·MFU·GPUs·days (raw tokens T) and the size range, drops plans whose
raw law value is below the minimum MMLU (before the output bounds), and ranks the rest. This
module evaluates the same grid with numpy, with the tool's own order of floating-point
operations so that every rounded figure matches:

- grid: FFN step k = 0, 2, …, 98 (outermost), hidden 16384 down to 2048 by 1024, layers from
  the minimum up to the maximum (exclusive) with layers mod 8 in {6, 7}, tokens from 1T by 0.5T
  below the maximum (innermost); FFN = hidden + 1024·k kept only when a multiple of 4096;
- parameters: N·(2·h·128·8 + 2h² + 3hd) + 2·150000·h;
- rankings, each stable (ties keep enumeration order): ``performance`` by MMLU rounded to two
  decimals, descending; ``shallow`` by layers, ascending; ``balance`` by rounded MMLU² / ln(1+N),
  descending;
- budget utilization = 6·S·T'·1e12 / budget with the clipped tokens T' = min(T, S).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perflaw.law.coefficients import PAPER
from perflaw.law.errors import InputError
from perflaw.law.performance import PLANNER_HEAD_DIM, PLANNER_KV_HEADS, PLANNER_VOCAB

RANKINGS = ("performance", "shallow", "balance")


@dataclass(frozen=True)
class PlannerSettings:
    """The tool's inputs, with its defaults (its published screenshot uses these)."""

    tflops: float = 376.0  # BF16 TFLOP/s per GPU
    gpus: int = 1024
    mfu_percent: float = 40.0
    days: float = 30.0
    min_layers: int = 20
    max_layers: int = 100  # exclusive
    min_params_b: float = 10.0
    max_params_b: float = 100.0
    max_tokens_t: float = 20.0  # exclusive
    gamma: float = 1.0
    min_mmlu: float = 50.0

    def __post_init__(self) -> None:
        for name in ("tflops", "mfu_percent", "days", "min_params_b", "max_params_b", "max_tokens_t", "gamma"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise InputError(_FIELD.get(name, name), "must be a positive finite number", value)
        if self.mfu_percent > 100:
            raise InputError("mfu_percent", "is a percentage and must be at most 100", self.mfu_percent)
        if self.gamma < 1:
            raise InputError("gamma", "must be at least 1", self.gamma)
        if not math.isfinite(self.min_mmlu):
            raise InputError("min_mmlu", "must be finite", self.min_mmlu)
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 1:
            raise InputError("gpus", "must be a whole number >= 1", self.gpus)
        if not 1 <= self.min_layers < self.max_layers <= 10_000:
            raise InputError("layers", "must be MIN:MAX with 1 <= MIN < MAX <= 10000",
                             f"{self.min_layers}:{self.max_layers}")
        if self.min_params_b > self.max_params_b:
            raise InputError("params_b", "lower end must not exceed the upper end",
                             f"{self.min_params_b}B:{self.max_params_b}B")
        if self.max_tokens_t > 10_000:
            raise InputError("max_tokens_t", "must be at most 10,000T", self.max_tokens_t)

    @property
    def budget_flops(self) -> float:
        return self.tflops * 1e12 * 86400 * (self.mfu_percent / 100) * self.gpus * self.days


_FIELD = {"min_params_b": "params_b", "max_params_b": "params_b"}  # errors name the range, not its end


@dataclass(frozen=True)
class PlannerTable:
    """Every plan that passed the filters, in enumeration order (columns as numpy arrays)."""

    layers: np.ndarray
    hidden: np.ndarray
    ffn: np.ndarray
    params_b: np.ndarray  # rounded to 2 decimals, as the tool shows
    tokens_t: np.ndarray  # raw tokens
    budget_utilization: np.ndarray  # rounded to 4 decimals
    mmlu: np.ndarray  # bounded, rounded to 2 decimals
    settings: PlannerSettings

    def __len__(self) -> int:
        return len(self.layers)

    def ranked(self, rank: str = "performance", top: int | None = 10) -> list[dict]:
        """Rows in the tool's display order for ``rank`` (stable sort), the first ``top``."""
        if rank not in RANKINGS:
            raise InputError("rank", f"must be one of {', '.join(RANKINGS)}", rank)
        if rank == "performance":
            order = np.argsort(-self.mmlu, kind="stable")
        elif rank == "shallow":
            order = np.argsort(self.layers, kind="stable")
        else:
            order = np.argsort(-(self.mmlu**2 / np.log(1 + self.layers)), kind="stable")
        order = order[:top] if top is not None else order
        return [{"layers": int(self.layers[i]), "hidden": int(self.hidden[i]), "ffn": int(self.ffn[i]),
                 "params_b": float(self.params_b[i]), "tokens_t": float(self.tokens_t[i]),
                 "mmlu": float(self.mmlu[i]), "budget_utilization": float(self.budget_utilization[i])}
                for i in order]


def run_planner(s: PlannerSettings = PlannerSettings()) -> PlannerTable:
    """Evaluate the tool's whole grid at once and keep what it keeps."""
    flops = s.budget_flops
    ks = np.arange(0, 100, 2)
    hiddens = np.arange(16384, 1024, -1024).astype(np.float64)
    layers = np.arange(s.min_layers, s.max_layers)
    layers = layers[np.isin(layers % 8, (6, 7))]
    tokens = np.arange(1, s.max_tokens_t, 0.5)
    points = 50 * len(hiddens) * len(layers) * len(tokens)  # upper bound before the FFN rule
    if points > 200_000_000:
        raise InputError("grid", "of layers and tokens must have at most 200,000,000 points", f"{points:,}")
    # Enumeration order: k outermost, then hidden, then layers, then tokens (C order of each mesh).
    # Filters are applied as soon as their inputs exist; the order of survivors is unchanged.
    k, h = (a.ravel() for a in np.meshgrid(ks, hiddens, indexing="ij"))
    d = h + 1024 * k
    keep = d % 4096 == 0
    h, d = h[keep], d[keep]
    pair, n = (a.ravel() for a in np.meshgrid(np.arange(len(h)), layers, indexing="ij"))
    h, d = h[pair], d[pair]
    size = (h * PLANNER_HEAD_DIM * PLANNER_KV_HEADS * 2 + 2 * h**2 + 3 * h * d) * n + h * PLANNER_VOCAB * 2
    keep = ~((size > s.max_params_b * 1e9) | (size < s.min_params_b * 1e9))
    h, d, n, size = h[keep], d[keep], n[keep], size[keep]
    # The token-independent part of the law, once per shape, summed in the tool's order.
    discount = np.exp(-((10 / d + 20 / h) * (s.gamma * n)) ** 2)
    c = PAPER
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) when the discount underflows: filtered below
        partial = (c.w1 * np.log(discount * n) + c.w2 * np.log(discount * h)) + c.w3 * np.log(discount * d)
    row, t = (a.ravel() for a in np.meshgrid(np.arange(len(h)), tokens, indexing="ij"))
    keep = ~(6 * size[row] * 1e12 * t > flops)
    row, t = row[keep], t[keep]
    h, d, n, size, discount, partial = h[row], d[row], n[row], size[row], discount[row], partial[row]
    t_eff = np.minimum(t, size / 1e9)
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (partial + c.w4 * np.log(discount * t_eff)) + c.b
    # The tool filters on the raw value, before the output bounds. Where the discount underflows to
    # 0 the law has no value (-inf + inf): such rows are dropped, never shown as NaN.
    keep = ~(raw < s.min_mmlu) & np.isfinite(raw)
    h, n, t, d, size, t_eff, raw = h[keep], n[keep], t[keep], d[keep], size[keep], t_eff[keep], raw[keep]
    bounded = np.where(raw < 25, 25.0, np.where(raw > 90, 90 + np.tanh(0.1 * raw - 9) * 10, raw))
    return PlannerTable(
        layers=n.astype(np.int64), hidden=h.astype(np.int64), ffn=d.astype(np.int64),
        params_b=np.round(size / 1e9, 2), tokens_t=t, budget_utilization=np.round(6 * size * 1e12 * t_eff / flops, 4),
        mmlu=np.round(bounded, 2), settings=s,
    )
