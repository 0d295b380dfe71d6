"""Time of one training step from the architecture, the layout and the hardware, and the MFU it gives.

In the manner of Calculon (Isaev et al., SC'23) and the Megatron-LM performance analysis (Narayanan
et al. 2021, arXiv 2104.04473), one micro-batch of one layer is timed pass by pass on one GPU:

- **matmuls** (``layer_work.py``), sized after sharding, at ``gemm_bf16`` or ``gemm_fp8`` of the
  dense peak plus ``matmul_overhead_s`` each, so small per-GPU matrices run below peak (a matmul
  of F FLOPs reaches F / (F + overhead × peak × share) of the large-matmul rate); the backward
  pass is twice the forward;
- **attention**: FlashAttention by default (causal, half the score matrix, backward 2.5× the forward,
  at ``attention`` of the BF16 peak); ``Stack(flash_attention=False)`` computes the whole score
  matrix as matmuls and moves softmax through HBM, as 2021–22 Megatron-LM did;
- **memory-bound kernels** (norms, residual adds, activation, rotary, MoE permutation, FP8 casts):
  bytes over HBM bandwidth at ``hbm``, ``unfused_traffic`` times more in eager PyTorch stacks;
- **tensor-parallel collectives** over the scale-up domain (4 per pass, ring volume (t − 1)/t of the
  layer's activations), ``tp_hidden`` of them hidden when the stack overlaps them; **context
  parallel** ring exchange of K and V, hidden behind attention where it can be; **expert
  all-to-all** (dispatch and combine per pass), over NVLink for the ranks in one domain and the
  network for the rest.

A step is then the 1F1B pipeline over the slowest stage, ``m + (p − 1)/v`` micro-batch times (the
bubble is (p − 1)/(m·v) of the work), plus pipeline sends; the data-parallel gradient
reduce-scatter and parameter all-gather (all-reduce without ZeRO; per micro-batch under ZeRO-3)
over the network, hidden behind the last backward and first forward micro-batch when the stack
overlaps them (ZeRO-2, which keeps a shard of the gradients, reduce-scatters every micro-batch's);
and the Adam step's HBM traffic. Ranks are ordered TP, CP, DP, PP (Megatron-LM), so a group leaves
the scale-up domain when the ranks it spans do not fit in one. Only hardware of the families the
constants were fitted on (``FITTED_FAMILIES``) is timed; other hardware is refused, and its callers
fall back.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.law.rules import check_number
from perflaw.optimizer.cost.hardware import LINK_GBPS, Hardware
from perflaw.optimizer.cost.layer_work import LayerWork, layer_work
from perflaw.optimizer.cost.memory import Layout, StageParameters, _check_fit, _whole, distinct_stages
from perflaw.optimizer.cost.step_constants import DEFAULT_CONSTANTS, FITTED_FAMILIES, StepConstants

# Adam on an fp32 master copy, per parameter: gradient 4, master, m and v read and written 24, weight 2, norm 2.
OPTIMIZER_BYTES_PER_PARAM = 32
ACTIVATION_BYTES = 2  # 16-bit activations on the wire


@dataclass(frozen=True)
class Stack:
    """What the training software does that changes the time (defaults: Megatron-Core with its overlap flags)."""

    flash_attention: bool = True  # fused attention; False: score matrix as matmuls, softmax through HBM
    tp_overlap: bool = True  # tensor-parallel collectives overlapped with matmuls (--tp-comm-overlap)
    dp_overlap: bool = True  # gradient reduce and parameter gather overlapped (--overlap-grad-reduce/-param-gather)
    grad_reduce_bytes: float = 4.0  # bytes per gradient value reduced over data parallelism (fp32 main grads)
    fused_kernels: bool = True  # norms, activations and residuals fused (Transformer Engine); False: eager PyTorch
    ep_overlap: bool = False  # expert all-to-all hidden behind another micro-batch's compute (DeepSeek's DualPipe)

    def __post_init__(self) -> None:
        for key in ("flash_attention", "tp_overlap", "dp_overlap", "fused_kernels", "ep_overlap"):
            if not isinstance(getattr(self, key), bool):
                raise InputError(key, "must be true or false", getattr(self, key))
        g = self.grad_reduce_bytes
        if isinstance(g, bool) or not isinstance(g, (int, float)) or g not in (1, 2, 4):
            raise InputError("grad_reduce_bytes", "must be 1, 2 or 4 bytes per gradient value", g)


@dataclass(frozen=True)
class StepTime:
    """One optimizer step: its time, what it is spent on (seconds per step), and the MFU it gives."""

    step_s: float
    compute_s: float  # matmuls, attention, memory-bound kernels, launches (first pass of every layer)
    recompute_s: float  # activation recomputation
    tp_s: float  # exposed tensor-parallel communication
    cp_s: float  # exposed context-parallel exchange
    ep_s: float  # expert all-to-all
    bubble_s: float  # pipeline fill and drain
    pp_s: float  # pipeline sends
    dp_s: float  # exposed data-parallel gradient reduce and parameter gather
    optimizer_s: float  # the Adam step
    microbatches: int  # per replica per step
    tokens_per_step: int
    gpus: int
    model_flops_per_step: float  # perflaw's count (``flops_rule``) for the step's tokens
    peak_flops: float  # per GPU, at the step's precision
    precision: str

    @property
    def mfu(self) -> float:
        return self.model_flops_per_step / (self.step_s * self.gpus * self.peak_flops)

    @property
    def tokens_per_gpu_s(self) -> float:
        return self.tokens_per_step / (self.step_s * self.gpus)

    def breakdown(self) -> dict[str, float]:
        """Seconds per step by kind; they add up to ``step_s``."""
        keys = ("compute_s", "recompute_s", "tp_s", "cp_s", "ep_s", "bubble_s", "pp_s", "dp_s", "optimizer_s")
        return {k[:-2]: getattr(self, k) for k in keys}

    def as_dict(self) -> dict:
        return {**asdict(self), "mfu": self.mfu, "tokens_per_gpu_s": self.tokens_per_gpu_s,
                "breakdown": self.breakdown()}


def _bandwidth(hw: Hardware, c: StepConstants, ranks: int, scaleout_gbps: float | None) -> float:
    """Bytes/s one GPU sends to a peer within ``ranks`` consecutive ranks (NVLink when they fit the scale-up
    domain, else the network)."""
    if ranks <= hw.scaleup_domain:
        if hw.scaleup_gbps is None:
            raise InputError("hardware", f"{hw.name} has no scale-up bandwidth in the catalog", hw.name)
        return hw.scaleup_gbps / 2 * 1e9 * c.scaleup  # the catalog gives both directions together
    out = scaleout_gbps if scaleout_gbps is not None else hw.scaleout_gbps
    if out is None:
        raise InputError("scaleout_gbps", f"is needed: {ranks} ranks leave {hw.name}'s scale-up domain of "
                                          f"{hw.scaleup_domain} and the catalog has no network bandwidth for it "
                                          "(give GB/s per GPU, one direction)", "missing")
    return out * 1e9 * c.scaleout


def _ring_bandwidth(hw: Hardware, c: StepConstants, stride: int, size: int, scaleout_gbps: float | None) -> float:
    """Bytes/s of a ring collective over ``size`` ranks ``stride`` apart, counted against the (size − 1)/size
    share of the message each GPU moves. When the ring leaves the domain and g of its ranks share one, the data
    enters each domain once, through g network ports, and NVLink spreads it: g × the network (at most NVLink)."""
    if stride * size <= hw.scaleup_domain:
        return _bandwidth(hw, c, 1, scaleout_gbps)
    g = max(1, min(size, hw.scaleup_domain // stride))
    net = _bandwidth(hw, c, stride * size, scaleout_gbps)
    return net if g == 1 else min(_bandwidth(hw, c, 1, scaleout_gbps), g * net)


def step_time(arch: Architecture, layout: Layout, hardware: Hardware, *, global_batch: int,
              precision: str = "bf16", stack: Stack = Stack(), constants: StepConstants = DEFAULT_CONSTANTS,
              scaleout_gbps: float | None = None, flops_rule: str = "attention") -> StepTime:
    """Time of one step of ``global_batch`` sequences of ``arch`` under ``layout`` (module docstring)."""
    return step_times(arch, [layout], hardware, global_batches=[global_batch], precision=precision, stack=stack,
                      constants=constants, scaleout_gbps=scaleout_gbps, flops_rule=flops_rule)[0]


def step_times(arch: Architecture, layouts, hardware: Hardware, *, global_batches, precision: str = "bf16",
               stack: Stack = Stack(), constants: StepConstants = DEFAULT_CONSTANTS,
               scaleout_gbps: float | None = None, flops_rule: str = "attention") -> list[StepTime]:
    """``step_time`` of each of ``layouts`` at the matching one of ``global_batches``: layouts that differ only
    in their ZeRO stage, data-parallel degree or interleaving share their layers' and stages' times."""
    if not isinstance(hardware, Hardware):
        raise InputError("hardware", "must be a Hardware", hardware)
    if not isinstance(stack, Stack):
        raise InputError("stack", "must be a Stack", type(stack).__name__)
    if not isinstance(constants, StepConstants):
        raise InputError("constants", "must be StepConstants", type(constants).__name__)
    if scaleout_gbps is not None:
        check_number("scaleout_gbps", scaleout_gbps, LINK_GBPS)
    if hardware.family not in FITTED_FAMILIES:
        raise InputError("hardware", f"is not timed: the step-time model's constants were fitted on NVIDIA "
                                     f"{', '.join(FITTED_FAMILIES)} runs, and {hardware.name} is {hardware.family}",
                         hardware.name)
    peak = hardware.peak_flops(precision)
    flops_per_token = {}
    shared = {}  # the layout's fields but those _stages does not read -> (its kinds of stage, its slowest stage)
    out = []
    c = constants
    for layout, global_batch in zip(layouts, global_batches, strict=True):
        _check_layout(arch, layout, hardware, global_batch)
        m = global_batch // (layout.dp * layout.micro_batch)
        key = tuple(v for k, v in layout.__dict__.items() if k not in _NOT_STAGED)
        if key not in shared:
            shared[key] = _stages(arch, layout, hardware, precision, stack, c, scaleout_gbps)
        params, slow = shared[key]
        v, p = layout.vpp, layout.pp
        bubble = (p - 1) / v * slow["total"]
        pp_s = 0.0
        if p > 1:
            sent = layout.seq_len // layout.cp * layout.micro_batch * arch.hidden * ACTIVATION_BYTES
            sent /= layout.tp if layout.sequence_parallel else 1
            bw = _bandwidth(hardware, c, layout.tp * layout.cp * layout.dp * 2, scaleout_gbps)  # neighbouring stages
            pp_s = (m + (p - 1) / v) * 2 * v * sent / bw
        dp_s, opt_s = _data_parallel(params, layout, hardware, c, stack, m, slow, scaleout_gbps)
        tokens = global_batch * layout.seq_len
        if layout.seq_len not in flops_per_token:
            flops_per_token[layout.seq_len] = arch.flops_per_token(layout.seq_len, flops_rule)
        out.append(StepTime(
            step_s=m * slow["total"] + bubble + pp_s + dp_s + opt_s, compute_s=m * slow["compute"],
            recompute_s=m * slow["recompute"], tp_s=m * slow["tp"], cp_s=m * slow["cp"], ep_s=m * slow["ep"],
            bubble_s=bubble, pp_s=pp_s, dp_s=dp_s, optimizer_s=opt_s, microbatches=m, tokens_per_step=tokens,
            gpus=layout.gpus, model_flops_per_step=flops_per_token[layout.seq_len] * tokens,
            peak_flops=peak, precision=precision))
    return out


def _check_layout(arch: Architecture, layout: Layout, hardware: Hardware, global_batch: int) -> None:
    _check_fit(arch, layout)  # a Layout that fits the architecture
    _whole("global_batch", global_batch)
    if global_batch % (layout.dp * layout.micro_batch):
        raise InputError("global_batch", f"must be a multiple of DP {layout.dp} × micro-batch {layout.micro_batch}",
                         global_batch)
    if layout.tp > hardware.scaleup_domain:
        raise InputError("tp", f"must fit {hardware.name}'s scale-up domain of {hardware.scaleup_domain} GPUs",
                         layout.tp)
    if layout.pp * layout.vpp > arch.layers:
        raise InputError("pp", f"× vpp must be at most the {arch.layers} layers", layout.pp * layout.vpp)


#: The layout fields ``_stages`` does not read: layouts that differ only in them share its result (a layout
#: search times every ZeRO stage, data-parallel degree and interleaving of one split; a test checks it).
_NOT_STAGED = ("zero", "dp", "vpp")


def _stages(arch: Architecture, layout: Layout, hardware: Hardware, precision: str, stack: Stack,
            c: StepConstants, scaleout_gbps) -> tuple[list[StageParameters], dict]:
    """Each kind of stage's parameters, and the slowest stage's micro-batch time by kind (a function of the
    layout's fields but ``_NOT_STAGED``)."""
    tp_cp = layout.tp * layout.cp
    work = layer_work(arch, layout, hardware, precision=precision, stack=stack, constants=c,
                      tp_bandwidth=_bandwidth(hardware, c, layout.tp, scaleout_gbps) if layout.tp > 1 else 0.0,
                      cp_bandwidth=_bandwidth(hardware, c, tp_cp, scaleout_gbps) if layout.cp > 1 else 0.0,
                      ep_bandwidths=_ep_bandwidths(hardware, c, layout, scaleout_gbps))
    stages = distinct_stages(arch, layout)
    slow = max((_stage_time(work, sp.n_dense, sp.n_moe, last) for sp, last in stages), key=lambda st: st["total"])
    return [sp for sp, _ in stages], slow


def _ep_bandwidths(hw: Hardware, c: StepConstants, layout: Layout, scaleout_gbps) -> tuple[float, float, float]:
    """(NVLink bytes/s, network bytes/s, share of an expert all-to-all's bytes that leave the domain)."""
    ep = layout.ep
    if ep == 1:
        return 0.0, 0.0, 0.0
    local = min(ep, hw.scaleup_domain)  # expert ranks are consecutive: this many share one scale-up domain
    near = _bandwidth(hw, c, local, scaleout_gbps)
    if local == ep:
        return near, near, 0.0
    return near, _bandwidth(hw, c, ep, scaleout_gbps), (ep - local) / (ep - 1)


def _stage_time(work: tuple[LayerWork, LayerWork, float], n_dense: int, n_moe: int, last: bool) -> dict:
    """Seconds of one micro-batch (forward, backward and recomputation) on a stage of ``n_dense`` dense and
    ``n_moe`` MoE layers (``last``: with the logits), by kind."""
    dense, moe, logits = work
    out = {k: n_dense * getattr(dense, k) + n_moe * getattr(moe, k) for k in ("compute", "recompute", "tp", "cp", "ep")}
    if last:
        out["compute"] += logits
    out["total"] = sum(out.values())
    out["backward"] = n_dense * dense.backward + n_moe * moe.backward
    out["forward"] = n_dense * dense.forward + n_moe * moe.forward
    return out


def _data_parallel(params: list[StageParameters], layout: Layout, hw: Hardware, c: StepConstants, stack: Stack,
                   m: int, slow: dict, scaleout_gbps) -> tuple[float, float]:
    """(exposed data-parallel communication, Adam step) seconds per step on the stage with the most parameters."""
    dense_p, routed_p = max(((sp.on_gpu, sp.n_moe * sp.routed_layer / layout.ep) for sp in params), key=sum)
    d = layout.dp * layout.cp
    d_e = layout.tp * d // layout.ep  # replicas of each expert shard (experts are not tensor-split)
    bw = _ring_bandwidth(hw, c, layout.tp, d, scaleout_gbps) if d > 1 else math.inf
    bw_e = _ring_bandwidth(hw, c, layout.ep, d_e, scaleout_gbps) if d_e > 1 else math.inf
    ring = (d - 1) / d * dense_p / bw + (d_e - 1) / d_e * routed_p / bw_e  # seconds per byte per value
    g, w = stack.grad_reduce_bytes, ACTIVATION_BYTES
    sharded = (dense_p / d + routed_p / d_e) if layout.zero >= 1 else dense_p + routed_p
    opt = OPTIMIZER_BYTES_PER_PARAM * sharded / (hw.hbm_tbps * 1e12 * c.hbm)
    if layout.zero >= 3:  # parameters gathered for the forward and the backward, gradients reduced, every micro-batch
        per_mb = ring * (w + w + g)
        hidden = slow["forward"] + slow["backward"] if stack.dp_overlap else 0.0
        return m * max(0.0, per_mb - hidden), opt
    if layout.zero == 0:  # all-reduce of the gradients behind the last backward
        reduce, gather = ring * 2 * g, 0.0
    else:  # reduce-scatter behind the last backward, all-gather of the new weights behind the first forward
        reduce, gather = ring * g, ring * w
    # ZeRO-2 keeps only a shard of the gradients, so every micro-batch's are reduce-scattered, each behind its backward
    times = m if layout.zero == 2 else 1
    if not stack.dp_overlap:
        return times * reduce + gather, opt
    return times * max(0.0, reduce - slow["backward"]) + max(0.0, gather - slow["forward"]), opt
