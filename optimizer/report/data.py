"""What a scenario report shows, computed apart from drawing: tables as pandas DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from perflaw.law.baselines import LOSS_LAWS, compute_optimal
from perflaw.law.predict import expected_error, interval_for
from perflaw.law.uncertainty import interval_summary
from perflaw.law.zoo import law_inputs, load_zoo
from perflaw.optimizer.search.fronts import budget_front, cheapest_for_target, inference_front
from perflaw.optimizer.search.candidates import evaluate
from perflaw.optimizer.search.plan import Plan
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import SearchResult
from perflaw.optimizer.search.flatness import DEFAULT_TOLERANCE, flatness
from perflaw.optimizer.search.scrutiny import at_bounds, bound_labels, data_note, law_optimum
from perflaw.optimizer.search.strategies import search

PLAN_COLUMNS = ["budget", "rank", "layers", "hidden", "ffn", "heads", "kv_heads", "experts", "active_experts",
                "shared_experts", "expert_ffn", "params_b", "active_params_b", "tokens_t", "mmlu", "mmlu_low",
                "mmlu_high", "train_flops", "budget_flops", "gpu_hours", "days", "usd", "memory_per_gpu_gb", "tp",
                "pp", "dp", "ep", "zero", "recompute", "layout", "budget_share", "binding", "inside_domain", "outside",
                "data_note"]


@dataclass
class ReportData:
    """Every table of a report (each figure is drawn from one of them)."""

    candidates: pd.DataFrame  # top plans per budget
    front: pd.DataFrame  # the (training FLOPs, MMLU) front, or the review's best plans
    references: pd.DataFrame  # zoo models overlaid on the Pareto plot
    allocation: pd.DataFrame  # params vs tokens of the front's plans
    baselines: pd.DataFrame  # compute-optimal lines of the loss-law baselines
    landscape: pd.DataFrame  # best MMLU over layers x hidden at the (largest) budget
    inference_front: pd.DataFrame
    target: dict | None  # {"mmlu": target, "plan": Plan or None, "reason": why not, or None}
    results: list[SearchResult] = field(default_factory=list)
    interval: dict = field(default_factory=dict)
    forecast: dict = field(default_factory=dict)  # pooled forecast error of the law's form on the zoo
    unplotted: list = field(default_factory=list)  # reference models that cannot be drawn, with the reason
    scrutiny: list = field(default_factory=list)  # per budget: (label, best, law optimum, at_bounds, flatness, note)
    infeasible: list = field(default_factory=list)  # (label, reason) of the budgets with no feasible plan
    pending: list = field(default_factory=list, repr=False, compare=False)  # left by build_report(defer=True)

    def complete(self) -> "ReportData":
        """Compute what ``build_report(defer=True)`` left for later, in order: the trust checks of each
        budget (scrutiny), the inference front and the target. The figures do not need them."""
        while self.pending:
            self.pending[0](self)
            self.pending.pop(0)  # done: a step that raised stays, to be computed when asked again
        return self


def columns(table: pd.DataFrame) -> dict:
    """A table as ``{column: numpy array}``: what the figures are drawn from (report.figures)."""
    return {c: table[c].to_numpy() for c in table.columns}


def _layout_label(row: dict) -> str:
    """E.g. 'TP4 PP2 VPP8 DP2048 ZeRO-1' (VPP, CP and EP only when above 1; recomputation when any)."""
    def extra(key: str, name: str) -> str:
        value = row.get(key, 1)
        return f" {name}{value:g}" if value == value and value > 1 else ""
    return (f"TP{row['tp']:g}" + extra("cp", "CP") + f" PP{row['pp']:g}" + extra("vpp", "VPP") + f" DP{row['dp']:g}"
            + extra("ep", "EP") + f" ZeRO-{row['zero']:g}"
            + ("" if row["recompute"] == "none" else f" {row['recompute']}"))


def _rows(label: str, problem: Problem, plans: list[Plan], optimum: Plan | None = None) -> list[dict]:
    """Plan rows with their interval, layout and costs, ranked as given (``optimum``: the law's own
    best plan at this budget, to say where the domain binds the first row)."""
    rows = [{"budget": label, "rank": rank, "budget_flops": problem.budget_flops, **plan.flat()}
            for rank, plan in enumerate(plans, start=1)]
    for rank, (row, plan) in enumerate(zip(rows, plans)):
        row["binding"] = bound_labels(at_bounds(problem, plan, widen=False, optimum=optimum,
                                                domain=rank == 0 and optimum is not None))
        row["data_note"] = data_note(problem, plan)
        row["budget_share"] = row["train_flops"] / (row.get("budget_flops") or problem.budget_flops)
        row["layout"] = _layout_label(row) if row.get("tp") is not None and row["tp"] == row["tp"] else None
    return rows


def _table(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in PLAN_COLUMNS:
        if col not in df:
            df[col] = np.nan
    return df[PLAN_COLUMNS]


def references(names, coefficients) -> pd.DataFrame:
    """Zoo models to overlay: reported MMLU, the law's prediction, training compute 6·N_active·D."""
    if not names:
        return pd.DataFrame(columns=["name", "train_flops", "reported_mmlu", "predicted_mmlu", "params_b",
                                     "tokens_t"])
    from perflaw.law.predict import predict_inputs
    zoo = load_zoo()
    t = zoo[zoo["name"].isin(names) & zoo["complete"]].reset_index(drop=True)
    x = law_inputs(t)
    return pd.DataFrame({
        "name": t["name"], "train_flops": 6.0 * x.active_b * 1e9 * x.tokens_t * 1e12,
        "reported_mmlu": t["mmlu"].astype(float), "predicted_mmlu": predict_inputs(x, coefficients),
        "params_b": x.total_b, "tokens_t": x.tokens_t,
    })


def landscape(problem: Problem, result: SearchResult | None = None) -> pd.DataFrame:
    """Best feasible predicted MMLU for each (layers, hidden), maximised over the other axes (from the
    scores and feasibility an exact search of ``problem`` kept of every candidate, when ``result`` is
    one and its score is the prediction; else evaluated here)."""
    arch = problem.space.lattice()
    if result is not None and result.strategy == "exact" and problem.objective == "mean" \
            and len(result.evaluated) == len(arch["layers"]):
        mmlu, feasible = result.evaluated["score"], result.evaluated["feasible"]  # in lattice order
    else:
        ev = evaluate(problem, arch, lean=True)
        mmlu, feasible = ev["mmlu"], ev["feasible"]
    df = pd.DataFrame({"layers": arch["layers"].astype(int), "hidden": arch["hidden"].astype(int),
                       "mmlu": np.where(feasible, mmlu, np.nan)})
    return df.groupby(["layers", "hidden"], as_index=False)["mmlu"].max()


def _scrutiny(label: str, problem: Problem, r: SearchResult, optimum: Plan | None, tolerance: float) -> tuple:
    """A budget's trust checks: its best plan, the law's own optimum, the edges it sits on, how flat the
    optimum is, and the data note."""
    return (label, r.best.as_dict(),
            None if optimum is None else {**optimum.as_dict(), "gain": optimum.mmlu - r.best.mmlu},
            at_bounds(problem, r.best, optimum=optimum, exact=r.strategy == "exact"),
            flatness(problem, r, tolerance), data_note(problem, r.best))


def build_report(labelled: list[tuple[str, Problem]], *, strategy: str = "exact", trials=None, seed: int = 0,
                 top: int = 10, fronts=("budget",), target_mmlu=None, reference_models=(),
                 progress=None, tolerance: float = DEFAULT_TOLERANCE, defer: bool = False) -> ReportData:
    """Search every budget, then compute the fronts, baselines, landscape and overlays.

    ``progress`` (optional) is called with a short message before each budget's search; when given,
    Optuna studies also show their progress bar (on stderr). ``defer``: the tables no figure is drawn
    from (trust checks, inference front, target) are left to ``ReportData.complete``, so that the
    figures can be drawn meanwhile (the report writer completes the data)."""
    problems = [p for _, p in labelled]
    iv = interval_for(problems[0].coefficients)
    cand_rows, best_rows, results, infeasible, later = [], [], [], [], []
    for i, (label, problem) in enumerate(labelled):
        if progress:
            progress(f"  budget {i + 1}/{len(labelled)}: {label} ({strategy} search)")
        r = search(problem, strategy, trials=trials, seed=seed, top=top, progress=progress is not None)
        results.append(r)
        optimum = law_optimum(problem) if r.best is not None else None
        rows = _rows(label, problem, list(r.plans), optimum)
        cand_rows += rows
        if rows:
            best_rows.append(rows[0])
            later.append(lambda d, label=label, problem=problem, r=r, optimum=optimum:
                         d.scrutiny.append(_scrutiny(label, problem, r, optimum, tolerance)))
        else:
            infeasible.append((label, r.infeasible_reason))
    candidates = _table(cand_rows)
    at = max(range(len(labelled)), key=lambda i: labelled[i][1].budget_flops)  # the largest (the first of equals)
    largest = labelled[at]
    if len(labelled) == 1 and "budget" in fronts:
        label, problem = labelled[0]
        front = _table(_rows(label, problem, budget_front(problem)))
        front["rank"] = 1
        front["budget"] = [f"{v:.3g} FLOPs" for v in front["budget_flops"]]
    else:
        front = _table(best_rows)
    if "inference" in fronts:
        def inference(d: ReportData) -> None:
            d.inference_front = _table(_rows(largest[0], largest[1], inference_front(largest[1])))
        later.append(inference)
    flops = np.geomspace(max(1e18, front["train_flops"].min() / 10), front["train_flops"].max() * 10, 40) \
        if len(front) else np.geomspace(1e20, 1e26, 40)
    optima = {name: compute_optimal(law, flops) for name, law in LOSS_LAWS.items()}
    base = pd.concat([pd.DataFrame({"law": name, "flops": flops, "params_b": opt.params / 1e9,
                                    "tokens_t": opt.tokens / 1e12}) for name, opt in optima.items()],
                     ignore_index=True)
    allocation = front[["budget", "train_flops", "params_b", "active_params_b", "tokens_t", "mmlu"]].copy()
    if target_mmlu is not None:
        def target(d: ReportData) -> None:
            plan, reason = cheapest_for_target(largest[1], target_mmlu)
            d.target = {"mmlu": target_mmlu, "plan": plan, "reason": reason}
        later.append(target)
    data = ReportData(candidates, front, references(reference_models, problems[0].coefficients), allocation, base,
                      landscape(largest[1], results[at]), _table([]), None, results, interval_summary(iv),
                      forecast_of(problems[0].coefficients), unplotted_references(reference_models), [], infeasible,
                      later)
    return data if defer else data.complete()


def unplotted_references(names) -> list[dict]:
    """Reference models the plots cannot show (no token count or no MMLU), each with the reason."""
    zoo = load_zoo()
    out = []
    for _, row in zoo[zoo["name"].isin(list(names)) & ~zoo["complete"]].iterrows():
        missing = [what for what, col in (("published token count", "tokens_t"), ("reported MMLU", "mmlu"))
                   if pd.isna(row[col])]
        out.append({"name": row["name"], "reason": "no " + " and no ".join(missing)})
    return out


def forecast_of(coefficients) -> dict:
    """The error the law is expected to make on models newer than its data (law.predict.expected_error)."""
    return {"form": coefficients.form, **expected_error(coefficients)}
