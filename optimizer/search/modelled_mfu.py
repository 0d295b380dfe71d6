"""A budget at the MFU of its best plan's fastest layout: search, time that layout, search again until they agree.

A problem whose MFU is to be modelled (``Problem.model_mfu``: no MFU given, hardware and GPUs
known) starts at the published run's MFU. Each round finds the best plan with the exact strategy,
times the fastest layout that fits it (``cost.layout.search_layout``) and sets the problem's MFU to
that layout's. A budget stated in FLOPs keeps its FLOPs (only the GPU-hours change, so one round
settles it); a budget in GPU-hours, days or dollars buys FLOPs in proportion to the MFU, which can
change the best plan, so the rounds go on until the MFU moves by less than ``AGREE`` (at most
``MAX_ROUNDS``). Every plan of the problem is then costed at that one MFU: the best plan's.
"""

from __future__ import annotations

from dataclasses import replace

from perflaw.optimizer.cost.hardware import Utilization
from perflaw.optimizer.search.problem import Problem

MAX_ROUNDS = 4
AGREE = 0.005  # relative change of the MFU at which the rounds stop


def mfu_is_modelled(mfu: float | None, hardware, gpus: int | None, precision: str) -> bool:
    """Whether a run's MFU comes from the step-time model: none given, hardware and GPUs known, not FP8 (whose
    budgets still state their MFU)."""
    return mfu is None and hardware is not None and bool(gpus) and precision != "fp8"


def settle_mfu(problem: Problem) -> Problem:
    """``problem`` at the MFU of its best plan's fastest layout (unchanged unless ``problem.model_mfu``)."""
    if not problem.model_mfu or problem.hardware is None or not problem.gpus or problem.utilization is None:
        return problem
    from perflaw.optimizer.cost.layout import search_layout
    from perflaw.optimizer.search.strategies import search_exact

    base = problem.utilization
    current = problem
    timed = {}  # architecture -> its layout search: a round that finds an earlier round's plan reuses it
    for round_ in range(1, MAX_ROUNDS + 1):
        best = search_exact(current, top=1).best
        if best is None:
            break
        found = timed.get(best.architecture)
        if found is None:
            found = timed[best.architecture] = search_layout(
                best.architecture, current.hardware, current.gpus, seq_len=current.seq_len,
                headroom=current.constraints.headroom, precision=current.precision, flops_rule=current.flops_rule)
        if found.step is None:  # nothing fits, or the hardware cannot be timed: the published run's MFU stays
            why = found.timing_note or found.explanation
            return replace(current, model_mfu=False, utilization=replace(
                current.utilization, source=f"{base.source}; not modelled: {why}"))
        mfu = found.mfu
        old = current.utilization.mfu
        source = (f"MFU {mfu:.1%} from the step-time model of the best plan's fastest layout "
                  f"({found.layout.summary()}, {round_} round{'s' if round_ > 1 else ''}); goodput as before "
                  f"({base.source})")
        flops = current.budget_flops if current.flops_fixed else current.budget_flops * mfu / old
        current = replace(current, budget_flops=flops, timed_layout=(best.architecture, found),
                          utilization=Utilization(mfu, current.utilization.goodput, source))
        if current.flops_fixed or abs(mfu - old) <= AGREE * old:
            break
    return current
