"""The scenario schema: one declarative table per section, the rule text, and checking values against it.

Each key of a section has a kind, a default, a range or choices and a meaning (units in the key
or the doc), in the spirit of scikit-learn's ``_param_validation``. The loader, the Python API
and the documentation (``perflaw.optimizer.scenario.docs``) all read these tables. Every mistake
raises ``InputError`` named by the ``Source`` of the values (a file and a dotted key, or an API
keyword) with the rule and the value received; nothing is repaired.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

from perflaw.law.errors import InputError
from perflaw.law.rules import Range, fmt_number, is_number, is_whole
from perflaw.optimizer.cost.budget import BUDGET_KINDS, LIMITS as BUDGET_LIMITS
from perflaw.law.architecture import FLOPS_RULES, SEQ_LEN
from perflaw.law.predict import GAMMA, PARAMS_B, TOKENS_T
from perflaw.optimizer.cost.hardware import (GPUS, HBM_GB, PEAK_TFLOPS, PRECISIONS, PRICE_USD_PER_GPU_HOUR,
                                             SCALEUP_DOMAIN, TDP_W, UTILIZATION)
from perflaw.optimizer.search.fronts import TARGET_MMLU
from perflaw.optimizer.search.flatness import TOLERANCE
from perflaw.optimizer.search.problem import (HEADROOM, MMLU, OBJECTIVES, SERVE_BATCH, SERVE_CONTEXT, TRUST,
                                              Constraints)
from perflaw.optimizer.search.space import (EXPERT_CHOICE, FFN_MULTIPLE, FFN_RATIO, HEAD_DIM, HEADS, LAYERS, VOCAB,
                                            SearchSpace)
from perflaw.optimizer.search.strategies import SEED, STRATEGIES, TRIALS
from perflaw.optimizer.search.strategies import TOP as TOP_PLANS

REQUIRED = object()  # marks a key without a default
_C, _S = Constraints(), SearchSpace()  # defaults come from the library's own dataclasses


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

    @classmethod
    def bounded(cls, key: str, kind: str, doc: str, default: object, allowed: Range, **rest) -> "Field":
        """A field whose bounds are a library ``Range`` (the limit is written once, where it is enforced)."""
        return cls(key, kind, doc, default, allowed.low, allowed.high, allowed.open_low, allowed.open_high, **rest)

    @property
    def range(self) -> Range | None:
        return None if self.low is None else Range(self.low, self.high, self.open_low, self.open_high)


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

_BUDGET_DOCS = {
    "flops": "training FLOPs",
    "gpu_hours": "GPU-hours on the hardware (converted with peak × MFU × goodput)",
    "usd": "US dollars at hardware.price_usd_per_gpu_hour",
    "days": "wall-clock days on hardware.gpus GPUs",
}


def _budget_field(kind: str) -> Field:
    return Field.bounded(kind, "number", _BUDGET_DOCS[kind], None, BUDGET_LIMITS[kind])


TOP = Section("", "The two required strings; every other top-level key is a section below.", (
    Field("name", "string", "scenario name; names the report folder reports/<name>/",
          rule="must be 1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit"),
    Field("description", "string", "one or two sentences: the question the scenario answers", length=(1, 2000)),
), required=True)

BUDGET = Section("budget", "Exactly one of `flops`, `gpu_hours`, `usd`, `days`, `sweep`, `review`. `days` needs "
                 "`hardware.gpus`; `usd` needs `hardware.price_usd_per_gpu_hour`; anything but FLOPs needs a "
                 "`[hardware]` section.", (
    *(_budget_field(k) for k in BUDGET_KINDS),
    Field.bounded("sweep", "number list", "a budget sweep: training FLOPs, strictly increasing, one plan each", None,
                  BUDGET_LIMITS["flops"], length=(2, 24)),
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
    Field.bounded("peak_bf16_tflops", "number", "inline: dense BF16 peak, TFLOP/s per GPU", None, PEAK_TFLOPS),
    Field.bounded("peak_fp8_tflops", "number", "inline: dense FP8 peak, TFLOP/s per GPU", None, PEAK_TFLOPS),
    Field.bounded("hbm_gb", "number", "inline: memory per GPU, GB (1e9 bytes)", None, HBM_GB),
    Field.bounded("tdp_w", "number", "inline: board power, watts", None, TDP_W),
    Field.bounded("scaleup_domain", "integer", "inline: GPUs per NVLink (scale-up) domain", None, SCALEUP_DOMAIN,
                  default_doc="8"),
    Field.bounded("gpus", "integer", "number of GPUs of the run", None, GPUS),
    Field.bounded("mfu", "number", "steady-state model FLOPs utilization, a fraction (required with precision "
                  "fp8: the published runs were measured against BF16 peaks)", None, UTILIZATION,
                  default_doc="with gpus: the step-time model's, for the best plan's fastest layout; "
                              "else the family's published run"),
    Field.bounded("goodput", "number", "share of GPU-hours in steady-state training, a fraction", None,
                  UTILIZATION, default_doc="the family's published run"),
    Field("precision", "string", "tensor precision of the peak", "bf16", choices=PRECISIONS),
    Field.bounded("price_usd_per_gpu_hour", "number", "US dollars per GPU-hour (required for `usd` budgets)",
                  None, PRICE_USD_PER_GPU_HOUR),
))

CONSTRAINTS = Section("constraints", "Limits every plan must respect (the defaults of `perflaw optimize`).", (
    Field.bounded("params_b", "number pair", "total parameters, billions, [low, high]", _C.params_b, PARAMS_B),
    Field.bounded("layers", "integer pair", "layers, [low, high] inclusive (the search space's depth axis)",
                  _S.layers, LAYERS),
    Field.bounded("min_tokens_t", "number", "a plan trains on at least this many tokens, trillions",
                  _C.min_tokens_t, TOKENS_T),
    Field.bounded("max_tokens_t", "number", "training tokens at most, trillions (a hard data limit: no plan "
                  "trains on more)", _C.max_tokens_t, TOKENS_T),
    Field.bounded("unique_tokens_t", "number", "unique tokens the data has, trillions: plans may train on more, "
                  "repeating it, and the law counts repeated tokens at their worth (Muennighoff et al. 2023)",
                  _C.unique_tokens_t, TOKENS_T),
    Field.bounded("min_mmlu", "number", "drop plans predicted below this MMLU, points", _C.min_mmlu, MMLU),
    Field.bounded("serve_hbm_gb", "number", "weights + KV cache must fit one GPU of this size, GB",
                  _C.serve_hbm_gb, HBM_GB),
    Field.bounded("serve_context", "integer", "context length when serving, tokens", _C.serve_context,
                  SERVE_CONTEXT),
    Field.bounded("serve_batch", "integer", "sequences served at once", _C.serve_batch, SERVE_BATCH),
    Field.bounded("headroom", "number", "share of HBM kept free, training and serving", _C.headroom, HEADROOM),
))

SPACE = Section("space", "The architecture lattice: hidden = heads × head_dim; FFN = ffn_ratio × hidden rounded "
                "to a multiple of ffn_multiple. MoE when `experts`, `active_experts` and `expert_ffn` are given "
                "(every layer is then an MoE layer).", (
    Field.bounded("heads", "integer pair", "attention heads, [low, high]", _S.heads, HEADS),
    Field.bounded("heads_step", "integer", "step of heads", _S.heads_step, HEADS),
    Field.bounded("head_dim", "integer", "per-head width", _S.head_dim, HEAD_DIM),
    Field.bounded("ffn_ratio", "number pair", "FFN size / hidden, [low, high]", _S.ffn_ratio, FFN_RATIO),
    Field.bounded("ffn_ratio_step", "number", "step of ffn_ratio", _S.ffn_ratio_step, FFN_RATIO),
    Field.bounded("ffn_multiple", "integer", "FFN size rounded to a multiple of this", _S.ffn_multiple, FFN_MULTIPLE),
    Field.bounded("kv_heads", "integer list", "KV-head choices (each must divide some heads value)", _S.kv_heads,
                  HEADS, length=(1, 64)),
    Field.bounded("vocab", "integer", "vocabulary size, tokens", _S.vocab, VOCAB),
    Field("tied_embeddings", "boolean", "input and output embeddings share weights", _S.tied_embeddings),
    Field("experts", "integer list", "MoE: routed-expert choices", None, 1, EXPERT_CHOICE.high, length=(1, 64)),
    Field("active_experts", "integer list", "MoE: routed experts per token (top-k) choices", None, 1,
          EXPERT_CHOICE.high, length=(1, 64)),
    Field.bounded("shared_experts", "integer list", "MoE: shared-expert choices", None, EXPERT_CHOICE,
                  length=(1, 64), default_doc="[0] with MoE"),
    Field("expert_ffn", "integer list", "MoE: FFN size of one expert, choices", None, 1, EXPERT_CHOICE.high,
          length=(1, 64)),
))

SEARCH = Section("search", "How the lattice is searched.", (
    Field("strategy", "string", "exact enumeration (the reference), Optuna TPE or scipy differential evolution",
          "exact", choices=STRATEGIES),
    Field.bounded("trials", "integer", "evaluations for optuna / scipy", None, TRIALS, default_doc="1000 / 10000"),
    Field.bounded("seed", "integer", "random seed for optuna and scipy", 0, SEED),
    Field("trust", "string", "data: recommend only plans inside the law's domain (shapes, data and compute of "
          "published models of comparable size), and show the law's own optimum beside; law: search the raw law",
          "data", choices=TRUST),
    Field("objective", "string", "mean: maximise the predicted MMLU; lower: maximise the low end of its interval "
          "(a risk-averse plan, which prefers plans near the data)", "mean", choices=OBJECTIVES),
))

LAW = Section("law", "The Performance Law and how FLOPs are counted.", (
    Field("coefficients", "string", "\"paper\", or a coefficient file (`perflaw fit --out`) relative to the "
          "scenario file", "paper", length=(1, 1024)),
    Field.bounded("gamma", "number", "precision loss of the training stack, >= 1", 1.0, GAMMA),
    Field.bounded("seq_len", "integer", "training sequence length for the attention FLOPs, tokens", 4096, SEQ_LEN),
    Field("flops_rule", "string", "training FLOPs per token rule", "attention", choices=FLOPS_RULES),
    Field("vintage", "string", "month YYYY-MM whose data quality the run's data matches, for a law with a "
          "data-vintage term (`perflaw fit --form paper+vintage`); default: the newest release in the law's fit "
          "table; the paper's law ignores it", None, length=(7, 10)),
))

REPORT = Section("report", "What the report shows beyond the best plans.", (
    Field("fronts", "string list", "Pareto fronts: MMLU against training FLOPs (budget sweep) or against "
          "activated parameters", (), choices=("budget", "inference"), length=(0, 2), unique=True),
    Field.bounded("target_mmlu", "number", "also find the cheapest plan reaching this MMLU, points", None,
                  TARGET_MMLU),
    Field("reference_models", "string list", "zoo models (law/data/models.csv `name`) drawn on the plots", (),
          length=(0, 50), unique=True),
    Field.bounded("top", "integer", "plans listed per budget", 10, TOP_PLANS),
    Field.bounded("tolerance", "number", "near-optimal plans: within this many points of the best", 0.5, TOLERANCE),
))

SECTIONS = (TOP, BUDGET, REVIEW, HARDWARE, CONSTRAINTS, SPACE, SEARCH, LAW, REPORT)
DOTTED_KEYS = {f"{s.name}.{f.key}" for s in SECTIONS if s.name for f in s.fields}
FIELD_KEYS: dict[str, str] = {}  # library field -> the dotted key of a file that sets it
for _s in SECTIONS:
    for _f in _s.fields:
        if _s.name and not _s.array:
            FIELD_KEYS.setdefault(_f.key, f"{_s.name}.{_f.key}")
TOP_SECTIONS = {s.name: s for s in SECTIONS if s.name and "." not in s.name}


# --- rules as text (error messages and documentation share them) -------------------------------

def _element(f: Field, plural: bool = False) -> str:
    base = f.kind.split()[0]
    noun = {"integer": "whole number", "number": "number", "string": "string"}[base]
    noun += "s" if plural else ""
    if f.low is not None:
        return f"{noun} in {f.range.text()}"
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
        return f"a string of {f.length[0]} to {fmt_number(f.length[1])} characters" if f.length else "a string"
    if f.kind in ("integer", "number"):
        return "a " + _element(f)
    if f.kind.endswith("pair"):
        return f"[low, high] with low <= high, both {_element(f, True)}"
    lo, hi = f.length or (1, 1000)
    count = f"{lo} to {hi}" if lo else f"at most {hi}"
    return f"a list of {count} {'distinct ' if f.unique else ''}{_element(f, True)}"


def rule(f: Field) -> str:
    return f.rule or "must be " + allowed(f)


# --- checking ----------------------------------------------------------------------------------

class Source:
    """Where values come from, and so how a mistake names them: ``"<file> <dotted.key>"`` for a
    scenario file, the keyword alone for the Python API (``keywords=True``)."""

    def __init__(self, label: str, keywords: bool = False) -> None:
        self.label = label
        self.keywords = keywords

    def name(self, key: str) -> str:
        if self.keywords:
            return API_KEYWORDS.get(key, key.rsplit(".", 1)[-1]) if key else self.label
        return f"{self.label} {key}" if key else self.label

    def words(self, text: str) -> str:
        """A library sentence in this source's terms: each field it names in backticks (`params_b`)
        becomes the key a file uses (constraints.params_b) or, for the API, the keyword."""
        def field(m):
            key = FIELD_KEYS.get(m.group(1))
            return m.group(1) if key is None or self.keywords else key
        text = _MARKED.sub(field, text)
        if self.keywords:  # dotted keys named in the text become keywords too
            text = _DOTTED.sub(lambda m: self.name(m.group(0)) if m.group(0) in DOTTED_KEYS else m.group(0), text)
        return text

    def fail(self, key: str, rule: str, value: object):
        raise InputError(self.name(key), self.words(rule), value)

    def remap(self, key: str, exc: InputError):
        """Re-raise a library error (named after a field) under this source's name for ``key``."""
        self.fail(key, exc.rule, exc.value)


_MARKED = re.compile(r"`([a-z][a-z0-9_]*)`")
_DOTTED = re.compile(r"\b(?:budget|hardware|constraints|space|search|law|report)\.[a-z0-9_]+\b")
#: Dotted keys whose Python API keyword is not their last component.
API_KEYWORDS = {"hardware.name": "hardware"}


def _in_range(f: Field, v) -> bool:
    return f.range is None or v in f.range


def _scalar_ok(f: Field, kind: str, v) -> bool:
    if kind == "integer":
        return is_whole(v) and _in_range(f, v)
    if kind == "number":
        return is_number(v) and _in_range(f, v)
    if kind == "string":
        return isinstance(v, str) and (not f.choices or v in f.choices)
    return False


def check_value(f: Field, v, key: str, file: Source):
    """The validated value of one key (numbers as float, lists as tuples)."""
    bad = lambda: file.fail(key, rule(f), v)  # noqa: E731
    if f.kind == "boolean":
        return v if isinstance(v, bool) else bad()
    if f.kind == "string":
        if not isinstance(v, str) or (f.choices and v not in f.choices) or \
                (f.length and not (len(v.strip()) >= f.length[0] and len(v) <= f.length[1])):
            bad()
        if any(unicodedata.category(ch) == "Cc" for ch in v):  # a tab, newline or escape in a label or path
            file.fail(key, "must not contain control characters (tabs, newlines, escapes)", v)
        return v
    if f.kind in ("integer", "number"):
        if not _scalar_ok(f, f.kind, v):
            bad()
        return float(v) if f.kind == "number" else int(v)
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
    return tuple(float(e) if elem == "number" else int(e) if elem == "integer" else e for e in v)


def check_section(table, section: Section, key: str, file: Source) -> dict:
    """Check a table against ``section``: unknown keys, required keys, each value."""
    if not isinstance(table, dict):
        file.fail(key, "must be a table" + (f" [{section.name}]" if section.name else ""), table)
    known = [f.key for f in section.fields] + (list(TOP_SECTIONS) if section is TOP else [])
    for k in table:
        if k not in known:
            close = difflib.get_close_matches(k, known, n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(known)}"
            file.fail(f"{key}.{k}" if key else k, f"is not a known key ({hint})", table[k])
    out = {}
    for f in section.fields:
        dotted = f"{key}.{f.key}" if key else f.key
        if f.key in table:
            out[f.key] = check_value(f, table[f.key], dotted, file)
        elif f.default is REQUIRED:
            file.fail(dotted, "is required (" + rule(f) + ")", "missing")
        else:
            out[f.key] = f.default
    return out
