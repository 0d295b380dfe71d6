"""The Optuna strategy: TPE over a window of the study (search.windowed_tpe; NSGA-II for two objectives)
over the lattice's axis indices, with constraints through Optuna's API and a storage to persist, resume
and share a study among workers."""

from __future__ import annotations

import time

import numpy as np

from perflaw.law.errors import InputError
from perflaw.optimizer.search.indices import axis_sizes, evaluate_indices, neighbours
from perflaw.optimizer.search.problem import Problem
from perflaw.optimizer.search.result import SearchResult, finish
from perflaw.optimizer.search.space import AXES
from perflaw.optimizer.search.study import REPEAT, RETRY, Ledger, await_others, open_storage, order, reclaim, retrying

#: The one constraint a trial carries: its candidate's summed violations (``evaluate_indices``'s
#: ``violation``: the constraints' positive parts in their order, plus 1 off the lattice); feasible
#: at 0. TPE and NSGA-II read constraints only as "all <= 0" and as the sum of the positive ones, so
#: this steers them exactly as the named constraints did, and Optuna parses one key per trial per
#: draw, not eight.
VIOLATION = "violation"


def startup_trials(trials: int) -> int:
    """The random trials TPE starts from: a tenth of the study (at least 10), up to TPE's window.

    A fixed share keeps a study of twice the trials twice the work in every phase (random start,
    TPE, polish); past the window more random trials would only fall out of what TPE sees. Over
    seeds 0-59 of the five benchmark problems at 1000 trials, a tenth (100) missed the exact optimum
    in 35 runs of 300 and the earlier cap of 50 in 29, summed gaps 5.79 and 5.72 points: no
    difference those runs can tell."""
    from perflaw.optimizer.search.windowed_tpe import WINDOW
    return min(WINDOW, max(10, trials // 10))


def trial_constraints(ev: dict) -> dict[str, float]:
    """The constraints of the one candidate ``ev`` holds (``evaluate_indices``), as a trial stores them."""
    return {VIOLATION: float(ev["violation"][0])}


def search_optuna(problem: Problem, *, trials: int = 1000, seed: int = 0, top: int = 10, storage: str | None = None,
                  study_name: str | None = None, progress: bool = False, objectives: str = "mmlu") -> SearchResult:
    """TPE (one objective) or NSGA-II (``objectives="mmlu,active_params"``) over the axis indices.

    ``trials`` is the study's total of evaluated lattice points, whoever evaluates them: workers on
    one stored study stop together at it (each may finish the one trial it had started). A point
    proposed again is answered from the trial that holds it, not evaluated again, and is not counted.
    """
    import optuna

    from perflaw.optimizer.search.windowed_tpe import WindowedTPESampler

    t0 = time.perf_counter()
    sizes = axis_sizes(problem)
    multi = objectives != "mmlu"
    shared = storage is not None

    def sampler_for(first: int):
        """The sampler of a worker whose first trial is number ``first``. Workers of one stored study
        must not propose the same sequence, so each seeds by its first trial's number (trial ids
        depend on the storage, numbers do not); a new study's first worker keeps the given seed. A
        run is thus reproducible from the study it starts with, the same in memory as stored."""
        s = seed if first == 0 else int(np.random.SeedSequence([abs(seed), first]).generate_state(1)[0])
        if multi:
            return optuna.samplers.NSGAIISampler(seed=s)
        return WindowedTPESampler(seed=s, multivariate=True, n_ei_candidates=128, constant_liar=shared,
                                  n_startup_trials=startup_trials(trials))

    sampler = sampler_for(0)
    store = open_storage(storage)
    directions = ["maximize", "minimize"] if multi else ["maximize"]
    study = retrying(lambda: optuna.create_study(directions=directions, sampler=sampler,
                                                 storage=store, study_name=study_name or "perflaw",
                                                 load_if_exists=shared), storage)
    # A stored study holds lattice indices: it can only resume the very same problem.
    fingerprint = problem_fingerprint(problem, objectives)
    stored = study.user_attrs.get("perflaw_problem")
    if stored is None:
        study.set_user_attr("perflaw_problem", fingerprint)
    elif stored != fingerprint:
        raise InputError("study_name", "names a stored study of a different problem (search space, budget, "
                                         "constraints or law); use a new study name", study.study_name)
    stop = _stop_on_interrupt()
    ledger = Ledger(study, sizes, stopped=lambda: stop.asked)
    mine: set[int] = set()  # this worker's trial ids
    run = _Worker(problem, study, ledger, sizes, mine, multi, sampler_for, seed)
    reclaimed = 0

    with stop, _bar(progress, trials) as bar:
        ledger.refresh()
        bar.at(ledger.evaluated)
        try:
            if shared:  # trials a killed worker left RUNNING are failed and their points rerun
                reclaimed += run.rerun(reclaim(study))
            run.explore_then_polish(trials, stop, bar)
            if shared and not stop.asked:  # ... even by a resume shorter than the grace period
                reclaimed += run.rerun(await_others(study, mine, lambda: stop.asked))
        except KeyboardInterrupt:
            stop.asked = True
        if stop.asked:  # Ctrl-C: the running trial was let finish (or is failed); none stays RUNNING
            run.fail_current()
            raise KeyboardInterrupt
    ledger.refresh()
    if not ledger.first:
        raise InputError("trials", "must leave at least one completed trial", trials)
    held = sorted(ledger.first, key=lambda point: order(ledger.first[point]))  # in evaluation order
    arch, ev = evaluate_indices(problem, np.array(held, dtype=np.int64))
    words = f"{len(held)} lattice points evaluated in study {study.study_name!r}"
    if ledger.repeats:
        words += f" ({ledger.repeats} repeated proposal{'s' * (ledger.repeats != 1)} answered from the study)"
    if reclaimed:
        words += f"; {reclaimed} trial{'s' * (reclaimed != 1)} of a stopped worker rerun"
    return finish(problem, "optuna", seed, arch, ev, len(held), t0, top, True, words)


class _Worker:
    """One worker's trials: ask, evaluate (or answer from the study), tell; explore, then polish."""

    def __init__(self, problem, study, ledger, sizes, mine, multi, sampler_for, seed):
        self.problem, self.study, self.ledger, self.sizes = problem, study, ledger, sizes
        self.mine, self.multi, self.sampler_for, self.seed = mine, multi, sampler_for, abs(seed)
        self.rng = None  # drawn with the sampler, at this worker's first trial
        self.current = None  # the trial asked and not yet told

    def _created(self, trial):
        """Note a trial of this worker's; at its first, seed the sampler and the draws by its number
        (its points are chosen lazily, at the first suggestion, so the new sampler chooses them)."""
        if self.rng is None:
            if trial.number:
                self.study.sampler = self.sampler_for(trial.number)
            self.rng = np.random.default_rng([trial.number, self.seed])
        self.mine.add(trial._trial_id)
        self.current = trial

    def one(self, trial=None) -> bool:
        """Run one trial (a new one the sampler fills, or ``trial``); True if it evaluated a point the
        study did not hold."""
        import optuna
        trial = trial if trial is not None else self.study.ask()
        self._created(trial)
        idx = [trial.suggest_int(a, 0, n - 1) if n > 1 else 0 for a, n in zip(AXES, self.sizes)]
        point = tuple(idx)
        twin = self.ledger.twin(point, trial)
        if twin is None and self.ledger.stopped():  # Ctrl-C while waiting: the trial is failed, not evaluated
            raise KeyboardInterrupt
        if twin is None:
            arch, ev = evaluate_indices(self.problem, np.array([idx]))
            constraints = trial_constraints(ev)
            values = [float(ev["score"][0])] + ([float(ev["active_params_b"][0])] if self.multi else [])
        try:
            if twin is not None:
                trial.set_user_attr(REPEAT, twin.number)
                constraints, values = dict(twin.constraints), list(twin.values)
            for name, value in constraints.items():
                trial.set_constraint(name, value)
            self.study.tell(trial, values)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # this worker was stopped so long that another reclaimed the trial and reruns its point
        self.current = None
        return twin is None

    def fail_current(self) -> None:
        import optuna
        if self.current is not None:
            try:
                self.study._storage.set_trial_state_values(self.current._trial_id, optuna.trial.TrialState.FAIL)
            except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
                pass  # told meanwhile
            self.current = None

    def until(self, target: int, stop, bar) -> None:
        """Sampler trials until the study holds ``target`` points (a repeat is followed by an unseen
        random point, so a sampler that keeps proposing what it knows still makes progress)."""
        while self.ledger.evaluated < target and not stop.asked:
            if not self.one() and not self._unseen():
                return  # every lattice point is held: nothing is left to learn
            self.ledger.refresh()
            bar.at(self.ledger.evaluated)

    def _unseen(self) -> bool:
        """Evaluate one lattice point no trial holds, drawn at random; False if there is none."""
        known = self.ledger.known()
        if len(known) >= int(np.prod(self.sizes)):
            return False
        for _ in range(1000):
            cand = tuple(int(self.rng.integers(n)) for n in self.sizes)
            if cand not in known:
                self.one(self._fixed(cand))
                return True
        return False

    def _fixed(self, cand: tuple, attrs: dict | None = None):
        """A new RUNNING trial that already holds lattice point ``cand``. Created in one storage call,
        it is visible to other workers at once (an enqueued trial could be taken by two workers)."""
        import optuna
        from optuna.distributions import IntDistribution
        params = {a: int(v) for a, v, n in zip(AXES, cand, self.sizes) if n > 1}
        template = optuna.trial.create_trial(
            state=optuna.trial.TrialState.RUNNING, params=params, user_attrs=attrs or {},
            distributions={a: IntDistribution(0, n - 1) for a, n in zip(AXES, self.sizes) if n > 1})
        trial_id = self.study._storage.create_new_trial(self.study._study_id, template_trial=template)
        return optuna.Trial(self.study, trial_id)

    def rerun(self, dead: list[dict]) -> int:
        """Evaluate the points of dead workers' trials; an axis a trial had not chosen yet takes the
        best feasible trial's value (or the axis's first value)."""
        if not dead:
            return 0
        self.ledger.refresh()
        best = None if self.multi else _best_feasible_trial(self.ledger.first.values())  # two objectives: no best
        fill = best.params if best is not None else {}
        for params in dead:
            cand = tuple(int(params.get(a, fill.get(a, 0))) for a in AXES)
            self.one(self._fixed(cand, {RETRY: params[RETRY]}))
            self.ledger.refresh()
        return len(dead)

    def polish(self, trials: int, stop, bar) -> None:
        """Evaluate the unseen lattice neighbours of the best feasible trial while that improves."""
        while self.ledger.evaluated < trials and not stop.asked:
            best = _best_feasible_trial(self.ledger.first.values())
            if best is None:
                return
            start = np.array([best.params.get(a, 0) for a in AXES])
            queue = neighbours(start, self.sizes, self.ledger.known())[: trials - self.ledger.evaluated]
            if not queue:
                return
            for cand in queue:
                self.ledger.refresh()
                if stop.asked or self.ledger.evaluated >= trials:
                    break
                if tuple(map(int, cand)) not in self.ledger.known():  # another worker may have taken it
                    self.one(self._fixed(tuple(map(int, cand))))
            self.ledger.refresh()
            bar.at(self.ledger.evaluated)
            improved = _best_feasible_trial(self.ledger.first.values())
            if improved is None or improved.value <= best.value:
                return

    def explore_then_polish(self, trials: int, stop, bar) -> None:
        """Explore (TPE, or NSGA-II for two objectives) up to 80 % of the trials, then polish; budget
        left after a polish converges goes half to more exploration, then another polish, and so on."""
        explore_to = trials - trials // 5
        while self.ledger.evaluated < trials and not stop.asked:
            before = self.ledger.evaluated
            if self.ledger.evaluated < explore_to:
                self.until(explore_to, stop, bar)
            if self.multi:
                self.until(trials, stop, bar)
                return
            self.polish(trials, stop, bar)
            if self.ledger.evaluated == before:  # neither exploration nor polish found anything new
                self.until(min(trials, before + 1), stop, bar)
                if self.ledger.evaluated == before:
                    return
            explore_to = self.ledger.evaluated + max(1, (trials - self.ledger.evaluated) // 2)


class _bar:
    """Optuna's kind of progress bar (tqdm, on stderr) over the study's evaluated points, or nothing."""

    def __init__(self, show: bool, total: int):
        self.show, self.total, self.tqdm = show, total, None

    def __enter__(self):
        if self.show:
            from tqdm.auto import tqdm
            self.tqdm = tqdm(total=self.total, unit="trial", leave=False)
        return self

    def at(self, evaluated: int) -> None:
        """Show the study's count of evaluated points (capped at the total)."""
        if self.tqdm is not None and min(evaluated, self.total) > self.tqdm.n:
            self.tqdm.update(min(evaluated, self.total) - self.tqdm.n)

    def __exit__(self, *exc):
        if self.tqdm is not None:
            self.tqdm.close()
        return False


class _stop_on_interrupt:
    """Ctrl-C during a study: stop after the running trial instead of raising inside Optuna or
    SQLAlchemy, where the interrupt can be swallowed or leave a trial RUNNING. A second Ctrl-C stops
    at once. Only in the main thread; the previous handler is restored on exit."""

    def __init__(self):
        self.asked, self.previous = False, None

    def _handler(self, signum, frame):
        if self.asked:
            raise KeyboardInterrupt
        self.asked = True

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
