"""Worker processes sharing one stored study on SQLite, a real PostgreSQL server and a journal file:
the requested total is kept, no lattice point is evaluated twice, and every worker reports one best
plan, near the exact strategy's. How near is TPE's business, not the workers': a single worker finds
the exact optimum with this total, and five workers sharing it usually do. The problem has one other
point the polish cannot leave (every value of one axis, one step along two: search.indices), 60
layers × 4096 at 0.579 points below; the next is 1.608 below. Sharing workers ended there in about
one run in twenty, so the bound is 0.6: the optimum or that basin, nothing worse."""

import json
import subprocess
import sys
import time

import optuna
import pytest

from tests.optimizer.studies import census

pytestmark = pytest.mark.slow
ARGS = ["optimize", "--flops", "1e23", "--layers", "8:64", "--heads", "8:64", "--heads-step", "8", "--json"]
TOTAL = 500  # the study's final total: enough for a single worker and for the workers to reach the optimum
PLAN = ("layers", "hidden", "ffn", "heads", "kv_heads", "tokens_t", "mmlu")


def _storage(kind, tmp_path, request):
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'study.db'}"
        return url, lambda: optuna.load_study(study_name="s", storage=url)
    if kind == "postgresql":
        url = request.getfixturevalue("postgres")()  # skips, saying why, where no server can start
        return url, lambda: optuna.load_study(study_name="s", storage=url)
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    log = tmp_path / "study.log"
    return f"journal:///{log}", lambda: optuna.load_study(study_name="s",
                                                           storage=JournalStorage(JournalFileBackend(str(log))))


def _workers(n, trials, url, apart_s=0.0):
    """``n`` worker processes on one study, started together or ``apart_s`` seconds apart."""
    procs = []
    for i in range(n):
        if i and apart_s:
            time.sleep(apart_s)  # the next one joins a study another worker is running
        procs.append(subprocess.Popen([sys.executable, "-m", "perflaw", *ARGS, "--strategy", "optuna", "--trials",
                                       str(trials), "--storage", url, "--study-name", "s"], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    out = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    assert all(code == 0 and err == "" for _, err, code in out), [err for _, err, _ in out]
    return [json.loads(stdout) for stdout, _, _ in out]


def _plan(payload):
    return tuple(payload["best"][k] for k in PLAN)


@pytest.fixture(scope="module")
def reference():
    """The plan a single worker finds with the same total, and the exact strategy's."""
    def one(*extra):
        done = subprocess.run([sys.executable, "-m", "perflaw", *ARGS, *extra], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
        return _plan(json.loads(done.stdout))
    return one("--strategy", "optuna", "--trials", str(TOTAL)), one("--strategy", "exact")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql", "journal"])
def test_three_workers_together_then_two_more_keep_the_total(kind, tmp_path, reference, request):
    url, study = _storage(kind, tmp_path, request)
    single, exact = reference
    assert single == exact

    first = _workers(3, 200, url)  # three workers started together
    c = census(study())
    assert 200 <= c["points"] <= 202, c  # at most one extra point per worker still evaluating at the end
    assert c["evaluated_twice"] == 0 and c["unevaluated"] == 0 and c["running"] == 0 and c["waiting"] == 0, c
    assert all(200 <= p["n_evaluations"] <= c["points"] for p in first)  # the study's count as each worker ended

    later = _workers(2, TOTAL, url, apart_s=1.5)  # two more, the second joining while the first runs
    c = census(study())
    assert TOTAL <= c["points"] <= TOTAL + 1, c
    assert c["evaluated_twice"] == 0 and c["unevaluated"] == 0 and c["running"] == 0 and c["waiting"] == 0, c
    plans = {_plan(p) for p in later}
    assert len(plans) == 1, plans  # every worker reports the study's best plan
    found = plans.pop()
    assert exact[-1] - found[-1] <= 0.6, (found, exact)  # the optimum or its one basin (module docstring)
    request.node.user_properties.append(("census", json.dumps({"kind": kind, **c})))


def test_the_postgresql_fixture_is_a_real_server(postgres):
    import sqlalchemy
    engine = sqlalchemy.create_engine(postgres())
    with engine.connect() as conn:
        assert conn.execute(sqlalchemy.text("select version()")).scalar().startswith("PostgreSQL")
    engine.dispose()
