"""Hardware, utilization and budget flags shared by the cost and planning commands."""

from __future__ import annotations

import argparse

from perflaw.law.errors import InputError
from perflaw.law.rules import check_number
from perflaw.optimizer.cli.arch_args import parse_int_flag
from perflaw.optimizer.cli.quantities import parse_positive
from perflaw.optimizer.cost.budget import Budget
from perflaw.optimizer.cost.hardware import (GPUS, HBM_GB, PEAK_TFLOPS, PRECISIONS, PRICE_USD_PER_GPU_HOUR,
                                             SCALEUP_DOMAIN, TDP_W, Hardware, Utilization, get_hardware,
                                             resolve_utilization)
from perflaw.optimizer.cost.plan_cost import DEFAULT_GRID_KG_PER_KWH, DEFAULT_PUE


def add_hardware_arguments(parser: argparse.ArgumentParser, gpus_required: bool = False) -> None:
    g = parser.add_argument_group("hardware and utilization")
    g.add_argument("--hardware", metavar="NAME", help="catalog name (perflaw hardware), e.g. H100-SXM")
    g.add_argument("--peak-tflops", type=float, metavar="X", help="inline hardware: dense peak TFLOP/s (BF16)")
    g.add_argument("--hbm-gb", type=float, metavar="GB", help="inline hardware: memory per GPU in GB")
    g.add_argument("--tdp-w", type=float, metavar="W", help="inline hardware: board power in watts")
    g.add_argument("--scaleup-domain", type=str, metavar="N", help="inline hardware: GPUs per NVLink domain (8)")
    g.add_argument("--gpus", type=str, metavar="N", required=gpus_required, help="number of GPUs")
    g.add_argument("--mfu", type=float, help="steady-state model FLOPs utilization in (0, 1] (default: cost "
                                             "predicts it from the layout when --gpus is given; otherwise the "
                                             "hardware family's published run)")
    g.add_argument("--goodput", type=float, help="share of GPU-hours in steady-state training, (0, 1] "
                                                 "(default: from the same run; 1 ignores restarts and evaluation)")
    g.add_argument("--precision", choices=PRECISIONS, default="bf16", help="tensor precision of the peak (bf16)")
    g.add_argument("--price", type=str, metavar="USD", help="dollars per GPU-hour")
    g.add_argument("--pue", type=float, default=DEFAULT_PUE, help=f"power usage effectiveness (default {DEFAULT_PUE})")
    g.add_argument("--grid-co2", type=float, default=DEFAULT_GRID_KG_PER_KWH, metavar="KG",
                   help=f"kg CO2eq per kWh (default {DEFAULT_GRID_KG_PER_KWH:.3f}, from the Llama 3.1 model card)")


def hardware_from_args(args: argparse.Namespace) -> Hardware:
    inline = {"--peak-tflops": args.peak_tflops, "--hbm-gb": args.hbm_gb, "--scaleup-domain": args.scaleup_domain}
    given = [k for k, v in inline.items() if v is not None]
    if args.hardware and given:
        raise InputError(given[0], "defines inline hardware, so it cannot be combined with --hardware", args.hardware)
    if args.tdp_w is not None:
        check_number("--tdp-w", args.tdp_w, TDP_W)
    if args.hardware:
        hw = get_hardware(args.hardware)
        if args.tdp_w is not None:  # board power override (e.g. TPUs have none in the catalog)
            from dataclasses import replace
            hw = replace(hw, tdp_w=args.tdp_w)
        return hw
    if args.peak_tflops is None or args.hbm_gb is None:
        raise InputError("--hardware", "is required (a catalog name, or inline --peak-tflops and --hbm-gb)",
                         "missing")
    for name, value, allowed in (("--peak-tflops", args.peak_tflops, PEAK_TFLOPS), ("--hbm-gb", args.hbm_gb, HBM_GB)):
        check_number(name, value, allowed)
    domain = parse_int_flag(args.scaleup_domain, "--scaleup-domain", SCALEUP_DOMAIN.low, SCALEUP_DOMAIN.high) \
        if args.scaleup_domain else None
    return Hardware.inline(args.peak_tflops, args.hbm_gb, tdp_w=args.tdp_w, scaleup_domain=domain,
                           source="defined on the command line")


def utilization_from_args(args: argparse.Namespace, hardware: Hardware) -> Utilization:
    return resolve_utilization(hardware, args.mfu, args.goodput, getattr(args, "precision", "bf16"))


def gpus_from_args(args: argparse.Namespace) -> int | None:
    return None if args.gpus is None else parse_int_flag(args.gpus, "--gpus", GPUS.low, GPUS.high)


def price_from_args(args: argparse.Namespace) -> float | None:
    return None if args.price is None else parse_positive(args.price, "--price", PRICE_USD_PER_GPU_HOUR.low,
                                                            PRICE_USD_PER_GPU_HOUR.high)


def add_budget_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("budget (one of)")
    g.add_argument("--flops", metavar="C", help="training FLOPs, e.g. 1e24")
    g.add_argument("--gpu-hours", metavar="H", help="GPU-hours on --hardware, e.g. 2M")
    g.add_argument("--usd", metavar="D", help="dollars at --price per GPU-hour, e.g. 5M")
    g.add_argument("--days", type=str, metavar="D", help="wall-clock days on --gpus")


def budget_from_args(args: argparse.Namespace) -> Budget:
    given = [(k, getattr(args, k)) for k in ("flops", "gpu_hours", "usd", "days") if getattr(args, k) is not None]
    if len(given) != 1:
        names = ", ".join("--" + k.replace("_", "-") for k, _ in given) or "none"
        raise InputError("budget", "give exactly one of --flops, --gpu-hours, --usd, --days", names)
    kind, text = given[0]
    value = parse_positive(text, "--" + kind.replace("_", "-"))
    inline = (args.peak_tflops, args.hbm_gb, args.tdp_w, args.scaleup_domain)
    wants_hardware = args.hardware or any(v is not None for v in inline) or kind != "flops"
    hardware = hardware_from_args(args) if wants_hardware else None
    util = utilization_from_args(args, hardware) if hardware is not None else None
    return Budget(kind, value, hardware, util, gpus_from_args(args), price_from_args(args), args.precision)
