"""What a reviewer asks of a recommendation: what the law alone would pick, and which edges the plan sits on.

- ``law_optimum``: with trust ``data`` the recommendation is the best plan inside the law's domain;
  this is the best plan of the raw law over the same space and budget, so a reader sees what the
  law claims beyond its data.
- ``at_bounds``: the bounds of the search space and the constraints the plan sits on (a layer
  count at the range's end, the FFN ratio at its floor, the most experts offered, the parameter
  cap, the token cap, a budget not spent), each with the best plan that widening that one bound
  would give.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from perflaw.law.domain import CHOSEN, FEATURES, outside_words, plan_features, zoo_domain
from perflaw.law.errors import InputError
from perflaw.optimizer.search.plan import Plan
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.space import FFN_RATIO, HEADS, LAYERS
from perflaw.optimizer.search.strategies import search_exact

_CHOICES = ("kv_heads", "experts", "active_experts", "shared_experts", "expert_ffn")
BUDGET_SPENT = 0.99  # a plan using less than this share of its budget leaves the rest unspent
EDGE = 0.02  # a feature within 2 % of the domain's end rides that edge
GAIN_EPS = 0.005  # MMLU points: below this, widening gains nothing


#: Above this many training tokens a plan needs more text than published runs are known to have
#: had (Llama 4 Scout: 40T tokens, Qwen3: 36T): without a stated data limit, outputs say so.
DATA_NOTE_T = 30.0


def data_note(problem: Problem, plan: Plan) -> str | None:
    """A data-availability note for a plan on more than ``DATA_NOTE_T`` tokens with no stated data."""
    c = problem.constraints
    if plan.tokens_t <= DATA_NOTE_T or c.max_tokens_t is not None or c.unique_tokens_t is not None:
        return None
    return (f"trains on {plan.tokens_t:.0f}T tokens, as many as only the largest published runs had (Llama 4 Scout 40T, "
            "Qwen3 36T): check that this much data exists, or state it with max_tokens or unique_tokens")


def bound_labels(hits) -> str:
    """The bounds of ``at_bounds`` in a few words, for a table column."""
    words = {"budget": "budget unspent", "tokens": "token saturation", "max_tokens_t": "data limit",
             "serve_memory": "serving memory", "train_memory": "training memory"}
    out = []
    for h in hits:
        if h["axis"] in words:
            out.append(words[h["axis"]])
        elif h["bound"].startswith("domain"):
            out.append(f"data edge: {FEATURES[h['axis']]}")
        else:
            out.append(f"{h['axis']} {'max' if h['bound'] == 'high' else 'min'}")
    return ", ".join(out)


def law_optimum(problem: Problem) -> Plan | None:
    """The raw law's best plan over the problem's space and budget (None when the problem already
    trusts the law, or the raw law has no feasible plan)."""
    if problem.trust != "data":
        return None
    return search_exact(replace(problem, trust="law"), top=0).best


def plan_words(p: dict) -> str:
    """A plan dict (``Plan.as_dict``) in a few words: its shape, size, tokens and MMLU."""
    shape = p.get("summary") or (f"{p['layers']}L h{p['hidden']} " + (
        f"MoE {p['experts']}x{p['expert_ffn']} top-{p['active_experts']}" if p.get("experts") else f"ffn {p['ffn']}"))
    return f"{shape}, {p['params_b']:.1f}B params, {p['tokens_t']:.2f}T tokens, MMLU {p['mmlu']:.2f}"


def scrutiny_sentences(best: dict, optimum: dict | None, bounds, note: str | None = None) -> list[tuple[str, str]]:
    """(label, sentence) pairs: the best plan against the law's data, the law's own optimum
    (``optimum``: its ``as_dict`` with ``gain``), each bound it sits on (``at_bounds``) and the
    data-availability ``note``."""
    out = [("Data", note)] if note else []
    dom = best.get("domain")
    if dom is not None:
        out.append(("Law's data", "inside: published models of this size span this shape, tokens per parameter "
                    "and compute" if dom["inside"] else "OUTSIDE: " + outside_words(dom["outside"])))
    if optimum is not None:
        keys = ("layers", "hidden", "ffn", "kv_heads", "experts", "active_experts", "shared_experts", "expert_ffn")
        same = all(optimum.get(k) == best.get(k) for k in keys)
        out.append(("Law alone", "picks the same plan" if same else
                    f"would pick {plan_words(optimum)} ({optimum['gain']:+.2f} claimed)"
                    + (f", outside the data: {outside_words(optimum['domain']['outside'])}"
                       if optimum.get("domain") and not optimum["domain"]["inside"] else "")))
    for h in bounds:
        if h["bound"] in ("high", "low") and not h["axis"].endswith("_memory"):
            text = (f"{h['axis']} {h['value']:g} at the {'top' if h['bound'] == 'high' else 'bottom'} of its range "
                    f"({h['limit']:g})")
        else:
            text = h["note"]
        if h.get("widened_to") is not None:
            gain = h.get("gain")
            text += (f"; widening it to {h['widened_to']:g} gives no feasible plan" if gain is None else
                     f"; widening it to {h['widened_to']:g} gains nothing (not binding)" if gain < GAIN_EPS else
                     f"; widening it to {h['widened_to']:g} gives {gain:+.2f} MMLU")
        out.append(("Edge", text))
    return out


def _widened(problem: Problem, axis: str, bound: str):
    """The problem with one bound widened, and the new bound; None where it cannot widen."""
    s, c = problem.space, problem.constraints
    if axis == "layers":
        lo, hi = s.layers
        new = (max(LAYERS.low, lo // 2), hi) if bound == "low" else (lo, min(int(LAYERS.high), int(round(hi * 1.5))))
        return (replace(problem, space=replace(s, layers=new)), new[0] if bound == "low" else new[1]) \
            if new != s.layers else None
    if axis == "heads":
        lo, hi = s.heads
        step = s.heads_step
        # whole steps down: the lattice keeps its head counts, so the KV choices still divide some
        down = min(2 * max(1, lo // (4 * step)), (lo - int(HEADS.low)) // step)
        new = (lo - step * down, hi) if bound == "low" else \
            (lo, min(int(HEADS.high), hi + step * max(2, int(round(hi * 0.5 / step)))))
        if new == s.heads:
            return None
        try:
            return replace(problem, space=replace(s, heads=new)), new[0] if bound == "low" else new[1]
        except InputError:  # the wider space breaks a rule (too many points)
            return None
    if axis == "ffn_ratio":
        lo, hi = s.ffn_ratio
        new = (max(FFN_RATIO.low + s.ffn_ratio_step, lo - 4 * s.ffn_ratio_step), hi) if bound == "low" else \
            (lo, min(FFN_RATIO.high, hi + 8 * s.ffn_ratio_step))
        return (replace(problem, space=replace(s, ffn_ratio=new)), new[0] if bound == "low" else new[1]) \
            if new != s.ffn_ratio else None
    if axis == "params_b":
        lo, hi = c.params_b
        new = (lo / 2, hi) if bound == "low" else (lo, hi * 2)
        try:
            return replace(problem, constraints=replace(c, params_b=new)), new[0] if bound == "low" else new[1]
        except InputError:
            return None
    if axis in _CHOICES:  # one more choice beyond the end: double (halve) it, or one more (fewer) for counts
        values = getattr(s, axis)
        lo, hi = min(values), max(values)
        if axis in ("active_experts", "shared_experts"):
            new = hi + (2 if axis == "active_experts" else 1) if bound == "high" else lo - 1
        else:
            new = hi * 2 if bound == "high" else lo // 2
        if axis == "expert_ffn":
            new = int(round(new / 256.0)) * 256 or 256
        floor = 0 if axis == "shared_experts" else 1
        if new < floor or new in values:
            return None
        try:
            return replace(problem, space=replace(s, **{axis: tuple(sorted((*values, int(new))))})), int(new)
        except InputError:  # the wider space breaks a rule (too many points, top-k above the experts)
            return None
    if axis == "serve_memory" and c.serve_hbm_gb is not None:
        return replace(problem, constraints=replace(c, serve_hbm_gb=c.serve_hbm_gb * 2)), c.serve_hbm_gb * 2
    if axis == "train_memory" and problem.gpus:
        return replace(problem, gpus=problem.gpus * 2), problem.gpus * 2
    if axis == "max_tokens_t" and c.max_tokens_t is not None:
        return replace(problem, constraints=replace(c, max_tokens_t=c.max_tokens_t * 2)), c.max_tokens_t * 2
    return None


def at_bounds(problem: Problem, plan: Plan, *, widen: bool = True, optimum: Plan | None = None,
              domain: bool = True, exact: bool = False) -> list[dict]:
    """The bounds ``plan`` sits on: ``[{"axis", "bound", "value", "limit", "note"}]``, each with
    ``widened_to`` and ``gain`` when ``widen``: what the best plan of the one-bound-wider problem
    adds over the best of the problem itself, both by the exact search (so a sampler's shortfall is
    not blamed on a bound; None when that bound cannot widen). With trust ``data`` the domain's
    edges are reported only where they bind: where the law's own optimum (``optimum``, searched when
    not given; ``domain`` False skips them). ``exact``: ``plan`` is the exact search's best of this
    problem already, so it is not searched again."""
    a, s, c = plan.architecture, problem.space, problem.constraints
    axes = s.axis_values()
    hits = []

    def hit(axis, bound, value, limit, note=""):
        hits.append({"axis": axis, "bound": bound, "value": value, "limit": limit, "note": note})

    for axis, value in (("layers", a.layers), ("heads", a.heads), ("kv_heads", a.kv_heads),
                        *((("experts", a.experts), ("active_experts", a.active_experts),
                           ("shared_experts", a.shared_experts), ("expert_ffn", a.expert_ffn)) if a.is_moe else ())):
        values = axes[axis]
        if len(values) < 2:
            continue  # a fixed choice is the user's, not an edge the search ran into
        if value >= values.max():
            hit(axis, "high", int(value), int(values.max()))
        elif value <= values.min():
            hit(axis, "low", int(value), int(values.min()))
    if not a.is_moe and len(axes["ffn_ratio"]) > 1:
        ffn_at = [int(s._ffn(np.array([float(a.heads)]), np.array([r]))[0]) for r in s.ffn_ratio]
        ratio = a.ffn / a.hidden
        if a.ffn <= ffn_at[0]:
            hit("ffn_ratio", "low", round(ratio, 4), s.ffn_ratio[0])
        elif a.ffn >= ffn_at[1]:
            hit("ffn_ratio", "high", round(ratio, 4), s.ffn_ratio[1])
    lo, hi = c.params_b
    step = 1.0 + 2.0 / max(s.layers[1], 1)  # about one layer's worth of parameters
    if plan.params_b * step > hi:
        hit("params_b", "high", plan.params_b, hi)
    elif plan.params_b / step < lo:
        hit("params_b", "low", plan.params_b, lo)
    spent = plan.train_flops / (plan.budget_flops or problem.budget_flops)
    if c.max_tokens_t is not None and plan.tokens_t >= c.max_tokens_t * (1 - 1e-9):
        hit("max_tokens_t", "high", plan.tokens_t, c.max_tokens_t, "the data limit caps the tokens")
    elif problem.coefficients.tokens == "clip" and spent < BUDGET_SPENT:
        hit("tokens", "saturation", plan.tokens_t, plan.effective_tokens_t,
            "the law credits no tokens beyond 1T per 1B parameters")
    if widen:  # memory binds where more of it would admit a better plan: try it
        if c.serve_hbm_gb is not None:
            hit("serve_memory", "high", c.serve_hbm_gb, c.serve_hbm_gb, f"serving must fit {c.serve_hbm_gb:g} GB")
        if problem.hardware is not None and problem.gpus:
            hit("train_memory", "high", problem.gpus, problem.gpus,
                f"training must fit the memory of {problem.gpus:,} GPUs")
    binds = False
    if problem.trust == "data" and domain:
        optimum = optimum if optimum is not None else law_optimum(problem)
        binds = optimum is not None and optimum.mmlu > plan.mmlu + GAIN_EPS
    if spent < BUDGET_SPENT:
        raw = None if optimum is None else optimum.train_flops / problem.budget_flops
        hit("budget", "unspent", round(spent, 4), 1.0, f"the plan uses {spent:.0%} of the budget"
            + (f": plans that spend more lie outside the law's data (the law alone spends {raw:.0%})"
               if binds and raw is not None and raw > spent + 0.01 else ""))
    if binds:  # the domain's edges the plan rides (a search inside the data stops there)
        dom = plan.domain or {}
        low, high = zoo_domain().ranges(np.array([plan.active_params_b]), np.array([a.is_moe]))
        feats = plan_features(a.layers, a.hidden, a.active_ffn, plan.tokens_t, plan.params_b, plan.active_params_b,
                              a.active_experts)
        for k in CHOSEN:
            lo_k, hi_k, v = float(low[k][0]), float(high[k][0]), float(feats[k])
            if not (np.isfinite(lo_k) and np.isfinite(v)) or not dom.get("inside", True):
                continue
            whose = "published models" + ("" if k in ("tokens_t", "active_params_b") else " of this size")
            if v >= hi_k * (1 - EDGE):
                hit(k, "domain high", v, hi_k, f"{FEATURES[k]} {v:.3g}: the most that {whose} have (the search "
                    "stops at the law's data)")
            elif v <= lo_k * (1 + EDGE):
                hit(k, "domain low", v, lo_k, f"{FEATURES[k]} {v:.3g}: the least that {whose} have (the search "
                    "stops at the law's data)")
    if widen:
        base = plan if exact else None
        for h in hits:
            wider = _widened(problem, h["axis"], h["bound"])
            h["widened_to"], h["gain"] = None, None
            if wider is None:
                continue
            try:
                best = search_exact(wider[0], top=0).best
                if base is None:
                    base = search_exact(problem, top=0).best
            except InputError:  # the widened space is too large to enumerate
                continue
            h["widened_to"] = wider[1]
            h["gain"] = None if best is None or base is None else max(best.mmlu - base.mmlu, 0.0)
        hits = [h for h in hits if h["axis"] not in ("serve_memory", "train_memory")  # memory: only if it binds
                or (h.get("gain") is not None and h["gain"] >= GAIN_EPS)]
    return hits
