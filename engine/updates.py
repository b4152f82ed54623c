"""The optimizer steps of K runs: runs with one optimizer (and one step count) update together.

An :mod:`engine.optimizers` step is elementwise, so it takes the (K, P) parameters of K runs as
it takes one run's (P,) vector, row k being what the lone run computes. Runs of one optimizer
form an :class:`UpdateSet` (runs that differ only in the learning rate share one: the rate is
then a (k, 1) column); after a live change a run that switched optimizer starts at t = 0, so
it is in a set of its own step count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .optimizers import Optimizer, State, StepFn


@dataclass
class UpdateSet:
    """Runs ``rows`` (a slice for all of them) of one optimizer: their schedules, and the rate
    when every one is constant (a float, or a (k, 1) column when they differ)."""

    optimizer: Optimizer
    rows: np.ndarray | slice
    schedules: list[Callable[[int], float]]
    constant_lr: float | np.ndarray | None
    step: StepFn = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.step = self.optimizer.step_function

    def lr(self, step: int) -> float | np.ndarray:
        """The rate of step ``step`` (1-based): a float, or (k, 1) when the runs' differ."""
        if self.constant_lr is not None:
            return self.constant_lr
        lrs = [f(step) for f in self.schedules]
        return lrs[0] if len(set(lrs)) == 1 else np.array(lrs)[:, None]


def update_sets(optimizers: list[Optimizer], schedules: list[Callable[[int], float]],
                constant: list[float | None], step_counts: list[int]) -> list[UpdateSet]:
    """One set per (optimizer, step count t) of K runs (``constant[r]``: run r's constant rate,
    None when it follows a schedule)."""
    k = len(optimizers)
    by_key: dict[tuple[Optimizer, int], list[int]] = {}
    for row, (opt, t) in enumerate(zip(optimizers, step_counts)):
        by_key.setdefault((opt, t), []).append(row)
    sets = []
    for (opt, _t), rows in by_key.items():
        sel: np.ndarray | slice = slice(None) if len(rows) == k else np.array(rows)
        rates = [constant[r] for r in rows]
        const: float | np.ndarray | None = None
        if all(r is not None for r in rates):
            const = rates[0] if len(set(rates)) == 1 else np.array(rates, dtype=float)[:, None]
        sets.append(UpdateSet(opt, sel, [schedules[r] for r in rows], const))
    return sets


def stack_states(sets: list[UpdateSet], states: list[State] | None, params: np.ndarray) -> list[State]:
    """Each set's optimizer state: a fresh one for its rows (``states`` None), or the runs'
    own states (one per run, (P,) arrays) stacked."""
    out = []
    for us in sets:
        if states is None:
            out.append(us.optimizer.init(params[us.rows]))
            continue
        rows = range(params.shape[0])[us.rows] if isinstance(us.rows, slice) else us.rows.tolist()
        first = states[rows[0]]
        out.append({key: (np.stack([states[r][key] for r in rows]) if isinstance(v, np.ndarray) else v)
                    for key, v in first.items()})
    return out


def row_state(sets: list[UpdateSet], states: list[State], row: int, steps_behind: int) -> State:
    """Run ``row``'s own optimizer state ((P,) arrays), its step count t less the steps it has
    not taken (a stopped run stopped ``steps_behind`` steps ago)."""
    for us, st in zip(sets, states):
        if isinstance(us.rows, slice):
            r = row
        else:
            hit = np.flatnonzero(us.rows == row)
            if not hit.size:
                continue
            r = int(hit[0])
        out: dict[str, Any] = {key: (v[r] if isinstance(v, np.ndarray) else v) for key, v in st.items()}
        out["t"] = int(st["t"]) - steps_behind
        return out
    raise IndexError(f"run {row} is in no update set")


def row_lrs(sets: list[UpdateSet], last_lrs: list[Any], k: int) -> np.ndarray:
    """(k,) each run's last rate (NaN before its first step)."""
    out = np.full(k, math.nan)
    for us, lr in zip(sets, last_lrs):
        out[us.rows] = np.ravel(lr) if isinstance(lr, np.ndarray) else lr
    return out


def fresh_state(optimizer: Optimizer, params: np.ndarray) -> State:
    """A fresh optimizer state for one run's (P,) parameters."""
    return {key: (v[0] if isinstance(v, np.ndarray) else v)
            for key, v in optimizer.init(params[None, :]).items()}
