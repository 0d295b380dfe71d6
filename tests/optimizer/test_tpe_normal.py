"""TPE's log of the normal CDF taken from scipy during a draw: equal to Optuna's, in place only while a draw runs."""

import threading

import numpy as np
import optuna
import pytest
import scipy.special
from optuna.samplers._tpe import _truncnorm

from perflaw.optimizer.search.tpe_normal import scipy_normal
from perflaw.optimizer.search.windowed_tpe import WindowedTPESampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_scipys_function_equals_optunas_over_the_tails_and_the_middle():
    x = np.concatenate([np.linspace(-60.0, 60.0, 120_001), np.random.default_rng(0).normal(0.0, 8.0, 20_000)])
    theirs = _truncnorm._log_ndtr(x)
    with scipy_normal():
        ours = _truncnorm._log_ndtr(x)
    assert np.all(np.isfinite(ours)) and np.max(np.abs(ours - theirs)) < 1e-11
    # the truncated-normal mass TPE scores candidates with, through the swapped function
    a, b = np.linspace(-30, 29, 500), np.linspace(-29, 30, 500)
    plain = _truncnorm._log_gauss_mass(a, b)
    with scipy_normal():
        swapped = _truncnorm._log_gauss_mass(a, b)
    assert np.allclose(swapped, plain, rtol=1e-9, atol=1e-12)


def test_it_is_in_place_inside_the_block_only_and_nested_blocks_undo_it_once():
    optunas = _truncnorm._log_ndtr
    with scipy_normal():
        assert _truncnorm._log_ndtr is scipy.special.log_ndtr
        with scipy_normal():
            assert _truncnorm._log_ndtr is scipy.special.log_ndtr
        assert _truncnorm._log_ndtr is scipy.special.log_ndtr  # the outer draw still runs
    assert _truncnorm._log_ndtr is optunas
    with pytest.raises(ZeroDivisionError):
        with scipy_normal():
            1 / 0
    assert _truncnorm._log_ndtr is optunas  # an error in a draw puts Optuna's back too


def test_overlapping_draws_in_threads_leave_optunas_function_behind():
    optunas, entered, release = _truncnorm._log_ndtr, threading.Barrier(2), threading.Event()
    seen = []

    def draw():
        with scipy_normal():
            entered.wait(timeout=30)  # both inside at once
            release.wait(timeout=30)
            seen.append(_truncnorm._log_ndtr)

    threads = [threading.Thread(target=draw) for _ in range(2)]
    for t in threads:
        t.start()
    release.set()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert seen == [scipy.special.log_ndtr] * 2 and _truncnorm._log_ndtr is optunas


TRIALS, STARTUP = 30, 5  # the studies below: trials, and the random ones before TPE draws


def _study_of(sampler):
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(lambda t: -(t.suggest_int("x", 0, 300) - 97) ** 2 - (t.suggest_int("y", 0, 300) - 211) ** 2,
                   TRIALS)
    return study


def test_the_windowed_sampler_draws_with_it_and_puts_optunas_back(monkeypatch):
    optunas, during = _truncnorm._log_ndtr, []
    split = optuna.samplers._tpe.sampler._split_trials

    def recording(study, trials, n_below):
        during.append(_truncnorm._log_ndtr)
        return split(study, trials, n_below)

    monkeypatch.setattr(optuna.samplers._tpe.sampler, "_split_trials", recording)
    _study_of(WindowedTPESampler(seed=0, multivariate=True, n_startup_trials=STARTUP))
    assert len(during) == TRIALS - STARTUP and all(f is scipy.special.log_ndtr for f in during)
    assert _truncnorm._log_ndtr is optunas


def _optunas_calls() -> int:
    info = _truncnorm._log_ndtr_single.cache_info()  # Optuna's scalar log Φ, behind its own _log_ndtr
    return info.hits + info.misses


def test_the_windowed_draws_call_scipys_function_and_never_optunas(monkeypatch):
    """Not only swapped: the draws reach scipy's function through it (were Optuna to call its own
    through a reference of its own, the speed-up would be gone while the draws stayed the same)."""
    calls = []
    real = scipy.special.log_ndtr
    monkeypatch.setattr(scipy.special, "log_ndtr", lambda x: calls.append(1) or real(x))
    before = _optunas_calls()
    _study_of(WindowedTPESampler(seed=1, multivariate=True, n_startup_trials=STARTUP))
    assert calls and _optunas_calls() == before
    _study_of(optuna.samplers.TPESampler(seed=1, multivariate=True, n_startup_trials=STARTUP))
    assert _optunas_calls() > before  # plain TPE goes on calling Optuna's: the count does see it
