"""The shipped calibration of the paper's coefficients and the shipped domain inputs are the ones
computed afresh from the zoo (tests/test_light_commands.py checks what they keep out of a run)."""

import json

import pytest

from perflaw.law import shipped
from perflaw.law.coefficients import PAPER
from perflaw.law.predict import expected_error, interval_for

STALE = "a shipped file in law/data is stale: regenerate with python3 -m perflaw.law.shipped"


def _same(a, b) -> bool:
    """Equal, numbers to 1e-9 relative (BLAS kernels differ in the last digits between CPUs)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a == pytest.approx(b, rel=1e-9, abs=1e-12)
    return a == b


def test_the_shipped_calibration_is_the_computed_one():
    from dataclasses import asdict
    stored, fresh = shipped.shipped(), shipped.compute()
    assert stored is not None, STALE
    assert _same(asdict(stored.interval), asdict(fresh.interval)), STALE
    assert _same(stored.forecast, json.loads(json.dumps(fresh.forecast))), STALE


def test_the_shipped_domain_inputs_are_the_zoos():
    stored = shipped.domain_inputs()
    assert stored is not None and _same(stored, shipped.compute_domain_inputs()), STALE


def test_predictions_use_the_shipped_calibration_for_the_paper_only():
    assert interval_for(PAPER) is shipped.shipped().interval
    assert expected_error(PAPER) is shipped.shipped().forecast
    other = PAPER.with_values(w1=PAPER.w1 + 0.1)
    assert shipped.interval(other, 0.8) is None and shipped.interval(PAPER, 0.9) is None
