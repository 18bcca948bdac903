"""How many threads LightGBM gets: one per physical core that other processes leave idle.

Measured on 2 cores (100 rounds on a 245k-row window): two threads took 4.6 s alone and 14.8 s beside one
CPU-bound process, since OpenMP's barriers wait for the thread that shares its core; one thread took 6.4 s
either way. Waiting passively instead of spinning was no remedy: on a VM, waking the sleeping thread made two
passive threads slower than one (7.7 s). The count changes no tree (training is `deterministic`).
"""

from __future__ import annotations

import os
import time

import psutil

from ai_platform import settings

_last: tuple[float, float, float] | None = None  # (monotonic s, CPU s of the machine, CPU s of this process)


def _sample() -> tuple[float, float, float]:
    machine, own = psutil.cpu_times(), psutil.Process().cpu_times()
    busy = machine.user + machine.nice + machine.system + getattr(machine, "irq", 0) + getattr(machine, "softirq", 0)
    return time.monotonic(), busy, own.user + own.system + own.children_user + own.children_system


def busy_elsewhere() -> float:
    """Cores other processes kept busy since the last call (over at least 0.1 s: it waits if need be)."""
    global _last
    if _last is None:
        _last = _sample()
    time.sleep(max(0.0, _last[0] + 0.1 - time.monotonic()))
    now = _sample()
    wall = now[0] - _last[0]
    others = ((now[1] - _last[1]) - (now[2] - _last[2])) / wall if wall > 0 else 0.0
    _last = now
    return max(0.0, others)


def physical() -> int:
    """Physical cores this process may run on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(usable, psutil.cpu_count(logical=False) or usable))


def lgbm_threads() -> int:
    """`AI_PLATFORM_LGBM_THREADS` if set, else the physical cores not kept busy by other processes (at least 1)."""
    return settings.lgbm_threads() or max(1, physical() - round(busy_elsewhere()))
