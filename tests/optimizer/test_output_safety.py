"""--out never destroys what perflaw did not write: report folders, law files, links, the current folder, disk errors."""

import errno
import json
import os
import stat

import pytest

from perflaw.optimizer.cli.main import main

SCENARIO = "scenarios/7b-512xh100-30d.toml"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """One real report to copy from (a run takes a few seconds)."""
    out = tmp_path_factory.mktemp("r") / "report"
    assert main(["run", SCENARIO, "--out", str(out)]) == 0
    return out


def _one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    for n in needles:
        assert n in err
    return err


def test_a_folder_of_the_users_files_is_refused_and_untouched(tmp_path, capsys):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "chapter1.tex").write_text("my work", encoding="utf-8")
    assert main(["run", SCENARIO, "--out", str(mine)]) == 2
    _one_line_error(capsys, "--out", "perflaw did not write", "chapter1.tex", "--force")
    assert sorted(p.name for p in mine.iterdir()) == ["chapter1.tex"]
    assert (mine / "chapter1.tex").read_text(encoding="utf-8") == "my work"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_force_writes_the_report_into_the_folder_and_keeps_the_users_files(tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep", encoding="utf-8")
    assert main(["run", SCENARIO, "--out", str(mine), "--force"]) == 0
    names = {p.name for p in mine.iterdir()}
    assert {"todo.txt", "report.md", "report.html", "manifest.json"} <= names
    assert (mine / "todo.txt").read_text(encoding="utf-8") == "keep"


def test_a_perflaw_report_is_replaced_but_not_one_with_added_files(tmp_path, capsys, report):
    import shutil
    out = tmp_path / "report"
    shutil.copytree(report, out)
    (out / "report.md").write_text("stale", encoding="utf-8")
    assert main(["run", SCENARIO, "--out", str(out)]) == 0
    assert (out / "report.md").read_text(encoding="utf-8") != "stale"
    (out / "my-comments.txt").write_text("review notes", encoding="utf-8")
    assert main(["run", SCENARIO, "--out", str(out)]) == 2
    _one_line_error(capsys, "my-comments.txt")
    assert (out / "my-comments.txt").exists()


@pytest.mark.parametrize("kind", ["file", "symlink", "dot", "dotdot"])
def test_files_links_and_the_current_folder_are_refused(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.chdir(tmp_path)
    target = {"file": "data.csv", "symlink": "link", "dot": ".", "dotdot": ".."}[kind]
    if kind == "file":
        (tmp_path / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    if kind == "symlink":
        (tmp_path / "real").mkdir()
        os.symlink(tmp_path / "real", tmp_path / "link")
    assert main(["run", str(os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", SCENARIO))),
                 "--out", target]) == 2
    _one_line_error(capsys, "--out")
    if kind == "file":
        assert (tmp_path / "data.csv").read_text(encoding="utf-8") == "a,b\n1,2\n"
    if kind == "symlink":
        assert (tmp_path / "link").is_symlink() and not any((tmp_path / "real").iterdir())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_disk_error_is_one_line_and_leaves_nothing_half_written(tmp_path, capsys, monkeypatch):
    out = tmp_path / "report"
    real_replace = os.replace

    def full(src, dst):
        if str(dst) == str(out):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", full)
    assert main(["run", SCENARIO, "--out", str(out)]) == 2
    _one_line_error(capsys, "the disk is full", "nothing was left half-written")
    assert not out.exists() and not list(tmp_path.iterdir())


def test_fit_out_refuses_a_foreign_file_and_follows_the_umask(tmp_path, capsys):
    mine = tmp_path / "results.json"
    mine.write_text(json.dumps({"mine": True}), encoding="utf-8")
    assert main(["fit", "--form", "paper", "--prior", "0", "--out", str(mine)]) == 2
    _one_line_error(capsys, "perflaw did not write", "--force")
    assert json.loads(mine.read_text(encoding="utf-8")) == {"mine": True}
    law = tmp_path / "law.json"
    old = os.umask(0o022)
    try:
        assert main(["fit", "--form", "paper", "--prior", "0", "--out", str(law)]) == 0
        assert stat.S_IMODE(law.stat().st_mode) == 0o644
        assert main(["fit", "--form", "paper", "--prior", "0", "--out", str(law)]) == 0  # its own file: replaced
        assert main(["fit", "--form", "paper", "--prior", "0", "--out", str(mine), "--force"]) == 0
        assert json.loads(mine.read_text(encoding="utf-8"))["format"] == "perflaw-law/1"
    finally:
        os.umask(old)
    capsys.readouterr()
