"""What the zoo gives every prediction, computed once and shipped so that predicting and planning
need neither pandas nor scipy: the paper's coefficients with their zoo-calibrated interval and
forecast error (law/data/paper_calibration.json), and the law inputs of the zoo's complete models
that the law's domain is built from (law/data/zoo_domain.json).

Regenerate after the zoo or the calibration changes: ``python3 -m perflaw.law.shipped``
(tests/law/test_shipped.py fails, naming this command, while a file is stale).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import json

from perflaw.law.coefficients import PAPER, Interval, LawCoefficients, load_coefficients, save_coefficients

DOMAIN_FIELDS = ("layers", "hidden", "ffn", "tokens_t", "total_b", "active_b", "is_moe", "active_experts")

LEVEL = 0.8  # the level the shipped interval is calibrated at (law.predict.DEFAULT_LEVEL)


def path(name: str = "paper_calibration.json") -> Path:
    return Path(str(resources.files("perflaw.law") / "data" / name))


@lru_cache(maxsize=1)
def shipped() -> LawCoefficients | None:
    """The shipped calibration of the paper's coefficients; None when the file is missing or holds
    other coefficients (then callers calibrate at run time)."""
    try:
        stored = load_coefficients(path())
    except Exception:  # a missing or unreadable file only costs the run-time calibration
        return None
    if stored != PAPER or stored.interval is None or stored.forecast is None:  # compares the coefficients
        return None
    return stored


def _for(coefficients: LawCoefficients, level: float) -> LawCoefficients | None:
    """The shipped calibration when ``coefficients`` are the paper's at the shipped level, else None."""
    return shipped() if level == LEVEL and coefficients == PAPER else None


def interval(coefficients: LawCoefficients, level: float) -> Interval | None:
    """The shipped interval for these coefficients at this level, or None (calibrate at run time)."""
    s = _for(coefficients, level)
    return s.interval if s is not None else None


def forecast(coefficients: LawCoefficients, level: float) -> dict | None:
    """The shipped forecast error for these coefficients at this level, or None (measure it)."""
    s = _for(coefficients, level)
    return s.forecast if s is not None else None


@lru_cache(maxsize=1)
def domain_inputs() -> dict | None:
    """The shipped law inputs of the zoo's complete models (lists by ``DOMAIN_FIELDS``, plus
    ``source``); None when the file is missing or malformed (then the zoo is read with pandas)."""
    try:
        data = json.loads(path("zoo_domain.json").read_text(encoding="utf-8"))
        n = len(data["layers"])
        if not all(len(data[k]) == n for k in DOMAIN_FIELDS) or not isinstance(data["source"], str) or n == 0:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return data


def compute_domain_inputs() -> dict:
    """The law inputs of the shipped zoo's complete models, read afresh (pandas)."""
    from perflaw.law.zoo import law_inputs, load_zoo
    t = load_zoo()
    t = t[t["complete"]].reset_index(drop=True)
    inputs = law_inputs(t)
    out = {k: [float(v) for v in getattr(inputs, k)] for k in DOMAIN_FIELDS[:6]}
    out["is_moe"] = [bool(v) for v in inputs.is_moe]
    out["active_experts"] = [float(v) for v in t["active_experts"].fillna(0).to_numpy(dtype=float)]
    out["source"] = f"the {len(t)} complete models of the shipped zoo"
    return out


def compute() -> LawCoefficients:
    """The calibration computed afresh on the shipped zoo (pandas and scipy)."""
    from perflaw.law import predict
    return replace(PAPER, interval=predict._zoo_interval(PAPER, LEVEL),
                   forecast=predict._paper_forecast(PAPER, LEVEL))


def main() -> int:
    note = ("the paper's coefficients, calibrated on the shipped zoo by perflaw.law.shipped; regenerate with "
            "python3 -m perflaw.law.shipped")
    save_coefficients(compute(), path(), {"note": note})
    rows = compute_domain_inputs()  # one key per line, its list on that line
    path("zoo_domain.json").write_text("{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in rows.items())
                                       + "\n}\n", encoding="utf-8")
    print(f"wrote {path()} and {path('zoo_domain.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
