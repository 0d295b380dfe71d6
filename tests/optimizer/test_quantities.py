"""Quantities with suffixes on the command line."""

import math

import pytest

from perflaw.law.errors import InputError
from perflaw.optimizer.cli.quantities import format_quantity, parse_positive, parse_quantity, parse_range


@pytest.mark.parametrize("text,value", [
    ("15T", 15e12), ("300B", 300e9), ("8.03B", 8.03e9), ("1e24", 1e24), ("2M", 2e6), ("5k", 5e3),
    ("1.5P", 1.5e15), ("42", 42.0), (" 7B ", 7e9), ("1_000", 1000.0), (".5T", 0.5e12),
])
def test_parse(text, value):
    assert parse_quantity(text, "--x") == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["15X", "abc", "", "1e", "T", "15TT", "nan", "inf", "--3"])
def test_parse_rejects(text):
    with pytest.raises(InputError) as err:
        parse_quantity(text, "--tokens")
    assert str(err.value).startswith("--tokens: ")


def test_parse_positive_hint_for_missing_suffix():
    with pytest.raises(InputError, match="write 15T"):
        parse_positive("15", "--tokens", 1e6, 1e16, hint="write 15T, not 15")


def test_range():
    assert parse_range("1B:70B", "--params") == (1e9, 70e9)
    for bad in ("70B:1B", "1B", "1B:", ":2"):
        with pytest.raises(InputError):
            parse_range(bad, "--params")


def test_format():
    assert format_quantity(15e12) == "15T"
    assert format_quantity(8.03e9) == "8.03B"
    assert format_quantity(512) == "512"
    assert format_quantity(math.inf) == "inf"
