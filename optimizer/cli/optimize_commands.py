"""The optimize command of the CLI: flags → problem → search → JSON payload and its text."""

from __future__ import annotations

import argparse
import sys

from typing import TYPE_CHECKING

from perflaw.law.architecture import FLOPS_RULES
from perflaw.law.coefficients import vintage_words
from perflaw.law.errors import InputError
from perflaw.law.rules import PARAMS_B, TOKENS_T
from perflaw.optimizer.cli.arch_args import coefficients_from_args, parse_int_flag, seq_len_from_args
from perflaw.optimizer.cli.hardware_args import budget_from_args
from perflaw.optimizer.cli.quantities import format_quantity, parse_positive, parse_range
from perflaw.optimizer.cli.textfmt import table
from perflaw.optimizer.search.defaults import CONSTRAINTS, FRONTS, SPACE, STRATEGIES

# The search (numpy) loads when a problem is built: the flags, their help and an input error do
# not need it.
if TYPE_CHECKING:
    from perflaw.optimizer.cost.budget import Budget
    from perflaw.optimizer.search.problem import Problem


def add_optimize_arguments(p: argparse.ArgumentParser) -> None:
    """The optimize flags; their defaults are the library's (``Constraints``, ``SearchSpace``, both
    from optimizer.search.defaults)."""
    from types import SimpleNamespace
    c, s = SimpleNamespace(**CONSTRAINTS), SimpleNamespace(**SPACE)

    def pair(v, unit=""):
        return f"{v[0]:g}{unit}:{v[1]:g}{unit}"

    g = p.add_argument_group("constraints")
    g.add_argument("--params", default=pair(c.params_b, "B"), help=f"total parameters LOW:HIGH ({pair(c.params_b, 'B')})")
    g.add_argument("--layers", default=pair(s.layers), help=f"layers LOW:HIGH, inclusive ({pair(s.layers)})")
    g.add_argument("--max-tokens", help="training tokens at most, e.g. 3T (a hard data limit)")
    g.add_argument("--unique-tokens", help="unique tokens the data has, e.g. 3T: plans may repeat it, and repeated "
                                           "tokens count at their worth (Muennighoff et al. 2023)")
    g.add_argument("--min-tokens", default=format_quantity(c.min_tokens_t * 1e12),
                   help=f"a plan trains on at least this many tokens ({format_quantity(c.min_tokens_t * 1e12)})")
    g.add_argument("--min-mmlu", type=float, help="drop plans predicted below this MMLU")
    g.add_argument("--serve-hbm-gb", type=float, metavar="GB", help="weights + KV cache must fit one GPU this size")
    g.add_argument("--serve-context", default=str(c.serve_context), help=f"context when serving ({c.serve_context})")
    g.add_argument("--serve-batch", default=str(c.serve_batch), help=f"sequences served at once ({c.serve_batch})")
    g.add_argument("--headroom", type=float, default=c.headroom, help=f"share of HBM kept free ({c.headroom:g})")
    g = p.add_argument_group("search space")
    g.add_argument("--heads", default=pair(s.heads),
                   help=f"attention heads LOW:HIGH; hidden = heads x head-dim ({pair(s.heads)})")
    g.add_argument("--heads-step", default=str(s.heads_step), help=f"step of heads ({s.heads_step})")
    g.add_argument("--head-dim", default=str(s.head_dim), help=f"per-head width ({s.head_dim})")
    g.add_argument("--ffn-ratio", default=pair(s.ffn_ratio), help=f"FFN size / hidden, LOW:HIGH ({pair(s.ffn_ratio)})")
    g.add_argument("--ffn-multiple", default=str(s.ffn_multiple),
                   help=f"FFN size rounded to a multiple of this ({s.ffn_multiple})")
    g.add_argument("--kv-heads", default=",".join(map(str, s.kv_heads)),
                   help=f"KV-head choices, comma-separated ({','.join(map(str, s.kv_heads))})")
    g.add_argument("--vocab", default=str(s.vocab), help=f"vocabulary size ({s.vocab})")
    g.add_argument("--tied-embeddings", action="store_true", help="tie input and output embeddings")
    g.add_argument("--experts", help="MoE: routed-expert choices, comma-separated (e.g. 64,128)")
    g.add_argument("--active-experts", help="MoE: experts-per-token choices (e.g. 4,8)")
    g.add_argument("--shared-experts", default="0", help="MoE: shared-expert choices (0)")
    g.add_argument("--expert-ffn", help="MoE: expert FFN size choices (e.g. 1024,1536,2048)")
    g = p.add_argument_group("search")
    g.add_argument("--strategy", default="exact", help=f"one of {', '.join(STRATEGIES)} (exact)")
    g.add_argument("--trials", help="evaluations for optuna (1000) or scipy (10000)")
    g.add_argument("--seed", default="0", help="random seed for optuna and scipy (0)")
    g.add_argument("--trust", default="data", help="data: only plans inside the law's domain, with the law's own "
                                                   "optimum beside (default); law: the raw law")
    g.add_argument("--objective", default="mean", help="mean: the predicted MMLU (default); lower: the low end of "
                                                       "its interval (risk-averse)")
    g.add_argument("--storage", help="Optuna storage URL, e.g. sqlite:///study.db (persist, resume, share)")
    g.add_argument("--study-name", help="Optuna study name within --storage")
    g.add_argument("--top", default="5", help="alternatives to list (5)")
    g.add_argument("--front", default="none", help=f"front to compute: {', '.join(FRONTS)} (none)")
    g.add_argument("--tolerance", type=float, default=0.5,
                   help="near-optimal plans: within this many points of the best (0.5)")
    g.add_argument("--target-mmlu", type=float, help="answer the inverse question: cheapest plan reaching this MMLU")
    g.add_argument("--flops-rule", default="attention", choices=FLOPS_RULES, help="FLOPs per token rule")


def _ints(text: str, name: str, minimum: int = 0) -> tuple[int, ...]:
    values = tuple(parse_int_flag(t.strip(), name, minimum, 1 << 22) for t in str(text).split(",") if t.strip())
    if not values:
        raise InputError(name, "must list at least one whole number", text)
    return values


def _int_range(text: str, name: str) -> tuple[int, int]:
    lo, hi = parse_range(text, name, minimum=1)
    if not (float(lo).is_integer() and float(hi).is_integer()):
        raise InputError(name, "must be whole numbers LOW:HIGH", text)
    return int(lo), int(hi)


def problem_from_args(args: argparse.Namespace) -> tuple[Problem, Budget]:
    budget = budget_from_args(args)
    from perflaw.law.predict import check_gamma
    from perflaw.optimizer.search.modelled_mfu import mfu_is_modelled
    from perflaw.optimizer.search.problem import SERVE_BATCH, SERVE_CONTEXT, Constraints, Problem
    from perflaw.optimizer.search.space import FFN_MULTIPLE, HEAD_DIM, HEADS, VOCAB, SearchSpace
    moe = any(getattr(args, k) for k in ("experts", "active_experts", "expert_ffn"))
    if moe and not all(getattr(args, k) for k in ("experts", "active_experts", "expert_ffn")):
        raise InputError("--experts/--active-experts/--expert-ffn", "a MoE search needs all three", "some missing")
    ratio = parse_range(args.ffn_ratio, "--ffn-ratio", minimum=0.01)
    space = SearchSpace(
        layers=_int_range(args.layers, "--layers"), heads=_int_range(args.heads, "--heads"),
        heads_step=parse_int_flag(args.heads_step, "--heads-step", HEADS.low, HEADS.high),
        head_dim=parse_int_flag(args.head_dim, "--head-dim", HEAD_DIM.low, HEAD_DIM.high), ffn_ratio=ratio,
        ffn_multiple=parse_int_flag(args.ffn_multiple, "--ffn-multiple", FFN_MULTIPLE.low, FFN_MULTIPLE.high),
        kv_heads=_ints(args.kv_heads, "--kv-heads", 1),
        vocab=parse_int_flag(args.vocab, "--vocab", VOCAB.low, VOCAB.high),
        tied_embeddings=bool(args.tied_embeddings),
        experts=_ints(args.experts, "--experts", 1) if moe else (0,),
        active_experts=_ints(args.active_experts, "--active-experts", 1) if moe else (0,),
        shared_experts=_ints(args.shared_experts, "--shared-experts", 0) if moe else (0,),
        expert_ffn=_ints(args.expert_ffn, "--expert-ffn", 1) if moe else (0,),
    )
    lo, hi = parse_range(args.params, "--params", minimum=PARAMS_B.low * 1e9)
    tokens = (TOKENS_T.low * 1e12, TOKENS_T.high * 1e12)
    max_tokens = parse_positive(args.max_tokens, "--max-tokens", *tokens, "write 3T") / 1e12 \
        if args.max_tokens else None
    unique = parse_positive(args.unique_tokens, "--unique-tokens", *tokens, "write 3T") / 1e12 \
        if args.unique_tokens else None
    constraints = Constraints(
        params_b=(lo / 1e9, hi / 1e9), min_tokens_t=parse_positive(args.min_tokens, "--min-tokens", *tokens) / 1e12,
        max_tokens_t=max_tokens, unique_tokens_t=unique, min_mmlu=args.min_mmlu, serve_hbm_gb=args.serve_hbm_gb,
        serve_context=parse_int_flag(args.serve_context, "--serve-context", SERVE_CONTEXT.low, SERVE_CONTEXT.high),
        serve_batch=parse_int_flag(args.serve_batch, "--serve-batch", SERVE_BATCH.low, SERVE_BATCH.high),
        headroom=args.headroom)
    check_gamma(args.gamma)
    problem = Problem(space, budget.flops, budget.hardware, budget.gpus, budget.utilization, constraints,
                      coefficients_from_args(args), args.gamma, seq_len_from_args(args), args.flops_rule,
                      budget.precision, budget.price_usd_per_gpu_hour, args.data_vintage, args.trust, args.objective,
                      model_mfu=mfu_is_modelled(args.mfu, budget.hardware, budget.gpus, budget.precision),
                      flops_fixed=budget.kind == "flops")
    return problem, budget


def optimize_payload(args: argparse.Namespace, progress: bool, words=lambda text: text) -> dict:
    """The optimize payload; ``words`` puts the library's explanations in the command line's terms."""
    problem, budget = problem_from_args(args)  # the budget and hardware are checked before numpy loads
    from perflaw.law.predict import interval_for
    from perflaw.law.uncertainty import interval_summary
    from perflaw.optimizer.search.fronts import budget_front, cheapest_for_target, inference_front
    from perflaw.optimizer.search.result import SearchResult
    from perflaw.optimizer.search.strategies import SEED, TOP, TRIALS, search
    strategy = args.strategy
    top = parse_int_flag(args.top, "--top", TOP.low, TOP.high)
    trials = parse_int_flag(args.trials, "--trials", TRIALS.low, TRIALS.high) if args.trials else None
    seed = parse_int_flag(args.seed, "--seed", SEED.low, SEED.high)
    if strategy == "exact":  # name the flag given, and the strategies it does apply to
        for flag, value, which in (("--trials", args.trials, "the optuna and scipy strategies"),
                                   ("--storage", args.storage, "the optuna strategy"),
                                   ("--study-name", args.study_name, "the optuna strategy")):
            if value:
                raise InputError(flag, f"applies to {which} only (the default strategy is exact; add "
                                       "--strategy optuna)", strategy)
    if args.front not in FRONTS:
        raise InputError("--front", f"must be one of {', '.join(FRONTS)}", args.front)
    if problem.model_mfu:  # no --mfu: the best plan's fastest layout sets it (search.modelled_mfu)
        from dataclasses import replace

        from perflaw.optimizer.search.modelled_mfu import settle_mfu
        problem = settle_mfu(problem)
        budget = replace(budget, utilization=problem.utilization)
    result: SearchResult = search(problem, strategy, trials=trials, seed=seed, top=top, storage=args.storage,
                                  study_name=args.study_name, progress=progress)
    iv = interval_for(problem.coefficients)
    payload = {
        "strategy": result.strategy, "seed": result.seed, "n_evaluations": result.n_evaluations,
        "wall_time_s": result.wall_time_s, "converged": result.converged, "message": result.message,
        "budget": budget.as_dict(), "lattice_size": problem.space.size,
        "best": None, "alternatives": [], "front": [], "front_kind": args.front,
        "interval": interval_summary(iv),
        "law": problem.coefficients.source, "law_form": problem.coefficients.form,
        "data_vintage": problem.used_vintage, "data_vintage_given": problem.data_vintage,
        "law_vintage": problem.coefficients.vintage or None,
        "tokens_unbounded": problem.coefficients.tokens != "clip" and problem.constraints.max_tokens_t is None
        and problem.constraints.unique_tokens_t is None,
        "unique_tokens_t": problem.constraints.unique_tokens_t,
        "infeasible_reason": result.infeasible_reason and words(result.infeasible_reason),
        "trust": problem.trust, "objective": problem.objective,
    }
    if args.target_mmlu is not None:  # the inverse question ignores the budget: answer it either way
        plan, reason = cheapest_for_target(problem, args.target_mmlu)
        payload["target"] = {"mmlu": args.target_mmlu, "plan": plan.as_dict() if plan else None,
                             "reason": reason and words(reason)}
    if result.best is None:
        if args.target_mmlu is not None:
            return payload
        raise InputError("constraints", f"no feasible plan: {payload['infeasible_reason']}",
                         f"budget {problem.budget_flops:.3g} FLOPs, {problem.space.size:,} candidates")
    payload["best"] = result.best.as_dict()
    from perflaw.optimizer.search.scrutiny import at_bounds, data_note, law_optimum
    optimum = law_optimum(problem)
    payload["law_optimum"] = None if optimum is None else {**optimum.as_dict(), "gain": optimum.mmlu - result.best.mmlu}
    payload["at_bounds"] = at_bounds(problem, result.best, optimum=optimum, exact=result.strategy == "exact")
    payload["data_note"] = data_note(problem, result.best)
    from perflaw.law.rules import check_number
    from perflaw.optimizer.search.flatness import TOLERANCE, flatness
    payload.update(flatness(problem, result, check_number("--tolerance", args.tolerance, TOLERANCE)))
    if problem.constraints.unique_tokens_t is not None:
        from perflaw.law.repetition import repeated_tokens
        u, t = problem.constraints.unique_tokens_t, result.best.tokens_t
        payload["repetition"] = {"unique_tokens_t": u, "epochs": t / u, "worth_t": float(repeated_tokens(t, u))}
    payload["alternatives"] = [a.as_dict() for a in result.alternatives]
    from perflaw.optimizer.cli.cost_commands import baselines_payload
    payload["baselines"] = baselines_payload(6.0 * result.best.active_params_b * 1e9 * result.best.tokens_t * 1e12)
    if args.front == "budget":
        payload["front"] = [p.as_dict() for p in budget_front(problem)]
    elif args.front == "inference":
        payload["front"] = [p.as_dict() for p in inference_front(problem)]
    return payload


def _domain_lines(d: dict) -> list[str]:
    """Where the best plan stands against the law's data, what the law alone would pick, its edges, and
    how flat the optimum is."""
    from perflaw.optimizer.search.flatness import flatness_sentences
    from perflaw.optimizer.search.scrutiny import scrutiny_sentences
    pairs = scrutiny_sentences(d["best"], d.get("law_optimum"), d.get("at_bounds", []), d.get("data_note"))
    if "near_optimal" in d:
        pairs += flatness_sentences(d, d.get("objective", "mean"))
    return [f"{label:<15} {text}" for label, text in pairs]


def _plan_line(p: dict) -> str:
    return p.get("summary") or f"{p['layers']}L h{p['hidden']} ffn {p['ffn']}"


def optimize_text(d: dict) -> str:
    b, best, iv = d["budget"], d["best"], d["interval"]
    if best is None:  # only the target question could be answered
        t = d["target"]
        answer = (f"{_plan_line(t['plan'])}, {t['plan']['tokens_t']:.2f}T tokens, {t['plan']['train_flops']:.3g} FLOPs"
                  if t["plan"] else t["reason"])
        return (f"No plan fits the budget of {b['flops']:.3g} FLOPs: {d['infeasible_reason']}\n"
                f"Cheapest plan reaching MMLU {t['mmlu']:g} (whatever the budget): {answer}")
    head = [f"Budget          {b['flops']:.3g} FLOPs" + (f" = {format_quantity(b['gpu_hours'])} GPU-hours on "
                                                         f"{b['hardware']}" if b["gpu_hours"] else "")
            + (f", {b['days']:.1f} days on {b['gpus']:,} GPUs" if b["days"] else "")
            + (f" (MFU {b['mfu']:.1%} x goodput {b['goodput']:.1%})" if b["mfu"] else ""),
            f"Search          {d['strategy']}: {d['n_evaluations']:,} evaluations of a {d['lattice_size']:,}-point "
            f"lattice in {d['wall_time_s']:.2f} s" + (f", seed {d['seed']}" if d["seed"] is not None else ""),
            "",
            f"Best plan       {_plan_line(best)}",
            f"                {best['params_b']:.2f}B params ({best['active_params_b']:.2f}B activated), "
            f"{best['tokens_t']:.2f}T tokens ({best['tokens_t'] * 1e3 / best['params_b']:.0f} per parameter"
            + (f", {best['tokens_t'] * 1e3 / best['active_params_b']:.0f} per activated parameter"
               if best["active_params_b"] < best["params_b"] else "") + ")",
            f"Predicted MMLU  {best['mmlu']:.2f}  ({iv['level']:.0%} interval {best['interval'][0]:.1f} to "
            f"{best['interval'][1]:.1f})",
            f"Cost            {best['train_flops']:.3g} FLOPs ({best['train_flops'] / b['flops']:.0%} of the budget"
            + ")"
            + (f", {format_quantity(best['gpu_hours'])} GPU-hours" if "gpu_hours" in best else "")
            + (f", {best['days']:.1f} days" if best.get("days") else "")
            + (f", ${format_quantity(best['usd'])}" if best.get("usd") else "")]
    head += _domain_lines(d)
    if best.get("layout"):
        lay = best["layout"]
        head.append(f"Layout          TP {lay['tp']}, PP {lay['pp']}, DP {lay['dp']}"
                    + (f", EP {lay['ep']}" if lay.get("ep", 1) > 1 else "") + f", ZeRO-{lay['zero']}, "
                    f"{'no' if lay['recompute'] == 'none' else lay['recompute']} recompute: "
                    f"{best['memory_per_gpu_gb']:.1f} GB per GPU")
    from perflaw.optimizer.cli.cost_commands import baselines_text
    head += ["Loss-law compute-optimal allocation of the same 6ND FLOPs:"]
    head += baselines_text(best["active_params_b"], best["tokens_t"], d["baselines"])
    moe = "experts" in best  # MoE plans show their experts, not an FFN of 0
    shape = [("experts", "experts", "d"), ("active_experts", "top-k", "d"), ("shared_experts", "shared", "d"),
             ("expert_ffn", "expert FFN", "d")] if moe else [("ffn", "ffn", "d")]
    cols = [("layers", "layers", "d"), ("hidden", "hidden", "d"), *shape, ("heads", "heads", "d"),
            ("kv_heads", "KV", "d"), ("params_b", "params B", ".2f"), ("active_params_b", "active B", ".2f"),
            ("tokens_t", "tokens T", ".2f"), ("mmlu", "MMLU", ".2f"), ("train_flops", "FLOPs", ".3g"),
            ("in_data", "in data", "")]
    for p in (*d["alternatives"], *d["front"]):
        p["in_data"] = "" if p.get("domain") is None else ("yes" if p["domain"]["inside"] else "no")
    if d["alternatives"]:
        head += ["", "Alternatives", table(d["alternatives"], cols)]
    if d["front"]:
        kind = {"budget": "MMLU against training FLOPs over a budget sweep",
                "inference": "MMLU against activated parameters at this budget"}[d["front_kind"]]
        head += ["", f"Pareto front: {kind}", table(d["front"], cols)]
    if "target" in d:
        t = d["target"]
        if t["plan"]:
            p = t["plan"]
            head += ["", f"Cheapest plan reaching MMLU {t['mmlu']:g}: {_plan_line(p)}, {p['tokens_t']:.2f}T tokens, "
                         f"{p['train_flops']:.3g} FLOPs" + (f", {format_quantity(p['gpu_hours'])} GPU-hours"
                                                           if "gpu_hours" in p else "")]
        else:
            head += ["", f"Target MMLU {t['mmlu']:g}: {t['reason']}"]
    if d["tokens_unbounded"]:
        head += ["", "Note: this law has no token clip, so more tokens always help and the plan trains a small model "
                     "on all the budget buys; give --max-tokens (a hard limit) or --unique-tokens (the data you have, "
                     "repeated at its worth) to bound it."]
    if "repetition" in d:
        r = d["repetition"]
        head += ["", f"Data: {r['unique_tokens_t']:g}T unique tokens; the best plan trains on {d['best']['tokens_t']:.3g}T "
                     f"({r['epochs']:.2f} epochs)" + (f", worth {r['worth_t']:.3g}T of new data by the repeated-data rule "
                                                       "of Muennighoff et al. 2023" if r["epochs"] > 1 else "") + "."]
    head += ["", f"Law: {d['law']} (form {d['law_form']}). Predictions are for the base model's 5-shot MMLU; the law "
                 "cannot see data quality, contamination or post-training.",
             f"Data vintage: {vintage_words(d['data_vintage'], d['data_vintage_given'], reference=d['law_vintage'])}."]
    return "\n".join(head)


def progress_wanted(args: argparse.Namespace) -> bool:
    return not args.json and sys.stderr.isatty()
