"""The Optuna strategy: TPE (or NSGA-II for two objectives) over the lattice's axis indices, with
constraints through Optuna's API and any storage URL to persist, resume and share a study."""

from __future__ import annotations

import time

import numpy as np

from perflaw.law.errors import InputError
from perflaw.optimizer.search.candidates import CONSTRAINTS
from perflaw.optimizer.search.indices import axis_sizes, evaluate_indices, neighbours
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import SearchResult, finish
from perflaw.optimizer.search.space import AXES

HEARTBEAT_S = 5  # Optuna worker heartbeat with --storage (seconds)
GRACE_S = 20  # a running trial without a heartbeat for this long belongs to a dead worker


def search_optuna(problem: Problem, *, trials: int = 1000, seed: int = 0, top: int = 10, storage: str | None = None,
                  study_name: str | None = None, progress: bool = False, objectives: str = "mmlu") -> SearchResult:
    """TPE (one objective) or NSGA-II (``objectives="mmlu,active_params"``) over the axis indices."""
    import optuna

    t0 = time.perf_counter()
    sizes = axis_sizes(problem)
    multi = objectives != "mmlu"

    if multi:
        sampler = optuna.samplers.NSGAIISampler(seed=seed)
        directions = ["maximize", "minimize"]
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True, n_ei_candidates=128,
                                             n_startup_trials=min(50, max(10, trials // 10)))
        directions = ["maximize"]
    if isinstance(storage, str) and storage.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "mysql"):
        # Workers send a heartbeat; a trial whose worker died (even by SIGKILL) is marked failed after
        # the grace period by the next worker, and its parameters are enqueued again: no trial is
        # lost, and completed trials are never run twice.
        import warnings

        def rdb(url=storage):
            with warnings.catch_warnings():  # heartbeats and retries are marked experimental by Optuna
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)
                return optuna.storages.RDBStorage(url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                                  heartbeat_stale_trial_callback=retry)
        storage = _retrying(rdb, storage)
    elif isinstance(storage, str) and storage.startswith("journal:"):
        # Optuna's file journal: workers on machines that share a disk append to one log file.
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        path = storage.split(":", 1)[1].removeprefix("//")
        if not path:
            raise InputError("storage", "must name the journal file, as journal:///shared/study.log", storage)
        try:
            storage = JournalStorage(JournalFileBackend(path))
        except OSError as exc:
            raise InputError("storage", f"journal file could not be opened: {exc.strerror}", path) from None
    study = _retrying(lambda: optuna.create_study(directions=directions, sampler=sampler, storage=storage,
                                                  study_name=study_name or "perflaw",
                                                  load_if_exists=storage is not None), storage)
    # A stored study holds lattice indices: it can only resume the very same problem.
    fingerprint = problem_fingerprint(problem, objectives)
    stored = study.user_attrs.get("perflaw_problem")
    if stored is None:
        study.set_user_attr("perflaw_problem", fingerprint)
    elif stored != fingerprint:
        raise InputError("study_name", "names a stored study of a different problem (search space, budget, "
                                         "constraints or law); use a new study name", study.study_name)
    beats = isinstance(storage, optuna.storages.RDBStorage)
    if beats:
        _fail_unstarted_trials(study)

    started = []  # this worker's trials, to fail the one a Ctrl-C leaves running

    def objective(trial):
        started.append(trial._trial_id)
        if beats:  # a heartbeat before any parameter: a trial killed from here on is seen as stale
            study._storage.record_heartbeat(trial._trial_id)
        idx = np.array([[trial.suggest_int(a, 0, n - 1) if n > 1 else 0 for a, n in zip(AXES, sizes)]])
        arch, ev = evaluate_indices(problem, idx)
        for name in CONSTRAINTS:  # feasible iff every value is <= 0 (Optuna's constraint API)
            trial.set_constraint(name, float(ev[name][0]))
        trial.set_constraint("lattice", 0.0 if ev["valid_point"][0] else 1.0)
        if multi:
            return float(ev["score"][0]), float(ev["active_params_b"][0])
        return float(ev["score"][0])

    def finished_count() -> int:  # completed trials: failed ones are retried, not counted
        return len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE])

    # TPE (or NSGA-II) for 80 % of the trials, then a polish: the lattice neighbours of the best
    # feasible trial (one step along each axis) are enqueued as trials, while that improves.
    stop = _stop_on_interrupt(study)

    def polish() -> None:
        """Enqueue the unseen lattice neighbours of the best feasible trial while that improves."""
        while finished_count() < trials and not stop.asked:
            best = _best_feasible_trial(study.trials)
            if best is None:
                return
            seen = {tuple(t.params.get(a, 0) for a in AXES) for t in study.trials}
            start = np.array([best.params.get(a, 0) for a in AXES])
            queue = [list(map(int, c)) for c in neighbours(start, sizes, seen)][: trials - finished_count()]
            if not queue:
                return
            for cand in queue:
                study.enqueue_trial({a: v for a, v, n in zip(AXES, cand, sizes) if n > 1})
            study.optimize(objective, n_trials=len(queue))
            improved = _best_feasible_trial(study.trials[-len(queue):])
            if improved is None or improved.value <= best.value:
                return

    # Explore (TPE, or NSGA-II for two objectives) for 80 % of the trials, then polish; budget left
    # after a polish converges goes half to more exploration, then another polish, and so on.
    explore_to = trials - trials // 5
    since = len(study.trials)
    with stop:
        try:
            while finished_count() < trials and not stop.asked:
                if finished_count() < explore_to:
                    study.optimize(objective, n_trials=explore_to - finished_count(), show_progress_bar=progress)
                if multi or stop.asked:
                    break
                polish()
                remaining = trials - finished_count()
                explore_to = finished_count() + max(1, remaining // 2)
        except KeyboardInterrupt:
            stop.asked = True
        if stop.asked:  # Ctrl-C: the running trial was let finish (or failed); none stays RUNNING
            _fail_interrupted(study, started, since)
            raise KeyboardInterrupt
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not finished:
        raise InputError("trials", "must leave at least one completed trial", trials)
    idx = np.array([[t.params.get(a, 0) for a in AXES] for t in finished], dtype=np.int64)
    arch, ev = evaluate_indices(problem, idx)
    result = finish(problem, "optuna", seed, arch, ev, len(finished), t0, top, True,
                     f"{len(finished)} completed trials in study {study.study_name!r}")
    return result


class _stop_on_interrupt:
    """Ctrl-C during a study: stop after the running trial (``study.stop``) instead of raising
    inside Optuna or SQLAlchemy, where the interrupt can be swallowed or leave a trial RUNNING.
    Only in the main thread; the previous handler is restored on exit."""

    def __init__(self, study):
        self.study, self.asked, self.previous = study, False, None

    def _handler(self, signum, frame):
        if self.asked:  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.asked = True
        try:
            self.study.stop()
        except RuntimeError:  # not inside optimize: the loop sees ``asked``
            pass

    def __enter__(self):
        import signal
        import threading
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        import signal
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _retrying(make, storage, attempts: int = 6):
    """``make()``, retried: workers started together race to create the same tables and study, and
    the loser's error is transient. Only an error that outlasts the retries is the URL's fault."""
    for attempt in range(attempts):
        try:
            return make()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # bad storage URLs surface as many exception types
            if attempt == attempts - 1 or storage is None or isinstance(exc, (ValueError, ImportError)):
                raise InputError("storage", "must be an Optuna storage URL such as sqlite:///study.db",
                                 f"{storage} ({type(exc).__name__})") from None
            time.sleep(0.05 * 2 ** attempt)


def _fail_interrupted(study, started: list[int], since: int) -> None:
    """After Ctrl-C, fail the trial this worker left RUNNING: one it started (its objective ran), or
    one it asked for that never reached the objective (no parameters yet, numbered after ``since``)."""
    import optuna
    running = optuna.trial.TrialState.RUNNING
    for t in study.get_trials(deepcopy=False, states=(running,)):
        if t._trial_id in started or (t.number >= since and not t.params):
            try:
                study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)
            except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
                pass  # finished meanwhile


def _fail_unstarted_trials(study) -> None:
    """Mark failed the trials a killed worker created but never started.

    A worker killed between creating a trial and its first heartbeat leaves a running trial with
    no heartbeat, which Optuna's stale-trial check never sees. Every trial records a heartbeat
    before its first parameter, so such a trial has no parameters; a live worker gets past that
    point within milliseconds, so a parameterless running trial older than ``GRACE_S`` is dead.
    """
    import datetime

    import optuna
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=GRACE_S)
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if not t.params and t.datetime_start is not None and t.datetime_start < cutoff:
            study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL)


_STORED_W5 = 3.264054  # the shipped MoE term of earlier releases (fitted on 11 MoE models)


def problem_fingerprint(problem: Problem, objectives: str = "mmlu") -> str:
    """A digest of everything that gives a lattice index its meaning and a trial its value."""
    import hashlib
    from dataclasses import replace
    coefficients = problem.coefficients
    if not problem.space.is_moe:  # the MoE treatment cannot change a dense model's value: write it as
        # the MoE term dense studies were stored with before it was capped and refitted
        coefficients = replace(coefficients, moe_variant="expansion", expansion_cap=0.0, w5=_STORED_W5)
    text = repr((problem.space, problem.budget_flops, problem.hardware, problem.gpus, problem.utilization,
                 problem.constraints, coefficients, problem.gamma, problem.seq_len, problem.flops_rule,
                 objectives) + ((problem.vintage_years,) if coefficients.has_vintage else ())
                + (() if (problem.trust, problem.objective) == ("law", "mean") else (problem.trust, problem.objective)))
    # Studies stored before laws had forms, vintages and capped expansion were all of the paper's
    # form: keep their digest.
    text = text.replace(", tokens='clip', link='bounded', w6=0.0, vintage='', expansion_cap=0.0)", ")")
    text = text.replace(", unique_tokens_t=None", "")  # nor studies stored before unique tokens were a constraint
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _best_feasible_trial(trials):
    """The completed trial with the highest value whose constraints all hold (None if none)."""
    import optuna

    def values(t):  # Optuna 5 keeps named constraints in a dict
        c = t.constraints
        return c.values() if isinstance(c, dict) else (c or ())

    ok = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE and all(v <= 0 for v in values(t))]
    return max(ok, key=lambda t: (t.value, -t.number)) if ok else None
