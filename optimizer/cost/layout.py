"""Layout search: the fastest TP × PP (× VPP) × DP (× EP) split, ZeRO stage and recompute mode that fits HBM.

Every layout is enumerated (a few thousand at most) and costed at once with ``training_totals``
(memory_grid; the chosen and the leanest layouts then get their breakdown from ``training_memory``):
tp a power of two within the scale-up domain dividing the query heads (and KV heads, except MLA),
pp dividing the layers, dp = gpus / (tp × pp) whole, ep a power of two dividing dp and the routed
experts (MoE only), then each ZeRO stage and recompute mode. With the ``time`` objective pp may also
be a power of two that does not divide the layers (the first stages take one more, as Meta ran
Llama 3 405B's 126 layers on 16 stages), and each pipeline may interleave vpp 2, 4 or 8 virtual
stages when the micro-batches per step are a multiple of pp (as Megatron-LM requires).

``objective="time"`` (the default) times the layouts that fit with the step-time model
(step_time.py) and keeps the one with the most tokens per second, reporting the runners-up with
their MFU; each split is timed with its least recomputation that fits, at each ZeRO stage that
fits. Without a global batch the step is ``default_batch_sequences`` (1,024 tokens per GPU, 4M to
16M tokens), on the layouts whose data-parallel degree splits it evenly (rounded up to whole
micro-batches only where none does). Where the model cannot time the hardware (no bandwidth in the
catalog), and with ``objective="memory"``, the rule is the older one: the least recomputation (it
costs compute, ``RECOMPUTE_OVERHEAD``), then the smallest tp × pp, the lowest ZeRO stage, the
largest margin.
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
from perflaw.optimizer.cost.step_time import Stack, StepTime, step_times

# Extra training FLOPs, as a fraction, by recompute mode. Selective: 2.7 % for GPT-3 (Korthikanti et
# al. 2022, arXiv 2205.05198, §5, "70 % reduction in activation memory at 2.7 % FLOPs overhead").
# Full: one more forward pass, 2N on top of 6N FLOPs per token = 1/3 (same paper, §2 and §5).
RECOMPUTE_OVERHEAD = {"none": 0.0, "selective": 0.027, "full": 1.0 / 3.0}
OBJECTIVES = ("time", "memory")
# Tokens per step when no global batch is given: 1,024 per GPU, at least 4M and at most 16M. Llama 3 405B
# trained at 4M tokens per step, then 8M and 16M, the last on 16,384 GPUs (arXiv 2407.21783 §3.4.1).
BATCH_TOKENS_PER_GPU = 1024
BATCH_TOKENS_RANGE = (4 * 1024 * 1024, 16 * 1024 * 1024)


def default_batch_sequences(gpus: int, seq_len: int) -> int:
    """Sequences per step when no global batch is given (``BATCH_TOKENS_PER_GPU``, within ``BATCH_TOKENS_RANGE``)."""
    low, high = BATCH_TOKENS_RANGE
    return max(1, min(high, max(low, gpus * BATCH_TOKENS_PER_GPU)) // seq_len)


def microbatches_for(sequences: int, per_step: int) -> int:
    """Micro-batches per replica that carry ``sequences`` per step, ``per_step`` (DP × micro-batch) at a time,
    rounded up (a batch DP does not split evenly becomes the next one it does)."""
    return -(-sequences // per_step)


RUNNERS_UP = 3  # other layouts reported with their MFU
_VPPS = (2, 4, 8)
_MEMORY_OPTIONS = ("weight_bytes", "grad_bytes", "master_bytes", "optimizer_bytes", "activation_bytes", "dropout",
                   "flash_attention")


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
    objective: str = "memory"  # what chose the layout: "time" (the step-time model) or "memory" (the older rule)
    step: StepTime | None = None  # of ``layout``, when timed
    runners_up: tuple[tuple[Layout, StepTime], ...] = ()  # the next fastest layouts, fastest first
    timing_note: str = ""  # why the layouts were not timed, when the time objective fell back to the rule

    @property
    def ok(self) -> bool:
        return self.layout is not None

    @property
    def mfu(self) -> float | None:
        """Model FLOPs utilisation of the chosen layout (None when not timed)."""
        return None if self.step is None else self.step.mfu

    def as_dict(self) -> dict:
        lay = (lambda x: None if x is None else x.as_dict())
        return {
            "ok": self.ok, "layout": lay(self.layout), "memory": self.memory and self.memory.as_dict(),
            "fit": self.fit and self.fit.as_dict(), "leanest": lay(self.leanest),
            "leanest_memory": self.leanest_memory and self.leanest_memory.as_dict(), "tried": self.tried,
            "feasible": self.feasible, "splits": [list(s) for s in self.splits], "binding": self.binding,
            "shortfall_bytes": self.shortfall_bytes, "recompute_overhead": self.recompute_overhead,
            "explanation": self.explanation, "objective": self.objective,
            "step": self.step and self.step.as_dict(), "mfu": self.mfu,
            "runners_up": runner_up_rows(self.runners_up),
            "timing_note": self.timing_note,
        }


def runner_up_rows(runners_up) -> list[dict]:
    """(layout, step time) pairs as JSON rows: the layout, its summary, MFU, step time and throughput."""
    return [{"layout": lay.as_dict(), "summary": lay.summary(), "mfu": st.mfu, "step_s": st.step_s,
             "tokens_per_gpu_s": st.tokens_per_gpu_s} for lay, st in runners_up]


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
                  objective: str = "time", precision: str = "bf16", stack: Stack | None = None,
                  scaleout_gbps: float | None = None, flops_rule: str = "attention",
                  **memory_options) -> LayoutSearch:
    """Fastest (or, with ``objective="memory"``, cheapest by rule) layout of ``arch`` on ``gpus`` GPUs of
    ``hardware`` that fits (module docstring).

    ``global_batch_tokens`` (optional) must split into whole sequences over dp × micro_batch; it sets
    the micro-batches per step, which caps the 1F1B in-flight count. ``precision``, ``stack`` and
    ``scaleout_gbps`` go to the step-time model, ``flops_rule`` counts the model FLOPs of its MFU,
    ``memory_options`` go to ``training_memory`` (bytes per value, ``dropout``, ``flash_attention``,
    which defaults to the stack's).
    """
    hw = get_hardware(hardware) if isinstance(hardware, str) else hardware
    if not isinstance(hw, Hardware):
        raise InputError("hardware", "must be a Hardware or a catalog name", hardware)
    _whole("gpus", gpus)
    _whole("seq_len", seq_len)
    _whole("micro_batch", micro_batch)
    zero_stages = _choices("zero_stages", zero_stages, ZERO_STAGES)
    modes = _choices("recompute", recompute, RECOMPUTE_MODES)
    if objective not in OBJECTIVES:
        raise InputError("objective", f"must be one of {', '.join(OBJECTIVES)}", objective)
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
    hw.peak_flops(precision)  # validates precision
    stack = Stack(flash_attention=memory_options.get("flash_attention", True)) if stack is None else stack
    if not isinstance(stack, Stack):
        raise InputError("stack", "must be a Stack", type(stack).__name__)
    if memory_options.setdefault("flash_attention", stack.flash_attention) != stack.flash_attention:
        raise InputError("flash_attention", "must match the stack's (memory and time assume the same kernels)",
                         memory_options["flash_attention"])
    timed = objective == "time"

    mla = arch.attention == "mla"
    tps = [t for t in _powers_of_two(min(hw.scaleup_domain, arch.heads))
           if arch.heads % t == 0 and (mla or arch.kv_heads % t == 0)]
    pps = [p for p in range(1, arch.layers + 1) if (arch.layers % p == 0 or timed and p & (p - 1) == 0)
           and (max_pp is None or p <= max_pp)]  # timed: uneven stages of a power of two too (the first get more)
    splits, rows = [], []
    target = default_batch_sequences(gpus, seq_len) if sequences is None else sequences
    shapes = [(tp, pp, gpus // (tp * pp)) for tp in tps for pp in pps if gpus % (tp * pp) == 0]
    for tp, pp, dp in shapes:
        if sequences is not None and target % (dp * micro_batch):
            continue
        eps = [e for e in _powers_of_two(dp) if dp % e == 0 and arch.experts % e == 0] if arch.is_moe else [1]
        splits += [(tp, pp, dp, ep) for ep in eps]
        m = microbatches_for(target, dp * micro_batch)
        vpps = [1] + [v for v in _VPPS if timed and pp > 1 and pp * v <= arch.layers and m % pp == 0]
        rows += [(tp, pp, dp, ep, v, zero, RECOMPUTE_MODES.index(mode), m) for ep in eps for v in vpps
                 for zero in zero_stages for mode in modes]

    grid = np.array(rows, dtype=np.int64).reshape(-1, 8)
    tp_, pp_, dp_, ep_, vpp_, zero_, mode_, m_ = grid.T
    micro = m_ if (sequences is not None or timed) else None
    totals = training_totals(arch, tp_, pp_, dp_, ep_, zero_, mode_, micro_batch=micro_batch, seq_len=seq_len,
                             microbatches=micro, vpp=vpp_, **memory_options)
    usable = fits(0.0, hw, headroom).usable_bytes
    margin = usable - totals
    fitting = np.flatnonzero(margin >= 0)
    feasible = fitting
    # Timed without a global batch: among the layouts that fit, those the default batch splits evenly (a larger
    # data-parallel degree would only look faster by training on a larger batch); rounded up where none does.
    if timed and sequences is None:
        even = fitting[(target % (dp_[fitting] * micro_batch)) == 0]
        feasible = even if len(even) else fitting
    common = dict(tried=len(grid), feasible=len(fitting), splits=tuple(splits))
    if not len(grid):
        batch = (f", and the {sequences} sequences of the global batch must split evenly over DP × micro-batch "
                 f"{micro_batch}" if sequences is not None else "")
        kv = "" if mla else f" and {arch.kv_heads} KV heads"
        text = (f"{gpus} GPUs cannot be split: TP must be a power of two up to {hw.scaleup_domain} dividing the "
                f"{arch.heads} heads{kv}, PP must divide the {arch.layers} layers"
                f"{f' (at most {max_pp})' if max_pp else ''}, TP × PP must divide {gpus}{batch}")
        return LayoutSearch(None, None, None, None, None, binding="divisibility", shortfall_bytes=0.0,
                            recompute_overhead=None, explanation=text, objective=objective, **common)

    def layout_of(j: int) -> Layout:
        return Layout(tp=int(tp_[j]), pp=int(pp_[j]), dp=int(dp_[j]), ep=int(ep_[j]), vpp=int(vpp_[j]),
                      zero=int(zero_[j]), recompute=RECOMPUTE_MODES[mode_[j]], micro_batch=micro_batch,
                      seq_len=seq_len)

    def costed(j: int) -> tuple[Layout, MemoryBreakdown, MemoryFit]:
        layout = layout_of(j)
        mem = training_memory(arch, layout, microbatches=None if micro is None else int(micro[j]), **memory_options)
        return layout, mem, fits(mem, hw, headroom)

    leanest = costed(int(np.argmin(totals)))  # the first of equal totals, as min() over the tried order
    if not len(feasible):
        lay, mem, fit = leanest
        text = (f"the leanest layout ({lay.summary()}) needs {mem.total / 1e9:.1f} GB per GPU, "
                f"{-fit.margin_bytes / 1e9:.1f} GB over the {fit.usable_bytes / 1e9:.1f} GB usable on {hw.name}")
        if len({s[:3] for s in splits}) <= 2:
            only = " or ".join(sorted({f"TP {t} × PP {p} × DP {d}" for t, p, d, _ in splits}))
            prime = gpus > 3 and all(gpus % k for k in range(2, int(gpus ** 0.5) + 1))
            text += f"; {gpus} GPUs{' (a prime number)' if prime else ''} allow only {only}"
        return LayoutSearch(None, None, fit, lay, mem, binding="memory", shortfall_bytes=-fit.margin_bytes,
                            recompute_overhead=None, explanation=text, objective=objective, **common)

    f = feasible
    note = ""
    if timed:
        try:
            ranked = _timed(arch, hw, f, layout_of, grid, precision, stack, scaleout_gbps, flops_rule)
        except InputError as exc:
            ranked, note = None, f"layouts not timed ({exc}); the least recomputation, then the smallest TP × PP"
        if ranked:
            (j, st), others = ranked[0], ranked[1:1 + RUNNERS_UP]
            lay, mem, fit = costed(j)
            text = (f"{lay.summary()}: {st.tokens_per_gpu_s:,.0f} tokens/s per GPU, MFU {st.mfu:.1%} "
                    f"({st.step_s:.2f} s per step of {int(m_[j]) * lay.dp * micro_batch:,} sequences); "
                    f"{mem.total / 1e9:.1f} GB per GPU of the {fit.usable_bytes / 1e9:.1f} GB usable on {hw.name}; "
                    f"the fastest of {len(ranked)} timed, {len(fitting)} of {len(grid)} layouts fit")
            return LayoutSearch(lay, mem, fit, leanest[0], leanest[1], binding=None, shortfall_bytes=0.0,
                                recompute_overhead=RECOMPUTE_OVERHEAD[lay.recompute], explanation=text,
                                objective="time", step=st, runners_up=tuple((layout_of(k), t) for k, t in others),
                                **common)
    # least recomputation, then smallest TP × PP, lowest ZeRO stage, largest margin
    lay, mem, fit = costed(int(f[np.lexsort((-margin[f], zero_[f], tp_[f] * pp_[f], mode_[f]))[0]]))
    text = (f"{lay.summary()}: {mem.total / 1e9:.1f} GB per GPU of the {fit.usable_bytes / 1e9:.1f} GB usable "
            f"on {hw.name} ({fit.margin_bytes / 1e9:.1f} GB to spare); {len(fitting)} of {len(grid)} "
            f"layouts fit")
    return LayoutSearch(lay, mem, fit, leanest[0], leanest[1], binding=None, shortfall_bytes=0.0,
                        recompute_overhead=RECOMPUTE_OVERHEAD[lay.recompute], explanation=text,
                        objective="memory", timing_note=note, **common)


def _timed(arch: Architecture, hw: Hardware, feasible: np.ndarray, layout_of, grid: np.ndarray, precision: str,
           stack: Stack, scaleout_gbps, flops_rule: str) -> list[tuple[int, StepTime]]:
    """(row, step time) of the layouts worth timing among ``feasible``, fastest (most tokens/s) first: per split
    (tp, pp, dp, ep, vpp) the least recomputation that fits, at each ZeRO stage that fits with it."""
    key = grid[feasible][:, :5]
    mode = grid[feasible, 6]
    least = {}
    for k, r in zip(map(tuple, key.tolist()), mode.tolist()):
        least[k] = min(least.get(k, r), r)
    rows = [j for j, k, r in zip(feasible.tolist(), map(tuple, key.tolist()), mode.tolist()) if r == least[k]]
    layouts = [layout_of(j) for j in rows]
    times = step_times(arch, layouts, hw, global_batches=[int(grid[j, 7]) * lay.dp * lay.micro_batch
                                                          for j, lay in zip(rows, layouts)],
                       precision=precision, stack=stack, scaleout_gbps=scaleout_gbps, flops_rule=flops_rule)
    out = list(zip(rows, times))
    out.sort(key=lambda x: (-x[1].tokens_per_gpu_s, grid[x[0], 0] * grid[x[0], 1], grid[x[0], 5]))
    return out
