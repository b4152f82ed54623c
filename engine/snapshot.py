"""Snapshots of stepping state, made generically, and the checkpoints that hold them.

The state of a stepping loop is one dataclass (:class:`engine.runs.RunsState`): a snapshot
captures **every field** of it, whatever fields it has, so a field added later is snapshotted
without anyone remembering to list it (issue 25).

Arrays are shared, not copied (a checkpoint of a noise cloud would otherwise copy K orders of
N indices every 32 iterations): a snapshot **freezes** every array it captures
(``ndarray.flags.writeable = False``), so the convention the stepping loop follows — it
replaces an array, it never writes into one it did not just make — is enforced by NumPy: an
in-place write into an array a checkpoint holds raises ``ValueError: assignment destination
is read-only`` instead of silently changing what :meth:`Checkpoints.restore` would give back.
Containers (dicts, lists, tuples, nested dataclasses) are copied one level at a time, so
restoring a snapshot never hands out a container the checkpoint still holds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

import numpy as np

T = TypeVar("T")


_PLAIN = (int, float, bool, str, type(None), np.integer, np.floating, np.bool_)
_NAMES: dict[type, tuple[str, ...]] = {}


def _names(cls: type) -> tuple[str, ...]:
    """The field names of a dataclass (looked up once per class)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def freeze(value: Any) -> Any:
    """``value`` made safe to share with a checkpoint: arrays frozen in place (and returned),
    containers copied with their items frozen, anything else (numbers, strings, None,
    frozen dataclasses) returned as it is."""
    kind = type(value)
    if kind is np.ndarray:
        value.flags.writeable = False
        return value
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k: freeze(v) for k, v in value.items()}
    if kind is list:
        return [freeze(v) for v in value]
    if kind is tuple:
        return tuple(freeze(v) for v in value)
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return snapshot(value)
    return value


def thaw(value: Any) -> Any:
    """A working copy of a frozen value: containers copied (so the caller may change them),
    arrays shared (still frozen: the caller replaces them, never writes into them)."""
    kind = type(value)
    if kind is np.ndarray or kind in _PLAIN:
        return value
    if kind is dict:
        return {k: thaw(v) for k, v in value.items()}
    if kind is list:
        return [thaw(v) for v in value]
    if kind is tuple:
        return tuple(thaw(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return restore(value)
    return value


def _rebuilt(state: T, convert: Any) -> T:
    cls = type(state)
    new = object.__new__(cls)
    for name in _names(cls):
        object.__setattr__(new, name, convert(getattr(state, name)))
    return new


def snapshot(state: T) -> T:
    """A frozen copy of the dataclass ``state``: every field, by :func:`freeze`."""
    return _rebuilt(state, freeze)


def restore(frozen: T) -> T:
    """A working copy of a snapshot (the snapshot stays as it is, for the next restore)."""
    return _rebuilt(frozen, thaw)


@dataclasses.dataclass
class Checkpoint(Generic[T]):
    """A snapshot of the state after ``iteration`` iterations (``extra``: what the owner keeps
    beside it, e.g. the generators' states)."""

    iteration: int
    state: T
    extra: Any = None


class Checkpoints(Generic[T]):
    """Snapshots every ``every`` iterations, at most ``limit`` of them: when full, every other
    one is dropped (the first and the last kept) and ``every`` doubles, so memory stays bounded
    and going back replays at most ``every`` iterations. The first checkpoint (where the
    stretch of settings starts) is never dropped."""

    def __init__(self, every: int, limit: int) -> None:
        self.every = max(1, int(every))
        self.limit = max(2, int(limit))
        self.items: list[Checkpoint[T]] = []

    def __len__(self) -> int:
        return len(self.items)

    def due(self, iteration: int) -> bool:
        """True when a checkpoint belongs at ``iteration``."""
        return iteration % self.every == 0

    def add(self, iteration: int, state: T, extra: Any = None) -> None:
        """Keep a snapshot of ``state`` (none if one is already kept at this iteration)."""
        items = self.items
        if items and items[-1].iteration == iteration:
            return
        items.append(Checkpoint(iteration, snapshot(state), freeze(extra)))
        if len(items) > self.limit:
            last = len(items) - 1
            self.items = [c for i, c in enumerate(items) if i % 2 == 0 or i == last]
            self.every *= 2

    def thin(self, keep: int) -> None:
        """Keep at most ``keep`` (≥ 2) checkpoints, evenly spaced, the first and last among them."""
        items = self.items
        if len(items) > keep:
            picks = np.unique(np.linspace(0, len(items) - 1, max(2, keep)).round().astype(int))
            self.items = [items[i] for i in picks]

    def latest(self, target: int, *, before: bool = False) -> Checkpoint[T]:
        """The latest checkpoint at or before ``target`` (strictly before with ``before``, unless
        only the first one qualifies); the later ones are dropped."""
        items = self.items
        while len(items) > 1 and (items[-1].iteration > target or (before and items[-1].iteration == target)):
            items.pop()
        return items[-1]

    def restore(self, checkpoint: Checkpoint[T]) -> tuple[T, Any]:
        """A working copy of a checkpoint's state and extra."""
        return restore(checkpoint.state), thaw(checkpoint.extra)
