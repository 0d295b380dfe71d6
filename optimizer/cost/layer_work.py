"""Seconds one transformer layer takes for one micro-batch on one GPU, pass by pass (see step_time.py).

Two layers are timed: the model's dense layer and, for a MoE model, its MoE layer. Token counts
are per GPU: T = seq_len / cp × micro_batch before tensor parallelism splits them (sequence
parallelism: norms and residuals see T / tp). Matmuls run at the step's precision, attention at
BF16 (FP8 recipes keep attention in 16 bits).
"""

from __future__ import annotations

from dataclasses import dataclass

from perflaw.law.architecture import Architecture
from perflaw.optimizer.cost.hardware import Hardware
from perflaw.optimizer.cost.memory import Layout
from perflaw.optimizer.cost.step_constants import StepConstants

E = 2  # bytes per 16-bit activation value
FP8_CAST_BYTES = 3  # per matmul input value cast to FP8: 2 read, 1 written
UNFUSED_SOFTMAX_BYTES = (8, 16)  # per score, forward and backward: scores, probabilities, dropout mask and output
LOSS_BYTES = 12  # per logit: fp32 logits written and read by the loss, gradient written


@dataclass(frozen=True)
class LayerWork:
    """One layer, one micro-batch: seconds by kind (compute + recompute + tp + cp + ep = the layer's time)."""

    compute: float  # matmuls, attention, memory-bound kernels and launches of the forward and backward
    recompute: float
    tp: float  # exposed tensor-parallel collectives, both passes
    cp: float  # exposed context-parallel exchange
    ep: float  # expert all-to-all
    forward: float  # the whole forward pass (what gradient and parameter traffic can hide behind)
    backward: float


def layer_work(arch: Architecture, layout: Layout, hw: Hardware, *, precision: str, stack, constants: StepConstants,
               tp_bandwidth: float, cp_bandwidth: float,
               ep_bandwidths: tuple[float, float, float]) -> tuple[LayerWork, LayerWork, float]:
    """(dense layer, MoE layer, logits) of ``arch`` under ``layout``: for a dense model both layers are the dense
    one; logits are the output projection and loss, both passes (last stage, once per micro-batch)."""
    c = constants
    peak, peak16 = hw.peak_flops(precision), hw.peak_flops("bf16")
    eta = c.gemm_fp8 if precision == "fp8" else c.gemm_bf16
    hbm = hw.hbm_tbps * 1e12 * c.hbm
    h, H, t, s = arch.hidden, arch.heads, layout.tp, layout.seq_len
    T = s // layout.cp * layout.micro_batch
    Tt = T / t
    rep = Tt if layout.sequence_parallel else T
    gated = arch.ffn_kind == "gated"
    mats = 3 if gated else 2

    def mm(flops: float, fast: float = peak, share: float = eta) -> float:
        """One matmul: its FLOPs at the reachable share of peak, plus a fixed time (small matmuls run below peak)."""
        return flops / (fast * share) + c.matmul_overhead_s

    if arch.attention == "mla":
        proj = mm(2 * T * arch.params().attention / arch.layers / t)
        rotary = Tt * H * arch.qk_rope_head_dim * 2
        kv_width = H * (arch.qk_dim + arch.v_dim)  # K and V as attention sees them (decompressed)
    else:
        q, kv = H * arch.head_dim, arch.kv_heads * arch.head_dim
        proj = mm(2 * T * h * (q + 2 * kv) / t) + mm(2 * T * q * h / t)
        rotary = Tt * (q + kv) * 2
        kv_width = 2 * kv
    scores = T * s * H / t  # score entries of one pass (queries on this GPU × every key)
    qkv = arch.qk_dim + arch.v_dim
    if stack.flash_attention:  # causal: half the scores computed; backward 2.5x (five matmuls against two)
        attn_f = scores * qkv / (peak16 * c.attention)
        attn_b = 2.5 * attn_f
    else:
        core = mm(2 * scores * qkv, fast=peak16, share=c.gemm_bf16)
        attn_f = core + scores * UNFUSED_SOFTMAX_BYTES[0] / hbm
        attn_b = 2 * core + scores * UNFUSED_SOFTMAX_BYTES[1] / hbm

    def ffn(width: float, tokens: float, shard: float) -> float:
        return (mm(2 * tokens * h * (mats - 1) * width / shard)
                + mm(2 * tokens * width * h / shard))

    V = arch.vocab
    logits = 3 * mm(2 * T * h * V / t) + T * V / t * LOSS_BYTES / hbm

    def layer(ffn_time: float, ffn_values: float, moved: float, ep_bytes: float) -> LayerWork:
        """``ffn_values``: FFN hidden values per GPU (each read and written by the activation)."""
        gemm = proj + ffn_time
        traffic = E * (rep * h * (2 * arch.norms_per_layer + 6) + rotary + mats * ffn_values + moved)
        if precision == "fp8":  # inputs of the four matmul groups cast to FP8
            traffic += FP8_CAST_BYTES * (2 * T * h + T * H * arch.v_dim / t + ffn_values)
        elementwise = traffic * (1.0 if stack.fused_kernels else c.unfused_traffic) / hbm
        tp_pass = 4 * (t - 1) / t * T * h * E / tp_bandwidth if t > 1 else 0.0
        tp_pass *= (1 - c.tp_hidden) if stack.tp_overlap else 1.0
        cp_f = cp_b = 0.0
        if layout.cp > 1:
            sent = (layout.cp - 1) * T * kv_width / t * E / cp_bandwidth
            cp_f, cp_b = max(0.0, sent - attn_f), max(0.0, 2 * sent - attn_b)
        ep_f = ep_b = 0.0
        if ep_bytes:
            near, far, share = ep_bandwidths
            ep_f = ep_b = max(ep_bytes * (1 - share) / near, ep_bytes * share / far if share else 0.0)
            if stack.ep_overlap:  # hidden behind the compute of the other micro-batch in flight
                ep_f = max(0.0, ep_f - (gemm + attn_f + elementwise))
                ep_b = max(0.0, ep_b - (2 * gemm + attn_b + 2 * elementwise))
        forward = gemm + attn_f + elementwise + tp_pass + cp_f + ep_f
        backward = 2 * gemm + attn_b + 2 * elementwise + tp_pass + cp_b + ep_b
        recompute = {"none": 0.0, "selective": attn_f, "full": forward}[layout.recompute]
        return LayerWork(compute=3 * gemm + attn_f + attn_b + 3 * elementwise, recompute=recompute,
                         tp=2 * tp_pass, cp=cp_f + cp_b, ep=ep_f + ep_b, forward=forward, backward=backward)

    dense = layer(ffn(arch.ffn, T, t), T * arch.ffn / t, 0.0, 0.0) if arch.ffn else None
    if not arch.is_moe:
        return dense, dense, logits
    k, fe, S = arch.active_experts, arch.expert_ffn, arch.shared_experts
    routed = mm(2 * Tt * k * h * fe * (mats - 1)) + mm(2 * Tt * k * h * fe)  # grouped matmuls over local experts
    router = mm(2 * Tt * h * arch.experts)
    shared = ffn(S * fe, T, t) if S else 0.0
    ep_bytes = 2 * Tt * k * h * E * (layout.ep - 1) / layout.ep  # dispatch and combine
    moe = layer(routed + router + shared, Tt * k * fe + T * S * fe / t, 4 * Tt * k * h, ep_bytes)
    return dense or moe, moe, logits
