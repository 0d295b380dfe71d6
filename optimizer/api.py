"""The Python API: plan a run, predict one model, run a scenario, from a notebook or a script.

Keywords are named like the keys of scenario files (``params_b``, ``gpus``, ``mfu``,
``price_usd_per_gpu_hour``) and checked by the same tables, so their defaults and limits are the
ones ``perflaw optimize`` and scenario files use. A mistake raises ``perflaw.InputError`` naming
the keyword, the rule and the value.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from perflaw.law.architecture import Architecture
from perflaw.law.coefficients import PAPER, LawCoefficients, load_coefficients
from perflaw.law.errors import InputError
from perflaw.law.predict import Prediction, predict_architecture
from perflaw.optimizer.cost.budget import BUDGET_KINDS
from perflaw.optimizer.cost.hardware import Hardware, load_catalog
from perflaw.optimizer.report.data import ReportData, build_report
from perflaw.optimizer.report.writer import write_report
from perflaw.optimizer.scenario.loader import Scenario, load_scenario, scenario_from_tables
from perflaw.optimizer.scenario.schema import BUDGET, CONSTRAINTS, HARDWARE, LAW, SEARCH, SPACE, Source
from perflaw.optimizer.search.result import SearchResult
from perflaw.optimizer.search.strategies import search

#: The section of every keyword ``optimize`` takes (``hardware`` is the catalog name, hardware.name).
_SECTIONS = {f.key: s.name for s in (BUDGET, HARDWARE, CONSTRAINTS, SPACE, SEARCH, LAW) for f in s.fields
             if f.key not in ("sweep", "review", "name")}
_SECTIONS["hardware"] = "hardware"
_SECTIONS["top"] = "report"
_SECTIONS["tolerance"] = "report"
_LISTS = {f.key for s in (SPACE,) for f in s.fields if f.kind.endswith("list")}
_WHOLE = {f.key for s in (HARDWARE, CONSTRAINTS, SPACE, SEARCH, LAW) for f in s.fields if f.kind.startswith("integer")}
_WHOLE.add("top")
_KEYWORDS = Source("perflaw", keywords=True)  # library sentences in the API's words


def optimize(*, flops=None, gpu_hours=None, usd=None, days=None,
             hardware=None, gpus=None, mfu=None, goodput=None, precision=None, price_usd_per_gpu_hour=None,
             peak_bf16_tflops=None, peak_fp8_tflops=None, hbm_gb=None, tdp_w=None, scaleup_domain=None,
             params_b=None, layers=None, min_tokens_t=None, max_tokens_t=None, unique_tokens_t=None,
             min_mmlu=None, serve_hbm_gb=None,
             serve_context=None, serve_batch=None, headroom=None,
             heads=None, heads_step=None, head_dim=None, ffn_ratio=None, ffn_ratio_step=None, ffn_multiple=None,
             kv_heads=None, vocab=None, tied_embeddings=None, experts=None, active_experts=None,
             shared_experts=None, expert_ffn=None,
             strategy=None, trials=None, seed=None, trust=None, objective=None, coefficients=None, gamma=None, seq_len=None, flops_rule=None,
             vintage=None, top=None, tolerance=None, storage: str | None = None,
             study_name: str | None = None) -> SearchResult:
    """The best plans for one budget: ``SearchResult`` with ``.best`` (a ``Plan``) and ``.to_frame()``.

    Give exactly one budget (``flops``, ``gpu_hours``, ``usd`` or ``days``); anything but FLOPs
    needs ``hardware`` (a catalog name such as ``"H100-SXM"``, a ``Hardware``, or inline
    ``peak_bf16_tflops`` and ``hbm_gb``). Every other keyword left at None takes the default of
    scenario files (``perflaw optimize`` has the same ones). Ranges are ``(low, high)`` tuples,
    choices a tuple or a single number; ``coefficients`` is ``"paper"``, a file from
    ``perflaw fit --out`` or a ``LawCoefficients``. ``storage``/``study_name`` persist an Optuna study.
    The result also carries what a reviewer asks: ``law_optimum`` (with ``trust="data"``, the default:
    the raw law's best plan), ``at_bounds`` and ``flatness`` (near-optimal plans within ``tolerance``
    points, sensitivity per axis, the best conventional shape, the law's terms).
    """
    given = {k: v for k, v in locals().items() if k in _SECTIONS and v is not None}
    scenario = _scenario(given, "perflaw.optimize").settled()
    problem = scenario.problems()[0]
    result = search(problem, scenario.strategy, trials=scenario.trials, seed=scenario.seed, top=scenario.top,
                    storage=storage, study_name=study_name)
    if result.best is None:  # the constraints admit no plan: the input's fault, said as the CLI says it
        raise InputError("constraints", f"no feasible plan: {_KEYWORDS.words(result.infeasible_reason)}",
                         f"budget {problem.budget_flops:.3g} FLOPs, {problem.space.size:,} candidates")
    from dataclasses import replace

    from perflaw.optimizer.search.flatness import flatness
    from perflaw.optimizer.search.scrutiny import at_bounds, law_optimum
    optimum = law_optimum(problem)
    return replace(result, law_optimum=optimum, at_bounds=tuple(at_bounds(problem, result.best, optimum=optimum,
                                                                   exact=result.strategy == "exact")),
                   flatness=flatness(problem, result, scenario.tolerance))


def predict(architecture: Architecture, tokens_t: float, *, coefficients="paper", gamma: float = 1.0,
            params_b: float | None = None, active_params_b: float | None = None,
            data_vintage: str | None = None, unique_tokens_t: float | None = None) -> Prediction:
    """Predicted MMLU of ``architecture`` trained on ``tokens_t`` trillion tokens, with ``.interval``
    (``unique_tokens_t``: the data's unique tokens, when the run repeats them)."""
    if not isinstance(architecture, Architecture):
        raise InputError("architecture", "must be a perflaw.Architecture (or Architecture.from_hf_config(path))",
                         type(architecture).__name__)
    try:
        return predict_architecture(architecture, tokens_t, coefficients=_coefficients(coefficients), gamma=gamma,
                                    params_b=params_b, active_params_b=active_params_b, data_vintage=data_vintage,
                                    unique_tokens_t=unique_tokens_t)
    except InputError as exc:
        raise InputError(exc.input_name, _KEYWORDS.words(exc.rule), exc.value) from None


@dataclass(frozen=True)
class ScenarioRun:
    """A scenario that was run: its tables and the report folder written from them."""

    scenario: Scenario
    data: ReportData
    folder: Path
    seconds: float


def run_scenario(scenario: Scenario | str | Path, out: str | Path | None = None, *, reports: str | Path = "reports",
                 progress=None, force: bool = False) -> ScenarioRun:
    """Search every budget of ``scenario`` (a file or a loaded ``Scenario``) and write its report.

    The folder is ``out``, or ``reports/<name>`` by default; it is replaced only once complete, and
    only if it is absent, empty or a perflaw report. A folder of other files is refused (before
    any search), unless ``force``: then the report's files are written into it, nothing deleted.
    ``progress``, when given, is called with a short message before each budget's search.
    """
    from perflaw.optimizer.report.target import check_report_folder
    t0 = time.perf_counter()
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    folder = Path(out) if out is not None else Path(reports) / scenario.name
    check_report_folder(folder, force)
    if scenario.model_mfu and progress:
        progress("  the MFU of the best plan's fastest layout (step-time model)")
    scenario = scenario.settled()
    data = build_report(list(zip(scenario.labels, scenario.problems())), strategy=scenario.strategy,
                        trials=scenario.trials, seed=scenario.seed, top=scenario.top, fronts=scenario.fronts,
                        target_mmlu=scenario.target_mmlu, reference_models=scenario.reference_models,
                        progress=progress, tolerance=scenario.tolerance, defer=True)  # write_report completes it
    if data.candidates.empty:
        label = str(scenario.path or scenario.name)
        reasons = "; ".join(r.infeasible_reason or "" for r in data.results)
        raise InputError(label, "has no feasible plan", Source(label, keywords=scenario.path is None).words(reasons))
    if progress:
        progress("  trust checks, fronts and figures")
    write_report(scenario, data, folder, force)
    return ScenarioRun(scenario, data, folder, time.perf_counter() - t0)


def _coefficients(value) -> LawCoefficients:
    if isinstance(value, LawCoefficients):
        return value
    if value == "paper":
        return PAPER
    rule = 'must be "paper", a LawCoefficients or a coefficient file from perflaw fit --out'
    if isinstance(value, (str, Path)):
        try:
            return load_coefficients(value)
        except InputError as exc:
            raise InputError("coefficients", f"{rule} ({exc.input_name}: {exc.rule})", str(value)) from None
    raise InputError("coefficients", rule, value)


def _plain(value, whole: bool = False):
    """Tuples as lists, numpy scalars as Python numbers and (for ``whole`` keys) 1024.0 as 1024, as a
    TOML file would give them."""
    if isinstance(value, (tuple, list)):
        return [_plain(v, whole) for v in value]
    value = value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value
    if whole and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _scenario(given: dict, label: str) -> Scenario:
    """A one-budget scenario from API keywords, checked by the scenario tables."""
    coefficients = given.pop("coefficients", None)
    hardware = given.pop("hardware", None)
    budgets = [k for k in BUDGET_KINDS if k in given]
    if len(budgets) != 1:
        raise InputError("budget", f"give exactly one of {', '.join(BUDGET_KINDS)}", ", ".join(budgets) or "none")
    tables: dict = {"name": "python-api", "description": f"{label}()", "budget": {}}
    if isinstance(hardware, Hardware):
        if load_catalog().get(hardware.name) == hardware:
            hardware = hardware.name
        else:  # a custom accelerator: its numbers, inline
            for key in ("peak_bf16_tflops", "peak_fp8_tflops", "hbm_gb", "tdp_w", "scaleup_domain"):
                if getattr(hardware, key) is not None:
                    given.setdefault(key, getattr(hardware, key))
            hardware = None
    if hardware is not None:
        tables.setdefault("hardware", {})["name"] = hardware
    for key, value in given.items():
        value = _plain(value, key in _WHOLE)
        if key in _LISTS and not isinstance(value, list):
            value = [value]
        tables.setdefault(_SECTIONS[key], {})[key] = value
    if isinstance(coefficients, (LawCoefficients, Path)):
        tables.setdefault("law", {})["coefficients"] = "paper"
    elif coefficients is not None:
        tables.setdefault("law", {})["coefficients"] = coefficients
    scenario = scenario_from_tables(tables, Source(label, keywords=True), Path.cwd())
    if isinstance(coefficients, (LawCoefficients, Path)):
        scenario = replace(scenario, coefficients=_coefficients(coefficients))
    return scenario
