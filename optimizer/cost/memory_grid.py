"""Per-GPU training memory of many layouts of one model at once: numpy arrays in, totals out.

``training_totals`` gives, for every layout, the same number as ``training_memory(...).total``
(memory.py states the model; this module only evaluates it over arrays). The operations are the
scalar code's, in the same order, so each total is equal to the last bit: the layout search picks
by these totals and then builds the chosen layout's breakdown with the scalar functions, and the
two never disagree (tests/optimizer/test_memory_grid.py checks it over random models and layouts).
Sequence parallelism is on whenever tp > 1, as ``Layout`` defaults.
"""

from __future__ import annotations

import numpy as np

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.memory import DROPOUT_MASK_BYTES, RECOMPUTE_MODES, _activation_terms, _bytes

_FULL, _NONE = RECOMPUTE_MODES.index("full"), RECOMPUTE_MODES.index("none")


def _states(params, dp, zero, unit, wb, gb, k):
    """``model_state_bytes`` over arrays: (weights, gradients, optimizer) per GPU."""
    shard = params / dp
    gathered = shard + np.minimum(unit, params) * (1 - 1 / dp)
    return (wb * np.where(zero >= 3, gathered, params), gb * np.where(zero >= 2, gathered, params),
            k * np.where(zero >= 1, shard, params))


def _per_layer(arch: Architecture, t, s: int, b: int, e: float, dropout: bool, moe: bool, mode, flash: bool):
    """``layer_activation_bytes`` over arrays of tp and recompute mode (sequence parallel when tp > 1)."""
    rep, split, scores = _activation_terms(arch, e, dropout, moe)
    out = s * b * (rep / t + split / t)
    if not flash:
        out = np.where(mode == _NONE, out + scores * arch.heads * s * s * b / t, out)
    return np.where(mode == _FULL, e * s * b * arch.hidden / t, out)


def _selective(arch: Architecture, t, s: int, b: int, e: float, dropout: bool, moe: bool):
    rep, split, _ = _activation_terms(arch, e, dropout, moe)
    return s * b * (rep / t + split / t)


def _stage_totals(arch, p, i, tp, pp, dp, ep, zero, mode, flights_cap, s, b, options, vpp):
    """``stage_memory(...).total`` of stage ``i`` (an array, one stage per layout)."""
    wb, gb, k, e, dropout, flash = options
    L = arch.layers
    dense_n = arch.dense_layers if arch.is_moe else L
    moe_n = L - dense_n
    attn, norms = p.attention / L, p.norms / L
    routed = p.experts_routed / moe_n if moe_n else 0.0
    dense_layer = (attn + (p.ffn_dense / dense_n if dense_n else 0.0)) / tp + norms
    moe_layer = (attn + ((p.experts_shared + p.router) / moe_n if moe_n else 0.0)) / tp + norms
    q, r = L // pp, L % pp
    start = i * q + np.minimum(i, r)
    n = q + (i < r)
    n_dense = np.minimum(np.maximum(dense_n - start, 0), n)
    n_moe = n - n_dense
    emb = np.where(i == 0, p.embedding, 0)
    out = np.where(i == pp - 1, np.where(pp == 1, p.output, arch.vocab * arch.hidden), 0)
    on_gpu = n_dense * dense_layer + n_moe * moe_layer + (emb + out) / tp
    unit = np.maximum(np.maximum(np.where(n_dense > 0, dense_layer, 0.0), np.where(n_moe > 0, moe_layer, 0.0)),
                      np.maximum(emb / tp, out / tp))
    dw, dg, do = _states(on_gpu, dp, zero, unit, wb, gb, k)
    ew, eg, eo = _states(n_moe * routed / ep, tp * dp // ep, zero, np.where(n_moe > 0, routed / ep, 0.0), wb, gb, k)
    flight = np.minimum(pp - i, flights_cap)
    flight = np.where(vpp > 1, flight * (1 + (pp - 1) / (pp * vpp)), flight)
    dense_act = _per_layer(arch, tp, s, b, e, dropout, False, mode, flash)
    moe_act = _per_layer(arch, tp, s, b, e, dropout, True, mode, flash) if arch.is_moe else dense_act
    stored = flight * (n_dense * dense_act + n_moe * moe_act)
    recomputed = np.maximum(np.where(n_dense > 0, _selective(arch, tp, s, b, e, dropout, False), -np.inf),
                            np.where(n_moe > 0, _selective(arch, tp, s, b, e, dropout, True), -np.inf))
    full = (flight * n - 1) * dense_act + recomputed
    acts = np.where(mode == _FULL, full, stored)
    return ((dw + ew) + (dg + eg) + (do + eo)) + acts


def training_totals(arch: Architecture, tp, pp, dp, ep, zero, recompute, *, micro_batch: int, seq_len: int,
                    microbatches=None, vpp=None, weight_bytes: float = 2, grad_bytes: float = 2,
                    master_bytes: float = 4, optimizer_bytes: float = 8, activation_bytes: float = 2,
                    dropout: bool = False, flash_attention: bool = True) -> np.ndarray:
    """Bytes per GPU on the fullest pipeline stage of every layout (``training_memory``'s total).

    ``tp``, ``pp``, ``dp``, ``ep``, ``zero`` are integer arrays of one length, ``recompute`` the index
    of each layout's mode in ``RECOMPUTE_MODES``, ``microbatches`` per step and replica and ``vpp`` (virtual
    stages) arrays or None; the layouts must be valid for ``arch`` (the layout search only makes valid ones)."""
    for key, flag in (("dropout", dropout), ("flash_attention", flash_attention)):
        if not isinstance(flag, bool):
            raise InputError(key, "must be true or false", flag)
    options = (_bytes("weight_bytes", weight_bytes), _bytes("grad_bytes", grad_bytes),
               _bytes("master_bytes", master_bytes, True) + _bytes("optimizer_bytes", optimizer_bytes, True),
               _bytes("activation_bytes", activation_bytes), dropout, flash_attention)
    tp, pp, dp, ep, zero, mode = (np.asarray(x, dtype=np.int64) for x in (tp, pp, dp, ep, zero, recompute))
    cap = np.full(tp.shape, np.iinfo(np.int64).max) if microbatches is None else np.asarray(microbatches, np.int64)
    v = np.ones_like(tp) if vpp is None else np.asarray(vpp, dtype=np.int64)
    p = arch.params()
    L = arch.layers
    dense_n = arch.dense_layers if arch.is_moe else L
    q, r = L // pp, L % pp
    b = np.where(dense_n < r * (q + 1), dense_n // (q + 1), r + (dense_n - r * (q + 1)) // q)
    best = None
    for stage in (np.zeros_like(pp), b, b + 1, pp - 1):  # the stages that can be the fullest (training_memory)
        valid = stage < pp
        total = _stage_totals(arch, p, np.where(valid, stage, 0), tp, pp, dp, ep, zero, mode, cap, seq_len,
                              micro_batch, options, v)
        total = np.where(valid, total, -np.inf)
        best = total if best is None else np.maximum(best, total)
    return best


__all__ = ["training_totals", "DROPOUT_MASK_BYTES"]
