"""Build an ``Architecture`` from a Hugging Face ``config.json`` of the common model families.

Each family is one small reader keyed by ``model_type``; they share the key lookups below.
Only the language model is counted: vision towers of multimodal configs (Gemma 3) and
multi-token-prediction layers (DeepSeek-V3 ``num_nextn_predict_layers``) are left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError, read_json_file


class _Config:
    """Key access to one config dict, with errors that name the file, the key and the family."""

    def __init__(self, data: dict, origin: str, family: str) -> None:
        self.data, self.origin, self.family = data, origin, family

    def get(self, key: str, default: Any = None) -> Any:
        value = self.data.get(key, default)
        return default if value is None else value

    def need(self, *keys: str) -> Any:
        for key in keys:
            if self.data.get(key) is not None:
                return self.data[key]
        raise InputError(self.origin, f"{self.family} config needs key '{keys[0]}'", "missing")

    def whole(self, *keys: str, default: Any = None) -> int:
        value = self.need(*keys) if default is None else self.get(keys[0], default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(self.origin, f"'{keys[0]}' must be a whole number", value)
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise InputError(self.origin, f"'{key}' must be true or false", value)
        return value

    def common(self, tied_default: bool) -> dict:
        """Fields shared by the Llama-like families."""
        heads = self.whole("num_attention_heads")
        out = dict(
            layers=self.whole("num_hidden_layers"),
            hidden=self.whole("hidden_size"),
            heads=heads,
            kv_heads=self.whole("num_key_value_heads", default=heads),
            vocab=self.whole("vocab_size"),
            tied_embeddings=self.flag("tie_word_embeddings", tied_default),
        )
        if self.get("head_dim") is not None:
            out["head_dim"] = self.whole("head_dim")
        return out

    def no_interleaving(self) -> None:
        """Reject MoE configs that alternate dense and sparse layers (not modelled)."""
        step = self.get("decoder_sparse_step", 1)
        dense_only = self.get("mlp_only_layers", [])
        freq = self.get("moe_layer_freq", 1)
        if step != 1 or dense_only or freq != 1:
            raise InputError(self.origin, f"{self.family}: MoE layers interleaved with dense layers are not supported",
                             f"decoder_sparse_step={step}, mlp_only_layers={dense_only}, moe_layer_freq={freq}")


def _llama(c: _Config) -> Architecture:
    bias = c.flag("attention_bias", False)
    return Architecture(ffn=c.whole("intermediate_size"), qkv_bias=bias, out_bias=bias,
                        mlp_bias=c.flag("mlp_bias", False), **c.common(False))


def _qwen2(c: _Config) -> Architecture:
    return Architecture(ffn=c.whole("intermediate_size"), qkv_bias=True, **c.common(False))


def _qwen3(c: _Config) -> Architecture:
    bias = c.flag("attention_bias", False)
    return Architecture(ffn=c.whole("intermediate_size"), qk_norm="head", qkv_bias=bias, out_bias=bias,
                        **c.common(False))


def _shared_count(c: _Config, shared_width: int, expert_ffn: int) -> int:
    if shared_width % expert_ffn:
        raise InputError(c.origin, f"shared expert width must be a multiple of moe_intermediate_size {expert_ffn}",
                         shared_width)
    return shared_width // expert_ffn


def _qwen2_moe(c: _Config) -> Architecture:
    c.no_interleaving()
    expert_ffn = c.whole("moe_intermediate_size")
    shared = c.whole("shared_expert_intermediate_size", default=0)
    return Architecture(ffn=0, qkv_bias=True, experts=c.whole("num_experts"),
                        active_experts=c.whole("num_experts_per_tok"), expert_ffn=expert_ffn,
                        shared_experts=_shared_count(c, shared, expert_ffn), shared_expert_gate=shared > 0,
                        **c.common(False))


def _qwen3_moe(c: _Config) -> Architecture:
    c.no_interleaving()
    bias = c.flag("attention_bias", False)
    return Architecture(ffn=0, qk_norm="head", qkv_bias=bias, out_bias=bias, experts=c.whole("num_experts"),
                        active_experts=c.whole("num_experts_per_tok"),
                        expert_ffn=c.whole("moe_intermediate_size"), **c.common(False))


def _mixtral(c: _Config) -> Architecture:
    return Architecture(ffn=0, experts=c.whole("num_local_experts"), active_experts=c.whole("num_experts_per_tok"),
                        expert_ffn=c.whole("intermediate_size"), **c.common(False))


def _olmo(c: _Config) -> Architecture:
    # OLMo 1 uses a layer norm without weights or bias.
    bias = c.flag("attention_bias", False)
    return Architecture(ffn=c.whole("intermediate_size"), norm="nonparametric", qkv_bias=bias, out_bias=bias,
                        **c.common(False))


def _olmo2(c: _Config) -> Architecture:
    # OLMo 2 normalises after attention and after the FFN (two norms per layer) and RMS-normalises
    # the full query and key projections.
    bias = c.flag("attention_bias", False)
    return Architecture(ffn=c.whole("intermediate_size"), qk_norm="full", qkv_bias=bias, out_bias=bias,
                        **c.common(False))


def _olmoe(c: _Config) -> Architecture:
    bias = c.flag("attention_bias", False)
    return Architecture(ffn=0, qk_norm="full", qkv_bias=bias, out_bias=bias, experts=c.whole("num_experts"),
                        active_experts=c.whole("num_experts_per_tok"), expert_ffn=c.whole("intermediate_size"),
                        **c.common(False))


def _phi3(c: _Config) -> Architecture:
    return Architecture(ffn=c.whole("intermediate_size"), **c.common(False))


def _gemma(c: _Config) -> Architecture:
    return Architecture(ffn=c.whole("intermediate_size"), **c.common(True))


def _gemma2(c: _Config) -> Architecture:
    return Architecture(ffn=c.whole("intermediate_size"), norms_per_layer=4, **c.common(True))


# Defaults of transformers' Gemma3TextConfig: published Gemma 3 configs omit the keys that equal them.
_GEMMA3_DEFAULTS = {"num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "vocab_size": 262208}


def _gemma3(c: _Config) -> Architecture:
    c.data = {**_GEMMA3_DEFAULTS, **{k: v for k, v in c.data.items() if v is not None}}
    return Architecture(ffn=c.whole("intermediate_size"), norms_per_layer=4, qk_norm="head", **c.common(True))


def _deepseek(c: _Config) -> Architecture:
    c.no_interleaving()
    expert_ffn = c.whole("moe_intermediate_size")
    routed = c.whole("n_routed_experts", default=0)
    moe = dict(experts=routed, active_experts=c.whole("num_experts_per_tok"), expert_ffn=expert_ffn,
               shared_experts=c.whole("n_shared_experts", default=0),
               dense_layers=c.whole("first_k_dense_replace", default=0),
               router_bias=c.get("topk_method") == "noaux_tc") if routed else {}
    return Architecture(
        ffn=c.whole("intermediate_size"), attention="mla", q_lora_rank=c.whole("q_lora_rank", default=0),
        kv_lora_rank=c.whole("kv_lora_rank"), qk_nope_head_dim=c.whole("qk_nope_head_dim"),
        qk_rope_head_dim=c.whole("qk_rope_head_dim"), v_head_dim=c.whole("v_head_dim"),
        head_dim=c.whole("v_head_dim"), **moe, **{k: v for k, v in c.common(False).items() if k != "head_dim"},
    )


def _gpt2(c: _Config) -> Architecture:
    hidden = c.whole("n_embd")
    return Architecture(
        layers=c.whole("n_layer"), hidden=hidden, ffn=c.whole("n_inner", default=4 * hidden),
        heads=c.whole("n_head"), vocab=c.whole("vocab_size"), tied_embeddings=c.flag("tie_word_embeddings", True),
        ffn_kind="plain", norm="layernorm", qkv_bias=True, out_bias=True, mlp_bias=True,
        learned_positions=c.whole("n_positions"),
    )


def _gpt_neox(c: _Config) -> Architecture:
    bias = c.flag("attention_bias", True)
    return Architecture(
        layers=c.whole("num_hidden_layers"), hidden=c.whole("hidden_size"), ffn=c.whole("intermediate_size"),
        heads=c.whole("num_attention_heads"), vocab=c.whole("vocab_size"),
        tied_embeddings=c.flag("tie_word_embeddings", False), ffn_kind="plain", norm="layernorm",
        norms_per_layer=2, qkv_bias=bias, out_bias=bias, mlp_bias=True,
    )


_READERS: dict[str, Callable[[_Config], Architecture]] = {
    "llama": _llama, "mistral": _llama, "mixtral": _mixtral,
    "qwen2": _qwen2, "qwen3": _qwen3, "qwen2_moe": _qwen2_moe, "qwen3_moe": _qwen3_moe,
    "gemma": _gemma, "gemma2": _gemma2, "gemma3": _gemma3, "gemma3_text": _gemma3,
    "phi3": _phi3, "olmo": _olmo, "olmo2": _olmo2, "olmoe": _olmoe,
    "deepseek_v2": _deepseek, "deepseek_v3": _deepseek, "gpt2": _gpt2, "gpt_neox": _gpt_neox,
}

#: The ``model_type`` values understood.
SUPPORTED_MODEL_TYPES = tuple(sorted(_READERS))


def from_hf_config(config: dict, origin: str = "config.json", name: str = "") -> Architecture:
    """Architecture from a parsed ``config.json`` dict (``origin`` names it in errors)."""
    if not isinstance(config, dict):
        raise InputError(origin, "must be a JSON object", type(config).__name__)
    model_type = config.get("model_type")
    if model_type is None:
        raise InputError(origin, "needs 'model_type' (is it a Hugging Face config.json?)", "missing")
    # Multimodal wrappers keep the language model in text_config.
    if isinstance(config.get("text_config"), dict) and model_type in ("gemma3", "llava", "mistral3"):
        text = dict(config["text_config"])
        text.setdefault("model_type", "gemma3_text" if model_type == "gemma3" else "llama")
        return from_hf_config(text, origin + " text_config", name)
    reader = _READERS.get(model_type)
    if reader is None:
        raise InputError(origin, f"model_type must be one of {', '.join(SUPPORTED_MODEL_TYPES)}", model_type)
    try:
        arch = reader(_Config(config, origin, model_type))
    except InputError as exc:
        if exc.input_name.startswith(origin):
            raise
        raise InputError(f"{origin} ({model_type}) {exc.input_name}", exc.rule, exc.value) from None
    return arch.replace(name=name or str(config.get("_name_or_path", "")) or model_type)


def load_hf_config(path: str | Path) -> Architecture:
    """Read a ``config.json`` file (or a folder holding one) into an ``Architecture``."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    origin = str(p)
    data = read_json_file(p, origin)
    return from_hf_config(data, origin, name=p.parent.name if p.parent.name not in ("", ".") else "")
