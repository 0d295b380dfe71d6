"""The paper's coefficients with their zoo-calibrated interval and forecast error, computed once and
shipped in law/data/paper_calibration.json, so that predicting needs neither pandas nor scipy.

Regenerate after the zoo or the calibration changes: ``python3 -m perflaw.law.shipped``
(tests/law/test_shipped.py fails, naming this command, while the file is stale).
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from perflaw.law.coefficients import PAPER, Interval, LawCoefficients, load_coefficients, save_coefficients

LEVEL = 0.8  # the level the shipped interval is calibrated at (law.predict.DEFAULT_LEVEL)


def path() -> Path:
    return Path(str(resources.files("perflaw.law") / "data" / "paper_calibration.json"))


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


def interval(coefficients: LawCoefficients, level: float) -> Interval | None:
    """The shipped interval when ``coefficients`` are the paper's at the shipped level, else None."""
    s = shipped()
    return s.interval if s is not None and level == LEVEL and coefficients == PAPER else None


def forecast(coefficients: LawCoefficients, level: float) -> dict | None:
    """The shipped forecast error when ``coefficients`` are the paper's at the shipped level, else None."""
    s = shipped()
    return s.forecast if s is not None and level == LEVEL and coefficients == PAPER else None


def compute() -> LawCoefficients:
    """The calibration computed afresh on the shipped zoo (pandas and scipy)."""
    from perflaw.law import predict
    return replace(PAPER, interval=predict._zoo_interval(PAPER, LEVEL),
                   forecast=predict._paper_forecast(PAPER, LEVEL))


def main() -> int:
    save_coefficients(compute(), path(), {"note": "the paper's coefficients, calibrated on the shipped zoo by "
                                                  "perflaw.law.shipped; regenerate with python3 -m perflaw.law.shipped"})
    print(f"wrote {path()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
