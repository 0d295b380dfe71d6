"""The reference zoo: load and validate a table of models with architecture, tokens and MMLU.

The shipped table is ``law/data/models.csv`` (one source per row; see models_era.md).
Any table with the same columns can be loaded, for example to refit the law on other models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from perflaw.law.errors import InputError
from perflaw.law.repetition import repeated_tokens
from perflaw.law.rules import month_index

#: The columns every zoo table must have, in the shipped order.
COLUMNS = (
    "name", "organization", "release", "arch", "layers", "hidden", "ffn", "ffn_kind", "heads", "kv_heads",
    "vocab", "tied_embeddings", "experts", "active_experts", "shared_experts", "expert_ffn", "dense_layers",
    "params_b", "active_params_b", "tokens_t", "seq_len", "precision", "mmlu", "mmlu_source",
    "tokens_source", "notes", "head_dim", "unique_tokens_t",
)
#: Columns a table may leave out (older tables): read as empty. ``unique_tokens_t``: the unique
#: tokens a run repeated, trillions, where its developer states them (law.repetition).
OPTIONAL_COLUMNS = ("head_dim", "unique_tokens_t")
ARCH_KINDS = ("dense", "moe")
FFN_KINDS = ("swiglu", "geglu", "gelu", "relu", "silu")

# column -> (kind, required, minimum, maximum); kinds: int, float, str, bool
_RULES: dict[str, tuple[str, bool, float, float]] = {
    "layers": ("int", True, 1, 4096),
    "hidden": ("int", True, 1, 1 << 20),
    "ffn": ("int", False, 1, 1 << 22),
    "heads": ("int", False, 1, 65536),
    "kv_heads": ("int", False, 1, 65536),
    "vocab": ("int", False, 1, 1 << 24),
    "experts": ("int", False, 1, 1 << 16),
    "active_experts": ("int", False, 1, 1 << 16),
    "shared_experts": ("int", False, 0, 1 << 16),
    "expert_ffn": ("int", False, 1, 1 << 22),
    "dense_layers": ("int", False, 0, 4096),
    "seq_len": ("int", False, 1, 1 << 24),
    "head_dim": ("int", False, 1, 1 << 16),
    "params_b": ("float", True, 1e-6, 1e5),
    "active_params_b": ("float", False, 1e-6, 1e5),
    "tokens_t": ("float", False, 1e-6, 1e4),
    "unique_tokens_t": ("float", False, 1e-6, 1e4),
    "mmlu": ("float", False, 0.0, 100.0),
}


def zoo_path() -> Path:
    """Path of the shipped reference table."""
    return Path(str(resources.files("perflaw.law") / "data" / "models.csv"))


def load_zoo(path: str | Path | None = None) -> pd.DataFrame:
    """Load and validate a model table; the shipped zoo when ``path`` is None.

    Returns a DataFrame with the columns of ``COLUMNS`` plus ``complete`` (tokens and MMLU both
    known, so the row can be fitted and validated). Integer columns use pandas' nullable
    ``Int64``; ``tied_embeddings`` is a nullable boolean. A malformed table raises ``InputError``
    naming the file, the row (1-based data row, as a spreadsheet shows it after the header) and
    the column.
    """
    if path is None:  # the shipped table is read and checked once per process; callers get a copy
        return _shipped().copy()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _shipped() -> pd.DataFrame:
    return _load(zoo_path())


def _load(p: Path) -> pd.DataFrame:
    label = str(p)
    if not p.is_file():
        raise InputError(label, "file must exist", str(p))
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(label, "must be UTF-8 text", f"invalid byte at offset {exc.start}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(label, "must be a CSV table", " ".join(str(exc).split())) from None
    for col in OPTIONAL_COLUMNS:
        if col not in raw.columns:
            raw[col] = ""
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(label, "missing column", missing[0])
    if raw.empty:
        raise InputError(label, "must have at least one row", 0)
    table = pd.DataFrame({"name": raw["name"].str.strip()})
    for col in COLUMNS[1:]:
        if col in _RULES:
            table[col] = _numeric_column(raw[col], col, label)
        elif col == "tied_embeddings":
            table[col] = _bool_column(raw[col], label)
        else:
            table[col] = raw[col].str.strip()
    _check_rows(table, label)
    table["complete"] = table["tokens_t"].notna() & table["mmlu"].notna()
    return table[list(COLUMNS) + ["complete"]]


def _where(label: str, row: int, col: str) -> str:
    return f"{label} row {row + 1} column {col}"


def _numeric_column(values: pd.Series, col: str, label: str) -> pd.Series:
    kind, _, low, high = _RULES[col]
    out = []
    for i, text in enumerate(values.str.strip()):
        if text in ("", "—", "-"):
            out.append(None)
            continue
        try:
            value = float(text)
        except ValueError:
            raise InputError(_where(label, i, col), "must be a number", text) from None
        if not math.isfinite(value):
            raise InputError(_where(label, i, col), "must be finite", text)
        if kind == "int" and not value.is_integer():
            raise InputError(_where(label, i, col), "must be a whole number", text)
        if not low <= value <= high:
            raise InputError(_where(label, i, col), f"must be between {low:g} and {high:g}", text)
        out.append(int(value) if kind == "int" else value)
    return pd.Series(out, dtype="Int64" if kind == "int" else "Float64", index=values.index)


def _bool_column(values: pd.Series, label: str) -> pd.Series:
    mapping = {"true": True, "false": False, "": None}
    out = []
    for i, text in enumerate(values.str.strip().str.lower()):
        if text not in mapping:
            raise InputError(_where(label, i, "tied_embeddings"), "must be true, false or empty", text)
        out.append(mapping[text])
    return pd.Series(out, dtype="boolean", index=values.index)


def _check_rows(t: pd.DataFrame, label: str) -> None:
    for i, row in t.iterrows():
        i = int(i)
        if not row["name"]:
            raise InputError(_where(label, i, "name"), "must not be empty", "")
        for col, (_, required, _, _) in _RULES.items():
            if required and pd.isna(row[col]):
                raise InputError(_where(label, i, col), "is required", "empty")
        if row["arch"] not in ARCH_KINDS:
            raise InputError(_where(label, i, "arch"), f"must be one of {', '.join(ARCH_KINDS)}", row["arch"])
        if row["ffn_kind"] and row["ffn_kind"] not in FFN_KINDS:
            raise InputError(_where(label, i, "ffn_kind"), f"must be one of {', '.join(FFN_KINDS)}", row["ffn_kind"])
        if row["arch"] == "dense":
            if pd.isna(row["ffn"]):
                raise InputError(_where(label, i, "ffn"), "is required for a dense model", "empty")
        else:
            for col in ("experts", "active_experts", "expert_ffn", "active_params_b"):
                if pd.isna(row[col]):
                    raise InputError(_where(label, i, col), "is required for a moe model", "empty")
            if row["active_experts"] > row["experts"]:
                raise InputError(_where(label, i, "active_experts"), f"must not exceed experts ({row['experts']})",
                                 row["active_experts"])
            if row["active_params_b"] > row["params_b"]:
                raise InputError(_where(label, i, "active_params_b"),
                                 f"must not exceed params_b ({row['params_b']})", row["active_params_b"])
    dup = t["name"][t["name"].duplicated()]
    if not dup.empty:
        raise InputError(_where(label, int(dup.index[0]), "name"), "must be unique", dup.iloc[0])


@dataclass(frozen=True)
class LawInputs:
    """Law inputs of a set of models, as float arrays of equal length."""

    layers: np.ndarray
    hidden: np.ndarray
    ffn: np.ndarray  # FFN width a token passes through (MoE: (top-k + shared) × expert_ffn)
    tokens_t: np.ndarray
    total_b: np.ndarray
    active_b: np.ndarray
    is_moe: np.ndarray  # bool
    month: np.ndarray | None = None  # release month index (law.rules.month_index); None when unknown
    unique_tokens_t: np.ndarray | None = None  # unique tokens repeated, trillions (inf: not repeated / unknown)

    @property
    def law_tokens_t(self) -> np.ndarray:
        """The tokens the law's token term sees: repeated data at its worth (law.repetition)."""
        return self.tokens_t if self.unique_tokens_t is None else repeated_tokens(self.tokens_t, self.unique_tokens_t)

    def __len__(self) -> int:
        return len(self.layers)

    def subset(self, mask) -> "LawInputs":
        return LawInputs(*(None if getattr(self, f) is None else getattr(self, f)[mask]
                           for f in self.__dataclass_fields__))


def law_inputs(table: pd.DataFrame) -> LawInputs:
    """Law inputs of a validated table's rows (run ``load_zoo`` first; rows need tokens_t).

    Parameter counts are the reported ``params_b`` / ``active_params_b`` (the developers'
    figures). For MoE rows the FFN width is the activated one.
    """
    moe = (table["arch"] == "moe").to_numpy()
    shared = table["shared_experts"].fillna(0).to_numpy(dtype=float)
    active_ffn = (table["active_experts"].fillna(0).to_numpy(dtype=float) + shared) * \
        table["expert_ffn"].fillna(0).to_numpy(dtype=float)
    ffn = np.where(moe, active_ffn, table["ffn"].fillna(0).to_numpy(dtype=float))
    total = table["params_b"].to_numpy(dtype=float)
    active = np.where(moe, table["active_params_b"].fillna(0).to_numpy(dtype=float), total)
    return LawInputs(
        layers=table["layers"].to_numpy(dtype=float), hidden=table["hidden"].to_numpy(dtype=float), ffn=ffn,
        tokens_t=table["tokens_t"].to_numpy(dtype=float, na_value=np.nan), total_b=total, active_b=active,
        is_moe=moe, month=_months(table),
        unique_tokens_t=table["unique_tokens_t"].to_numpy(dtype=float, na_value=np.inf)
        if "unique_tokens_t" in table else None,
    )


def _months(table: pd.DataFrame) -> np.ndarray | None:
    if "release" not in table or (table["release"].fillna("").astype(str).str.strip() == "").any():
        return None  # a table without every release month fits, but has no vintage term or forecasts
    return release_months(table)


def release_months(table: pd.DataFrame) -> np.ndarray:
    """Each row's release month index (law.rules.month_index); a missing or malformed month names its row."""
    return np.array([month_index(v, f"release of {n}") for v, n in zip(table["release"], table["name"])], dtype=float)
