"""The search space: axes of architecture choices, their divisibility rules, and the lattice they span."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from perflaw.law.errors import InputError
from perflaw.law.rules import Range, check_number, is_number, is_whole
from perflaw.optimizer.search.defaults import SPACE

LAYERS = Range(1, 4096)
HEADS = Range(1, 65536)
HEAD_DIM = Range(1, 4096)
FFN_MULTIPLE = Range(1, 1 << 16)
VOCAB = Range(1, 1 << 24)
FFN_RATIO = Range(0, 64, open_low=True)  # FFN size / hidden
EXPERT_CHOICE = Range(0, 1 << 22)  # experts, top-k, shared experts, expert FFN size
# The exact search keeps two values per candidate, but the report's work (flatness, landscape,
# fronts) holds every column of every candidate (about 650 bytes each at the peak), so the number
# of candidates bounds memory: benchmarks/bench_memory.py measures `perflaw run` and `perflaw
# optimize` at this limit, 1.5 to 2.0 GB (README, "Known limits").
MAX_CANDIDATES = 3_000_000  # valid lattice points (after the divisibility rules)
MAX_POINTS = 20_000_000  # lattice points before the rules: bounds the work of counting them
AXES = ("layers", "heads", "ffn_ratio", "kv_heads", "experts", "active_experts", "shared_experts", "expert_ffn")


def _int_range(name: str, value, allowed: Range) -> tuple[int, int]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise InputError(name, "must be a range [low, high]", value)
    a, b = value
    for v in (a, b):
        if not is_whole(v) or v not in allowed:
            raise InputError(name, f"must be whole numbers in {allowed.text()}", value)
    if a > b:
        raise InputError(name, "lower end must not exceed the upper end", f"{a}:{b}")
    return a, b


def _choices(name: str, value, allowed: Range) -> tuple[int, ...]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not values:
        raise InputError(name, "must list at least one value", value)
    for v in values:
        if not is_whole(v) or v not in allowed:
            raise InputError(name, f"must be whole numbers in {allowed.text()}", value)
    return tuple(sorted(set(int(v) for v in values)))


@dataclass(frozen=True)
class SearchSpace:
    """Ranges and steps of every architecture choice (counts are whole numbers).

    hidden = heads × head_dim (multiples of head_dim suit tensor cores); FFN = ffn_ratio × hidden
    rounded to a multiple of ``ffn_multiple``; KV heads are choices that must divide the heads.
    MoE is on when ``experts`` lists a value above 0: every layer is then an MoE layer with
    ``active_experts`` routed experts per token and ``shared_experts`` shared experts, each of width
    ``expert_ffn``. Tokens are not an axis: for a budget the best count follows analytically.
    """

    layers: tuple[int, int] = SPACE["layers"]  # the defaults live in search.defaults (no numpy)
    layers_step: int = SPACE["layers_step"]
    heads: tuple[int, int] = SPACE["heads"]
    heads_step: int = SPACE["heads_step"]
    head_dim: int = SPACE["head_dim"]
    ffn_ratio: tuple[float, float] = SPACE["ffn_ratio"]
    ffn_ratio_step: float = SPACE["ffn_ratio_step"]
    ffn_multiple: int = SPACE["ffn_multiple"]
    kv_heads: tuple[int, ...] = SPACE["kv_heads"]
    vocab: int = SPACE["vocab"]
    tied_embeddings: bool = False
    gated: bool = True
    experts: tuple[int, ...] = (0,)
    active_experts: tuple[int, ...] = (0,)
    shared_experts: tuple[int, ...] = (0,)
    expert_ffn: tuple[int, ...] = (0,)
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", _int_range("layers", tuple(self.layers), LAYERS))
        object.__setattr__(self, "heads", _int_range("heads", tuple(self.heads), HEADS))
        for key, allowed in (("layers_step", LAYERS), ("heads_step", HEADS), ("head_dim", HEAD_DIM),
                             ("ffn_multiple", FFN_MULTIPLE), ("vocab", VOCAB)):
            object.__setattr__(self, key, check_number(key, getattr(self, key), allowed, whole=True))
        ratio = self.ffn_ratio
        if not (isinstance(ratio, (tuple, list)) and len(ratio) == 2 and all(is_number(v) and v in FFN_RATIO
                                                                             for v in ratio) and ratio[0] <= ratio[1]):
            raise InputError("ffn_ratio", f"must be [low, high] with low <= high, both in {FFN_RATIO.text()}", ratio)
        object.__setattr__(self, "ffn_ratio", (float(ratio[0]), float(ratio[1])))
        check_number("ffn_ratio_step", self.ffn_ratio_step, FFN_RATIO)
        object.__setattr__(self, "kv_heads", _choices("kv_heads", self.kv_heads, HEADS))
        for key in ("experts", "active_experts", "shared_experts", "expert_ffn"):
            object.__setattr__(self, key, _choices(key, getattr(self, key), EXPERT_CHOICE))
        if self.is_moe:
            if 0 in self.experts or 0 in self.active_experts or 0 in self.expert_ffn:
                raise InputError("experts", "a MoE space needs `experts`, `active_experts` and `expert_ffn` above 0",
                                 (self.experts, self.active_experts, self.expert_ffn))
            if min(self.active_experts) > max(self.experts):
                raise InputError("active_experts", f"must not exceed `experts` ({max(self.experts)})",
                                 self.active_experts)
        points = int(np.prod([len(v) for v in self.axis_values().values()], dtype=np.float64))
        if points > MAX_POINTS:
            raise InputError("space", f"must have at most {MAX_POINTS:,} points (narrow the `layers`, `heads` or "
                                      "`ffn_ratio` ranges or the choices, or raise the steps)", f"{points:,}")
        count = self.candidate_count()
        if count > MAX_CANDIDATES:
            raise InputError("space", f"must have at most {MAX_CANDIDATES:,} candidates (valid lattice points), which "
                                      "is what keeps the search within 2 GB of memory: narrow the `layers`, `heads` "
                                      "or `ffn_ratio` ranges or the choices, or raise the steps", f"{count:,}")
        heads = np.arange(self.heads[0], self.heads[1] + 1, self.heads_step)
        if not any((heads % kv == 0).any() for kv in self.kv_heads):
            raise InputError("kv_heads", "must divide some `heads` value (the search space is empty)",
                             f"heads {self.heads[0]}:{self.heads[1]} step {self.heads_step}, kv {self.kv_heads}")

    @property
    def is_moe(self) -> bool:
        return max(self.experts) > 0

    def axis_values(self) -> dict[str, np.ndarray]:
        """The values of every axis (MoE axes hold 0 for dense spaces)."""
        lo, hi = self.ffn_ratio
        ratios = np.round(np.arange(lo, hi + self.ffn_ratio_step / 2, self.ffn_ratio_step), 6)
        if self.is_moe:  # every layer is an MoE layer: the dense FFN width is not a choice
            ratios = ratios[:1]
        return {
            "layers": np.arange(self.layers[0], self.layers[1] + 1, self.layers_step),
            "heads": np.arange(self.heads[0], self.heads[1] + 1, self.heads_step),
            "ffn_ratio": ratios,
            "kv_heads": np.array(self.kv_heads),
            "experts": np.array(self.experts),
            "active_experts": np.array(self.active_experts),
            "shared_experts": np.array(self.shared_experts),
            "expert_ffn": np.array(self.expert_ffn),
        }

    @property
    def size(self) -> int:
        """Number of valid lattice points."""
        return len(self.lattice()["layers"])

    def candidate_count(self) -> int:
        """The number of valid lattice points (``size``), counted without building the lattice."""
        axes = self.axis_values()
        heads, _ = self._pairs(axes)
        kv = sum(int((heads % k == 0).sum()) for k in axes["kv_heads"])
        moe = sum(int((axes["active_experts"] <= e).sum()) for e in axes["experts"])
        return len(axes["layers"]) * kv * moe * len(axes["shared_experts"]) * len(axes["expert_ffn"])

    def _pairs(self, axes: dict) -> tuple[np.ndarray, np.ndarray]:
        """The distinct (heads, FFN width) pairs, sorted by heads (two ratios can round to one width)."""
        heads, ratio = np.meshgrid(axes["heads"], axes["ffn_ratio"], indexing="ij")
        heads, ffn = heads.ravel(), self._ffn(heads.ravel(), ratio.ravel())
        pair = np.flatnonzero(np.r_[True, (np.diff(heads) != 0) | (np.diff(ffn) != 0)])
        return heads[pair], ffn[pair]

    def _ffn(self, heads: np.ndarray, ratio: np.ndarray) -> np.ndarray:
        hidden = heads * self.head_dim
        return (np.maximum(np.round(ratio * hidden / self.ffn_multiple), 1) * self.ffn_multiple).astype(np.int64)

    def lattice(self, index_arrays: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Architectures at the given axis indices (default: the whole lattice).

        Returns arrays ``layers, heads, hidden, ffn, kv_heads, head_dim, experts, active_experts,
        shared_experts, expert_ffn`` and ``valid``. For explicit indices (the samplers') invalid
        points are kept and flagged; the whole lattice holds valid points only, each once (two FFN
        ratios can round to one size), in enumeration order: layers outermost, then heads, FFN,
        KV heads and the MoE axes.
        """
        if index_arrays is None:
            parts = self.lattice_parts()
            vals = {k: np.tile(v, len(parts.layers)) for k, v in parts.inner.items()}
            vals["layers"] = np.repeat(parts.layers, parts.inner_size)
            vals["valid"] = np.ones(parts.size, dtype=bool)
            return self._columns(vals)
        axes = self.axis_values()
        vals = {a: axes[a][np.asarray(index_arrays[a], dtype=np.int64)].astype(np.float64) for a in AXES}
        vals["ffn"] = self._ffn(vals["heads"], vals["ffn_ratio"]).astype(np.float64)
        vals["valid"] = (vals["heads"] % vals["kv_heads"] == 0) & (vals["active_experts"] <= vals["experts"])
        return self._columns(vals)

    def lattice_parts(self) -> "LatticeParts":
        """The whole lattice as its two factors: the layer values (outermost) and every valid choice of
        the other axes, in enumeration order (``lattice_rows`` turns row numbers into architectures)."""
        axes = self.axis_values()
        rest = ("kv_heads", "experts", "active_experts", "shared_experts", "expert_ffn")
        heads, ffn = self._pairs(axes)
        # Validity does not depend on depth: everything but the layers first, the layers outermost.
        grids = np.meshgrid(np.arange(len(heads)), *(axes[r] for r in rest), indexing="ij")
        flat = [g.ravel() for g in grids]
        inner = {"heads": heads[flat[0]], "ffn": ffn[flat[0]], **dict(zip(rest, flat[1:]))}
        ok = (inner["heads"] % inner["kv_heads"] == 0) & (inner["active_experts"] <= inner["experts"])
        return LatticeParts(axes["layers"].astype(np.float64), {k: v[ok].astype(np.float64) for k, v in inner.items()})

    def grid_block(self, parts: "LatticeParts", start: int, stop: int) -> dict[str, np.ndarray]:
        """Every layer value with inner choices ``start`` to ``stop`` as broadcasting arrays: layers of
        shape (layer values, 1), the other columns (1, choices). numpy evaluates what depends on the
        inner choices alone once per choice, not once per layer value; element (i, j) is the lattice's
        row i · m + start + j (m = ``parts.inner_size``)."""
        vals = {k: v[None, start:stop] for k, v in parts.inner.items()}
        vals["layers"] = parts.layers[:, None]
        vals["valid"] = np.ones(vals["heads"].shape, dtype=bool)
        return self._columns(vals)

    def lattice_rows(self, parts: "LatticeParts", rows) -> dict[str, np.ndarray]:
        """The architectures of the whole lattice's rows ``rows`` (``lattice()`` is every row)."""
        rows = np.asarray(rows, dtype=np.int64)
        m = parts.inner_size
        layer, at = (rows // m, rows % m) if m else (rows, rows)
        vals = {k: v[at] for k, v in parts.inner.items()}
        vals["layers"] = parts.layers[layer]
        vals["valid"] = np.ones(len(rows), dtype=bool)
        return self._columns(vals)

    def _columns(self, vals: dict) -> dict[str, np.ndarray]:
        return {
            "layers": vals["layers"], "heads": vals["heads"], "hidden": vals["heads"] * self.head_dim,
            "ffn": np.where(vals["experts"] > 0, 0.0, vals["ffn"]), "kv_heads": vals["kv_heads"],
            "head_dim": np.full(np.shape(vals["ffn"]), float(self.head_dim)),
            "experts": vals["experts"], "active_experts": vals["active_experts"],
            "shared_experts": vals["shared_experts"], "expert_ffn": vals["expert_ffn"], "valid": vals["valid"],
        }


@dataclass(frozen=True)
class LatticeParts:
    """The whole lattice factored: row r is layer value r // inner_size with inner choice r % inner_size."""

    layers: np.ndarray  # the layer axis's values
    inner: dict[str, np.ndarray]  # heads, ffn, kv_heads and the MoE axes of every valid inner choice

    @property
    def inner_size(self) -> int:
        return len(self.inner["heads"])

    @property
    def size(self) -> int:
        return len(self.layers) * self.inner_size
