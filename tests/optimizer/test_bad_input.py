"""Bad input to the command line: one table of cases, each a user's mistake.

Contract (DESIGN.md section 3): exit status 2, one line on stderr starting with ``error: `` that
names the input (the flag, the file or the column), no traceback, nothing on stdout.
Every case must hold; a case that breaks the contract is a bug to fix, not to mark.
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from perflaw.law.zoo import zoo_path
from perflaw.optimizer.cli.main import main

HF_CONFIGS = Path(__file__).resolve().parents[1] / "law" / "hf_configs"

DENSE = ["--layers", "32", "--hidden", "4096", "--ffn", "14336"]  # Llama-3-8B-like shape
TOKENS = ["--tokens", "15T"]
PREDICT = ["predict", *DENSE, *TOKENS]
MOE = ["--layers", "32", "--hidden", "4096", "--kv-heads", "8"]  # Mixtral-like trunk, no expert flags yet


# ------------------------------------------------------------------------------------ bad files
def _write_bytes(tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    return str(path)


def _write_json(tmp: Path, name: str, obj) -> str:
    path = tmp / name
    path.write_text(json.dumps(obj), encoding="utf-8")  # NaN stays a JSON NaN literal (Python's default)
    return str(path)


_DROP = object()  # marks a key to remove in _llama_config


def _llama_config(**changes) -> dict:
    config = json.loads((HF_CONFIGS / "llama-3-8b.json").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is _DROP:
            config.pop(key)
        else:
            config[key] = value
    return config


def _law_file(**changes) -> dict:
    data = {"format": "perflaw-law/1", "w1": 13.95018192, "w2": 0.23072027, "w3": -0.48523402, "w4": 5.39801689,
            "b": 9.195410648934768, "w5": 0.0, "moe_variant": "expansion"}
    data.update(changes)
    return data


def _zoo_rows() -> tuple[list[str], list[dict]]:
    with open(zoo_path(), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def _zoo_copy(tmp: Path, name: str, mutate) -> str:
    """The shipped zoo, corrupted by ``mutate(fieldnames, rows)`` (which may return new ones)."""
    fields, rows = _zoo_rows()
    fields, rows = copy.deepcopy(fields), copy.deepcopy(rows)
    result = mutate(fields, rows)
    if result is not None:
        fields, rows = result
    path = tmp / name
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def _drop_column(column):
    def mutate(fields, rows):
        return [f for f in fields if f != column], rows
    return mutate


def _set_cell(row, column, value):
    def mutate(fields, rows):
        rows[row][column] = value
    return mutate


def _duplicate_name(fields, rows):
    rows[4]["name"] = rows[1]["name"]


def _keep_rows(n):
    def mutate(fields, rows):
        del rows[n:]
    return mutate


NOT_UTF8 = b'{"model_type": "llama", "name": "caf\xe9 \xff\xfe"}\n'


# ------------------------------------------------------------------------------------ the table
# Each case: id, argv(tmp_path) -> list[str], substrings the error line must contain ("{tmp}" stands for
# tmp_path), marks.
CASES = [
    # --- predict: sizes ---------------------------------------------------------------------
    ("layers-zero", lambda t: ["predict", "--layers", "0", "--hidden", "4096", "--ffn", "14336", *TOKENS],
     ["--layers", "'0'"], ()),
    ("layers-negative", lambda t: ["predict", "--layers", "-3", "--hidden", "4096", "--ffn", "14336", *TOKENS],
     ["--layers", "-3"], ()),
    ("hidden-nan", lambda t: ["predict", "--layers", "32", "--hidden", "nan", "--ffn", "14336", *TOKENS],
     ["--hidden", "nan"], ()),
    ("hidden-inf", lambda t: ["predict", "--layers", "32", "--hidden", "inf", "--ffn", "14336", *TOKENS],
     ["--hidden", "inf"], ()),
    ("layers-absurd", lambda t: ["predict", "--layers", "1e9", "--hidden", "4096", "--ffn", "14336", *TOKENS],
     ["--layers", "4096"], ()),
    ("ffn-fraction", lambda t: ["predict", "--layers", "32", "--hidden", "4096", "--ffn", "1.5", *TOKENS],
     ["--ffn", "whole number", "1.5"], ()),
    ("vocab-zero", lambda t: [*PREDICT, "--vocab", "0"], ["--vocab"], ()),
    ("hidden-not-divisible-by-heads", lambda t: [*PREDICT, "--heads", "3"], ["--hidden", "heads 3"], ()),
    ("hidden-not-divisible-by-head-dim", lambda t: ["predict", "--layers", "32", "--hidden", "4100", "--ffn", "14336",
                                                    *TOKENS], ["--hidden", "4100"], ()),
    ("kv-heads-not-dividing-heads", lambda t: [*PREDICT, "--heads", "32", "--kv-heads", "5"], ["--kv-heads", "5"], ()),
    ("ffn-kind-unknown", lambda t: [*PREDICT, "--ffn-kind", "swish"], ["--ffn-kind", "swish"], ()),
    ("unknown-flag", lambda t: [*PREDICT, "--depth", "32"], ["--depth"], ()),
    # --- predict: quantities ------------------------------------------------------------------
    ("tokens-bad-suffix", lambda t: ["predict", *DENSE, "--tokens", "15X"], ["--tokens", "'15X'"], ()),
    ("tokens-not-a-number", lambda t: ["predict", *DENSE, "--tokens", "abc"], ["--tokens", "'abc'"], ()),
    ("tokens-missing-suffix", lambda t: ["predict", *DENSE, "--tokens", "15"], ["--tokens", "15T"], ()),
    ("tokens-inf", lambda t: ["predict", *DENSE, "--tokens", "inf"], ["--tokens", "inf"], ()),
    ("tokens-absurd", lambda t: ["predict", *DENSE, "--tokens", "1e30"], ["--tokens", "1e30"], ()),
    ("tokens-negative", lambda t: ["predict", *DENSE, "--tokens=-5T"], ["--tokens", "-5T"], ()),
    ("params-missing-suffix", lambda t: [*PREDICT, "--params", "8.03"], ["--params", "8.03B"], ()),
    ("params-zero", lambda t: [*PREDICT, "--params", "0"], ["--params", "positive"], ()),
    ("tokens-missing", lambda t: ["predict", *DENSE], ["--tokens", "required"], ()),
    ("layers-missing", lambda t: ["predict", "--hidden", "4096", "--ffn", "14336", *TOKENS],
     ["--layers", "required"], ()),
    ("ffn-missing", lambda t: ["predict", "--layers", "32", "--hidden", "4096", *TOKENS], ["--ffn", "required"], ()),
    ("gamma-below-one", lambda t: [*PREDICT, "--gamma", "0.5"], ["--gamma", "0.5"],
     ()),
    ("gamma-nan", lambda t: [*PREDICT, "--gamma", "nan"], ["--gamma", "nan"],
     ()),
    ("gamma-not-a-number", lambda t: [*PREDICT, "--gamma", "high"], ["--gamma", "high"], ()),
    ("seq-len-zero", lambda t: [*PREDICT, "--seq-len", "0"], ["--seq-len", "'0'"], ()),
    ("seq-len-not-a-number", lambda t: [*PREDICT, "--seq-len", "long"], ["--seq-len", "long"], ()),
    # --- predict: mixture of experts ----------------------------------------------------------
    ("moe-active-exceeds-experts", lambda t: ["predict", *MOE, "--experts", "2", "--active-experts", "4",
                                              "--expert-ffn", "14336", *TOKENS], ["--active-experts", "4"], ()),
    ("moe-shared-without-experts", lambda t: [*PREDICT, "--shared-experts", "1"], ["--shared-experts"], ()),
    ("moe-dense-layers-not-below-layers", lambda t: ["predict", *MOE, "--ffn", "14336", "--experts", "8",
                                                     "--active-experts", "2", "--expert-ffn", "14336",
                                                     "--dense-layers", "32", *TOKENS], ["--dense-layers", "32"], ()),
    ("moe-expert-ffn-missing", lambda t: ["predict", *MOE, "--experts", "8", "--active-experts", "2", *TOKENS],
     ["--expert-ffn"],
     ()),
    ("active-params-on-dense", lambda t: [*PREDICT, "--active-params", "5B"], ["--active-params", "5B"],
     ()),
    ("active-params-exceed-params", lambda t: ["predict", *MOE, "--experts", "8", "--active-experts", "2",
                                               "--expert-ffn", "14336", "--params", "10B", "--active-params", "20B",
                                               *TOKENS], ["--active-params", "20B"],
     ()),
    # --- predict: --hf-config -----------------------------------------------------------------
    ("hf-config-missing-file", lambda t: ["predict", *TOKENS, "--hf-config", str(t / "nope" / "config.json")],
     ["--hf-config", str(Path("nope") / "config.json"), "exist"], ()),
    ("hf-config-folder-without-config", lambda t: ["predict", *TOKENS, "--hf-config", str(t)],
     ["--hf-config", "config.json", "exist"], ()),
    ("hf-config-not-utf8", lambda t: ["predict", *TOKENS, "--hf-config", _write_bytes(t, "latin1.json", NOT_UTF8)],
     ["--hf-config", "latin1.json", "UTF-8"], ()),
    ("hf-config-malformed-json", lambda t: ["predict", *TOKENS, "--hf-config",
                                            _write_bytes(t, "broken.json", b'{"model_type": "llama",\n')],
     ["--hf-config", "broken.json", "JSON"], ()),
    ("hf-config-json-list", lambda t: ["predict", *TOKENS, "--hf-config", _write_json(t, "list.json", [1, 2])],
     ["--hf-config", "list.json", "object"], ()),
    ("hf-config-unknown-model-type", lambda t: ["predict", *TOKENS, "--hf-config",
                                                _write_json(t, "unk.json", _llama_config(model_type="bogus_llm"))],
     ["--hf-config", "unk.json", "model_type", "bogus_llm"], ()),
    ("hf-config-missing-hidden-size", lambda t: ["predict", *TOKENS, "--hf-config",
                                                 _write_json(t, "nohid.json", _llama_config(hidden_size=_DROP))],
     ["--hf-config", "nohid.json", "hidden_size"], ()),
    ("hf-config-hidden-size-string", lambda t: ["predict", *TOKENS, "--hf-config",
                                                _write_json(t, "hstr.json", _llama_config(hidden_size="4096"))],
     ["--hf-config", "hstr.json", "hidden_size"], ()),
    ("hf-config-zero-layers", lambda t: ["predict", *TOKENS, "--hf-config",
                                         _write_json(t, "l0.json", _llama_config(num_hidden_layers=0))],
     ["--hf-config", "l0.json", "layers"], ()),
    ("hf-config-with-layers-flag", lambda t: ["predict", *TOKENS, "--hf-config", str(HF_CONFIGS / "llama-3-8b.json"),
                                              "--layers", "32"], ["--layers", "--hf-config"], ()),
    # --- predict / validate: --law ------------------------------------------------------------
    ("law-missing-file", lambda t: [*PREDICT, "--law", str(t / "coef.json")], ["--law", "coef.json", "exist"], ()),
    ("law-malformed-json", lambda t: [*PREDICT, "--law", _write_bytes(t, "coef.json", b'{"format": ')],
     ["--law", "coef.json", "JSON"], ()),
    ("law-not-utf8", lambda t: [*PREDICT, "--law", _write_bytes(t, "coef.json", NOT_UTF8)],
     ["--law", "coef.json", "UTF-8"], ()),
    ("law-not-a-coefficient-file", lambda t: [*PREDICT, "--law",
                                              _write_json(t, "coef.json", {"w1": 1.0, "hello": "world"})],
     ["--law", "coef.json", "perflaw-law/1"], ()),
    ("law-nan-string-value", lambda t: [*PREDICT, "--law", _write_json(t, "coef.json", _law_file(w1="NaN"))],
     ["--law", "coef.json", "w1", "finite"], ()),
    ("law-nan-literal-value", lambda t: [*PREDICT, "--law", _write_json(t, "coef.json", _law_file(w4=float("nan")))],
     ["--law", "coef.json", "w4"], ()),
    ("law-bad-interval", lambda t: [*PREDICT, "--law", _write_json(t, "coef.json", _law_file(interval=[1, 2]))],
     ["--law", "coef.json", "interval"], ()),
    ("law-huge-coefficients-json", lambda t: [*PREDICT, "--json", "--law",
                                              _write_json(t, "coef.json", _law_file(w1=1e308, w3=-1e308))],
     ["--law", "coef.json"],
     (pytest.mark.filterwarnings("ignore::RuntimeWarning"),)),
    ("validate-law-not-a-coefficient-file", lambda t: ["validate", "--law",
                                                       _write_json(t, "coef.json", {"format": "other/1"})],
     ["--law", "coef.json", "other/1"], ()),
    # --- fit / validate: --data ---------------------------------------------------------------
    ("fit-data-missing-file", lambda t: ["fit", "--data", str(t / "models.csv")], ["--data", "models.csv", "exist"],
     ()),
    ("fit-data-is-a-folder", lambda t: ["fit", "--data", str(t)], ["--data", "{tmp}"], ()),
    ("fit-data-empty-file", lambda t: ["fit", "--data", _write_bytes(t, "models.csv", b"")],
     ["--data", "models.csv"], ()),
    ("fit-data-missing-column", lambda t: ["fit", "--data", _zoo_copy(t, "models.csv", _drop_column("tokens_t"))],
     ["--data", "models.csv", "tokens_t"], ()),
    ("fit-data-non-numeric-layers", lambda t: ["fit", "--data",
                                               _zoo_copy(t, "models.csv", _set_cell(2, "layers", "thirty-two"))],
     ["--data", "models.csv", "row 3", "column layers", "thirty-two"], ()),
    ("fit-data-nan-hidden", lambda t: ["fit", "--data", _zoo_copy(t, "models.csv", _set_cell(5, "hidden", "nan"))],
     ["--data", "models.csv", "row 6", "column hidden"], ()),
    ("fit-data-mmlu-out-of-range", lambda t: ["fit", "--data", _zoo_copy(t, "models.csv", _set_cell(0, "mmlu", "101"))],
     ["--data", "models.csv", "row 1", "column mmlu", "101"], ()),
    ("fit-data-duplicate-name", lambda t: ["fit", "--data", _zoo_copy(t, "models.csv", _duplicate_name)],
     ["--data", "models.csv", "row 5", "column name", _zoo_rows()[1][1]["name"]], ()),
    ("fit-data-too-few-rows", lambda t: ["fit", "--data", _zoo_copy(t, "models.csv", _keep_rows(3))],
     ["--data", "models.csv", "8"], ()),
    ("validate-data-not-utf8", lambda t: ["validate", "--data", _write_bytes(t, "models.csv", b"name,arch\n\xff\xfe,x\n")],
     ["--data", "models.csv", "UTF-8"], ()),
    # --- fit: options -------------------------------------------------------------------------
    ("fit-level-above-one", lambda t: ["fit", "--level", "1.5"], ["--level", "1.5"], ()),
    ("fit-level-nan", lambda t: ["fit", "--level", "nan"], ["--level", "nan"], ()),
    ("fit-free-unknown", lambda t: ["fit", "--free", "w9"], ["--free", "w9"],
     ()),
    ("fit-free-w5-with-active-variant", lambda t: ["fit", "--free", "w5", "--variant", "active"], ["--free", "w5"],
     ()),
    ("fit-loss-unknown", lambda t: ["fit", "--loss", "l2"], ["--loss", "l2"], ()),
    ("fit-variant-unknown", lambda t: ["fit", "--variant", "sparse"], ["--variant", "sparse"], ()),
    ("fit-out-folder-missing", lambda t: ["fit", "--out", str(t / "missing" / "coef.json")],
     ["--out", "{tmp}/missing"], ()),
    ("fit-out-is-a-folder", lambda t: ["fit", "--out", str(t)], ["--out", "{tmp}"], ()),
    ("fit-exclude-unknown", lambda t: ["fit", "--exclude", "NoSuchModel 7B"], ["--exclude", "NoSuchModel 7B"], ()),
    ("validate-exclude-unknown", lambda t: ["validate", "--exclude", "NoSuchModel 7B"],
     ["--exclude", "NoSuchModel 7B"], ()),
    # --- the command itself -------------------------------------------------------------------
    ("unknown-subcommand", lambda t: ["frobnicate", "--tokens", "15T"], ["frobnicate"], ()),
    ("no-command", lambda t: [], ["command"], ()),
]


@pytest.mark.parametrize("argv, needles", [pytest.param(argv, needles, marks=marks, id=case_id)
                                           for case_id, argv, needles, marks in CASES])
def test_bad_input_is_one_error_line_and_exit_2(argv, needles, tmp_path, capsys):
    args = argv(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))  # after building the bad files
    status = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert out == ""
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), f"want exactly one stderr line, got {err!r}"
    line = lines[0]
    assert line.startswith("error: ") and len(line) > len("error: ")
    for needle in (n.replace("{tmp}", str(tmp_path)) for n in needles):
        assert needle in line, f"{needle!r} not named in {line!r}"
    # A rejected command writes nothing (in particular --out leaves no file, temporary or final).
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_the_table_is_large_and_ids_are_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)
