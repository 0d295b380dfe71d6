"""What a transformer is: the ``Architecture`` value object, its exact parameter count and FLOPs.

Counting conventions (stated once, used everywhere):

- Parameters are every trainable weight: embeddings, the output projection (absent when tied),
  attention, FFN or experts (plus routers), biases and norm weights. Non-trainable buffers
  (rotary tables) and multi-token-prediction heads are not counted.
- Activated parameters are those a token passes through: for MoE, the routed experts chosen
  per token plus the shared experts (all other weights are activated by every token).
- Training FLOPs per token (``flops_rule="attention"``, the default) are 6 × the activated
  weights of every matrix multiplication (the input embedding is a lookup and is left out; the
  output projection is a matmul and is counted, tied or not) plus the attention matmuls,
  6·L·heads·seq·(qk_dim + v_dim), for a full (not causally halved) sequence as in the PaLM paper
  (arXiv 2204.02311, Appendix B). ``flops_rule="6N"`` is 6 × all activated parameters, the rule
  of thumb of the Chinchilla and Performance Law planning tools.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from perflaw.law.errors import InputError
from perflaw.law.rules import Range

FFN_KINDS = ("gated", "plain")
NORM_KINDS = ("rmsnorm", "layernorm", "nonparametric")
ATTENTION_KINDS = ("gqa", "mla")
QK_NORM_KINDS = ("none", "head", "full")
FLOPS_RULES = ("attention", "6N")
SEQ_LEN = Range(1, 1 << 24)  # training sequence length, tokens

# Sizes above these are rejected as absurd rather than silently evaluated.
_MAX = {
    "layers": 4096, "hidden": 1 << 20, "ffn": 1 << 22, "heads": 65536, "kv_heads": 65536,
    "head_dim": 65536, "vocab": 1 << 24, "experts": 1 << 16, "expert_ffn": 1 << 22,
}


@dataclass(frozen=True)
class ParamBreakdown:
    """Parameter counts (exact integers) by component; ``total`` and ``active`` add them up."""

    embedding: int
    output: int
    attention: int
    ffn_dense: int
    experts_routed: int
    experts_routed_active: int
    experts_shared: int
    router: int
    norms: int

    @property
    def ffn(self) -> int:
        """All FFN weights: dense layers, every routed expert, shared experts and routers."""
        return self.ffn_dense + self.experts_routed + self.experts_shared + self.router

    @property
    def total(self) -> int:
        return self.embedding + self.output + self.attention + self.ffn + self.norms

    @property
    def active(self) -> int:
        return self.total - self.experts_routed + self.experts_routed_active

    def as_dict(self) -> dict[str, int]:
        out = asdict(self)
        out.update(ffn=self.ffn, total=self.total, active=self.active)
        return out


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer as users define it (Hugging Face naming in brackets).

    Dense models need ``layers``, ``hidden`` and ``ffn``; heads default to ``hidden / head_dim``
    with ``head_dim`` 128, KV heads default to the query heads (multi-head attention). MoE
    models set ``experts`` (routed, > 0), ``active_experts`` (top-k), ``expert_ffn`` and
    optionally ``shared_experts`` (each of width ``expert_ffn``) and ``dense_layers`` (leading
    layers with a dense FFN of width ``ffn``). ``attention="mla"`` is DeepSeek's multi-head
    latent attention, sized by the ``*_rank`` and ``*_head_dim`` fields.
    """

    layers: int  # decoder blocks [num_hidden_layers]
    hidden: int  # model width [hidden_size]
    ffn: int  # dense FFN intermediate size per branch [intermediate_size]; 0 if every layer is MoE
    heads: int | None = None  # query heads [num_attention_heads]; default hidden / head_dim
    kv_heads: int | None = None  # key/value heads [num_key_value_heads]; default = heads
    head_dim: int | None = None  # per-head width; default hidden / heads, else 128
    vocab: int = 32000  # vocabulary size [vocab_size]
    tied_embeddings: bool = False  # output projection shares the input embedding
    ffn_kind: str = "gated"  # gated: 3 matrices (SwiGLU/GeGLU); plain: 2 matrices (GELU MLP)
    norm: str = "rmsnorm"  # rmsnorm (weight), layernorm (weight + bias), nonparametric
    norms_per_layer: int = 2  # 2 pre-norms; 4 with Gemma 2/3 post-norms
    qk_norm: str = "none"  # RMSNorm on queries/keys: head (per head, Qwen3, Gemma 3), full (OLMo 2, OLMoE)
    qkv_bias: bool = False  # biases on q, k, v projections (Qwen2, GPT-2, NeoX)
    out_bias: bool = False  # bias on the attention output projection
    mlp_bias: bool = False  # biases in the FFN matrices
    learned_positions: int = 0  # rows of a learned position embedding (GPT-2: 1024)
    # Mixture of experts
    experts: int = 0  # routed experts per MoE layer [num_local_experts / n_routed_experts]
    active_experts: int = 0  # routed experts per token [num_experts_per_tok]
    shared_experts: int = 0  # always-on experts of width expert_ffn [n_shared_experts]
    expert_ffn: int = 0  # intermediate size of one expert [moe_intermediate_size]
    dense_layers: int = 0  # leading layers with a dense FFN [first_k_dense_replace]
    shared_expert_gate: bool = False  # sigmoid gate on the shared expert (Qwen2-MoE)
    router_bias: bool = False  # per-expert routing bias (DeepSeek-V3 e_score_correction_bias)
    # Attention kind; MLA sizes (DeepSeek-V2/V3)
    attention: str = "gqa"  # gqa (covers MHA and MQA) or mla
    q_lora_rank: int = 0  # 0 = full-rank query projection
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for key in ("layers", "hidden"):
            _check_int(key, getattr(self, key), minimum=1)
        _check_int("ffn", self.ffn, minimum=0)
        for key in ("vocab", "experts", "active_experts", "shared_experts", "expert_ffn",
                    "dense_layers", "learned_positions", "q_lora_rank", "kv_lora_rank",
                    "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            _check_int(key, getattr(self, key), minimum=0)
        _check_int("norms_per_layer", self.norms_per_layer, minimum=0)
        for key, allowed in (("ffn_kind", FFN_KINDS), ("norm", NORM_KINDS), ("attention", ATTENTION_KINDS),
                              ("qk_norm", QK_NORM_KINDS)):
            if getattr(self, key) not in allowed:
                raise InputError(key, f"must be one of {', '.join(allowed)}", getattr(self, key))
        for key in ("tied_embeddings", "qkv_bias", "out_bias", "mlp_bias",
                    "shared_expert_gate", "router_bias"):
            if not isinstance(getattr(self, key), bool):
                raise InputError(key, "must be true or false", getattr(self, key))
        heads, head_dim = self.heads, self.head_dim
        if heads is not None:
            _check_int("heads", heads, minimum=1)
        if head_dim is not None:
            _check_int("head_dim", head_dim, minimum=1)
        if heads is None:
            head_dim = head_dim or 128
            if self.hidden % head_dim:
                raise InputError("hidden", f"must be divisible by `head_dim` {head_dim} when `heads` is not given", self.hidden)
            heads = self.hidden // head_dim
        elif head_dim is None:
            if self.hidden % heads:
                raise InputError("hidden", f"must be divisible by `heads` {heads} when `head_dim` is not given", self.hidden)
            head_dim = self.hidden // heads
        kv = heads if self.kv_heads is None else self.kv_heads
        _check_int("kv_heads", kv, minimum=1)
        if heads % kv:
            raise InputError("kv_heads", f"must divide `heads` ({heads})", kv)
        object.__setattr__(self, "heads", heads)
        object.__setattr__(self, "head_dim", head_dim)
        object.__setattr__(self, "kv_heads", kv)
        for key, limit in _MAX.items():
            if getattr(self, key) > limit:
                raise InputError(key, f"must be at most {limit}", getattr(self, key))
        if self.is_moe:
            if self.expert_ffn < 1:
                raise InputError("expert_ffn", "must be positive for a MoE model", self.expert_ffn)
            if not 1 <= self.active_experts <= self.experts:
                raise InputError("active_experts", f"must be between 1 and experts ({self.experts})", self.active_experts)
            if self.dense_layers >= self.layers:
                raise InputError("dense_layers", f"must be below `layers` ({self.layers})", self.dense_layers)
            if self.dense_layers and self.ffn < 1:
                raise InputError("ffn", "must be positive when there are leading dense layers", self.ffn)
        else:
            for key in ("active_experts", "shared_experts", "dense_layers"):
                if getattr(self, key):
                    raise InputError(key, "needs experts > 0 (a MoE model)", getattr(self, key))
            if self.ffn < 1:
                raise InputError("ffn", "must be positive for a dense model", self.ffn)
        if self.attention == "mla":
            for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
                _check_int(key, getattr(self, key), minimum=1)

    # ----------------------------------------------------------------- derived sizes
    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def qk_dim(self) -> int:
        """Per-head query/key width entering the score matmul."""
        return self.qk_nope_head_dim + self.qk_rope_head_dim if self.attention == "mla" else self.head_dim

    @property
    def v_dim(self) -> int:
        return self.v_head_dim if self.attention == "mla" else self.head_dim

    @property
    def active_ffn(self) -> int:
        """FFN width a token passes through in a MoE layer (routed top-k plus shared); dense: ffn."""
        if not self.is_moe:
            return self.ffn
        return (self.active_experts + self.shared_experts) * self.expert_ffn

    @classmethod
    def from_hf_config(cls, config) -> "Architecture":
        """The architecture of a Hugging Face ``config.json`` (a path, its folder, or the parsed dict)."""
        from perflaw.law.hf_config import from_hf_config, load_hf_config
        return from_hf_config(config) if isinstance(config, dict) else load_hf_config(config)

    def replace(self, **changes) -> "Architecture":
        return replace(self, **changes)

    # ----------------------------------------------------------------- accounting
    def params(self) -> ParamBreakdown:
        """Exact parameter counts by component (see the module docstring for what counts)."""
        h, L = self.hidden, self.layers
        norm_w = {"rmsnorm": h, "layernorm": 2 * h, "nonparametric": 0}[self.norm]
        mats = 3 if self.ffn_kind == "gated" else 2

        def ffn_params(width: int) -> int:
            bias = ((mats - 1) * width + h) if self.mlp_bias else 0
            return mats * h * width + bias

        attention = L * self._attention_per_layer()
        norms = L * self.norms_per_layer * norm_w + norm_w  # per-layer norms + final norm
        if self.qk_norm == "head":
            norms += L * 2 * self.head_dim
        elif self.qk_norm == "full":
            norms += L * (self.heads + self.kv_heads) * self.head_dim
        dense_ffn_layers = self.dense_layers if self.is_moe else L
        ffn_dense = dense_ffn_layers * ffn_params(self.ffn)
        m = self.moe_layers
        routed = m * self.experts * ffn_params(self.expert_ffn)
        routed_active = m * self.active_experts * ffn_params(self.expert_ffn)
        shared = m * ffn_params(self.shared_experts * self.expert_ffn) if self.shared_experts else 0
        router = m * (self.experts * h + (self.experts if self.router_bias else 0)
                      + (h if self.shared_expert_gate else 0))
        embedding = self.vocab * h + self.learned_positions * h
        output = 0 if self.tied_embeddings else self.vocab * h
        return ParamBreakdown(embedding, output, attention, ffn_dense, routed, routed_active, shared, router, norms)

    def _attention_per_layer(self) -> int:
        h, H = self.hidden, self.heads
        if self.attention == "mla":
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * H * qk
            else:
                q = h * H * qk
            kv = h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
            kv += self.kv_lora_rank * H * (self.qk_nope_head_dim + self.v_head_dim)
            return q + kv + H * self.v_head_dim * h
        hd, kv = self.head_dim, self.kv_heads
        weights = h * hd * (H + 2 * kv) + H * hd * h
        bias = (hd * (H + 2 * kv) if self.qkv_bias else 0) + (h if self.out_bias else 0)
        return weights + bias

    def flops_per_token(self, seq_len: int = 4096, rule: str = "attention") -> float:
        """Training FLOPs per token (forward + backward) under ``rule`` (module docstring)."""
        if rule not in FLOPS_RULES:
            raise InputError("flops rule", f"must be one of {', '.join(FLOPS_RULES)}", rule)
        p = self.params()
        if rule == "6N":
            return 6.0 * p.active
        _check_int("seq_len", seq_len, minimum=1)
        matmul = p.active - p.embedding - p.norms + (self.vocab * self.hidden if self.tied_embeddings else 0)
        attn = 6.0 * self.layers * self.heads * seq_len * (self.qk_dim + self.v_dim)
        return 6.0 * matmul + attn

    def summary(self) -> str:
        """One line describing the shape, e.g. for tables and log lines."""
        text = f"{self.layers}L h{self.hidden} heads {self.heads}/{self.kv_heads}x{self.head_dim}"
        if self.attention == "mla":
            text = f"{self.layers}L h{self.hidden} MLA heads {self.heads} kv-rank {self.kv_lora_rank}"
        if self.is_moe:
            text += f" MoE {self.experts}x{self.expert_ffn} top-{self.active_experts}"
            if self.shared_experts:
                text += f" +{self.shared_experts} shared"
            if self.dense_layers:
                text += f", {self.dense_layers} dense (ffn {self.ffn})"
        else:
            text += f" ffn {self.ffn} ({self.ffn_kind})"
        return text


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            raise InputError(name, "must be a whole number (int, not float)", value)
        raise InputError(name, "must be a whole number", value)
    if value < minimum:
        raise InputError(name, f"must be at least {minimum}", value)


def param_arrays(layers, hidden, ffn, heads, kv_heads, head_dim, vocab, tied_embeddings=False, gated=True,
                 experts=0, active_experts=0, shared_experts=0, expert_ffn=0):
    """Total and activated parameters of many architectures at once (numpy arrays, float64).

    Covers the shapes the optimizer searches: GQA attention without biases, RMSNorm (two per
    layer plus the final one), gated or plain FFN, and optionally MoE in every layer (routed
    experts with a router, shared experts of width ``expert_ffn``). Equal to
    ``Architecture(...).params()`` for those shapes (a test checks it).
    """
    import numpy as np

    L, h, d = (np.asarray(a, dtype=np.float64) for a in (layers, hidden, ffn))
    H, kv, hd, V = (np.asarray(a, dtype=np.float64) for a in (heads, kv_heads, head_dim, vocab))
    E, k, s, de = (np.asarray(a, dtype=np.float64) for a in (experts, active_experts, shared_experts, expert_ffn))
    mats = 3.0 if gated else 2.0
    attention = h * hd * (H + 2 * kv) + H * hd * h
    norms = 2 * h
    embed = V * h * np.where(np.asarray(tied_embeddings), 1.0, 2.0)
    if not np.any(E > 0):  # dense: one expression, no MoE branches
        total = L * (attention + mats * h * d + norms) + h + embed
        return total, total
    moe = E > 0
    ffn_total = np.where(moe, mats * h * de * (E + s) + E * h, mats * h * d)
    ffn_active = np.where(moe, mats * h * de * (k + s) + E * h, mats * h * d)
    total = L * (attention + ffn_total + norms) + h + embed
    active = L * (attention + ffn_active + norms) + h + embed
    return total, active


def flops_per_token_arrays(active_params, layers, hidden, heads, head_dim, vocab, seq_len=4096, rule="attention",
                           tied_embeddings=False):
    """Vectorised ``Architecture.flops_per_token`` for the shapes of ``param_arrays``."""
    import numpy as np

    if rule not in FLOPS_RULES:
        raise InputError("flops rule", f"must be one of {', '.join(FLOPS_RULES)}", rule)
    active = np.asarray(active_params, dtype=np.float64)
    if rule == "6N":
        return 6.0 * active
    L, h, H, hd, V = (np.asarray(a, dtype=np.float64) for a in (layers, hidden, heads, head_dim, vocab))
    norms = L * 2 * h + h
    embedding = V * h
    matmul = active - embedding - norms + np.where(np.asarray(tied_embeddings), V * h, 0.0)
    return 6.0 * matmul + 6.0 * L * H * seq_len * (2 * hd)
