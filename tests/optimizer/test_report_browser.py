"""The HTML report in a real browser: headless Chromium (Debian's package, installed by .ci/run)."""

import shutil
from pathlib import Path

import pytest

from perflaw.optimizer.cli.run_commands import run_payload

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "r"
    scenario = sorted(SCENARIOS.glob("*.toml"))[0]
    run_payload([str(scenario)], str(out))
    return out / "report.html"


def test_report_renders_without_errors(report, tmp_path):
    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"network request: {r.url}") if not r.url.startswith(
            ("file:", "data:")) else None)
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        tables = page.eval_on_selector_all("table", "ts => ts.map(t => t.rows.length)")
        sideways = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        page.emulate_media(media="print")
        page.set_viewport_size({"width": 1046, "height": 700})  # A4 landscape (the report's @page) less margins
        paper = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        printed = page.pdf() if hasattr(page, "pdf") else b""
        browser.close()
    assert errors == []
    assert len(widths) >= 3 and all(w > 100 for w in widths), widths  # every figure decoded
    assert tables and all(n >= 2 for n in tables), tables  # header plus at least one plan
    assert sideways <= 0, sideways  # a wide table scrolls in its own box; the page does not scroll sideways
    assert paper[0] <= paper[1], paper  # printed, every table fits the page
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert printed[:4] == b"%PDF"


def test_script_in_a_scenario_name_renders_as_text(tmp_path):
    from perflaw.optimizer.report.writer import _html

    class S:
        name = "<script>alert(1)</script>"

    page = _html(S(), [("h1", S.name), ("p", "<img src=x onerror=alert(2)>")], {})
    assert "<script>" not in page and "&lt;script&gt;" in page and "<img src=x" not in page
