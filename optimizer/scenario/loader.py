"""Load and validate a scenario TOML file into a ``Scenario``: one declarative table per section.

A scenario is data only: it is parsed with ``tomllib`` and checked key by key against the tables
below (type, default, range or choices, description), in the spirit of scikit-learn's
``_param_validation``. The same tables generate the field-by-field documentation
(``schema_markdown``, pasted into ``scenarios/README.md``). Every mistake raises ``InputError``
named ``"<file> <dotted.key>"`` with the rule and the value received; nothing is repaired.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from perflaw.law.coefficients import PAPER, LawCoefficients, load_coefficients
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.budget import Budget
from perflaw.optimizer.cost.hardware import PRECISIONS, Hardware, Utilization, get_hardware
from perflaw.optimizer.cli.hardware_args import utilization_from_args
from perflaw.optimizer.search.problem import Constraints, Problem
from perflaw.optimizer.search.strategies import STRATEGIES
from perflaw.optimizer.search.space import SearchSpace

REQUIRED = object()  # marks a key without a default
MAX_FILE_BYTES = 1_000_000  # a scenario is a few hundred bytes; anything this large is a mistake
MAX_LATTICE_BOUND = 50_000_000  # product of the space's axis lengths: beyond this the exact search runs out of memory
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
class Field:
    """One key of a section: its kind, default, allowed values and meaning (units in key or doc)."""

    key: str
    kind: str  # one of KINDS
    doc: str
    default: object = REQUIRED
    low: float | None = None
    high: float | None = None
    open_low: bool = False  # the interval excludes ``low``
    open_high: bool = False  # the interval excludes ``high``
    choices: tuple | None = None
    length: tuple[int, int] | None = None  # list entries, or string characters
    unique: bool = False  # list entries must differ
    rule: str | None = None  # replaces the generated rule text
    default_doc: str | None = None  # replaces the displayed default


@dataclass(frozen=True)
class Section:
    """A TOML table (or the top level, ``name == ""``) and its keys."""

    name: str
    doc: str
    fields: tuple[Field, ...]
    required: bool = False
    array: bool = False  # an array of tables, [[name]]


KINDS = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
         "integer pair": "[integer, integer]", "number pair": "[number, number]", "integer list": "list of integers",
         "number list": "list of numbers", "string list": "list of strings", "table list": "array of tables"}

_BUDGET_LIMITS = {  # same limits as perflaw.optimizer.cost.budget
    "flops": (1e15, 1e32, "training FLOPs"),
    "gpu_hours": (1e-3, 1e12, "GPU-hours on the hardware (converted with peak × MFU × goodput)"),
    "usd": (1e-3, 1e14, "US dollars at hardware.price_usd_per_gpu_hour"),
    "days": (1e-4, 1e5, "wall-clock days on hardware.gpus GPUs"),
}
BUDGET_KINDS = tuple(_BUDGET_LIMITS)


def _budget_field(kind: str) -> Field:
    low, high, doc = _BUDGET_LIMITS[kind]
    return Field(kind, "number", doc, None, low, high)


TOP = Section("", "The two required strings; every other top-level key is a section below.", (
    Field("name", "string", "scenario name; names the report folder reports/<name>/",
          rule="must be 1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit"),
    Field("description", "string", "one or two sentences: the question the scenario answers", length=(1, 2000)),
), required=True)

BUDGET = Section("budget", "Exactly one of `flops`, `gpu_hours`, `usd`, `days`, `sweep`, `review`. `days` needs "
                 "`hardware.gpus`; `usd` needs `hardware.price_usd_per_gpu_hour`; anything but FLOPs needs a "
                 "`[hardware]` section.", (
    *(_budget_field(k) for k in BUDGET_KINDS),
    Field("sweep", "number list", "a budget sweep: training FLOPs, strictly increasing, one plan each", None,
          1e15, 1e32, length=(2, 24)),
    Field("review", "table list", "a budget review: `[[budget.review]]` tables shown side by side", None,
          length=(2, 6), rule="must be 2 to 6 [[budget.review]] tables"),
), required=True)

REVIEW = Section("budget.review", "One budget of a review (entries numbered from 1 in messages): a `label` and "
                 "exactly one of `flops`, `gpu_hours`, `usd`, `days`.", (
    Field("label", "string", "the column heading of this budget, unique in the review", length=(1, 32)),
    *(_budget_field(k) for k in BUDGET_KINDS),
), array=True)

INLINE_HARDWARE = ("peak_bf16_tflops", "peak_fp8_tflops", "hbm_gb", "tdp_w", "scaleup_domain")

HARDWARE = Section("hardware", "A catalog entry (`name`, see `perflaw hardware`) or inline hardware "
                   "(`peak_bf16_tflops` and `hbm_gb`, optionally `peak_fp8_tflops`, `tdp_w`, `scaleup_domain`), "
                   "not both. May be left out only when every budget is in FLOPs.", (
    Field("name", "string", "catalog name, e.g. H100-SXM", None, length=(1, 64)),
    Field("peak_bf16_tflops", "number", "inline: dense BF16 peak, TFLOP/s per GPU", None, 0, 1e6, open_low=True),
    Field("peak_fp8_tflops", "number", "inline: dense FP8 peak, TFLOP/s per GPU", None, 0, 1e6, open_low=True),
    Field("hbm_gb", "number", "inline: memory per GPU, GB (1e9 bytes)", None, 0, 1e5, open_low=True),
    Field("tdp_w", "number", "inline: board power, watts", None, 0, 1e5, open_low=True),
    Field("scaleup_domain", "integer", "inline: GPUs per NVLink (scale-up) domain", None, 1, 1_000_000,
          default_doc="8"),
    Field("gpus", "integer", "number of GPUs of the run", None, 1, 10_000_000),
    Field("mfu", "number", "steady-state model FLOPs utilization, a fraction", None, 0, 1, open_low=True,
          default_doc="the family's published run"),
    Field("goodput", "number", "share of GPU-hours in steady-state training, a fraction", None, 0, 1,
          open_low=True, default_doc="the family's published run"),
    Field("precision", "string", "tensor precision of the peak", "bf16", choices=PRECISIONS),
    Field("price_usd_per_gpu_hour", "number", "US dollars per GPU-hour (required for `usd` budgets)", None,
          1e-4, 1e4),
))

CONSTRAINTS = Section("constraints", "Limits every plan must respect (the defaults of `perflaw optimize`).", (
    Field("params_b", "number pair", "total parameters, billions, [low, high]", (0.1, 2000.0), 1e-3, 1e5),
    Field("layers", "integer pair", "layers, [low, high] inclusive (the search space's depth axis)", (8, 128),
          1, 4096),
    Field("min_tokens_t", "number", "a plan trains on at least this many tokens, trillions", 0.01, 1e-6, 1e4),
    Field("max_tokens_t", "number", "unique training tokens available, trillions (the data constraint)", None,
          1e-6, 1e4),
    Field("min_mmlu", "number", "drop plans predicted below this MMLU, points", None, 0, 100, open_high=True),
    Field("serve_hbm_gb", "number", "weights + KV cache must fit one GPU of this size, GB", None, 0, 1e5,
          open_low=True),
    Field("serve_context", "integer", "context length when serving, tokens", 8192, 1, 1 << 24),
    Field("serve_batch", "integer", "sequences served at once", 1, 1, 1 << 20),
    Field("headroom", "number", "share of HBM kept free, training and serving", 0.1, 0, 1, open_high=True),
))

SPACE = Section("space", "The architecture lattice: hidden = heads × head_dim; FFN = ffn_ratio × hidden rounded "
                "to a multiple of ffn_multiple. MoE when `experts`, `active_experts` and `expert_ffn` are given "
                "(every layer is then an MoE layer).", (
    Field("heads", "integer pair", "attention heads, [low, high]", (8, 128), 1, 65536),
    Field("heads_step", "integer", "step of heads", 4, 1, 65536),
    Field("head_dim", "integer", "per-head width", 128, 1, 4096),
    Field("ffn_ratio", "number pair", "FFN size / hidden, [low, high]", (2.5, 4.0), 0, 64, open_low=True),
    Field("ffn_ratio_step", "number", "step of ffn_ratio", 0.125, 0, 64, open_low=True),
    Field("ffn_multiple", "integer", "FFN size rounded to a multiple of this", 256, 1, 1 << 16),
    Field("kv_heads", "integer list", "KV-head choices (each must divide some heads value)", (8,), 1, 65536,
          length=(1, 64)),
    Field("vocab", "integer", "vocabulary size, tokens", 128256, 1, 1 << 24),
    Field("tied_embeddings", "boolean", "input and output embeddings share weights", False),
    Field("experts", "integer list", "MoE: routed-expert choices", None, 1, 1 << 22, length=(1, 64)),
    Field("active_experts", "integer list", "MoE: routed experts per token (top-k) choices", None, 1, 1 << 22,
          length=(1, 64)),
    Field("shared_experts", "integer list", "MoE: shared-expert choices", None, 0, 1 << 22, length=(1, 64),
          default_doc="[0] with MoE"),
    Field("expert_ffn", "integer list", "MoE: FFN size of one expert, choices", None, 1, 1 << 22, length=(1, 64)),
))

SEARCH = Section("search", "How the lattice is searched.", (
    Field("strategy", "string", "exact enumeration (the reference), Optuna TPE or scipy differential evolution",
          "exact", choices=STRATEGIES),
    Field("trials", "integer", "evaluations for optuna / scipy", None, 1, 10**7, default_doc="1000 / 10000"),
    Field("seed", "integer", "random seed for optuna and scipy", 0, 0, 2**32 - 1),
))

LAW = Section("law", "The Performance Law and how FLOPs are counted.", (
    Field("coefficients", "string", "\"paper\", or a coefficient file (`perflaw fit --out`) relative to the "
          "scenario file", "paper", length=(1, 1024)),
    Field("gamma", "number", "precision loss of the training stack, >= 1", 1.0, 1, 100),
    Field("seq_len", "integer", "training sequence length for the attention FLOPs, tokens", 4096, 1, 1 << 24),
    Field("flops_rule", "string", "training FLOPs per token rule", "attention", choices=("attention", "6N")),
))

REPORT = Section("report", "What the report shows beyond the best plans.", (
    Field("fronts", "string list", "Pareto fronts: MMLU against training FLOPs (budget sweep) or against "
          "activated parameters", (), choices=("budget", "inference"), length=(0, 2), unique=True),
    Field("target_mmlu", "number", "also find the cheapest plan reaching this MMLU, points", None, 0, 100,
          open_low=True, open_high=True),
    Field("reference_models", "string list", "zoo models (law/data/models.csv `name`) drawn on the plots", (),
          length=(0, 50), unique=True),
    Field("top", "integer", "plans listed per budget", 10, 0, 1000),
))

SECTIONS = (TOP, BUDGET, REVIEW, HARDWARE, CONSTRAINTS, SPACE, SEARCH, LAW, REPORT)
_TOP_SECTIONS = {s.name: s for s in SECTIONS if s.name and "." not in s.name}


# --- rules as text (error messages and documentation share them) -------------------------------

def _fmt(v: float) -> str:
    """1e15 for exact powers of ten and beyond, 16,777,216 for other whole numbers, 0.125 otherwise."""
    if float(v).is_integer():
        short = f"{v:.0e}"
        if abs(v) >= 1e7 and float(short) == v:
            mantissa, exp = short.split("e")
            return f"{mantissa}e{int(exp)}"
        return f"{int(v):,}"
    mantissa, _, exp = f"{v:g}".partition("e")
    return f"{mantissa}e{int(exp)}" if exp else mantissa


def _interval(f: Field) -> str:
    return f"{'(' if f.open_low else '['}{_fmt(f.low)}, {_fmt(f.high)}{')' if f.open_high else ']'}"


def _element(f: Field, plural: bool = False) -> str:
    base = f.kind.split()[0]
    noun = {"integer": "whole number", "number": "number", "string": "string"}[base]
    noun += "s" if plural else ""
    if f.low is not None:
        return f"{noun} in {_interval(f)}"
    if f.choices:
        return f"{noun} from " + ", ".join(f'"{c}"' for c in f.choices)
    return noun


def allowed(f: Field) -> str:
    """What ``f`` accepts, in words (the error rule is 'must be ' + this)."""
    if f.rule:
        return f.rule.removeprefix("must be ")
    if f.kind == "boolean":
        return "true or false"
    if f.kind == "string":
        if f.choices:
            return "one of " + ", ".join(f'"{c}"' for c in f.choices)
        return f"a string of {f.length[0]} to {_fmt(f.length[1])} characters" if f.length else "a string"
    if f.kind in ("integer", "number"):
        return "a " + _element(f)
    if f.kind.endswith("pair"):
        return f"[low, high] with low <= high, both {_element(f, True)}"
    lo, hi = f.length or (1, 1000)
    count = f"{lo} to {hi}" if lo else f"at most {hi}"
    return f"a list of {count} {'distinct ' if f.unique else ''}{_element(f, True)}"


def _rule(f: Field) -> str:
    return f.rule or "must be " + allowed(f)


# --- checking ----------------------------------------------------------------------------------

class _File:
    """Raises ``InputError`` named after the file and a dotted key."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, key: str, rule: str, value: object):
        raise InputError(f"{self.label} {key}" if key else self.label, rule, value)

    def remap(self, key: str, exc: InputError):
        """Re-raise an error of a constructor (named after a CLI flag) under the scenario key."""
        self.fail(key, exc.rule, exc.value)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _in_range(f: Field, v) -> bool:
    if f.low is not None and (v < f.low or (f.open_low and v == f.low)):
        return False
    return not (f.high is not None and (v > f.high or (f.open_high and v == f.high)))


def _scalar_ok(f: Field, kind: str, v) -> bool:
    if kind == "integer":
        return _is_int(v) and _in_range(f, v)
    if kind == "number":
        return _is_num(v) and _in_range(f, v)
    if kind == "string":
        return isinstance(v, str) and (not f.choices or v in f.choices)
    return False


def _check(f: Field, v, key: str, file: _File):
    """The validated value of one key (numbers as float, lists as tuples)."""
    bad = lambda: file.fail(key, _rule(f), v)  # noqa: E731
    if f.kind == "boolean":
        return v if isinstance(v, bool) else bad()
    if f.kind == "string":
        if not isinstance(v, str) or (f.choices and v not in f.choices) or \
                (f.length and not (len(v.strip()) >= f.length[0] and len(v) <= f.length[1])):
            bad()
        return v
    if f.kind in ("integer", "number"):
        if not _scalar_ok(f, f.kind, v):
            bad()
        return float(v) if f.kind == "number" else v
    if not isinstance(v, list):
        bad()
    if f.kind == "table list":
        if not all(isinstance(e, dict) for e in v) or not f.length[0] <= len(v) <= f.length[1]:
            bad()
        return tuple(v)
    elem = f.kind.split()[0]
    if f.kind.endswith("pair"):
        if len(v) != 2 or not all(_scalar_ok(f, elem, e) for e in v) or v[0] > v[1]:
            bad()
    else:
        lo, hi = f.length or (1, 1000)
        if not lo <= len(v) <= hi or not all(_scalar_ok(f, elem, e) for e in v) or (f.unique and len(set(v)) < len(v)):
            bad()
    return tuple(float(e) if elem == "number" else e for e in v)


def _section(table, section: Section, key: str, file: _File) -> dict:
    """Check a table against ``section``: unknown keys, required keys, each value."""
    if not isinstance(table, dict):
        file.fail(key, "must be a table" + (f" [{section.name}]" if section.name else ""), table)
    known = [f.key for f in section.fields] + (list(_TOP_SECTIONS) if section is TOP else [])
    for k in table:
        if k not in known:
            close = difflib.get_close_matches(k, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            file.fail(f"{key}.{k}" if key else k, f"is not a known key ({hint})", table[k])
    out = {}
    for f in section.fields:
        dotted = f"{key}.{f.key}" if key else f.key
        if f.key in table:
            out[f.key] = _check(f, table[f.key], dotted, file)
        elif f.default is REQUIRED:
            file.fail(dotted, "is required (" + _rule(f) + ")", "missing")
        else:
            out[f.key] = f.default
    return out


# --- the scenario ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """A validated scenario file: budgets, hardware, constraints, space, law, search and report options."""

    name: str
    description: str
    path: Path
    digest: str  # sha256 hex of the file's bytes
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
    strategy: str
    trials: int | None
    seed: int
    fronts: tuple[str, ...]
    target_mmlu: float | None
    reference_models: tuple[str, ...]
    top: int

    def problems(self) -> list[Problem]:
        """One problem per budget, built as ``perflaw optimize`` builds it from flags."""
        return [Problem(self.space, b.flops(), b.hardware, b.gpus, b.utilization, self.constraints,
                        self.coefficients, self.gamma, self.seq_len, self.flops_rule, b.precision,
                        b.price_usd_per_gpu_hour) for b in self.budgets]


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
    return doc, hashlib.sha256(data).hexdigest()


def _budget_entries(b: dict, file: _File) -> tuple[list[tuple[str, str, float, str]], bool]:
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
        e = _section(table, REVIEW, key, file)
        kinds = [k for k in BUDGET_KINDS if e[k] is not None]
        if len(kinds) != 1:
            file.fail(f"{key}.{kinds[1]}" if kinds else key, "give exactly one of " + ", ".join(BUDGET_KINDS),
                      ", ".join(kinds) or "none")
        if e["label"] in labels:
            file.fail(f"{key}.label", "must differ from the other labels of the review", e["label"])
        labels.append(e["label"])
        entries.append((f"{key}.{kinds[0]}", kinds[0], e[kinds[0]], e["label"]))
    return entries, True


def _hardware(h: dict | None, file: _File) -> tuple[Hardware | None, Utilization | None]:
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
        hw = Hardware(name="inline", vendor="user", peak_bf16_tflops=h["peak_bf16_tflops"],
                      peak_fp8_tflops=h["peak_fp8_tflops"], hbm_gb=h["hbm_gb"], hbm_tbps=1.0, scaleup_gbps=None,
                      scaleup_domain=h["scaleup_domain"] or 8, tdp_w=h["tdp_w"], year=0,
                      source=f"defined in {file.label}")
    return hw, utilization_from_args(SimpleNamespace(mfu=h["mfu"], goodput=h["goodput"]), hw)


def _space(s: dict, layers: tuple[int, int], file: _File) -> SearchSpace:
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
        key = {"layers": "constraints.layers", "search space": "space.kv_heads",
               "search space size": "space"}.get(exc.input_name)
        file.remap(key or (f"space.{exc.input_name}" if exc.input_name in s else "space"), exc)
    axes = space.axis_values()
    bound = math.prod(len(v) for v in axes.values())
    if bound > MAX_LATTICE_BOUND:
        file.fail("space", f"must span at most {MAX_LATTICE_BOUND:,} points (layers × heads × FFN ratios × the "
                  "choices); narrow a range or raise a step", f"{bound:,}")
    return space


_CONSTRAINT_FLAGS = {"--params": "params_b", "min tokens": "min_tokens_t", "--max-tokens": "max_tokens_t",
                     "--min-mmlu": "min_mmlu", "--serve-hbm-gb": "serve_hbm_gb", "--headroom": "headroom"}


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file (raises ``InputError`` naming the file and the key)."""
    doc, digest = _read(path)
    file = _File(str(path))
    top = _section(doc, TOP, "", file)
    if not NAME_PATTERN.match(top["name"]):
        file.fail("name", _rule(TOP.fields[0]), top["name"])
    if "budget" not in doc:
        file.fail("budget", "is required (a [budget] table)", "missing")
    # Absent optional sections take their defaults; [hardware] stays absent (FLOPs budgets only).
    sec = {name: _section(doc.get(name, {}), s, name, file) for name, s in _TOP_SECTIONS.items()
           if name in doc or name != "hardware"}
    sec.setdefault("hardware", None)

    entries, review = _budget_entries(sec["budget"], file)
    h = sec["hardware"] or {"gpus": None, "precision": "bf16", "price_usd_per_gpu_hour": None}
    hardware, utilization = _hardware(sec["hardware"], file)

    c = sec["constraints"]
    try:
        constraints = Constraints(params_b=c["params_b"], min_tokens_t=c["min_tokens_t"],
                                  max_tokens_t=c["max_tokens_t"], min_mmlu=c["min_mmlu"],
                                  serve_hbm_gb=c["serve_hbm_gb"], serve_context=c["serve_context"],
                                  serve_batch=c["serve_batch"], headroom=c["headroom"])
    except InputError as exc:
        file.remap("constraints." + _CONSTRAINT_FLAGS.get(exc.input_name, "params_b"), exc)
    space = _space(sec["space"], c["layers"], file)

    law = sec["law"]
    if law["coefficients"] == "paper":
        coefficients = PAPER
    else:
        try:
            coefficients = load_coefficients(Path(path).parent / law["coefficients"])
        except InputError as exc:
            file.fail("law.coefficients", "must be \"paper\" or a coefficient file relative to the scenario file "
                      f"({exc.input_name.removeprefix('--law ')}: {exc.rule})", law["coefficients"])

    budgets, labels = [], []
    for key, kind, value, label in entries:
        if kind != "flops" and hardware is None:
            file.fail(key, "needs a [hardware] section (a catalog name or inline hardware) to convert to FLOPs",
                      value)
        if kind == "days" and h["gpus"] is None:
            file.fail(key, "needs hardware.gpus", value)
        if kind == "usd" and h["price_usd_per_gpu_hour"] is None:
            file.fail(key, "needs hardware.price_usd_per_gpu_hour", value)
        try:
            budget = Budget(kind, value, hardware, utilization, h["gpus"], h["price_usd_per_gpu_hour"],
                            h["precision"])
        except InputError as exc:
            file.remap("hardware.precision" if exc.input_name == "precision" else key, exc)
        low, high = _BUDGET_LIMITS["flops"][:2]
        if not low <= budget.flops() <= high:  # the limits of perflaw.optimizer.search.problem.Problem
            file.fail(key, f"must convert to between {_fmt(low)} and {_fmt(high)} FLOPs "
                      f"(it converts to {budget.flops():.3g})", value)
        budgets.append(budget)
        labels.append(label or f"{budget.flops():.3g} FLOPs")

    report = sec["report"]
    if report["reference_models"]:
        from perflaw.law.zoo import load_zoo
        names = set(load_zoo()["name"])
        for m in report["reference_models"]:
            if m not in names:
                close = difflib.get_close_matches(m, sorted(names), n=3, cutoff=0.5)
                file.fail("report.reference_models", "must name models of the zoo (law/data/models.csv)"
                          + (f"; closest: {', '.join(close)}" if close else ""), m)

    search = sec["search"]
    return Scenario(
        name=top["name"], description=top["description"], path=Path(path), digest=digest, budgets=tuple(budgets),
        labels=tuple(labels), review=review, hardware=hardware, gpus=h["gpus"], utilization=utilization,
        space=space, constraints=constraints, coefficients=coefficients, gamma=law["gamma"], seq_len=law["seq_len"],
        flops_rule=law["flops_rule"], strategy=search["strategy"], trials=search["trials"], seed=search["seed"],
        fronts=report["fronts"], target_mmlu=report["target_mmlu"], reference_models=report["reference_models"],
        top=report["top"],
    )


# --- documentation -----------------------------------------------------------------------------

def _default_text(f: Field) -> str:
    if f.default_doc is not None:
        return f.default_doc
    d = f.default
    if d is REQUIRED:
        return "required"
    if d is None:
        return "absent"
    if isinstance(d, bool):
        return str(d).lower()
    if isinstance(d, str):
        return f'"{d}"'
    if isinstance(d, tuple):
        return "[" + ", ".join(f'"{e}"' if isinstance(e, str) else _fmt(e) for e in d) + "]"
    return _fmt(d) if not isinstance(d, float) or d.is_integer() else f"{d:g}"


def schema_markdown() -> str:
    """The field-by-field schema of scenario files as Markdown, generated from the validation tables."""
    out = []
    for s in SECTIONS:
        title = "top level" if not s.name else (f"[[{s.name}]]" if s.array else f"[{s.name}]")
        need = "required" if s.required else "one per budget of a review" if s.array else "optional"
        out += [f"#### `{title}` ({need})" if s.name else "#### top level", "", s.doc, "",
                "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for f in s.fields:
            cells = [f"`{f.key}`", KINDS[f.kind], _default_text(f), allowed(f), f.doc]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
