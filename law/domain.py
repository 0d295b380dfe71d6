"""Where the law has evidence: the shapes, data and compute of published models of comparable size.

A plan is *inside* the law's domain when each of its features lies within the range that published
models of the same kind (dense or MoE) and comparable activated size span in the law's fit table:

- ``hidden_per_layer``   hidden / layers (wide-shallow against deep-narrow)
- ``ffn_per_hidden``     the FFN width a token passes through / hidden (MoE: (top-k + shared) × expert width)
- ``tokens_per_param``   training tokens per activated parameter
- ``expansion``          MoE total / activated parameters
- ``experts_per_token``  MoE routed experts each token uses (top-k)
- ``active_params_b``    the size itself: no comparable model at all is no evidence
- ``tokens_t``           training tokens, against every model's
- ``compute``            training compute 6 · activated parameters · tokens, against every model's

Comparable size: each published model weighs exp(−½ (ln(size ratio) / ln ``SIZE_FACTOR``)²) at a
plan's size (1 at the same size, 0.61 at twice or half, 0.14 at four times), so a ratio seen only at
0.5B is no evidence at 50B. An end of a range needs ``SUPPORT`` (1.5) models' worth of weight at or
beyond it (half the weight there is where models are few), so no single model stretches the
domain, and the ranges change smoothly with size instead of jumping where a model leaves a
window. The conventional shapes are the weighted quartiles. The ranges are computed once on a
log grid of sizes and looked up, so whole lattices are checked with numpy. Training tokens and
compute are judged against every published model, whatever its size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

SIZE_FACTOR = 2.0  # comparable size: a model 2× larger or smaller weighs e^(-1/2) of one the same size
SUPPORT = 1.5  # an end of a range needs this many models' worth of weight at or beyond it
GRID_POINTS = 400  # log-spaced sizes the ranges are tabulated on
#: The features, in report order, with the words outputs use.
FEATURES = {
    "hidden_per_layer": "hidden / layers",
    "ffn_per_hidden": "FFN width / hidden",
    "tokens_per_param": "tokens per activated parameter",
    "expansion": "MoE total / activated parameters",
    "experts_per_token": "MoE experts per token",
    "active_params_b": "activated parameters, B",
    "tokens_t": "training tokens, T",
    "compute": "training compute 6·N·T, FLOPs",
}
#: The features a plan chooses: a search with trust ``data`` keeps them inside. Compute is the
#: budget's, not the plan's: a budget beyond every published run is said, not searched away.
CHOSEN = ("hidden_per_layer", "ffn_per_hidden", "tokens_per_param", "expansion", "experts_per_token",
          "active_params_b", "tokens_t")
_SIZE_CONDITIONED = ("hidden_per_layer", "ffn_per_hidden", "tokens_per_param", "expansion", "experts_per_token")
_MOE_ONLY = ("expansion", "experts_per_token")


@dataclass(frozen=True)
class KindRanges:
    """The ranges of one kind of model (dense or MoE), tabulated over a log grid of sizes."""

    log_sizes: np.ndarray  # ln(activated parameters, B) of the grid
    low: dict[str, np.ndarray]  # feature -> lowest value among comparable models, per grid size
    high: dict[str, np.ndarray]
    q25: dict[str, np.ndarray]  # the quartiles: the conventional shapes of comparable models
    q75: dict[str, np.ndarray]
    size_range: tuple[float, float]  # smallest and largest activated size of this kind, B
    n: int  # models of this kind

    def at(self, active_b, conventional: bool = False) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each feature's (low, high) at ``active_b`` (the nearest grid size); ``conventional``: the
        quartiles instead of the extremes."""
        x = np.log(np.asarray(active_b, dtype=np.float64))
        step = self.log_sizes[1] - self.log_sizes[0]
        i = np.clip(np.rint((x - self.log_sizes[0]) / step), 0, len(self.log_sizes) - 1).astype(np.intp)
        names, table = self._tables[conventional]
        rows = table.take(i, axis=1)  # one gather of every bound, each a contiguous row (the lows, then the highs)
        f = len(names)
        return {k: rows[j] for j, k in enumerate(names)}, {k: rows[f + j] for j, k in enumerate(names)}

    @cached_property
    def _tables(self) -> dict[bool, tuple[tuple[str, ...], np.ndarray]]:
        """Per ``conventional``: the feature names and a (lows, highs) × grid table of their bounds."""
        out = {}
        for conventional, (lo, hi) in ((False, (self.low, self.high)), (True, (self.q25, self.q75))):
            names = tuple(lo)
            rows = [lo[k] for k in names] + [hi[k] for k in names]
            out[conventional] = names, (np.stack(rows) if rows else np.empty((0, len(self.log_sizes))))
        return out


@dataclass(frozen=True)
class Domain:
    """The law's domain: ranges per kind of model, and the compute range of all models."""

    dense: KindRanges | None
    moe: KindRanges | None
    compute: tuple[float, float]
    source: str
    tokens: tuple[float, float] = (0.0, float("inf"))  # training tokens of every model, T

    def ranges(self, active_b, is_moe, conventional: bool = False) -> tuple[dict[str, np.ndarray],
                                                                             dict[str, np.ndarray]]:
        """Each feature's (low, high) for plans of activated size ``active_b`` (arrays; NaN: not
        applicable, such as MoE features of a dense plan, or no model of that kind);
        ``conventional``: the interquartile range of comparable models instead of their extremes."""
        active_b, is_moe = np.broadcast_arrays(np.asarray(active_b, dtype=np.float64), np.asarray(is_moe, dtype=bool))
        low = {k: np.full(active_b.shape, np.nan) for k in FEATURES}
        high = {k: np.full(active_b.shape, np.nan) for k in FEATURES}
        for kinds, mask in ((self.dense, ~is_moe), (self.moe, is_moe)):
            if kinds is None or not mask.any():
                continue
            lo, hi = self._bounds(kinds, active_b[mask], conventional)
            for k in lo:
                low[k][mask], high[k][mask] = lo[k], hi[k]
        low["compute"][...], high["compute"][...] = self.compute  # plans of no known kind as well
        low["tokens_t"][...], high["tokens_t"][...] = self.tokens
        return low, high

    def _bounds(self, kinds: KindRanges, active_b, conventional: bool) -> tuple[dict, dict]:
        """The (low, high) bounds of plans of one kind: its size-conditioned features looked up at
        ``active_b`` (arrays), its size range and every model's compute and token ranges (numbers)."""
        lo, hi = kinds.at(active_b, conventional)
        return ({**lo, "active_params_b": kinds.size_range[0], "compute": self.compute[0], "tokens_t": self.tokens[0]},
                {**hi, "active_params_b": kinds.size_range[1], "compute": self.compute[1], "tokens_t": self.tokens[1]})

    def distance(self, features: dict[str, np.ndarray], active_b, is_moe, names=None,
                 conventional: bool = False) -> np.ndarray:
        """How far each plan lies outside the domain: Σ over the features ``names`` (default all) of
        ln(value / high) above the range and ln(low / value) below it (0 inside; a plan with no
        model of its kind: inf), computed as the logarithm of the product of the ratios (``excess``)."""
        with np.errstate(divide="ignore"):
            return np.log(self.excess(features, active_b, is_moe, names, conventional))

    def excess(self, features: dict[str, np.ndarray], active_b, is_moe, names=None,
               conventional: bool = False) -> np.ndarray:
        """The product of the ratios ``distance`` is the logarithm of: exactly 1 inside the domain,
        above 1 outside (inf: no model of the plan's kind). Where only inside or outside counts, it
        saves the logarithm: ``excess <= 1`` exactly where ``distance <= 0``."""
        active_b, is_moe = np.broadcast_arrays(np.asarray(active_b, dtype=np.float64), np.asarray(is_moe, dtype=bool))
        one_kind = None  # the table of the one kind every plan is, if they are all one kind and it has models
        if is_moe.size:
            one_kind = self.moe if is_moe.all() else self.dense if not is_moe.any() else None
        if one_kind is None:  # both kinds (or none): the ranges per plan
            low, high = self.ranges(active_b, is_moe, conventional)
        else:  # a lattice of one kind: its table looked up once, no per-plan masks
            low, high = self._bounds(one_kind, active_b, conventional)
        # Σ ln(max(v / high, 1)) + ln(max(low / v, 1)) as the logarithm of one product: one log per plan
        # instead of two per feature (exactly 0 inside, where every factor is exactly 1). As low <= high,
        # at most one ratio of a feature exceeds 1, so its factor is max(v / high, low / v, 1).
        terms = [(np.asarray(features[k], dtype=np.float64), low[k], high[k])
                 for k in (FEATURES if names is None else names)
                 if k in features and k in low]  # else not a feature of these plans, or not of their kind's
        factor = _product(terms, np.shape(active_b), checked=False)
        if not np.isfinite(factor).all():  # a plan without some feature (NaN or inf): that feature has no term
            factor = _product(terms, np.shape(active_b), checked=True)
        if one_kind is not None:
            return factor
        kinds_known = np.where(np.asarray(is_moe, dtype=bool), self.moe is not None, self.dense is not None)
        return np.where(kinds_known, factor, np.inf)

    def describe(self, features: dict[str, float], active_b: float, is_moe: bool) -> dict:
        """One plan against the domain: ``{"inside": bool, "outside": [{"feature", "value", "low", "high"}]}``."""
        low, high = self.ranges(np.array([active_b]), np.array([is_moe]))
        outside = []
        if (self.moe if is_moe else self.dense) is None:
            outside.append({"feature": "kind", "value": "moe" if is_moe else "dense", "low": None, "high": None})
        for k in FEATURES:
            if k not in features or not np.isfinite(low[k][0]):
                continue
            v, lo, hi = float(features[k]), float(low[k][0]), float(high[k][0])
            if v < lo or v > hi:
                outside.append({"feature": k, "value": v, "low": lo, "high": hi})
        return {"inside": not outside, "outside": outside}


def _product(terms, shape, checked: bool) -> np.ndarray:
    """Π over ``terms`` (value, low, high) of max(value / high, low / value, 1), computed in place;
    ``checked``: a term whose value or low bound is not finite is 1."""
    factor = np.ones(shape, dtype=np.float64)
    below = np.empty_like(factor)
    above = np.empty_like(factor)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for v, lo, hi in terms:
            np.divide(v, hi, out=above)
            np.divide(lo, v, out=below)
            np.maximum(above, below, out=above)
            np.maximum(above, 1.0, out=above)
            if checked and not (_all_finite(lo) and np.isfinite(v).all()):
                np.copyto(above, 1.0, where=~(np.isfinite(lo) & np.isfinite(v)))
            factor *= above
    return factor


def _all_finite(x) -> bool:
    return math.isfinite(x) if isinstance(x, float) else bool(np.isfinite(x).all())


def outside_words(outside, names=FEATURES) -> str:
    """``Domain.describe``'s ``outside`` list in words, e.g. "hidden / layers 50 (published models of
    its size: 64 to 192)"; only the features ``names``."""
    def one(o):
        if o["low"] is None:
            return f"no published {o['value']} model"
        whose = "published models" if o["feature"] in ("compute", "tokens_t", "active_params_b") else \
            "published models of its size"
        return f"{FEATURES[o['feature']]} {o['value']:.3g} ({whose}: {o['low']:.3g} to {o['high']:.3g})"
    return "; ".join(one(o) for o in outside if o["low"] is None or o["feature"] in names)


def plan_features(layers, hidden, law_ffn, tokens_t, total_b, active_b, active_experts=0,
                  names=None) -> dict[str, np.ndarray]:
    """The domain's features of plans or models (arrays broadcast; MoE features NaN for dense ones);
    ``names``: only these (a lattice's distance needs ``CHOSEN``, not the compute)."""
    layers, hidden, law_ffn = (np.asarray(v, dtype=np.float64) for v in (layers, hidden, law_ffn))
    tokens_t, total_b, active_b = (np.asarray(v, dtype=np.float64) for v in (tokens_t, total_b, active_b))
    k = np.asarray(active_experts, dtype=np.float64)

    def moe():  # which are MoE models (only the MoE features ask)
        return total_b > active_b * (1 + 1e-9)

    make = {
        "hidden_per_layer": lambda: hidden / layers,
        "ffn_per_hidden": lambda: law_ffn / hidden,
        "tokens_per_param": lambda: tokens_t * 1e3 / active_b,
        "expansion": lambda: np.where(moe(), total_b / active_b, np.nan),
        "experts_per_token": lambda: np.where(moe() & (k > 0), k, np.nan),
        "active_params_b": lambda: active_b,
        "tokens_t": lambda: tokens_t if tokens_t.shape == active_b.shape else tokens_t + 0.0 * active_b,
        "compute": lambda: 6.0 * active_b * 1e9 * tokens_t * 1e12,
    }
    return {key: f() for key, f in make.items() if names is None or key in names}


def _kind_ranges(features: dict[str, np.ndarray], active_b: np.ndarray, moe: bool) -> KindRanges | None:
    n = len(active_b)
    if n == 0:
        return None
    sizes = np.log(active_b)
    width = np.log(SIZE_FACTOR)
    grid = np.linspace(sizes.min() - width, sizes.max() + width, GRID_POINTS)
    weight = np.exp(-0.5 * ((grid[:, None] - sizes[None, :]) / width) ** 2)  # grid × models
    low, high, q25, q75 = {}, {}, {}, {}
    for k in _SIZE_CONDITIONED:
        if k in _MOE_ONLY and not moe:
            continue
        v = features[k]
        ok = np.isfinite(v)
        if not ok.any():
            continue
        order = np.argsort(v[ok], kind="stable")
        values, w = v[ok][order], weight[:, ok][:, order]
        below = np.cumsum(w, axis=1)  # weight of the models at or below each value
        above = below[:, -1:] - below + w  # ... at or above it
        need = np.minimum(SUPPORT, 0.5 * below[:, -1:])
        low[k] = values[np.argmax(below >= need, axis=1)]
        high[k] = values[len(values) - 1 - np.argmax((above >= need)[:, ::-1], axis=1)]
        q25[k] = values[np.argmax(below >= 0.25 * below[:, -1:], axis=1)]
        q75[k] = values[np.argmax(below >= 0.75 * below[:, -1:], axis=1)]
    return KindRanges(grid, low, high, q25, q75, (float(active_b.min()), float(active_b.max())), n)


def domain_of(inputs, active_experts, source: str) -> Domain:
    """The domain of a fit table's models (``law.zoo.LawInputs`` and each model's top-k, 0 for dense)."""
    f = plan_features(inputs.layers, inputs.hidden, inputs.ffn, inputs.tokens_t, inputs.total_b, inputs.active_b,
                      active_experts)
    moe = np.asarray(inputs.is_moe, dtype=bool)
    part = {kind: ({k: v[mask] for k, v in f.items()}, inputs.active_b[mask])
            for kind, mask in (("dense", ~moe), ("moe", moe))}
    compute = f["compute"][np.isfinite(f["compute"])]
    return Domain(dense=_kind_ranges(*part["dense"], moe=False), moe=_kind_ranges(*part["moe"], moe=True),
                  compute=(float(compute.min()), float(compute.max())), source=source,
                  tokens=(float(np.nanmin(inputs.tokens_t)), float(np.nanmax(inputs.tokens_t))))


@lru_cache(maxsize=1)
def zoo_domain() -> Domain:
    """The domain of the shipped zoo's complete models, from their shipped law inputs
    (law.shipped; the zoo is read with pandas only if that file is missing)."""
    from types import SimpleNamespace

    from perflaw.law import shipped
    data = shipped.domain_inputs() or shipped.compute_domain_inputs()
    inputs = SimpleNamespace(**{k: np.asarray(data[k], dtype=bool if k == "is_moe" else float)
                                for k in shipped.DOMAIN_FIELDS})
    return domain_of(inputs, inputs.active_experts, data["source"])
