"""The cost commands of the CLI (hardware, cost): each returns a JSON payload and its text."""

from __future__ import annotations

from dataclasses import asdict

from optimizer.arch_args import ArchitectureChoice
from optimizer.cost import GRID_SOURCE, plan_cost
from optimizer.hardware import Hardware, Utilization, default_utilization, load_catalog
from optimizer.quantities import format_quantity
from optimizer.textfmt import table


def hardware_payload() -> dict:
    rows = []
    for hw in load_catalog().values():
        util = default_utilization(hw)
        rows.append({**asdict(hw), "family": hw.family, "default_mfu": util.mfu, "default_goodput": util.goodput,
                     "utilization_source": util.source})
    return {"hardware": rows}


def hardware_text(d: dict) -> str:
    cols = [("name", "name", ""), ("peak_bf16_tflops", "BF16 TF/s", ".1f"), ("peak_fp8_tflops", "FP8 TF/s", ".1f"),
            ("hbm_gb", "HBM GB", ".0f"), ("hbm_tbps", "TB/s", ".2f"), ("scaleup_domain", "domain", "d"),
            ("tdp_w", "W", ".0f"), ("default_mfu", "MFU", ".3f"), ("default_goodput", "goodput", ".3f")]
    notes = sorted({r["utilization_source"] for r in d["hardware"]})
    return "\n".join([table(d["hardware"], cols), "", "Dense peaks (no 2:4 sparsity). Utilization defaults:"]
                     + [f"  {n}" for n in notes])


def cost_payload(choice: ArchitectureChoice, tokens_t: float, hardware: Hardware, util: Utilization,
                 gpus: int | None, seq_len: int, flops_rule: str, precision: str, price: float | None, pue: float,
                 grid: float, layout: dict | None = None) -> dict:
    c = plan_cost(choice.arch, tokens_t, hardware, util, gpus=gpus, seq_len=seq_len, flops_rule=flops_rule,
                  precision=precision, price_usd_per_gpu_hour=price, pue=pue, grid_kg_per_kwh=grid)
    p = choice.arch.params()
    out = {
        **c.as_dict(),
        "tokens_t": tokens_t,
        "params_b": p.total / 1e9,
        "active_params_b": p.active / 1e9,
        "architecture": choice.arch.summary(),
        "effective_utilization": util.effective,
        "utilization_source": util.source,
        "grid_source": GRID_SOURCE,
        "memory_per_gpu_gb": None,
        "layout": None,
    }
    if layout is not None:
        out.update(layout)
    return out


def cost_text(d: dict) -> str:
    money = f"${format_quantity(d['usd'])}" if d["usd"] is not None else "— (give --price USD per GPU-hour)"
    days = f"{d['days']:.1f} days on {d['gpus']:,} GPUs" if d["days"] is not None else "— (give --gpus)"
    lines = [
        f"Plan            {d['architecture']}; {d['params_b']:.2f}B params ({d['active_params_b']:.2f}B activated), "
        f"{d['tokens_t']:g}T tokens",
        f"Training FLOPs  {d['train_flops']:.3e}  ({format_quantity(d['flops_per_token'])} per token, rule "
        f"{d['flops_rule']}, seq {d['seq_len']})",
        f"Hardware        {d['hardware']} {d['precision'].upper()}, MFU {d['mfu']:.1%} x goodput {d['goodput']:.1%} "
        f"= {d['effective_utilization']:.1%} effective ({d['utilization_source']})",
        f"GPU-hours       {format_quantity(d['gpu_hours'])} end to end ({format_quantity(d['gpu_hours_steady'])} "
        f"at steady-state MFU)",
        f"Wall clock      {days}",
        f"Dollars         {money}",
    ]
    if d["energy_kwh"] is not None:
        lines.append(f"Energy          {d['energy_kwh'] / 1e6:.3g} GWh (TDP x GPU-hours x PUE {d['pue']:g}); "
                     f"CO2 {d['co2_kg'] / 1e3:,.0f} t at {d['grid_kg_per_kwh']:.3f} kg/kWh")
    else:
        lines.append("Energy          — (no board power for this hardware; give --tdp-w)")
    if d.get("layout_text"):
        lines += d["layout_text"]
    return "\n".join(lines)
