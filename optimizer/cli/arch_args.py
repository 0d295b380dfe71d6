"""The architecture flags shared by every command that takes an architecture, and their parsing."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from perflaw.law.architecture import FFN_KINDS, SEQ_LEN, Architecture
from perflaw.law.coefficients import PAPER, LawCoefficients, load_coefficients
from perflaw.law.errors import InputError
from perflaw.law.hf_config import load_hf_config
from perflaw.law.rules import PARAMS_B, TOKENS_T, Range, number_rule
from perflaw.optimizer.cli.quantities import parse_positive

# Tokens and parameter counts below these are almost certainly a missing suffix (15 vs 15T).
MIN_TOKENS, MAX_TOKENS = TOKENS_T.low * 1e12, TOKENS_T.high * 1e12
MIN_PARAMS, MAX_PARAMS = PARAMS_B.low * 1e9, PARAMS_B.high * 1e9


@dataclass(frozen=True)
class ArchitectureChoice:
    """What the flags describe: the architecture plus optional published counts overriding ours."""

    arch: Architecture
    source: str  # "flags" or the config path
    params_b: float | None
    active_params_b: float | None


def add_architecture_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--layers/--hidden/--ffn`` (or ``--hf-config``) and the optional shape flags."""
    g = parser.add_argument_group("architecture (flags, or --hf-config)")
    g.add_argument("--hf-config", metavar="PATH", help="Hugging Face config.json (or its folder)")
    g.add_argument("--layers", type=str, metavar="N", help="decoder layers")
    g.add_argument("--hidden", type=str, metavar="H", help="hidden size")
    g.add_argument("--ffn", type=str, metavar="D", help="FFN intermediate size per branch (MoE: of leading dense layers)")
    g.add_argument("--heads", type=str, metavar="N", help="query heads (default hidden / head-dim)")
    g.add_argument("--kv-heads", type=str, metavar="N", help="key/value heads, GQA/MQA (default: = heads)")
    g.add_argument("--head-dim", type=str, metavar="N", help="per-head width (default hidden / heads, else 128)")
    g.add_argument("--vocab", type=str, metavar="V", help="vocabulary size (default 32000)")
    g.add_argument("--tied-embeddings", action="store_true", help="output projection shares the input embedding")
    g.add_argument("--ffn-kind", choices=FFN_KINDS, help="gated = 3 matrices (SwiGLU/GeGLU, default); plain = 2")
    g.add_argument("--params", type=str, metavar="S", help="total parameters to use instead of ours (e.g. 8.03B)")
    m = parser.add_argument_group("mixture of experts")
    m.add_argument("--experts", type=str, metavar="E", help="routed experts per MoE layer")
    m.add_argument("--active-experts", type=str, metavar="K", help="routed experts per token (top-k)")
    m.add_argument("--shared-experts", type=str, metavar="N", help="always-on experts of width --expert-ffn")
    m.add_argument("--expert-ffn", type=str, metavar="D", help="intermediate size of one expert")
    m.add_argument("--dense-layers", type=str, metavar="N", help="leading layers with a dense FFN of width --ffn")
    m.add_argument("--active-params", type=str, metavar="S", help="activated parameters to use instead of ours")


def add_law_arguments(parser: argparse.ArgumentParser, tokens: bool = True, vintage: bool = True) -> None:
    """Add ``--tokens``, ``--gamma``, ``--seq-len``, ``--law`` and (where MMLU is predicted) ``--data-vintage``."""
    g = parser.add_argument_group("training and law")
    if tokens:
        g.add_argument("--tokens", type=str, metavar="T", help="training tokens, e.g. 15T or 300B (required)")
    g.add_argument("--gamma", type=float, default=1.0, help="precision loss of the training stack, >= 1 (default 1)")
    g.add_argument("--seq-len", type=str, default="4096", metavar="L",
                   help="training sequence length for the attention FLOPs (default 4096)")
    g.add_argument("--law", metavar="FILE", help="coefficient file from 'perflaw fit --out' (default: the paper's)")
    if vintage:
        g.add_argument("--data-vintage", metavar="YYYY-MM",
                       help="month whose data quality the run's data matches (default: the newest release in the "
                            "law's fit table; the paper's law has no vintage term and ignores it)")
        if tokens:
            g.add_argument("--unique-tokens", metavar="U", help="unique tokens of the run's data, e.g. 1T: tokens "
                                                                "beyond them repeat it and count at their worth")


_INT_FLAGS = ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "vocab", "experts", "active_experts",
              "shared_experts", "expert_ffn", "dense_layers")
_FLAG_ONLY = ("layers", "hidden", "ffn", "heads", "kv_heads", "head_dim", "vocab", "ffn_kind", "experts",
              "active_experts", "shared_experts", "expert_ffn", "dense_layers")


def parse_int_flag(text: str, name: str, minimum: int = 0, maximum: int = 1 << 40) -> int:
    """A whole number from a flag; suffixes allowed (``128k`` is 128000)."""
    value = parse_positive(text, name, minimum=0) if str(text).strip() not in ("0",) else 0.0
    if not float(value).is_integer():
        raise InputError(name, "must be a whole number", text)
    if not minimum <= value <= maximum:
        raise InputError(name, number_rule(Range(minimum, maximum), whole=True), text)
    return int(value)


def architecture_from_args(args: argparse.Namespace) -> ArchitectureChoice:
    """Build the architecture described by the flags (raises ``InputError`` naming the flag)."""
    params_b = _count_b(args.params, "--params")
    active_b = _count_b(args.active_params, "--active-params")
    if args.hf_config:
        clash = [f for f in _FLAG_ONLY if getattr(args, f) not in (None, False)]
        if clash or args.tied_embeddings:
            flag = "--" + (clash[0] if clash else "tied_embeddings").replace("_", "-")
            raise InputError(flag, "cannot be combined with --hf-config (the config defines the shape)", flag)
        arch = load_hf_config(args.hf_config)
        return ArchitectureChoice(arch, args.hf_config, params_b, active_b)
    for required in ("layers", "hidden"):
        if getattr(args, required) is None:
            raise InputError(f"--{required}", "is required (or give --hf-config)", "missing")
    values = {}
    for key in _INT_FLAGS:
        text = getattr(args, key)
        if text is not None:
            values[key] = parse_int_flag(text, "--" + key.replace("_", "-"), minimum=0 if key in (
                "shared_experts", "dense_layers") else 1)
    if "ffn" not in values:
        if values.get("experts") and not values.get("dense_layers"):
            values["ffn"] = 0
        else:
            raise InputError("--ffn", "is required for a dense model or leading dense layers", "missing")
    arch = Architecture(tied_embeddings=bool(args.tied_embeddings), ffn_kind=args.ffn_kind or "gated",
                        name="from flags", **values)
    return ArchitectureChoice(arch, "flags", params_b, active_b)


def _count_b(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    return parse_positive(text, name, MIN_PARAMS, MAX_PARAMS, hint="write 8.03B, not 8.03") / 1e9


def tokens_t_from_args(args: argparse.Namespace) -> float:
    if args.tokens is None:
        raise InputError("--tokens", "is required (e.g. --tokens 15T)", "missing")
    return parse_positive(args.tokens, "--tokens", MIN_TOKENS, MAX_TOKENS, hint="write 15T, not 15") / 1e12


def unique_tokens_t_from_args(args: argparse.Namespace) -> float | None:
    if getattr(args, "unique_tokens", None) is None:
        return None
    return parse_positive(args.unique_tokens, "--unique-tokens", MIN_TOKENS, MAX_TOKENS, hint="write 1T, not 1") / 1e12


def seq_len_from_args(args: argparse.Namespace) -> int:
    return parse_int_flag(args.seq_len, "--seq-len", SEQ_LEN.low, SEQ_LEN.high)


def coefficients_from_args(args: argparse.Namespace) -> LawCoefficients:
    return PAPER if not args.law else load_coefficients(args.law)
