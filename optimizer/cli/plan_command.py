"""The plan command of the CLI: the planning tool's flags in, its ranked table out."""

from __future__ import annotations

from perflaw.law.errors import InputError
from perflaw.optimizer.cli.arch_args import parse_int_flag
from perflaw.optimizer.cli.quantities import parse_positive, parse_range
from perflaw.optimizer.cli.textfmt import table
from perflaw.optimizer.cost.hardware import GPUS
from perflaw.optimizer.search.planner import PlannerSettings, run_planner


def settings_from_args(args) -> PlannerSettings:
    """PlannerSettings from the ``perflaw plan`` flags (ranges as MIN:MAX with suffixes)."""
    low, high = parse_range(args.layers, "--layers", minimum=1)
    if not (float(low).is_integer() and float(high).is_integer()):
        raise InputError("--layers", "must be whole numbers MIN:MAX", args.layers)
    pmin, pmax = parse_range(args.params, "--params", minimum=1e6)
    return PlannerSettings(
        tflops=args.tflops, gpus=parse_int_flag(args.gpus, "--gpus", GPUS.low, GPUS.high), mfu_percent=args.mfu,
        days=args.days, min_layers=int(low), max_layers=int(high), min_params_b=pmin / 1e9, max_params_b=pmax / 1e9,
        max_tokens_t=parse_positive(args.max_tokens, "--max-tokens", 1e9, 1e16, hint="write 20T") / 1e12,
        gamma=args.gamma, min_mmlu=args.min_mmlu,
    )


def plan_payload(args) -> dict:
    settings = settings_from_args(args)
    top = parse_int_flag(args.top, "--top", 1, 1_000_000)
    table = run_planner(settings)
    return {"rows": table.ranked(args.rank, top), "n_candidates": len(table), "rank": args.rank,
            "budget_flops": settings.budget_flops, "settings": settings.__dict__}


def plan_text(d: dict) -> str:
    s = d["settings"]
    head = (f"Budget {d['budget_flops']:.4g} FLOPs = {s['tflops']:g} TFLOPS x {s['gpus']} GPUs x {s['mfu_percent']:g}% "
            f"MFU x {s['days']:g} days; {d['n_candidates']} plans pass the filters; ranking: {d['rank']}")
    cols = [("layers", "layers", "d"), ("hidden", "hidden", "d"), ("ffn", "ffn", "d"), ("params_b", "params B", ".2f"),
            ("tokens_t", "tokens T", ".1f"), ("mmlu", "MMLU", ".2f"), ("budget_utilization", "budget used", ".4f")]
    if not d["rows"]:
        return head + "\nNo plan passes the filters: lower --min-mmlu, widen --params or --layers, or raise the budget."
    return head + "\n\n" + table(d["rows"], cols)
