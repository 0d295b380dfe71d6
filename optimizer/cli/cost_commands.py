"""The cost commands of the CLI (hardware, cost): each returns a JSON payload and its text."""

from __future__ import annotations

from dataclasses import asdict

from perflaw.optimizer.cli.arch_args import ArchitectureChoice
from perflaw.optimizer.cost.plan_cost import GRID_SOURCE, plan_cost
from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import Hardware, Utilization, default_utilization, get_hardware, load_catalog
from perflaw.optimizer.cost.layout import (RECOMPUTE_OVERHEAD, default_batch_sequences, microbatches_for,
                                          runner_up_rows, search_layout)
from perflaw.optimizer.cost.memory import Layout, fits, fits_one_gpu, inference_memory, training_memory
from perflaw.optimizer.cost.step_time import step_time
from perflaw.optimizer.cli.quantities import format_quantity
from perflaw.optimizer.cli.textfmt import table


def hardware_payload() -> dict:
    from perflaw.optimizer.cost.hardware import catalog_aliases
    rows, aliases = [], catalog_aliases()
    for hw in load_catalog().values():
        util = default_utilization(hw)
        rows.append({**asdict(hw), "aliases": list(aliases.get(hw.name, ())), "family": hw.family,
                     "default_mfu": util.mfu, "default_goodput": util.goodput, "utilization_source": util.source})
    return {"hardware": rows}


def hardware_text(d: dict) -> str:
    cols = [("name", "name", ""), ("peak_bf16_tflops", "BF16 TF/s", ".1f"), ("peak_fp8_tflops", "FP8 TF/s", ".1f"),
            ("hbm_gb", "HBM GB", ".0f"), ("hbm_tbps", "TB/s", ".2f"), ("scaleup_domain", "domain", "d"),
            ("scaleup_gbps", "NVLink GB/s", ".0f"), ("scaleout_gbps", "net GB/s", ".0f"),
            ("tdp_w", "W", ".0f"), ("default_mfu", "MFU", ".3f"), ("default_goodput", "goodput", ".3f")]
    notes = sorted({r["utilization_source"] for r in d["hardware"]})
    rows = [{**r, "aliases": ", ".join(r["aliases"]) or "—"} for r in d["hardware"]]
    return "\n".join([table(rows, cols + [("aliases", "also", "")]), "",
                      "A name matches an entry or one of its aliases exactly (case, spaces and hyphens aside).",
                      "Dense peaks (no 2:4 sparsity). Utilization defaults:"] + [f"  {n}" for n in notes])


def cost_payload(choice: ArchitectureChoice, tokens_t: float, hardware: Hardware, util: Utilization,
                 gpus: int | None, seq_len: int, flops_rule: str, precision: str, price: float | None, pue: float,
                 grid: float, layout: dict | None = None) -> dict:
    """Cost of one plan; ``layout`` merges the layout and serving sections into the payload."""
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
    out.update(layout or {})
    out["baselines"] = baselines_payload(6.0 * out["active_params_b"] * 1e9 * tokens_t * 1e12)
    return out


def cost_text(d: dict) -> str:
    money = f"${format_quantity(d['usd'])}" if d["usd"] is not None else "— (give --price USD per GPU-hour)"
    no_power = "— (no board power in the catalog for this hardware; give --tdp-w)"
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
        lines.append(f"Energy          {no_power}")
    lines += d.get("layout_text", []) + d.get("serve_text", [])
    lines += ["Loss-law compute-optimal allocation of the same 6ND FLOPs:"]
    lines += baselines_text(d["active_params_b"], d["tokens_t"], d["baselines"])
    return "\n".join(lines)


# Layout fields without a flag of their own: DP follows from --gpus. The others are renamed to their
# flags by the command line's edge (cli.main).
_LAYOUT_FLAGS = {"dp": "--gpus", "global_batch": "--global-batch"}


def _step_lines(st, layout, runners_up=()) -> list[str]:
    parts = ", ".join(f"{k} {v / st.step_s:.0%}" for k, v in st.breakdown().items() if v / st.step_s >= 0.005)
    micro = f"{st.microbatches} micro-batch{'es' if st.microbatches != 1 else ''} per replica"
    lines = [f"Step time       {st.step_s:.2f} s for {st.tokens_per_step // layout.seq_len:,} sequences ({micro}): "
             f"{parts}; {st.tokens_per_gpu_s:,.0f} tokens/s per GPU, MFU {st.mfu:.1%}"]
    if runners_up:
        lines.append("Runners-up      " + "; ".join(f"{lay.summary()} MFU {t.mfu:.1%}" for lay, t in runners_up))
    return lines


def _step_payload(st, runners_up=()) -> dict:
    return {"step": st.as_dict(), "mfu_model": st.mfu, "runners_up": runner_up_rows(runners_up)}


def layout_section(arch: Architecture, hardware: Hardware, gpus: int | None, seq_len: int, micro_batch: int,
                   headroom: float, explicit: dict | None, zero=None, recompute=None, *,
                   global_batch: int | None = None,
                   precision: str = "bf16", scaleout_gbps: float | None = None, rule: str = "time",
                   flops_rule: str = "attention") -> dict:
    """Memory per GPU, the layout and its step time: the layout given (``explicit``: tp, pp, cp, vpp, ep,
    zero, recompute) or the fastest that fits (``rule`` "memory": the older rule), found by search; when
    none fits, which limit binds and by how much. ``global_batch`` is in sequences."""
    if gpus is None:
        return {"layout_feasible": None, "layout_text": ["Layout          — (give --gpus to size the layout)"]}
    gb = 1e9
    if explicit:
        try:
            layout = Layout.for_gpus(gpus, micro_batch=micro_batch, seq_len=seq_len, **explicit)
            per_step = layout.dp * micro_batch
            seqs = global_batch or microbatches_for(default_batch_sequences(gpus, seq_len), per_step) * per_step
            if seqs % per_step:
                raise InputError("global_batch", f"must be a multiple of DP {layout.dp} × micro-batch {micro_batch}",
                                 seqs)
            mem = training_memory(arch, layout, microbatches=seqs // per_step)
        except InputError as exc:
            raise exc.renamed(_LAYOUT_FLAGS) from None
        fit = fits(mem, hardware, headroom)
        verdict = "fits" if fit.fits else f"does NOT fit: {-fit.margin_bytes / gb:.1f} GB over"
        out = {
            "memory_per_gpu_gb": mem.total / gb, "layout": layout.as_dict(),
            "memory": mem.as_dict(), "layout_feasible": fit.fits, "binding": None if fit.fits else "memory",
            "global_batch": seqs,
            "layout_text": [f"Layout          {layout.summary()} (given)",
                            f"Memory per GPU  {mem.total / gb:.1f} GB of {fit.usable_bytes / gb:.1f} GB usable "
                            f"({hardware.hbm_gb:g} GB less {headroom:.0%} headroom): {verdict}"],
        }
        try:
            st = step_time(arch, layout, hardware, global_batch=seqs, precision=precision, scaleout_gbps=scaleout_gbps,
                           flops_rule=flops_rule)
        except InputError as exc:
            if exc.input_name in ("global_batch", "ep", "pp"):
                raise exc.renamed(_LAYOUT_FLAGS) from None
            out["layout_text"].append(f"Step time       — not modelled: {exc}")
            return out
        out.update(_step_payload(st))
        out["layout_text"] += _step_lines(st, layout)
        return out
    filters = {}
    if zero is not None:
        filters["zero_stages"] = (zero,)
    if recompute is not None:
        filters["recompute"] = (recompute,)
    try:
        found = search_layout(arch, hardware, gpus, seq_len=seq_len, micro_batch=micro_batch, headroom=headroom,
                              global_batch_tokens=None if global_batch is None else global_batch * seq_len,
                              objective=rule, precision=precision, scaleout_gbps=scaleout_gbps, flops_rule=flops_rule,
                              **filters)
    except InputError as exc:
        raise exc.renamed({**_LAYOUT_FLAGS, "global_batch_tokens": "--global-batch"}) from None
    if not found.ok:
        return {
            "memory_per_gpu_gb": found.leanest_memory.total / gb if found.leanest_memory else None, "layout": None,
            "layout_feasible": False, "binding": found.binding, "shortfall_gb": (found.shortfall_bytes or 0) / gb,
            "layout_text": [f"Layout          none fits ({found.tried} tried): {found.explanation}"],
        }
    lay, mem = found.layout, found.memory
    out = {
        "memory_per_gpu_gb": mem.total / gb, "layout": lay.as_dict(), "memory": mem.as_dict(),
        "layout_feasible": True, "binding": None, "recompute_overhead": RECOMPUTE_OVERHEAD[lay.recompute],
        "layout_objective": found.objective, "layout_explanation": found.explanation,
        "layout_text": [
            f"Layout          {lay.summary()} ({'fastest' if found.step else 'cheapest by the memory rule'} of "
            f"{found.feasible} feasible / {found.tried} tried)" + (f"; {found.timing_note}" if found.timing_note
                                                                   else ""),
            f"Memory per GPU  {mem.total / gb:.1f} GB of {found.fit.usable_bytes / gb:.1f} GB usable: weights "
            f"{mem.weights / gb:.1f}, gradients {mem.gradients / gb:.1f}, optimizer {mem.optimizer / gb:.1f}, "
            f"activations {mem.activations / gb:.1f}",
        ],
    }
    if found.step is not None:
        out["global_batch"] = found.step.tokens_per_step // seq_len
        out.update(_step_payload(found.step, found.runners_up))
        out["layout_text"] += _step_lines(found.step, lay, found.runners_up)
    elif lay.recompute != "none":
        out["layout_text"][-1] += (f"; {lay.recompute} recompute costs about {RECOMPUTE_OVERHEAD[lay.recompute]:.1%} "
                                   "extra hardware FLOPs, which the MFU is taken to include")
    return out


def serve_section(arch: Architecture, serve_hardware: str | None, serve_hbm_gb: float | None, context: int,
                  batch: int, headroom: float) -> dict:
    """The optional inference constraint: weights + KV cache on one GPU."""
    if serve_hardware is None and serve_hbm_gb is None:
        return {}
    if serve_hardware is not None and serve_hbm_gb is not None:
        raise InputError("--serve-hbm-gb", "give --serve-hardware or --serve-hbm-gb, not both", serve_hbm_gb)
    try:
        target = get_hardware(serve_hardware) if serve_hardware else serve_hbm_gb * 1e9
        fit = fits_one_gpu(arch, target, context=context, batch=batch, headroom=headroom)
    except InputError as exc:
        raise exc.renamed({"hardware": "--serve-hardware", "hbm_bytes": "--serve-hbm-gb"}) from None
    label = serve_hardware or f"{serve_hbm_gb:g} GB GPU"
    mem = inference_memory(arch, context=context, batch=batch)
    gb = 1e9
    verdict = "fits" if fit.fits else f"does NOT fit: {-fit.margin_bytes / gb:.1f} GB over"
    return {"serve": {"fits": fit.fits, "target": label, "context": context, "batch": batch,
                      "weights_gb": mem.weights / gb, "kv_cache_gb": mem.kv_cache / gb,
                      "usable_gb": fit.usable_bytes / gb, "margin_gb": fit.margin_bytes / gb},
            "serve_text": [f"Serving         one {label}, context {context:,} x batch {batch}: weights "
                           f"{mem.weights / gb:.1f} GB + KV cache {mem.kv_cache / gb:.2f} GB of "
                           f"{fit.usable_bytes / gb:.1f} GB usable: {verdict}"]}


def baselines_payload(flops: float) -> dict:
    """Compute-optimal parameters and tokens for ``flops`` under each loss-law baseline (named)."""
    from perflaw.law.baselines import LOSS_LAWS, compute_optimal
    out = {}
    for name, law in LOSS_LAWS.items():
        opt = compute_optimal(law, flops)
        out[name] = {"params_b": float(opt.params) / 1e9, "tokens_t": float(opt.tokens) / 1e12,
                     "tokens_per_param": float(opt.tokens_per_param), "source": law.source}
    return out


def baselines_text(plan_params_b: float, plan_tokens_t: float, baselines: dict) -> list[str]:
    """One line per baseline: its compute-optimal allocation against the plan's."""
    lines = []
    for name, b in baselines.items():
        lines.append(f"  {name:<21} {b['params_b']:.3g}B params x {b['tokens_t']:.3g}T tokens "
                     f"({b['tokens_per_param']:.0f} per param); the plan: {plan_params_b:.3g}B x {plan_tokens_t:.3g}T "
                     f"({plan_tokens_t * 1e3 / plan_params_b:.0f} per param)")
    return lines


def cost_from_args(args) -> dict:
    """The cost payload from the flags of ``perflaw cost`` (architecture, hardware, layout, serving)."""
    from perflaw.optimizer.cli.arch_args import architecture_from_args, parse_int_flag, seq_len_from_args, tokens_t_from_args
    from perflaw.optimizer.cli.hardware_args import gpus_from_args, hardware_from_args, price_from_args, utilization_from_args
    from perflaw.law.rules import check_number
    from perflaw.optimizer.cost.hardware import LINK_GBPS
    from perflaw.optimizer.search.problem import HEADROOM, SERVE_BATCH, SERVE_CONTEXT
    choice = architecture_from_args(args)
    tokens_t = tokens_t_from_args(args)
    hardware = hardware_from_args(args)
    gpus, seq_len = gpus_from_args(args), seq_len_from_args(args)
    check_number("headroom", args.headroom, HEADROOM)
    for flag, value in (("--params", args.params), ("--active-params", args.active_params)):
        if value is not None:
            raise InputError(flag, "applies to predict only; cost counts the architecture's own parameters", value)
    explicit = None
    extra = {"cp": args.cp, "vpp": args.vpp, "ep": args.ep}
    if args.tp is not None or args.pp is not None:
        explicit = {"tp": parse_int_flag(args.tp or "1", "--tp", 1, 1 << 20),
                    "pp": parse_int_flag(args.pp or "1", "--pp", 1, 1 << 20),
                    "zero": args.zero or 0, "recompute": args.recompute or "none"}
        explicit.update({k: parse_int_flag(v, f"--{k}", 1, 1 << 20) for k, v in extra.items() if v is not None})
    else:
        for k, v in extra.items():
            if v is not None:
                raise InputError(f"--{k}", "applies to a layout given with --tp/--pp (the search sets it)", v)
    global_batch = None if args.global_batch is None else parse_int_flag(args.global_batch, "--global-batch", 1,
                                                                         1 << 60)
    if args.scaleout_gbps is not None:
        check_number("--scaleout-gbps", args.scaleout_gbps, LINK_GBPS)
    sections = layout_section(choice.arch, hardware, gpus, seq_len,
                              parse_int_flag(args.micro_batch, "--micro-batch", 1, 1 << 20), args.headroom, explicit,
                              zero=args.zero, recompute=args.recompute, global_batch=global_batch,
                              precision=args.precision, scaleout_gbps=args.scaleout_gbps, rule=args.layout_rule,
                              flops_rule=args.flops_rule)
    sections.update(serve_section(choice.arch, args.serve_hardware, args.serve_hbm_gb,
                                  parse_int_flag(args.serve_context, "--serve-context", SERVE_CONTEXT.low,
                                                 SERVE_CONTEXT.high),
                                  parse_int_flag(args.serve_batch, "--serve-batch", SERVE_BATCH.low, SERVE_BATCH.high),
                                  args.headroom))
    if args.mfu is None and sections.get("mfu_model") is not None:
        base = default_utilization(hardware)
        goodput = base.goodput if args.goodput is None else args.goodput
        run = base.source.split(":")[0]
        util = Utilization(sections["mfu_model"], goodput,
                           f"MFU from the step-time model of the layout, goodput "
                           f"{'given' if args.goodput is not None else 'from ' + run}")
        sections["mfu_source"] = "model"
    else:
        util = utilization_from_args(args, hardware)
        sections["mfu_source"] = "given" if args.mfu is not None else "published run"
    return cost_payload(choice, tokens_t, hardware, util, gpus, seq_len, args.flops_rule, args.precision,
                        price_from_args(args), args.pue, args.grid_co2, sections)
