"""The committed reports are what a fresh run produces (CSV and JSON content)."""

import json
from pathlib import Path

import pytest

from perflaw.optimizer.cli.run_commands import run_payload

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def test_every_shipped_scenario_has_a_committed_report():
    from perflaw.optimizer.scenario.loader import load_scenario
    names = {load_scenario(p).name for p in SCENARIOS}
    assert len(names) >= 7
    for name in names:
        folder = ROOT / "reports" / name
        for f in ("report.md", "report.html", "front.csv", "candidates.csv", "pareto.png", "pareto.svg",
                  "allocation.png", "landscape.png", "manifest.json"):
            assert (folder / f).is_file(), f"{name}/{f}"


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_fresh_run_reproduces_the_committed_report(scenario, tmp_path):
    out = tmp_path / "r"
    run_payload([str(scenario)], str(out))
    from perflaw.optimizer.scenario.loader import load_scenario
    committed = ROOT / "reports" / load_scenario(scenario).name
    for csv in sorted(committed.glob("*.csv")):
        assert (out / csv.name).read_text() == csv.read_text(), csv.name
    fresh, old = (json.loads((d / "manifest.json").read_text()) for d in (out, committed))
    fresh.pop("versions")
    old.pop("versions")
    assert fresh == old
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in committed.iterdir())


def test_run_twice_is_byte_identical(tmp_path):
    scenario = str(SCENARIOS[0])
    run_payload([scenario], str(tmp_path / "a"))
    run_payload([scenario], str(tmp_path / "b"))
    for f in sorted((tmp_path / "a").iterdir()):
        if f.suffix in (".csv", ".json", ".md", ".svg"):
            assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes(), f.name


def test_atomic_report_keeps_the_previous_one_on_failure(tmp_path, monkeypatch):
    import perflaw.optimizer.report.writer as rw
    scenario = str(SCENARIOS[0])
    out = tmp_path / "r"
    run_payload([scenario], str(out))
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args, **kwargs):
        raise RuntimeError("killed while writing")

    monkeypatch.setattr(rw, "_html", boom)
    with pytest.raises(RuntimeError):
        run_payload([scenario], str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # no temporary folder left behind


def test_run_cli_json_and_errors(tmp_path, capsys):
    from perflaw.optimizer.cli.main import main
    assert main(["run", str(SCENARIOS[0]), "--out", str(tmp_path / "r"), "--json"]) == 0
    out, err = capsys.readouterr()
    d = json.loads(out)
    assert err == "" and d["reports"][0]["best"][0]["mmlu"] > 25
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ndescription = "y"\n[budget]\nflops = 1e24\nbogus = 1\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "budget.bogus" in err and not (tmp_path / "b").exists()
    assert main(["run", str(SCENARIOS[0]), str(SCENARIOS[1]), "--out", str(tmp_path / "c")]) == 2


@pytest.mark.slow
def test_report_killed_while_writing_leaves_a_whole_report(tmp_path):
    # A real process is SIGKILLed at several moments of `perflaw run`; the folder must always hold
    # one complete report (the previous or the new), never a partial one or none.
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    argv = [sys.executable, "-m", "perflaw", "run", str(SCENARIOS[0]), "--out", str(out)]
    subprocess.run(argv, check=True, capture_output=True)
    expected = sorted(p.name for p in out.iterdir())
    for delay in (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert sorted(p.name for p in out.iterdir()) == expected, delay
        assert json.loads((out / "manifest.json").read_text())["scenario"]["file"] == SCENARIOS[0].name
    subprocess.run(argv, check=True, capture_output=True)  # a later run clears what the killed ones left
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["Prescott", "SkylakeX"])
def test_the_committed_reports_do_not_depend_on_the_cpus_blas_kernel(kernel, tmp_path):
    # The interval's multipliers and covariance ship precomputed (law.shipped), so floats that BLAS
    # kernels round differently never reach a report: another CPU writes the same bytes.
    import os
    import subprocess
    import sys
    from perflaw.optimizer.scenario.loader import load_scenario
    scenario = SCENARIOS[0]
    out = tmp_path / "r"
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel}
    subprocess.run([sys.executable, "-m", "perflaw", "run", str(scenario), "--out", str(out)], check=True,
                   capture_output=True, env=env)
    committed = ROOT / "reports" / load_scenario(scenario).name
    for f in sorted(committed.iterdir()):
        if f.name != "manifest.json":  # its versions block names the installed libraries
            assert (out / f.name).read_bytes() == f.read_bytes(), f.name
