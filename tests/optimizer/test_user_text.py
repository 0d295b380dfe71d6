"""User text is data everywhere: CSV cells cannot run as formulas, Markdown and figures show it literally."""

import csv

import pytest

from perflaw.optimizer.api import run_scenario
from perflaw.optimizer.cli.main import main

SCENARIO = """name = "user-text"
description = "Review <script>alert(1)</script> of [a link](http://x) with *stars* and $x^2$ cost."

[[budget.review]]
label = "=HYPERLINK(1)"
flops = 1e22

[[budget.review]]
label = "$x^2$ @ours"
flops = 3e22
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("u")
    path = folder / "user-text.toml"
    path.write_text(SCENARIO, encoding="utf-8")
    out = folder / "report"
    run_scenario(path, out=str(out))
    return out


def test_csv_cells_that_start_a_formula_are_neutralised(report):
    for name in ("candidates.csv", "front.csv"):
        with open(report / name, encoding="utf-8", newline="") as f:
            cells = [c for row in csv.reader(f) for c in row]
        assert "'=HYPERLINK(1)" in cells and "=HYPERLINK(1)" not in cells
        assert not any(c[:1] in ("=", "+", "@") for c in cells)
        assert all(not c.startswith("-") or c[1:2].isdigit() or c[1:2] == "." for c in cells)  # numbers only


def test_markdown_shows_user_text_as_the_html_does(report):
    md = (report / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in md and r"\<script\>" in md
    assert "[a link](http://x)" not in md and r"\[a link\](http://x)" in md
    assert r"\*stars\*" in md and r"\$x^2\$" in md
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_control_characters_in_scenario_text_are_refused(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(SCENARIO.replace('label = "=HYPERLINK(1)"', 'label = "lean\\u001b[31m"'), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "budget.review" in err and "control characters" in err and not (tmp_path / "r").exists()
