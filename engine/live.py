"""Small pure helpers for changing a simulation's settings live (the app's keys and settings).

Nothing here touches a :class:`~engine.simulation.Simulation`; these functions only compute the
next value a key asks for, or sort a set of changed settings into "live" and "new simulation":

* :func:`next_batch_size` / :func:`previous_batch_size`: the next / previous power of two, with
  1 and N as the two ends (B = 5 of N = 200: next 8, previous 4; 128 → 200; 200 → 128);
* :func:`next_optimizer` / :func:`next_sampling`: the next name in the engine's order
  (stratified sampling only for a classification);
* :func:`classify_changes`: which settings of a new scenario differ from the one in force, and
  whether applying them needs a new simulation (``Simulation.check_changes`` is the dry run of
  a live change itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .optimizers import OPTIMIZERS
from .sampling import SAMPLINGS
from .scenario import FIELD_NAMES, LIVE_SETTINGS, Scenario

#: Settings that describe a scenario but change nothing in a run.
META_SETTINGS: frozenset[str] = frozenset({"name", "description"})

#: Settings that need a new simulation (the data, the model, the seed).
RESTART_SETTINGS: frozenset[str] = frozenset(FIELD_NAMES) - LIVE_SETTINGS - META_SETTINGS


def _check(batch_size: int, n_samples: int) -> None:
    if n_samples < 1:
        raise ValueError(f"n_samples must be at least 1, not {n_samples}")
    if not 1 <= batch_size <= n_samples:
        raise ValueError(f"batch_size must be from 1 to {n_samples}, not {batch_size}")


def next_batch_size(batch_size: int, n_samples: int) -> int:
    """The next power of two above ``batch_size``, or N when that would pass N (N stays N)."""
    _check(batch_size, n_samples)
    p = 1
    while p <= batch_size:
        p *= 2
    return min(p, n_samples)


def previous_batch_size(batch_size: int, n_samples: int) -> int:
    """The largest power of two below ``batch_size`` (1 stays 1)."""
    _check(batch_size, n_samples)
    if batch_size == 1:
        return 1
    p = 1
    while p * 2 < batch_size:
        p *= 2
    return p


def cycle(options: Sequence[str], current: str) -> str:
    """The option after ``current`` (the first one after the last, or when current is unknown)."""
    if not options:
        raise ValueError("nothing to cycle through")
    if current not in options:
        return options[0]
    return options[(list(options).index(current) + 1) % len(options)]


def next_optimizer(current: str) -> str:
    """sgd → momentum → nesterov → rmsprop → adagrad → adam → adamw → sgd."""
    return cycle(OPTIMIZERS, current)


def next_sampling(current: str, classification: bool) -> str:
    """reshuffle → once → sequential → replacement → stratified → reshuffle.

    Stratified sampling needs class labels, so it is skipped unless ``classification``.
    """
    options = [s for s in SAMPLINGS if classification or s != "stratified"]
    return cycle(options, current)


def classify_changes(old: Scenario, new: Scenario, task: str | None = None) -> tuple[dict[str, Any], bool]:
    """The settings of ``new`` that change what ``old`` does, and whether that needs a new run.

    ``old`` is the resolved scenario in force (``sim.scenario``); ``new`` may hold automatic
    choices (``model = "auto"``, ``momentum = None``), which are compared after resolving them
    for ``task`` (the data's task; by default the one ``new`` names). The values returned are
    those of ``new`` as given, so ``Simulation.apply_changes`` (live) or ``Simulation(new)``
    can use them. The name and the description are never a change.
    """
    resolved = new.resolved(task or new.task or old.task)
    changes: dict[str, Any] = {}
    for key in FIELD_NAMES:
        if key in META_SETTINGS:
            continue
        if getattr(resolved, key) != getattr(old, key):
            changes[key] = getattr(new, key)
    restart = any(key in RESTART_SETTINGS for key in changes)
    return changes, restart
