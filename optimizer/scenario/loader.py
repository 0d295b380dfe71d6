"""Load a scenario TOML file into a validated ``Scenario`` (budgets, hardware, space, law, search, report).

A scenario is data only: it is parsed with ``tomllib`` and checked key by key against the tables
of ``perflaw.optimizer.scenario.schema``. Every mistake raises ``InputError`` named
``"<file> <dotted.key>"`` with the rule and the value received; nothing is repaired.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from perflaw.law.coefficients import PAPER, LawCoefficients, load_coefficients
from perflaw.law.errors import InputError
from perflaw.law.rules import month_index
from perflaw.optimizer.cost.budget import LIMITS as BUDGET_LIMITS, Budget
from perflaw.optimizer.cost.hardware import Hardware, Utilization, get_hardware, resolve_utilization
from perflaw.optimizer.scenario.schema import (BUDGET_KINDS, INLINE_HARDWARE, REVIEW, TOP, TOP_SECTIONS, Source,
                                               check_section, fmt_number, rule)
from perflaw.optimizer.search.modelled_mfu import mfu_is_modelled
from perflaw.optimizer.search.problem import Constraints, Problem
from perflaw.optimizer.search.space import SearchSpace

MAX_FILE_BYTES = 1_000_000  # a scenario is a few hundred bytes; anything this large is a mistake
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
BUILTIN_SCENARIO = "7b-512xh100-30d"  # run by `perflaw run` without arguments; shipped in perflaw.scenarios


def builtin_scenario_path(name: str = BUILTIN_SCENARIO) -> Path:
    """Path of a scenario shipped with perflaw (package data of ``perflaw.scenarios``)."""
    from importlib import resources
    path = Path(str(resources.files("perflaw.scenarios") / f"{name}.toml"))
    if not path.is_file():
        raise InputError("SCENARIO", "must be a scenario shipped with perflaw", name)
    return path


@dataclass(frozen=True)
class Scenario:
    """A validated scenario file: budgets, hardware, constraints, space, law, search and report options."""

    name: str
    description: str
    path: Path | None  # None for a scenario built from the Python API's keywords
    digest: str  # sha256 hex of the file's bytes ("" without a file)
    budgets: tuple[Budget, ...]  # one, or several: a sweep (FLOPs) or a review
    labels: tuple[str, ...]  # one per budget: the review's labels, else "<FLOPs> FLOPs"
    review: bool  # the budgets are shown side by side as a review
    hardware: Hardware | None
    gpus: int | None
    utilization: Utilization | None
    space: SearchSpace
    constraints: Constraints
    coefficients: LawCoefficients
    gamma: float
    seq_len: int
    flops_rule: str
    vintage: str | None  # the run's data vintage, YYYY-MM (None: the law's reference month)
    strategy: str
    trials: int | None
    seed: int
    trust: str  # data: plans inside the law's domain only; law: the raw law
    objective: str  # mean or lower (the interval's low end)
    fronts: tuple[str, ...]
    target_mmlu: float | None
    reference_models: tuple[str, ...]
    top: int
    tolerance: float  # near-optimal plans lie within this many points of the best
    model_mfu: bool = False  # no MFU given: it is to come from the best plan's fastest layout (``settled``)
    timed_layouts: tuple = ()  # per budget, once settled: (Architecture, LayoutSearch) that set its MFU

    def problems(self) -> list[Problem]:
        """One problem per budget, built as ``perflaw optimize`` builds it from flags."""
        return [Problem(self.space, b.flops, b.hardware, b.gpus, b.utilization, self.constraints,
                        self.coefficients, self.gamma, self.seq_len, self.flops_rule, b.precision,
                        b.price_usd_per_gpu_hour, self.vintage, self.trust, self.objective,
                        model_mfu=self.model_mfu, flops_fixed=b.kind == "flops",
                        timed_layout=self.timed_layouts[i] if self.timed_layouts else None)
                for i, b in enumerate(self.budgets)]

    def settled(self) -> "Scenario":
        """The scenario with each budget at the MFU of its best plan's fastest layout (search.modelled_mfu),
        when the MFU is to be modelled; else itself. This searches, once or a few times per budget."""
        if not self.model_mfu:
            return self
        from dataclasses import replace

        from perflaw.optimizer.search.modelled_mfu import settle_mfu
        settled = [settle_mfu(p) for p in self.problems()]
        budgets = tuple(replace(b, utilization=p.utilization) for b, p in zip(self.budgets, settled))
        labels = self.labels if self.review else tuple(f"{b.flops:.3g} FLOPs" for b in budgets)
        return replace(self, budgets=budgets, labels=labels, utilization=budgets[0].utilization, model_mfu=False,
                       timed_layouts=tuple(p.timed_layout for p in settled))


def _read(path: str | Path) -> tuple[dict, str]:
    label, p = str(path), Path(path)
    if not p.is_file():
        raise InputError(label, "file must exist", str(p))
    data = p.read_bytes()
    if len(data) > MAX_FILE_BYTES:
        raise InputError(label, f"must be at most {MAX_FILE_BYTES:,} bytes", len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(label, "must be UTF-8 text", f"invalid byte at offset {exc.start}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(label, "must be valid TOML", str(exc)) from None
    except ValueError:  # an integer of thousands of digits
        raise InputError(label, "must not hold integers of more than 4,300 digits", "a longer integer") from None
    except RecursionError:
        raise InputError(label, "must not nest arrays or tables hundreds deep", "deeper nesting") from None
    return doc, hashlib.sha256(data).hexdigest()


def _budget_entries(b: dict, file: Source) -> tuple[list[tuple[str, str, float, str]], bool]:
    """(key, kind, value, label) of each budget, and whether they form a review."""
    given = [k for k in (*BUDGET_KINDS, "sweep", "review") if b[k] is not None]
    if not given:
        file.fail("budget", "must give one of " + ", ".join((*BUDGET_KINDS, "sweep", "review")), "none")
    if len(given) > 1:
        file.fail(f"budget.{given[1]}", f"conflicts with budget.{given[0]}: give exactly one budget", b[given[1]])
    kind = given[0]
    if kind in BUDGET_KINDS:
        return [(f"budget.{kind}", kind, b[kind], "")], False
    if kind == "sweep":
        if any(a >= c for a, c in zip(b["sweep"], b["sweep"][1:])):
            file.fail("budget.sweep", "must be strictly increasing", list(b["sweep"]))
        return [("budget.sweep", "flops", v, "") for v in b["sweep"]], False
    entries, labels = [], []
    for i, table in enumerate(b["review"], start=1):
        key = f"budget.review[{i}]"
        e = check_section(table, REVIEW, key, file)
        kinds = [k for k in BUDGET_KINDS if e[k] is not None]
        if len(kinds) != 1:
            file.fail(f"{key}.{kinds[1]}" if kinds else key, "give exactly one of " + ", ".join(BUDGET_KINDS),
                      ", ".join(kinds) or "none")
        if e["label"] in labels:
            file.fail(f"{key}.label", "must differ from the other labels of the review", e["label"])
        labels.append(e["label"])
        entries.append((f"{key}.{kinds[0]}", kinds[0], e[kinds[0]], e["label"]))
    return entries, True


def _hardware(h: dict | None, file: Source) -> tuple[Hardware | None, Utilization | None]:
    if h is None:
        return None, None
    inline = [k for k in INLINE_HARDWARE if h[k] is not None]
    if h["name"] is not None:
        if inline:
            file.fail(f"hardware.{inline[0]}", "is inline hardware, which conflicts with hardware.name "
                      "(name a catalog entry or define the hardware inline, not both)", h[inline[0]])
        try:
            hw = get_hardware(h["name"])
        except InputError as exc:
            file.remap("hardware.name", exc)
    else:
        for k in ("peak_bf16_tflops", "hbm_gb"):
            if h[k] is None:
                file.fail("hardware.name" if not inline else f"hardware.{k}",
                          "is required (a catalog name, or inline peak_bf16_tflops and hbm_gb)", "missing")
        hw = Hardware.inline(h["peak_bf16_tflops"], h["hbm_gb"], peak_fp8_tflops=h["peak_fp8_tflops"],
                             tdp_w=h["tdp_w"], scaleup_domain=h["scaleup_domain"], source=f"defined in {file.label}")
    try:
        utilization = resolve_utilization(hw, h["mfu"], h["goodput"], h["precision"])
    except InputError as exc:
        file.remap(f"hardware.{exc.input_name}", exc)
    return hw, utilization


def _space(s: dict, layers: tuple[int, int], file: Source) -> SearchSpace:
    moe_keys = ("experts", "active_experts", "expert_ffn")
    moe = [k for k in moe_keys if s[k] is not None]
    if moe and len(moe) < 3:
        missing = next(k for k in moe_keys if s[k] is None)
        file.fail(f"space.{missing}", "is required for a MoE space (experts, active_experts and expert_ffn "
                  "go together)", "missing")
    if not moe and s["shared_experts"] is not None:
        file.fail("space.shared_experts", "needs a MoE space (experts, active_experts and expert_ffn)",
                  list(s["shared_experts"]))
    zero = (0,)
    kwargs = dict(layers=layers, heads=s["heads"], heads_step=s["heads_step"], head_dim=s["head_dim"],
                  ffn_ratio=s["ffn_ratio"], ffn_ratio_step=s["ffn_ratio_step"], ffn_multiple=s["ffn_multiple"],
                  kv_heads=s["kv_heads"], vocab=s["vocab"], tied_embeddings=s["tied_embeddings"],
                  experts=s["experts"] or zero, active_experts=s["active_experts"] or zero,
                  shared_experts=(s["shared_experts"] or zero), expert_ffn=s["expert_ffn"] or zero)
    try:
        space = SearchSpace(**kwargs)
    except InputError as exc:
        key = "constraints.layers" if exc.input_name == "layers" else f"space.{exc.input_name}"
        file.remap(key if exc.input_name in s or exc.input_name == "layers" else "space", exc)
    return space  # SearchSpace bounds the lattice (points and candidates) itself


def shipped_scenarios() -> tuple[str, ...]:
    """Names of the scenarios shipped with perflaw (``perflaw run NAME`` runs one from any folder)."""
    from importlib import resources
    return tuple(sorted(p.name[:-5] for p in resources.files("perflaw.scenarios").iterdir()
                        if p.name.endswith(".toml")))


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file (raises ``InputError`` naming the file and the key).

    A bare name that is no file but names a shipped scenario (``7b-512xh100-30d``, with or without
    ``.toml``) loads the shipped one; a path with a folder must exist.
    """
    stem = Path(path).name.removesuffix(".toml")
    if not Path(path).is_file():
        if Path(path).parent != Path(".") or stem not in shipped_scenarios():
            raise InputError(str(path), f"file must exist (or name a shipped scenario: {', '.join(shipped_scenarios())})",
                             str(path))
        path = builtin_scenario_path(stem)
    doc, digest = _read(path)
    return scenario_from_tables(doc, Source(str(path)), Path(path).parent, Path(path), digest)


def scenario_from_tables(doc: dict, file: Source, base_dir: Path, path: Path | None = None,
                         digest: str = "") -> Scenario:
    """Validate parsed tables (a TOML document, or the Python API's keywords) into a ``Scenario``.

    Coefficient files are read relative to ``base_dir``; mistakes are named by ``file``.
    """
    top = check_section(doc, TOP, "", file)
    if not NAME_PATTERN.match(top["name"]):
        file.fail("name", rule(TOP.fields[0]), top["name"])
    if "budget" not in doc:
        file.fail("budget", "is required (a [budget] table)", "missing")
    # Absent optional sections take their defaults; [hardware] stays absent (FLOPs budgets only).
    sec = {name: check_section(doc.get(name, {}), s, name, file) for name, s in TOP_SECTIONS.items()
           if name in doc or name != "hardware"}
    sec.setdefault("hardware", None)

    entries, review = _budget_entries(sec["budget"], file)
    h = sec["hardware"] or {"gpus": None, "precision": "bf16", "price_usd_per_gpu_hour": None}
    hardware, utilization = _hardware(sec["hardware"], file)

    c = sec["constraints"]
    try:
        constraints = Constraints(params_b=c["params_b"], min_tokens_t=c["min_tokens_t"],
                                  max_tokens_t=c["max_tokens_t"], unique_tokens_t=c["unique_tokens_t"],
                                  min_mmlu=c["min_mmlu"],
                                  serve_hbm_gb=c["serve_hbm_gb"], serve_context=c["serve_context"],
                                  serve_batch=c["serve_batch"], headroom=c["headroom"])
    except InputError as exc:
        file.remap("constraints." + exc.input_name, exc)
    space = _space(sec["space"], c["layers"], file)

    law = sec["law"]
    if law["coefficients"] == "paper":
        coefficients = PAPER
    else:
        try:
            coefficients = load_coefficients(base_dir / law["coefficients"])
        except InputError as exc:
            where = "the working folder" if file.keywords else "the scenario file"
            file.fail("law.coefficients", f"must be \"paper\" or a coefficient file relative to {where} "
                      f"({exc.input_name}: {exc.rule})", law["coefficients"])

    budgets, labels = [], []
    for key, kind, value, label in entries:
        if kind != "flops" and hardware is None:
            file.fail(key, "needs hardware to convert to FLOPs (hardware.name, or inline hardware.peak_bf16_tflops "
                      "and hardware.hbm_gb)", value)
        if kind == "days" and h["gpus"] is None:
            file.fail(key, "needs hardware.gpus", value)
        if kind == "usd" and h["price_usd_per_gpu_hour"] is None:
            file.fail(key, "needs hardware.price_usd_per_gpu_hour", value)
        try:
            budget = Budget(kind, value, hardware, utilization, h["gpus"], h["price_usd_per_gpu_hour"],
                            h["precision"])
        except InputError as exc:
            file.remap("hardware.precision" if exc.input_name == "precision" else key, exc)
        flops = BUDGET_LIMITS["flops"]
        if budget.flops not in flops:
            file.fail(key, f"must convert to between {fmt_number(flops.low)} and {fmt_number(flops.high)} FLOPs "
                      f"(it converts to {budget.flops:.3g})", value)
        budgets.append(budget)
        labels.append(label or f"{budget.flops:.3g} FLOPs")

    report = sec["report"]
    if report["reference_models"]:
        from perflaw.law.zoo import load_zoo
        names = set(load_zoo()["name"])
        for m in report["reference_models"]:
            if m not in names:
                close = difflib.get_close_matches(m, sorted(names), n=3, cutoff=0.5)
                file.fail("report.reference_models", "must name models of the zoo (law/data/models.csv)"
                          + (f"; closest: {', '.join(close)}" if close else ""), m)

    if law["vintage"] is not None:
        try:
            month_index(law["vintage"], "law.vintage")
        except InputError as exc:
            file.fail("law.vintage", exc.rule, law["vintage"])
    search = sec["search"]
    return Scenario(
        name=top["name"], description=top["description"], path=path, digest=digest, budgets=tuple(budgets),
        labels=tuple(labels), review=review, hardware=hardware, gpus=h["gpus"], utilization=utilization,
        space=space, constraints=constraints, coefficients=coefficients, gamma=law["gamma"], seq_len=law["seq_len"],
        flops_rule=law["flops_rule"], vintage=law["vintage"], strategy=search["strategy"], trials=search["trials"],
        seed=search["seed"], trust=search["trust"], objective=search["objective"],
        fronts=report["fronts"], target_mmlu=report["target_mmlu"], reference_models=report["reference_models"],
        top=report["top"], tolerance=report["tolerance"],
        model_mfu=mfu_is_modelled(h.get("mfu"), hardware, h["gpus"], h["precision"]),
    )
