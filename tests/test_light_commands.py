"""Heavy libraries load only in the commands that use them: `perflaw --help`, `optimize --help` and
an input error load none of numpy, scipy, pandas, optuna or matplotlib, an exact `optimize` none
but numpy (and not numpy.ma, which a one-dimensional `np.unique` loads in numpy 2.4), and `run` of
the default scenario (exact search) neither scipy nor optuna, nor matplotlib where there are two
cores: its figure helpers import and draw it (report.drawing)."""

import pickle
import subprocess
import sys

import pytest

from perflaw.optimizer.report.drawing import cores

HEAVY = ("numpy", "numpy.ma", "scipy", "pandas", "optuna", "matplotlib")
OPTIMIZE = ["optimize", "--flops", "1e24", "--hardware", "H100-SXM", "--gpus", "1024", "--params", "1B:70B", "--json"]


def _loaded(argv: list[str]) -> tuple[int, list[str]]:
    code = ("import sys\nfrom perflaw.optimizer.cli.main import main\n"
            f"rc = main({argv!r})\n"
            f"print('LOADED', rc, ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED")]
    assert line, done.stderr[-400:]
    rc, mods = line[-1].split(" ")[1], line[-1].split(" ")[2]
    return int(rc), [m for m in mods.split(",") if m]


@pytest.mark.parametrize("argv, code, allowed", [
    (["--help"], 0, ()), (["--version"], 0, ()), (["optimize", "--help"], 0, ()),
    (["optimize", "--flops", "1e24", "--hardware", "H20", "--gpus", "8"], 2, ()),  # an input error
    (OPTIMIZE, 0, ("numpy",)),
    (["run", "--json", "--out", "{tmp}/report"], 0,
     ("numpy", "numpy.ma", "pandas") + (() if cores() > 1 else ("matplotlib",))),
], ids=["help", "version", "optimize-help", "input-error", "exact-optimize", "run"])
def test_a_light_command_loads_no_heavy_library(argv, code, allowed, tmp_path):
    rc, loaded = _loaded([a.format(tmp=tmp_path) for a in argv])
    assert rc == code and [m for m in loaded if m not in allowed] == [], loaded


def test_the_figures_draw_from_columns_without_pandas(tmp_path, monkeypatch):
    """The figure helper imports matplotlib only: the report's three figures are drawn and saved from
    the columns the run sends it (report.data.columns) in a process that never imports pandas."""
    import perflaw.optimizer.report.writer as writer
    from perflaw.optimizer.cli.run_commands import run_payload
    sent = []

    def keep(jobs, folder, processes=None):
        sent.extend(jobs)
        return {stem: b"" for stem, _, _ in jobs}

    monkeypatch.setattr(writer, "save_all", keep)
    run_payload([], str(tmp_path / "report"))
    jobs = tmp_path / "jobs.pickle"
    jobs.write_bytes(pickle.dumps(sent))
    code = ("import pickle, sys\nfrom pathlib import Path\nfrom perflaw.optimizer.report.drawing import draw_here\n"
            f"jobs = pickle.loads(Path({str(jobs)!r}).read_bytes())\n"
            f"pngs = draw_here(jobs, Path({str(tmp_path)!r}))\n"
            "print('DREW', len(pngs), 'pandas' in sys.modules, 'matplotlib' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["DREW", "3", "False", "True"], done.stderr[-400:]
    assert sorted(p.name for p in tmp_path.glob("*.svg")) == ["allocation.svg", "landscape.svg", "pareto.svg"]
