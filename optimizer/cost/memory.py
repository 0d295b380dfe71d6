"""Bytes per GPU of a training layout (model states + activations) and of serving on one GPU.

All memory is in bytes (GB in messages = 1e9 bytes). Parallel degrees: ``tp`` tensor, ``pp``
pipeline, ``dp`` data, ``cp`` context, ``ep`` expert (folded over the tp × cp × dp ranks of a stage,
experts not tensor-split); ``gpus = tp × cp × pp × dp``.

Model states (Rajbhandari et al. 2020, "ZeRO", arXiv 1910.02054, §3 and Figure 1): mixed-precision
Adam keeps 2 bytes of weights, 2 of gradients and K = 12 of optimizer state (fp32 master copy 4 +
Adam m and v 8) per parameter. ZeRO stage 1 shards the optimizer state over the ``dp`` replicas,
stage 2 also the gradients, stage 3 (FSDP full sharding) also the weights: Ψ(2+2+K),
Ψ(2+2+K/Nd), Ψ(2+(2+K)/Nd), Ψ(2+2+K)/Nd. A sharded weight or gradient is still materialised in full
for one layer (one FSDP unit) at a time; ``training_memory`` adds that unit, ``model_state_bytes``
lets the caller choose (0 gives the paper's numbers).

Where parameters live: dense weights (attention, dense FFN, shared experts, routers, embedding and
output projection) are split over ``tp``; routed experts over ``ep`` only (so their ZeRO group is
the tp × cp × dp / ep replicas of each expert shard); norm weights are replicated. Layers are
split over ``pp`` as evenly as possible, extra layers on the first stages; stage 0 holds the input
embedding, the last stage the output projection (a copy of the embedding when tied and pp > 1, as
Megatron-LM does). The reported breakdown is for the stage with the largest total. With context
parallelism each GPU keeps the activations of seq_len / cp tokens of each sequence, and the
optimizer state shards over cp as over dp.

Activations (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
Models", arXiv 2205.05198, §4–5): one GPT-3 layer stores s·b·h·(34 + 5·a·s/h) bytes (16-bit values,
1-byte dropout masks); with tensor parallelism s·b·h·(10 + 24/t + 5·a·s/(h·t)); with tensor + sequence
parallelism s·b·h·(34/t + 5·a·s/(h·t)); selective recomputation drops the 5·a·s/h attention-score
term, and so does FlashAttention, which never stores the score matrix (only row-wise softmax
statistics, 4 bytes per head and token, not counted): with ``flash_attention`` (the default) "none"
and "selective" keep the same activations, and ``flash_attention=False`` gives the paper's rule;
full recomputation keeps only each layer's input, 2·s·b·h (÷ t with sequence parallelism), plus
one layer's selective activations while it is recomputed. Under the 1F1B schedule stage i holds
pp − i micro-batches in flight, so the first stage stores L layers' worth whatever pp is (§4.2,
pipeline parallelism); the interleaved schedule with v virtual stages stores 1 + (p − 1)/(p·v) times
that (§4.2.3), counted here on every stage. ``dropout=True`` reproduces the paper's
34 exactly (masks after attention and MLP); modern LLMs train without dropout, so it defaults off.

Generalisation beyond GPT-3 is ours and approximate, term by term: Q/K/V/attention-output widths use
the real head counts (GQA: K and V are kv_heads·head_dim wide; MLA: full per-head K/V as in training,
latents replicated); gated FFNs store gate, up and their product (3 tensors of width ffn, SiLU
recomputed in a fused kernel), plain FFNs 2; a MoE layer is a dense FFN of width active_ffn (top-k +
shared experts) plus k dispatched copies of its input. Not counted: logits and loss (≈ 4·s·b·v/t on
the last stage), router and permutation buffers, capacity padding, communication buckets, CUDA
context and allocator fragmentation; ``fits`` keeps a headroom (default 10 %) for them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import Hardware

RECOMPUTE_MODES = ("none", "selective", "full")
ZERO_STAGES = (0, 1, 2, 3)
DROPOUT_MASK_BYTES = 1  # Korthikanti et al. 2022 §4: dropout masks stored as one byte per element


def _whole(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(name, f"must be a whole number >= {minimum}", value)
    return value


def _bytes(name: str, value: object, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < 0 or (value == 0 and not allow_zero):
        raise InputError(name, f"must be a number of bytes {'>= 0' if allow_zero else '> 0'}", value)
    return float(value)


@dataclass(frozen=True)
class Layout:
    """How a training run is spread over GPUs and what it stores; ``gpus = tp × cp × pp × dp``."""

    tp: int = 1  # tensor parallel degree
    pp: int = 1  # pipeline stages
    dp: int = 1  # data-parallel replicas
    ep: int = 1  # expert parallel degree over a stage's tp × cp × dp ranks (divides them and the routed experts)
    zero: int = 0  # ZeRO stage: 1 optimizer, 2 + gradients, 3 + weights (FSDP full sharding)
    recompute: str = "none"  # none | selective | full (activation recomputation)
    micro_batch: int = 1  # sequences per micro-batch per replica
    seq_len: int = 4096  # tokens per sequence
    sequence_parallel: bool | None = None  # default: True when tp > 1 (Megatron-LM sequence parallelism)
    cp: int = 1  # context parallel degree: each sequence split over cp GPUs (ring attention)
    vpp: int = 1  # virtual pipeline stages per GPU (interleaved 1F1B schedule); needs pp > 1

    def __post_init__(self) -> None:
        for key in ("tp", "pp", "dp", "ep", "micro_batch", "seq_len", "cp", "vpp"):
            _whole(key, getattr(self, key))
        if self.vpp > 1 and self.pp == 1:
            raise InputError("vpp", "needs pipeline parallelism (pp > 1)", self.vpp)
        if self.seq_len % self.cp:
            raise InputError("cp", f"must divide the sequence length ({self.seq_len})", self.cp)
        if isinstance(self.zero, bool) or not isinstance(self.zero, int) or self.zero not in ZERO_STAGES:
            raise InputError("zero", "must be a ZeRO stage 0, 1, 2 or 3 (3 = FSDP full sharding)", self.zero)
        if self.recompute not in RECOMPUTE_MODES:
            raise InputError("recompute", f"must be one of {', '.join(RECOMPUTE_MODES)}", self.recompute)
        if (self.tp * self.cp * self.dp) % self.ep:
            raise InputError("ep", f"must divide tp × cp × dp ({self.tp * self.cp * self.dp})", self.ep)
        if self.sequence_parallel is None:
            object.__setattr__(self, "sequence_parallel", self.tp > 1)
        elif not isinstance(self.sequence_parallel, bool):
            raise InputError("sequence_parallel", "must be true or false", self.sequence_parallel)

    @property
    def gpus(self) -> int:
        return self.tp * self.cp * self.pp * self.dp

    def as_dict(self) -> dict:
        """The fields and the GPU count, as JSON payloads and tables show a layout."""
        return {**self.__dict__, "gpus": self.gpus}

    @classmethod
    def for_gpus(cls, gpus: int, *, tp: int = 1, pp: int = 1, dp: int | None = None, cp: int = 1,
                 **rest) -> "Layout":
        """The layout on ``gpus`` GPUs; ``dp`` defaults to gpus / (tp × cp × pp) and must make the product exact."""
        _whole("gpus", gpus)
        _whole("tp", tp)
        _whole("pp", pp)
        _whole("cp", cp)
        split = tp * cp * pp
        if dp is None:
            if gpus % split:
                raise InputError("gpus", f"must be a multiple of tp × cp × pp = {split}", gpus)
            dp = gpus // split
        elif _whole("dp", dp) * split != gpus:
            raise InputError("dp", f"tp × cp × pp × dp must equal gpus {gpus} (tp {tp}, cp {cp}, pp {pp})", dp)
        return cls(tp=tp, pp=pp, dp=dp, cp=cp, **rest)

    def summary(self) -> str:
        """E.g. 'TP 8, PP 16, DP 128, ZeRO-3, selective recompute'."""
        parts = [f"TP {self.tp}"] + ([f"CP {self.cp}"] if self.cp > 1 else []) + [f"PP {self.pp}"]
        parts += [f"VPP {self.vpp}"] * (self.vpp > 1) + [f"DP {self.dp}"] + [f"EP {self.ep}"] * (self.ep > 1)
        parts.append(f"ZeRO-{self.zero}" if self.zero else "no ZeRO")
        parts.append("no recompute" if self.recompute == "none" else f"{self.recompute} recompute")
        return ", ".join(parts)


@dataclass(frozen=True)
class MemoryBreakdown:
    """Bytes on one GPU: model states (weights, gradients, optimizer) and activations."""

    weights: float
    gradients: float
    optimizer: float  # fp32 master weights + Adam moments
    activations: float
    stage: int = 0  # pipeline stage these numbers are for (the one with the largest total)

    @property
    def model_states(self) -> float:
        return self.weights + self.gradients + self.optimizer

    @property
    def total(self) -> float:
        return self.model_states + self.activations

    def as_dict(self) -> dict:
        return {**asdict(self), "model_states": self.model_states, "total": self.total}


def model_state_bytes(params: float, dp: int = 1, zero: int = 0, *, unit_params: float = 0.0,
                      weight_bytes: float = 2, grad_bytes: float = 2, master_bytes: float = 4,
                      optimizer_bytes: float = 8) -> MemoryBreakdown:
    """ZeRO model states per GPU for ``params`` parameters replicated over ``dp`` GPUs.

    ``unit_params``: the largest block (one layer) gathered in full while in use when weights or
    gradients are sharded; 0 reproduces the ZeRO paper's accounting exactly.
    """
    if isinstance(params, bool) or not isinstance(params, (int, float)) or not math.isfinite(params) or params < 0:
        raise InputError("params", "must be a number of parameters >= 0", params)
    _whole("dp", dp)
    if isinstance(zero, bool) or not isinstance(zero, int) or zero not in ZERO_STAGES:
        raise InputError("zero", "must be a ZeRO stage 0, 1, 2 or 3 (3 = FSDP full sharding)", zero)
    if isinstance(unit_params, bool) or not isinstance(unit_params, (int, float)) or not unit_params >= 0:
        raise InputError("unit_params", "must be a number of parameters >= 0", unit_params)
    wb, gb = _bytes("weight_bytes", weight_bytes), _bytes("grad_bytes", grad_bytes)
    k = _bytes("master_bytes", master_bytes, True) + _bytes("optimizer_bytes", optimizer_bytes, True)
    shard = params / dp
    gathered = shard + min(unit_params, params) * (1 - 1 / dp)  # own shard + the rest of one unit
    return MemoryBreakdown(weights=wb * (gathered if zero >= 3 else params),
                           gradients=gb * (gathered if zero >= 2 else params),
                           optimizer=k * (shard if zero >= 1 else params), activations=0.0)


def _activation_terms(arch: Architecture, e: float, dropout: bool, moe: bool) -> tuple[float, float, float]:
    """Per token, bytes of one layer's activations: (replicated over tp, split over tp, scores per
    token of context, i.e. × a·s). Korthikanti's GPT-3 layer gives (10h, 24h, 5) with e = 2."""
    h = arch.hidden
    mask = DROPOUT_MASK_BYTES * h * 2 if dropout else 0.0  # after attention and after the MLP
    if arch.attention == "mla":
        latents = arch.q_lora_rank + arch.kv_lora_rank + arch.qk_rope_head_dim
        q = k = arch.heads * arch.qk_dim
        v = arch.heads * arch.v_dim
    else:
        latents = 0
        q, k, v = arch.heads * arch.head_dim, arch.kv_heads * arch.head_dim, arch.kv_heads * arch.head_dim
    attn_out = arch.heads * arch.v_dim
    width = arch.active_ffn if moe else arch.ffn
    tensors = 3 if arch.ffn_kind == "gated" else 2
    dispatched = arch.active_experts * h if moe else 0  # k copies of each token sent to experts
    replicated = e * (arch.norms_per_layer * h + 2 * h + latents) + mask  # norm inputs, QKV and MLP inputs
    split = e * (q + k + v + attn_out + tensors * width + dispatched)
    scores = e + (DROPOUT_MASK_BYTES + e if dropout else 0.0)  # softmax out (+ dropout mask and output)
    return replicated, split, scores


def layer_activation_bytes(arch: Architecture, layout: Layout, *, moe_layer: bool | None = None,
                           activation_bytes: float = 2, dropout: bool = False, flash_attention: bool = True) -> float:
    """Bytes one layer keeps for one micro-batch on one GPU under ``layout`` (its recompute mode;
    "full" keeps the layer input only). ``moe_layer`` defaults to the model's typical layer."""
    moe = arch.is_moe if moe_layer is None else bool(moe_layer)
    e = _bytes("activation_bytes", activation_bytes)
    s, b, t = layout.seq_len, layout.micro_batch, layout.tp
    local = s // layout.cp  # tokens of each sequence on this GPU (context parallelism)
    rep_div = t if layout.sequence_parallel else 1
    if layout.recompute == "full":
        return e * local * b * arch.hidden / rep_div
    rep, split, scores = _activation_terms(arch, e, dropout, moe)
    out = local * b * (rep / rep_div + split / t)
    if layout.recompute == "none" and not flash_attention:
        out += scores * arch.heads * local * s * b / t
    return out


def _check_fit(arch: Architecture, layout: Layout) -> None:
    if not isinstance(layout, Layout):
        raise InputError("layout", "must be a Layout", layout)
    if arch.heads % layout.tp or (arch.attention != "mla" and arch.kv_heads % layout.tp):
        heads = f"{arch.heads} heads" + ("" if arch.attention == "mla" else f" and {arch.kv_heads} KV heads")
        raise InputError("tp", f"must divide the {heads}", layout.tp)
    if layout.pp > arch.layers:
        raise InputError("pp", f"must be at most the {arch.layers} layers", layout.pp)
    if arch.is_moe and arch.experts % layout.ep:
        raise InputError("ep", f"must divide the {arch.experts} routed experts", layout.ep)
    if not arch.is_moe and layout.ep != 1:
        raise InputError("ep", "must be 1 for a dense model", layout.ep)


def _stage(layers: int, pp: int, i: int) -> tuple[int, int]:
    """(first layer, layer count) of stage i; the first layers % pp stages take one extra layer."""
    q, r = divmod(layers, pp)
    return i * q + min(i, r), q + (1 if i < r else 0)


@dataclass(frozen=True)
class StageParameters:
    """Parameters of pipeline stage i on one of its GPUs (dense weights split over tp, norms replicated)."""

    layers: int
    n_dense: int  # layers with a dense FFN (the leading ones of a MoE model)
    n_moe: int
    dense_layer: float  # one dense layer, per GPU
    moe_layer: float  # one MoE layer without its routed experts, per GPU
    routed_layer: float  # one MoE layer's routed experts, all of them
    embedding: float  # the input embedding (stage 0), whole
    output: float  # the output projection (last stage; a copy of a tied embedding when pp > 1), whole
    tp: int  # what embedding and output are split over

    @property
    def on_gpu(self) -> float:
        """Every parameter of the stage but the routed experts, per GPU."""
        return self.n_dense * self.dense_layer + self.n_moe * self.moe_layer + (self.embedding + self.output) / self.tp


def stage_parameters(arch: Architecture, layout: Layout, i: int) -> StageParameters:
    """The parameters of stage ``i`` of ``layout`` (layers split as ``_stage`` splits them)."""
    return _stage_builder(arch, layout)(i)


def distinct_stages(arch: Architecture, layout: Layout) -> list[tuple[StageParameters, bool]]:
    """Each kind of stage of ``layout`` once, in stage order: its parameters and whether it is the last stage
    (stages of one layer count, the same dense and MoE layers and no embedding or output are alike)."""
    L, pp = arch.layers, layout.pp
    dense_n = arch.dense_layers if arch.is_moe else L
    one = _stage_builder(arch, layout)
    kinds = {}
    for i in range(pp):
        start, n = _stage(L, pp, i)
        key = (min(max(dense_n - start, 0), n), n, i == 0, i == pp - 1)
        if key not in kinds:
            kinds[key] = i
    return [(one(i), i == pp - 1) for i in kinds.values()]


def _stage_builder(arch: Architecture, layout: Layout):
    """The function of a stage index that gives its ``StageParameters`` (the architecture's counts taken once)."""
    p, L, tp, pp = arch.params(), arch.layers, layout.tp, layout.pp
    dense_n = arch.dense_layers if arch.is_moe else L  # leading layers with a dense FFN
    moe_n = L - dense_n
    attn, norms = p.attention / L, p.norms / L
    routed = p.experts_routed / moe_n if moe_n else 0.0
    dense_layer = (attn + (p.ffn_dense / dense_n if dense_n else 0.0)) / tp + norms  # per GPU
    moe_layer = (attn + ((p.experts_shared + p.router) / moe_n if moe_n else 0.0)) / tp + norms

    def one(i: int) -> StageParameters:
        start, n = _stage(L, pp, i)
        n_dense = min(max(dense_n - start, 0), n)
        emb = p.embedding if i == 0 else 0
        out = (p.output if pp == 1 else arch.vocab * arch.hidden) if i == pp - 1 else 0
        return StageParameters(n, n_dense, n - n_dense, dense_layer, moe_layer, routed, emb, out, tp)

    return one


def stage_memory(arch: Architecture, layout: Layout, stage: int, *, microbatches: int | None = None,
                 weight_bytes: float = 2, grad_bytes: float = 2, master_bytes: float = 4,
                 optimizer_bytes: float = 8, activation_bytes: float = 2, dropout: bool = False,
                 flash_attention: bool = True) -> MemoryBreakdown:
    """Bytes per GPU of pipeline stage ``stage`` (0-based; module docstring for every convention).

    ``microbatches``: per optimizer step and replica; fewer than pp − stage caps the 1F1B in-flight count.
    """
    _check_fit(arch, layout)
    _whole("stage", stage, 0)
    if stage >= layout.pp:
        raise InputError("stage", f"must be below pp ({layout.pp})", stage)
    if microbatches is not None:
        _whole("microbatches", microbatches)
    for key, flag in (("dropout", dropout), ("flash_attention", flash_attention)):
        if not isinstance(flag, bool):
            raise InputError(key, "must be true or false", flag)
    tp, pp, i = layout.tp, layout.pp, stage
    sp = stage_parameters(arch, layout, stage)
    n, n_dense, n_moe, routed = sp.layers, sp.n_dense, sp.n_moe, sp.routed_layer
    unit = max([sp.dense_layer] * bool(n_dense) + [sp.moe_layer] * bool(n_moe) + [sp.embedding / tp, sp.output / tp])
    states = dict(weight_bytes=weight_bytes, grad_bytes=grad_bytes, master_bytes=master_bytes,
                  optimizer_bytes=optimizer_bytes)
    shards = layout.dp * layout.cp  # the optimizer shards over data and context replicas alike
    dense_states = model_state_bytes(sp.on_gpu, shards, layout.zero, unit_params=unit, **states)
    expert_states = model_state_bytes(n_moe * routed / layout.ep, tp * shards // layout.ep, layout.zero,
                                      unit_params=routed / layout.ep if n_moe else 0.0, **states)
    kinds = [False] * bool(n_dense) + [True] * bool(n_moe)  # layer kinds present (MoE or not)

    def per_layer(moe: bool, lay: Layout = layout) -> float:
        return layer_activation_bytes(arch, lay, moe_layer=moe, activation_bytes=activation_bytes, dropout=dropout,
                                      flash_attention=flash_attention)

    flight = pp - i if microbatches is None else min(pp - i, microbatches)
    if layout.vpp > 1:  # interleaved 1F1B: chunks of the next micro-batches are already in flight
        flight *= 1 + (pp - 1) / (pp * layout.vpp)
    if layout.recompute == "full":  # stored layer inputs + the layer being recomputed (selective level)
        selective = Layout(**{**asdict(layout), "recompute": "selective"})
        acts = (flight * n - 1) * per_layer(False) + max(per_layer(k, selective) for k in kinds)
    else:
        acts = flight * (n_dense * per_layer(False) + n_moe * per_layer(True))
    return MemoryBreakdown(weights=dense_states.weights + expert_states.weights,
                           gradients=dense_states.gradients + expert_states.gradients,
                           optimizer=dense_states.optimizer + expert_states.optimizer, activations=acts, stage=i)


def training_memory(arch: Architecture, layout: Layout, **options) -> MemoryBreakdown:
    """Bytes per GPU on the fullest pipeline stage; ``options`` as for ``stage_memory``.

    Only stages that can be the fullest are costed: the first (embedding, most micro-batches in
    flight), the one holding the first MoE layer and the next, and the last (output projection);
    every other stage holds no more layers, of the same kind, with fewer micro-batches in flight.
    """
    _check_fit(arch, layout)
    L, pp = arch.layers, layout.pp
    dense_n = arch.dense_layers if arch.is_moe else L
    q, r = divmod(L, pp)
    b = dense_n // (q + 1) if dense_n < r * (q + 1) else r + (dense_n - r * (q + 1)) // q
    stages = sorted({0, b, b + 1, pp - 1} & set(range(pp)))
    return max((stage_memory(arch, layout, i, **options) for i in stages), key=lambda m: m.total)


@dataclass(frozen=True)
class MemoryFit:
    """Required bytes against one GPU's HBM less a headroom; margin < 0 means it does not fit."""

    required_bytes: float
    hbm_bytes: float
    headroom: float  # fraction of HBM kept free (allocator, CUDA context, buffers not modelled)
    hardware: str = ""

    @property
    def usable_bytes(self) -> float:
        return self.hbm_bytes * (1.0 - self.headroom)

    @property
    def margin_bytes(self) -> float:
        return self.usable_bytes - self.required_bytes

    @property
    def fits(self) -> bool:
        return self.margin_bytes >= 0

    def as_dict(self) -> dict:
        return {**asdict(self), "usable_bytes": self.usable_bytes, "margin_bytes": self.margin_bytes,
                "fits": self.fits}


def fits(memory: "MemoryBreakdown | InferenceMemory | float", hardware: Hardware | float,
         headroom: float = 0.1) -> MemoryFit:
    """Does ``memory`` (a breakdown or bytes) fit one GPU of ``hardware`` (or of that many HBM bytes)?"""
    if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or not 0 <= headroom < 1:
        raise InputError("headroom", "must be a fraction in [0, 1) of HBM kept free", headroom)
    required = memory.total if isinstance(memory, (MemoryBreakdown, InferenceMemory)) else memory
    _bytes("memory", required, True)
    if isinstance(hardware, Hardware):
        return MemoryFit(float(required), hardware.hbm_bytes, float(headroom), hardware.name)
    return MemoryFit(float(required), _bytes("hbm_bytes", hardware), float(headroom))


@dataclass(frozen=True)
class InferenceMemory:
    """Bytes to serve on one GPU: all weights plus the KV cache."""

    weights: float
    kv_cache: float
    kv_bytes_per_token: float  # all layers, one sequence

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache

    def as_dict(self) -> dict:
        return {**asdict(self), "total": self.total}


def inference_memory(arch: Architecture, *, context: int, batch: int = 1, weight_bytes: float = 2,
                     kv_bytes: float = 2) -> InferenceMemory:
    """Weights + KV cache: 2·layers·kv_heads·head_dim·context·batch·kv_bytes (K and V per KV head);
    MLA caches its compressed latent and rope key, (kv_lora_rank + qk_rope_head_dim) per token per
    layer (DeepSeek-V2, arXiv 2405.04434, §2.1). Activations and runtime buffers are left out."""
    _whole("context", context)
    _whole("batch", batch)
    wb, kb = _bytes("weight_bytes", weight_bytes), _bytes("kv_bytes", kv_bytes)
    if arch.attention == "mla":
        per_layer = arch.kv_lora_rank + arch.qk_rope_head_dim
    else:
        per_layer = 2 * arch.kv_heads * arch.head_dim
    per_token = arch.layers * per_layer * kb
    return InferenceMemory(weights=arch.params().total * wb, kv_cache=per_token * context * batch,
                           kv_bytes_per_token=per_token)


def fits_one_gpu(arch: Architecture, hardware: Hardware | float, *, context: int, batch: int = 1,
                 headroom: float = 0.1, weight_bytes: float = 2, kv_bytes: float = 2) -> MemoryFit:
    """Can one GPU hold the weights and KV cache of ``batch`` sequences of ``context`` tokens?"""
    mem = inference_memory(arch, context=context, batch=batch, weight_bytes=weight_bytes, kv_bytes=kv_bytes)
    return fits(mem, hardware, headroom)
