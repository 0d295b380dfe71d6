"""An Optuna study shared by workers: its storage opened race-free, its ledger of lattice points,
and the reclaiming of trials that a stopped or killed worker left RUNNING."""

from __future__ import annotations

import datetime
import time

from perflaw.law.errors import InputError
from perflaw.optimizer.search.space import AXES

# A perflaw trial evaluates one lattice point in milliseconds, so a trial RUNNING this long belongs to
# a worker that was killed or stopped. The rule needs no heartbeat and holds for every storage;
# workers on several machines need clocks that agree to within a few seconds.
GRACE_S = 20
CHOOSING_S = 5  # a live worker chooses a trial's point (its axis indices) well within this
POLL_S = 0.01  # how often a worker looks again while it waits for another worker's trial
REPEAT = "perflaw_repeat_of"  # user attribute of a trial answered from an earlier trial of the same point
RETRY = "perflaw_retry_of"  # user attribute of a trial that reruns the point of a dead worker's trial


def open_storage(url: str | None):
    """The Optuna storage a ``--storage`` value names: an RDB URL, ``journal:///path``, or None."""
    if url is None:
        return None
    import optuna
    if url.startswith("journal:"):  # Optuna's file journal: workers that share a disk append to one log
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        path = url.split(":", 1)[1].removeprefix("//")
        if not path:
            raise InputError("storage", "must name the journal file, as journal:///shared/study.log", url)
        try:
            return JournalStorage(JournalFileBackend(path))
        except OSError as exc:
            raise InputError("storage", f"journal file could not be opened: {exc.strerror}", path) from None
    return retrying(lambda: optuna.storages.RDBStorage(url), url)


def retrying(make, storage, attempts: int = 6):
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
                                 f"{_shown(storage)} ({type(exc).__name__})") from None
            time.sleep(0.05 * 2 ** attempt)


def _shown(storage) -> str:
    """A storage URL as an error may show it: a password in it is masked."""
    text = storage if isinstance(storage, str) else type(storage).__name__
    if "://" in text and "@" in text.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = text.split("://", 1)
        auth, host = rest.split("@", 1)
        if ":" in auth:
            text = f"{scheme}://{auth.split(':', 1)[0]}:***@{host}"
    return text


def order(trial) -> tuple[int, int]:
    """The order of trials: by number, then by id (an RDB storage under concurrent inserts can give
    two trials one number; their ids, from the database, differ)."""
    return trial.number, trial._trial_id


def point_of(trial, sizes: list[int]) -> tuple[int, ...] | None:
    """The lattice point (axis indices) a trial holds, or None while it holds only some axes."""
    params = trial.params
    if any(n > 1 and a not in params for a, n in zip(AXES, sizes)):
        return None
    return tuple(int(params.get(a, 0)) for a in AXES)


class Ledger:
    """What the study knows of its lattice points, read incrementally from the storage.

    ``first`` maps each point to the completed trial that holds its value (the lowest-numbered
    one); ``evaluated`` counts the points with a value, which is what ``--trials`` bounds. Finished
    trials never change, so each is read once; only trials still unfinished are looked at again.
    """

    def __init__(self, study, sizes: list[int], stopped=lambda: False):
        self.study, self.sizes, self.stopped = study, sizes, stopped  # stopped(): Ctrl-C asked
        self.first: dict[tuple, object] = {}
        self.repeats = 0  # completed trials answered from an earlier trial of the same point
        self.seen_to = 0  # the trials before this index (in creation order) are finished and recorded
        self.recorded: set[int] = set()  # ids of finished trials from that index on, already recorded
        self.open: list = []  # the unfinished trials of the last refresh

    def refresh(self) -> None:
        trials = self.study._storage.get_all_trials(self.study._study_id, deepcopy=False)
        self.open = []
        advancing = True
        for i in range(self.seen_to, len(trials)):  # in creation order
            t = trials[i]
            if not t.state.is_finished():
                advancing = False
                self.open.append(t)
                continue
            if t._trial_id not in self.recorded:
                self.recorded.add(t._trial_id)
                self._record(t)
            if advancing:
                self.seen_to = i + 1
                self.recorded.discard(t._trial_id)

    def _record(self, t) -> None:
        if t.state.name != "COMPLETE":
            return
        point = point_of(t, self.sizes)
        if point is None:
            return
        if point in self.first:
            self.repeats += 1
            if order(t) < order(self.first[point]):
                self.first[point] = t
        else:
            self.first[point] = t

    @property
    def evaluated(self) -> int:
        return len(self.first)

    def known(self) -> set:
        """Every point a trial holds or is evaluating (as of the last refresh)."""
        out = set(self.first)
        for t in self.open:
            point = point_of(t, self.sizes)
            if point is not None:
                out.add(point)
        return out

    def twin(self, point: tuple, trial):
        """The completed trial that already holds ``point``, or None if ``trial`` is the one to
        evaluate it.

        Trials are ordered by ``order`` (their number), as tickets are in Lamport's bakery: a trial waits
        while a lower-numbered trial is still choosing its point, and while one with the same point
        is still running; then it evaluates only if no trial holds the point. A lower trial older
        than ``CHOOSING_S`` (still choosing) or ``GRACE_S`` (running) is not waited for: its worker
        is gone, and ``reclaim`` reruns it.
        """
        while True:
            self.refresh()
            if point in self.first:
                return self.first[point]
            now = datetime.datetime.now()
            racing = False
            for t in self.open:
                if order(t) >= order(trial) or t.state.name != "RUNNING" or t.datetime_start is None:
                    continue
                held = point_of(t, self.sizes)
                age = (now - t.datetime_start).total_seconds()
                if (held is None and age < CHOOSING_S) or (held == point and age < GRACE_S):
                    racing = True
                    break
            if not racing or self.stopped():  # after Ctrl-C the trial is failed, not told
                return None
            time.sleep(POLL_S)


def reclaim(study, mine: set[int] = frozenset()) -> list[dict]:
    """Fail the RUNNING trials older than ``GRACE_S`` (their workers are gone). Returns the parameters
    each held, for the caller to rerun its point."""
    import optuna
    running = optuna.trial.TrialState.RUNNING
    cutoff = datetime.datetime.now() - datetime.timedelta(seconds=GRACE_S)
    dead = []
    for t in study._storage.get_all_trials(study._study_id, deepcopy=False, states=(running,)):
        if t._trial_id in mine or t.datetime_start is None or t.datetime_start >= cutoff:
            continue
        try:
            if not study._storage.set_trial_state_values(t._trial_id, optuna.trial.TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # finished meanwhile, or reclaimed by another worker
        dead.append(dict(t.params) | {RETRY: t.number})
    return dead


def await_others(study, mine: set[int], stop=lambda: False) -> list[dict]:
    """Wait until the trials other workers are running now have finished or are reclaimed as dead;
    a resume shorter than ``GRACE_S`` would otherwise leave a killed worker's trial RUNNING for good.
    Returns the parameters of the reclaimed trials, as ``reclaim`` does."""
    import optuna
    running = optuna.trial.TrialState.RUNNING

    def now_running() -> set[int]:
        return {t._trial_id for t in study._storage.get_all_trials(study._study_id, deepcopy=False, states=(running,))}

    watched = now_running() - set(mine)
    dead: list[dict] = []
    while watched and not stop():
        dead += reclaim(study, mine)
        watched &= now_running()
        if watched:
            time.sleep(min(1.0, GRACE_S / 20))
    return dead
