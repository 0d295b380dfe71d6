"""How flat the optimum is: the near-optimal plans, the best plan's sensitivity per axis, and a conventional shape.

All three read the candidates a search evaluated (the whole lattice for the exact strategy, the
sampled points otherwise) and rank them by the search's objective:

- ``near_optimal``: every feasible candidate within ``tolerance`` points of the best, summarised
  by the range of each axis and a few far-apart representatives (smallest and largest, shallowest
  and deepest), so a reader sees how many different shapes the law cannot tell apart.
- ``sensitivity``: for each axis, the best objective at each value of that axis with the other
  axes free, as the loss against the best plan; the values within ``tolerance`` are the axis's
  slack.
- ``conventional``: the best feasible candidate whose depth-to-width and FFN ratios lie in the
  interquartile range (widened by ``CONVENTIONAL_MARGIN``) of published models of comparable size,
  so a reviewer sees what the law claims for the unusual shape it picked.
"""

from __future__ import annotations

import numpy as np

from perflaw.law.rules import Range

from perflaw.law.domain import plan_features, zoo_domain
from perflaw.law.terms import term_breakdown
from perflaw.law.moe import moe_law_args
from perflaw.law.repetition import repeated_tokens
from perflaw.optimizer.search.candidates import ARCH_FIELDS, unique_tokens
from perflaw.optimizer.search.plan import Plan, make_plan
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import SearchResult, best_first, verify_layouts

DEFAULT_TOLERANCE = 0.5  # MMLU points
TOLERANCE = Range(0, 100)
CONVENTIONAL_MARGIN = 0.10  # the interquartile range widened by 10 % either way
REPRESENTATIVES = 4
_AXES = ("layers", "hidden", "ffn_ratio", "kv_heads", "experts", "active_experts", "shared_experts", "expert_ffn")


def _best_score(c: dict, result: SearchResult) -> float:
    """The objective of the search's best plan (the top feasible candidate may have failed the layout check)."""
    b = result.best
    hit = c["feasible"] & (c["layers"] == b.architecture.layers) & (c["hidden"] == b.architecture.hidden) & \
        (c["law_ffn"] == b.architecture.active_ffn) & (c["kv_heads"] == b.architecture.kv_heads) & \
        (c["experts"] == b.architecture.experts) & (c["active_experts"] == b.architecture.active_experts) & \
        (c["shared_experts"] == b.architecture.shared_experts) & (c["expert_ffn"] == b.architecture.expert_ffn)
    return float(c["score"][hit][0]) if hit.any() else float(np.max(np.where(c["feasible"], c["score"], -np.inf)))


def _columns(problem: Problem, result: SearchResult) -> dict[str, np.ndarray]:
    """The evaluated columns, with each candidate's FFN ratio as the nearest value of the space's ratio axis."""
    c = result.evaluated.columns
    axis = problem.space.axis_values()["ffn_ratio"]
    ratio = c["law_ffn"] / c["hidden"]
    nearest = _nearest(axis, ratio) if len(axis) > 1 else np.round(ratio, 3)
    return {**c, "ffn_ratio": nearest}


def _nearest(axis: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The value of the sorted ``axis`` nearest each ``x`` (a tie goes to the lower value), without
    an x × axis matrix (that was 0.7 GB on the largest lattice)."""
    hi = np.clip(np.searchsorted(axis, x), 1, len(axis) - 1)
    lo = hi - 1
    return axis[np.where(np.abs(x - axis[lo]) <= np.abs(x - axis[hi]), lo, hi)]


def near_optimal(problem: Problem, result: SearchResult, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """``{"tolerance", "count", "ranges": {axis: [low, high]}, "plans": [plan dicts]}`` of the feasible
    candidates within ``tolerance`` of the best objective (empty without a best plan)."""
    if result.best is None:
        return {"tolerance": tolerance, "count": 0, "ranges": {}, "plans": []}
    c = _columns(problem, result)
    best = _best_score(c, result)
    near = np.flatnonzero(c["feasible"] & (c["score"] >= best - tolerance))
    ranges = {a: [float(c[a][near].min()), float(c[a][near].max())] for a in (*_AXES, "params_b", "tokens_t")
              if a in c and (a not in _AXES[4:] or problem.space.is_moe)}
    picks = []
    for key, pick in (("params_b", np.argmin), ("params_b", np.argmax), ("layers", np.argmin), ("layers", np.argmax)):
        i = int(near[pick(c[key][near])])
        if i not in picks:
            picks.append(i)
    arch = {k: c[k] for k in ARCH_FIELDS}
    kept, _, _ = verify_layouts(problem, arch, np.array(picks[:REPRESENTATIVES]), REPRESENTATIVES)
    plans = [make_plan(problem, arch, c, i, lay).as_dict() for i, lay in kept]
    return {"tolerance": tolerance, "count": int(len(near)), "ranges": ranges, "plans": plans,
            "of": int(c["feasible"].sum())}


def sensitivity(problem: Problem, result: SearchResult, tolerance: float = DEFAULT_TOLERANCE) -> list[dict]:
    """Per axis with more than one value: ``{"axis", "best", "slack": [low, high], "profile": [[value,
    loss], ...]}``, the loss (points of the objective) of the best plan with that axis fixed at each
    value and every other axis re-chosen (at most 12 values, evenly spread, and the best's)."""
    if result.best is None:
        return []
    c = _columns(problem, result)
    feasible = c["feasible"]
    best = _best_score(c, result)
    a = result.best.architecture
    i_best = int(np.flatnonzero(feasible & (c["score"] >= best))[0])
    at = {"layers": a.layers, "hidden": a.hidden, "ffn_ratio": float(c["ffn_ratio"][i_best]),
          "kv_heads": a.kv_heads, "experts": a.experts, "active_experts": a.active_experts,
          "shared_experts": a.shared_experts, "expert_ffn": a.expert_ffn}
    out = []
    for axis in _AXES:
        if axis == "ffn_ratio" and problem.space.is_moe:
            continue  # MoE layers have no dense FFN: the ratio follows from the expert choices
        order = np.argsort(c[axis][feasible], kind="stable")
        v_sorted, s_sorted = c[axis][feasible][order], c["score"][feasible][order]
        starts = np.r_[0, np.flatnonzero(np.diff(v_sorted)) + 1]
        values = v_sorted[starts]  # the axis's distinct values, ascending (the first of each run)
        if len(values) < 2:
            continue
        top = np.maximum.reduceat(s_sorted, starts)
        loss = best - top
        ok = values[loss <= tolerance]
        shown = sorted({*np.linspace(0, len(values) - 1, min(12, len(values))).round().astype(int).tolist(),
                        *np.flatnonzero(np.isclose(values, at[axis])).tolist()})
        below, above = values[values < ok.min()], values[values > ok.max()]
        beyond = [[float(v), float(loss[values == v][0])] for v in (below[-1:].tolist() + above[:1].tolist())]
        out.append({"axis": axis, "best": float(at[axis]), "slack": [float(ok.min()), float(ok.max())],
                    "beyond": beyond, "profile": [[float(values[i]), float(loss[i])] for i in shown]})
    return out


def conventional(problem: Problem, result: SearchResult) -> Plan | None:
    """The best feasible candidate of a conventional shape (see the module docstring), None if none."""
    c = result.evaluated.columns
    f = plan_features(c["layers"], c["hidden"], c["law_ffn"], c["tokens_t"], c["params_b"], c["active_params_b"],
                      c["active_experts"])
    low, high = zoo_domain().ranges(c["active_params_b"], c["experts"] > 0, conventional=True)
    ok = c["feasible"].copy()
    for k in ("hidden_per_layer", "ffn_per_hidden"):
        lo, hi = low[k] * (1 - CONVENTIONAL_MARGIN), high[k] * (1 + CONVENTIONAL_MARGIN)
        ok &= ~np.isfinite(lo) | ((f[k] >= lo) & (f[k] <= hi))
    idx = np.flatnonzero(ok)
    if not len(idx):
        return None
    arch = {k: c[k] for k in ARCH_FIELDS}
    kept, _, _ = verify_layouts(problem, arch, best_first(idx, c["score"], 50)[:50], 1)
    return make_plan(problem, arch, c, kept[0][0], kept[0][1]) if kept else None


def flatness(problem: Problem, result: SearchResult, tolerance: float = DEFAULT_TOLERANCE) -> dict:
    """The JSON of all the above for a search's best plan: ``near_optimal``, ``sensitivity``,
    ``conventional`` (a plan dict with ``gain``, the points the best plan claims over it) and
    ``terms`` (the law's terms of the best plan and of the conventional one). A sampler knows only
    the points it drew, so for the optuna and scipy strategies all of it is computed on the exact
    lattice (``basis`` says which)."""
    if result.strategy != "exact" and result.best is not None:
        from perflaw.optimizer.search.strategies import search_exact
        exact = search_exact(problem, top=0)
        if exact.best is not None:
            out = flatness(problem, exact, tolerance)
            out["basis"] = f"the exact lattice ({result.strategy} found a plan {exact.best.mmlu - result.best.mmlu:.2f} " \
                           "below its best)"
            out["terms"]["best"] = plan_terms(problem, result.best)
            return out
    conv = conventional(problem, result)
    best = result.best
    return {
        "basis": "every candidate of the lattice" if result.strategy == "exact" else "the sampled candidates",
        "near_optimal": near_optimal(problem, result, tolerance),
        "sensitivity": sensitivity(problem, result, tolerance),
        "conventional": None if conv is None else {**conv.as_dict(), "gain": best.mmlu - conv.mmlu},
        "terms": {"best": plan_terms(problem, best), "conventional": None if conv is None else plan_terms(problem, conv)},
    }


def flatness_sentences(f: dict, objective: str = "mean") -> list[tuple[str, str]]:
    """(label, sentence) pairs of ``flatness``'s JSON for text outputs."""
    out = []
    n = f["near_optimal"]
    if n["count"]:
        r = n["ranges"]

        def span(k, fmt=".0f", unit=""):
            lo, hi = r[k]
            return f"{lo:{fmt}}{unit}" if lo == hi else f"{lo:{fmt}} to {hi:{fmt}}{unit}"
        what = "MMLU" if objective == "mean" else "points of the interval's low end"
        basis = f" (on {f['basis']})" if f.get("basis", "").startswith("the exact") else ""
        out.append(("Near-optimal", f"{n['count']:,} of {n['of']:,} feasible plans{basis} lie within {n['tolerance']:g} "
                    f"{what} of the best: layers {span('layers')}, hidden {span('hidden')}, FFN / hidden "
                    f"{span('ffn_ratio', '.2f')}, {span('params_b', '.1f', 'B')} params, "
                    f"{span('tokens_t', '.2f', 'T')} tokens"))
    for s in f["sensitivity"]:
        lo, hi = s["slack"]
        beyond = ", ".join(f"{v:g} loses {loss:.2f}" if loss >= 0.005 else f"{v:g} loses under 0.01"
                           for v, loss in s["beyond"])
        out.append(("Sensitivity", f"{s['axis']} {s['best']:g}: within {f['near_optimal']['tolerance']:g} of the best "
                    + (f"from {lo:g} to {hi:g}" if lo != hi else f"only at {lo:g}")
                    + (f"; beyond, {beyond}" if beyond else "") + " (the other axes re-chosen)"))
    conv = f["conventional"]
    if conv is not None:
        shape = conv.get("summary") or f"{conv['layers']}L h{conv['hidden']}"
        out.append(("Conventional", "the chosen shape is itself common at this size" if abs(conv["gain"]) < 0.005 else
                    f"the best plan of a shape common at this size ({shape}, {conv['params_b']:.1f}B params, "
                    f"{conv['tokens_t']:.2f}T tokens) predicts {conv['mmlu']:.2f}: the law claims "
                    f"{conv['gain']:+.2f} for the chosen shape"))
    t, tc = f["terms"]["best"], f["terms"]["conventional"]
    parts = [f"{k} {t[k]:+.1f}" + (f" ({tc[k]:+.1f})" if tc else "") for k in
             ("depth", "width", "ffn", "tokens", "discount", "moe", "vintage", "link") if t[k] or (tc and tc[k])]
    out.append(("Why this shape", "the law's terms" + (" (conventional plan in brackets)" if tc else "") + ": "
                + ", ".join(parts) + f", intercept {t['intercept']:+.1f}"))
    return out


def plan_terms(problem: Problem, plan: Plan) -> dict[str, float]:
    """The plan's predicted MMLU split into the law's terms (law.terms)."""
    a = plan.architecture
    args = moe_law_args(a.layers, a.hidden, a.active_ffn, float(repeated_tokens(plan.tokens_t, unique_tokens(problem))),
                        plan.params_b, plan.active_params_b, problem.gamma, problem.coefficients, problem.vintage_years)
    layers, hidden, ffn, tokens, size, gamma, coefficients, expansion, years = args
    return term_breakdown(layers, hidden, ffn, tokens, size, gamma, coefficients, expansion, years)
