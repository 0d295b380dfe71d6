"""Layout search: the cheapest TP × PP × DP (× EP) split, ZeRO stage and recompute mode that fits HBM.

Every layout is enumerated (a few thousand at most) and costed at once with ``training_totals``
(memory_grid; the chosen and the leanest layouts then get their breakdown from ``training_memory``):
tp a power of two within the scale-up domain dividing the query heads (and KV heads, except MLA),
pp dividing the layers, dp = gpus / (tp × pp) whole, ep a power of two dividing dp and the routed
experts (MoE only), then each ZeRO stage and recompute mode. Among the layouts that fit, the cheapest
is the one with the least recomputation (it costs compute, ``RECOMPUTE_OVERHEAD``), then the smallest
tp × pp (less communication), then the lowest ZeRO stage, then the largest margin. Throughput is not
modelled: a memory-feasible layout may still be slow (e.g. ZeRO-3 over thousands of replicas).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import Hardware, get_hardware
from perflaw.optimizer.cost.memory import (RECOMPUTE_MODES, ZERO_STAGES, Layout, MemoryBreakdown, MemoryFit, _whole,
                                          fits, training_memory)
from perflaw.optimizer.cost.memory_grid import training_totals

# Extra training FLOPs, as a fraction, by recompute mode. Selective: 2.7 % for GPT-3 (Korthikanti et
# al. 2022, arXiv 2205.05198, §5, "70 % reduction in activation memory at 2.7 % FLOPs overhead").
# Full: one more forward pass, 2N on top of 6N FLOPs per token = 1/3 (same paper, §2 and §5).
RECOMPUTE_OVERHEAD = {"none": 0.0, "selective": 0.027, "full": 1.0 / 3.0}
_MEMORY_OPTIONS = ("weight_bytes", "grad_bytes", "master_bytes", "optimizer_bytes", "activation_bytes", "dropout")


@dataclass(frozen=True)
class LayoutSearch:
    """Outcome of ``search_layout``: the chosen layout, or which limit binds and by how much."""

    layout: Layout | None  # None when nothing fits
    memory: MemoryBreakdown | None  # of ``layout``
    fit: MemoryFit | None  # of ``layout``, else of ``leanest`` (negative margin)
    leanest: Layout | None  # smallest per-GPU total among all tried
    leanest_memory: MemoryBreakdown | None
    tried: int  # layouts costed
    feasible: int  # layouts that fit
    splits: tuple[tuple[int, int, int, int], ...]  # valid (tp, pp, dp, ep) splits of the GPUs
    binding: str | None  # None (fits), "memory" or "divisibility"
    shortfall_bytes: float  # bytes per GPU over the usable HBM for the leanest layout; 0 when it fits
    recompute_overhead: float | None  # extra training FLOPs fraction of the chosen layout's recompute mode
    explanation: str  # one plain sentence

    @property
    def ok(self) -> bool:
        return self.layout is not None

    def as_dict(self) -> dict:
        lay = (lambda x: None if x is None else {**x.__dict__, "gpus": x.gpus})
        return {
            "ok": self.ok, "layout": lay(self.layout), "memory": self.memory and self.memory.as_dict(),
            "fit": self.fit and self.fit.as_dict(), "leanest": lay(self.leanest),
            "leanest_memory": self.leanest_memory and self.leanest_memory.as_dict(), "tried": self.tried,
            "feasible": self.feasible, "splits": [list(s) for s in self.splits], "binding": self.binding,
            "shortfall_bytes": self.shortfall_bytes, "recompute_overhead": self.recompute_overhead,
            "explanation": self.explanation,
        }


def _choices(name: str, values, allowed: tuple) -> tuple:
    values = tuple(values) if isinstance(values, (list, tuple)) else (values,)
    bad = [v for v in values if isinstance(v, bool) or v not in allowed]
    if not values or bad:
        raise InputError(name, f"must be a non-empty selection of {', '.join(map(str, allowed))}",
                         bad[0] if bad else values)
    return values


def _powers_of_two(limit: int) -> list[int]:
    return [1 << k for k in range(limit.bit_length()) if 1 << k <= limit]


def search_layout(arch: Architecture, hardware: Hardware | str, gpus: int, *, seq_len: int, micro_batch: int = 1,
                  global_batch_tokens: int | None = None, headroom: float = 0.1,
                  zero_stages=ZERO_STAGES, recompute=RECOMPUTE_MODES, max_pp: int | None = None,
                  **memory_options) -> LayoutSearch:
    """Cheapest layout of ``arch`` on ``gpus`` GPUs of ``hardware`` that fits (module docstring).

    ``global_batch_tokens`` (optional) must split into whole sequences over dp × micro_batch; it sets
    the micro-batches per step, which caps the 1F1B in-flight count. ``memory_options`` go to
    ``training_memory`` (bytes per value, ``dropout``).
    """
    hw = get_hardware(hardware) if isinstance(hardware, str) else hardware
    if not isinstance(hw, Hardware):
        raise InputError("hardware", "must be a Hardware or a catalog name", hardware)
    _whole("gpus", gpus)
    _whole("seq_len", seq_len)
    _whole("micro_batch", micro_batch)
    zero_stages = _choices("zero_stages", zero_stages, ZERO_STAGES)
    modes = _choices("recompute", recompute, RECOMPUTE_MODES)
    for key in memory_options:
        if key not in _MEMORY_OPTIONS:
            raise InputError(key, f"is not a memory option (valid: {', '.join(_MEMORY_OPTIONS)})", memory_options[key])
    if max_pp is not None:
        _whole("max_pp", max_pp)
    sequences = None
    if global_batch_tokens is not None:
        _whole("global_batch_tokens", global_batch_tokens)
        if global_batch_tokens % seq_len:
            raise InputError("global_batch_tokens", f"must be a whole number of {seq_len}-token sequences",
                             global_batch_tokens)
        sequences = global_batch_tokens // seq_len
        if sequences >= 2 ** 62:  # the layouts are counted in 64-bit integers
            raise InputError("global_batch_tokens", "must be fewer than 2^62 sequences", global_batch_tokens)
    fits(0.0, hw, headroom)  # validates headroom

    mla = arch.attention == "mla"
    tps = [t for t in _powers_of_two(min(hw.scaleup_domain, arch.heads))
           if arch.heads % t == 0 and (mla or arch.kv_heads % t == 0)]
    pps = [p for p in range(1, arch.layers + 1) if arch.layers % p == 0 and (max_pp is None or p <= max_pp)]
    splits = []
    for tp in tps:
        for pp in pps:
            if gpus % (tp * pp):
                continue
            dp = gpus // (tp * pp)
            if sequences is not None and sequences % (dp * micro_batch):
                continue
            eps = [e for e in _powers_of_two(dp) if dp % e == 0 and arch.experts % e == 0] if arch.is_moe else [1]
            splits += [(tp, pp, dp, ep) for ep in eps]

    n_each = len(zero_stages) * len(modes)
    grid = np.array([(tp, pp, dp, ep, zero, RECOMPUTE_MODES.index(mode)) for tp, pp, dp, ep in splits
                     for zero in zero_stages for mode in modes], dtype=np.int64).reshape(-1, 6)
    tp_, pp_, dp_, ep_, zero_, mode_ = grid.T
    micro = None if sequences is None else sequences // (dp_ * micro_batch)
    totals = training_totals(arch, tp_, pp_, dp_, ep_, zero_, mode_, micro_batch=micro_batch, seq_len=seq_len,
                             microbatches=micro, **memory_options)
    usable = fits(0.0, hw, headroom).usable_bytes
    margin = usable - totals
    feasible = np.flatnonzero(margin >= 0)
    common = dict(tried=len(grid), feasible=len(feasible), splits=tuple(splits))
    if not len(grid):
        batch = (f", and the {sequences} sequences of the global batch must split evenly over DP × micro-batch "
                 f"{micro_batch}" if sequences is not None else "")
        kv = "" if mla else f" and {arch.kv_heads} KV heads"
        text = (f"{gpus} GPUs cannot be split: TP must be a power of two up to {hw.scaleup_domain} dividing the "
                f"{arch.heads} heads{kv}, PP must divide the {arch.layers} layers"
                f"{f' (at most {max_pp})' if max_pp else ''}, TP × PP must divide {gpus}{batch}")
        return LayoutSearch(None, None, None, None, None, binding="divisibility", shortfall_bytes=0.0,
                            recompute_overhead=None, explanation=text, **common)

    def costed(j: int) -> tuple[Layout, MemoryBreakdown, MemoryFit]:
        tp, pp, dp, ep = splits[j // n_each]
        layout = Layout(tp=tp, pp=pp, dp=dp, ep=ep, zero=int(zero_[j]), recompute=RECOMPUTE_MODES[mode_[j]],
                        micro_batch=micro_batch, seq_len=seq_len)
        mem = training_memory(arch, layout, microbatches=None if micro is None else int(micro[j]), **memory_options)
        return layout, mem, fits(mem, hw, headroom)

    leanest = costed(int(np.argmin(totals)))  # the first of equal totals, as min() over the tried order
    if len(feasible):  # least recomputation, then smallest TP × PP, lowest ZeRO stage, largest margin
        f = feasible
        lay, mem, fit = costed(int(f[np.lexsort((-margin[f], zero_[f], tp_[f] * pp_[f], mode_[f]))[0]]))
        text = (f"{lay.summary()}: {mem.total / 1e9:.1f} GB per GPU of the {fit.usable_bytes / 1e9:.1f} GB usable "
                f"on {hw.name} ({fit.margin_bytes / 1e9:.1f} GB to spare); {len(feasible)} of {len(grid)} "
                f"layouts fit")
        return LayoutSearch(lay, mem, fit, leanest[0], leanest[1], binding=None, shortfall_bytes=0.0,
                            recompute_overhead=RECOMPUTE_OVERHEAD[lay.recompute], explanation=text, **common)

    lay, mem, fit = leanest
    text = (f"the leanest layout ({lay.summary()}) needs {mem.total / 1e9:.1f} GB per GPU, "
            f"{-fit.margin_bytes / 1e9:.1f} GB over the {fit.usable_bytes / 1e9:.1f} GB usable on {hw.name}")
    if len({s[:3] for s in splits}) <= 2:
        only = " or ".join(sorted({f"TP {t} × PP {p} × DP {d}" for t, p, d, _ in splits}))
        prime = gpus > 3 and all(gpus % k for k in range(2, int(gpus ** 0.5) + 1))
        text += f"; {gpus} GPUs{' (a prime number)' if prime else ''} allow only {only}"
    return LayoutSearch(None, None, fit, lay, mem, binding="memory", shortfall_bytes=-fit.margin_bytes,
                        recompute_overhead=None, explanation=text, **common)
