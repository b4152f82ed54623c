"""A segment: a stretch of a run with one set of batching and optimizer settings, and the rules
of a live change that starts the next one (written once: a lone run and every member of an
ensemble are changed by them).

A live change of settings starts a new segment at the current iteration: the epoch in
progress restarts with the new batch arithmetic (its number is kept), at the start of a fresh
pass; the parameters are kept; a new optimizer (or new momentum or weight decay) starts from a
fresh state. Settings outside :data:`LIVE_SETTINGS` (data, model, seed) need a new run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .counters import Counters
from .datasets import Dataset
from .errors import ScenarioError
from .optimizers import Optimizer, make_optimizer
from .plan import Plan, Position, plan_for
from .sampling import Sampler, make_sampler
from .scenario import LIVE_SETTINGS, Scenario
from .schedules import make_schedule


@dataclass(frozen=True)
class Segment:
    """A stretch of the run with one set of batching and optimizer settings."""

    start_iteration: int
    start_step: int
    start_epoch: int           # epochs completed before the segment (0-based index of its first epoch)
    scenario: Scenario
    plan: Plan
    sampler: Sampler
    optimizer: Optimizer
    schedule: Callable[[int], float]
    note: str = ""

    def locate(self, iteration: int) -> Position:
        """The position of a global iteration inside this segment's plan."""
        return self.plan.locate(iteration - self.start_iteration)


def make_segment(sc: Scenario, dataset: Dataset, start_iteration: int, start_step: int,
                 start_epoch: int, note: str = "") -> Segment:
    """The segment of resolved scenario ``sc`` on ``dataset`` from the given position: its plan
    (for the epochs from ``start_epoch`` on), sampler, optimizer and learning-rate schedule."""
    plan = plan_for(sc, dataset.n_samples, start_epoch)
    sampler = make_sampler(sc.sampling, dataset.n_samples, batch_size=sc.batch_size, labels=dataset.labels)
    optimizer = make_optimizer(sc.optimizer, momentum=sc.momentum, weight_decay=sc.weight_decay)
    schedule = make_schedule(
        sc.schedule, sc.lr, start_step + plan.total_steps, decay_steps=sc.decay_steps,
        decay_rate=sc.decay_rate, warmup_steps=sc.warmup_steps,
    )
    return Segment(start_iteration, start_step, start_epoch, sc, plan, sampler, optimizer, schedule, note)


def next_segment_epoch(counters: Counters) -> int:
    """The 0-based epoch a change made now starts: the epoch in progress restarts; at an epoch
    boundary the next one begins."""
    at_boundary = counters.iteration == 0 or counters.batch == counters.batches
    return counters.epoch if (at_boundary and counters.iteration) else counters.epoch - 1


def check_changes(old: Scenario, dataset: Dataset, start_epoch: int, changes: dict[str, Any]) -> Scenario:
    """The resolved scenario a live change of ``changes`` makes of ``old`` when made in 0-based
    epoch ``start_epoch`` (:func:`next_segment_epoch`), or the :class:`ScenarioError` it is
    refused with (a dry run: nothing changes)."""
    bad = sorted(set(changes) - LIVE_SETTINGS)
    if bad:
        raise ScenarioError(bad[0], changes[bad[0]], "changing this starts a new simulation")
    new = old.replace(**changes)
    if "optimizer" in changes and "momentum" not in changes:
        new = new.replace(momentum=None)
    new = new.validate().resolved(dataset.task)
    new.check_batch_size(dataset.n_samples)
    if start_epoch >= new.epochs:
        if "epochs" in changes:
            raise ScenarioError("epochs", new.epochs,
                                f"the run is already in epoch {start_epoch + 1}; ask for at least {start_epoch + 1}")
        raise ScenarioError(f"the run has finished its {new.epochs:,} epochs", None,
                            "reset to start again, or ask for more epochs")
    return new


def fresh_optimizer(old: Scenario, new: Scenario) -> bool:
    """True when a change from ``old`` to ``new`` starts the optimizer from a fresh state."""
    return (new.optimizer != old.optimizer or new.momentum != old.momentum
            or new.weight_decay != old.weight_decay)


def describe_changes(old: Scenario, new: Scenario) -> str:
    """``"batch_size 5→8, lr 0.05→0.1"``: what a change changed (for the loss plot's marks)."""
    parts = []
    for key in sorted(LIVE_SETTINGS):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            parts.append(f"{key} {a}→{b}")
    return ", ".join(parts) or "no change"
