"""Alignment: what one *tick* of several runs is (compare mode, the noise cloud, the lab).

A tick advances every run by the same amount of ``steps`` (one optimizer step), ``samples``
(the reference run's batch of samples) or ``epochs`` (the reference run's share of an epoch).
A run here is anything with the :class:`Runner` reads: a :class:`~engine.simulation.Simulation`
or a group of an :class:`~engine.ensemble.Ensemble`.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .errors import ScenarioError
from .plan import Plan, Position

ALIGNMENTS: tuple[str, ...] = ("epochs", "samples", "steps")


class Runner(Protocol):
    """What alignment needs of a run (a :class:`Simulation` or an ensemble group)."""

    @property
    def iteration(self) -> int: ...
    @property
    def step(self) -> int: ...
    @property
    def samples_seen(self) -> int: ...
    @property
    def plan(self) -> Plan: ...
    @property
    def done(self) -> bool: ...
    @property
    def segment(self) -> Any: ...   # its ``start_iteration`` and ``start_epoch``
    def next_position(self) -> Position | None: ...


def check_alignment(align: str) -> str:
    """``align`` if it is one of :data:`ALIGNMENTS`, else a :class:`ScenarioError`."""
    if align not in ALIGNMENTS:
        raise ScenarioError("align", align, "allowed: " + ", ".join(ALIGNMENTS))
    return align


def progress_after_next(run: Runner, align: str) -> float:
    """Where ``run`` would stand, in the alignment's unit, after its next iteration."""
    if align == "steps":
        return run.step + 1
    pos = run.next_position()
    size = (pos.stop - pos.start) if pos is not None else 0
    if align == "samples":
        return run.samples_seen + size
    plan = run.plan
    # epochs count from the settings in force: a live change restarts the epoch in progress
    # (engine.segment), so the epochs done are the segment's first epoch plus its own
    seg = run.segment
    local = run.iteration - seg.start_iteration + 1
    if plan.uneven_epochs:  # epoch_end = cut: epochs differ in length (SCIENCE.md §1.3)
        return seg.start_epoch + plan.epochs_done(local)
    if not seg.start_epoch:
        return local / plan.iterations_per_epoch
    return seg.start_epoch + local / plan.iterations_per_epoch


def tick_unit(reference: Runner, align: str) -> float:
    """One tick in the alignment's unit: a batch of the reference run (its share of an epoch,
    or its samples), or one step."""
    if align == "steps":
        return 1.0
    if align == "samples":
        return float(reference.plan.batch_size)
    return 1.0 / reference.plan.iterations_per_epoch


def epoch_target(target: float, align: str, n_samples: int, reference: Runner) -> float:
    """The end of the current epoch in the alignment's unit (for steps: one epoch of the
    reference run's steps further)."""
    if align == "epochs":
        return float(int(target + 1e-9) + 1)
    if align == "samples":
        return float((int(target + 1e-9) // n_samples + 1) * n_samples)
    return target + reference.plan.steps_per_epoch_count


def advance(run: Runner, align: str, target: float, iterate: Callable[[], Any]) -> None:
    """Run ``iterate()`` while the next iteration of ``run`` ends at or before ``target``."""
    eps = 1e-9
    while not run.done and progress_after_next(run, align) <= target + eps:
        iterate()
