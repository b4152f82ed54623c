"""Where a run stands: the counters the app and the command line show, and one step's record.

:func:`counters_at` is the one rule that turns a position (iterations, steps, samples done
under a stretch of settings) into the DESIGN.md wording; a lone run and every member of an
ensemble are counted by it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .segment import Segment


@dataclass(frozen=True)
class Counters:
    """The counters shown by the app and the command line (DESIGN.md "Counters").

    ``epoch`` is 1-based and is the epoch of the latest batch (1 before any work); ``batch`` is
    how many batches of that epoch are done (0..batches).
    """

    epoch: int
    epochs: int
    batch: int
    batches: int
    iteration: int
    step: int
    samples: int
    pass_number: int
    micro: int
    accumulate: int

    def text(self) -> str:
        """``Epoch e/E  Batch b/M  Iteration i  Step s  Samples n`` (exact wording)."""
        return (
            f"Epoch {self.epoch}/{self.epochs}  Batch {self.batch}/{self.batches}  "
            f"Iteration {self.iteration}  Step {self.step}  Samples {self.samples}"
        )


def counters_at(segment: Segment, iteration: int, step: int, samples: int) -> Counters:
    """The counters of a run under ``segment`` after ``iteration`` iterations (global),
    ``step`` steps and ``samples`` samples: the epoch and batch of the latest iteration (at the
    segment's start, its first epoch with no batch done)."""
    plan = segment.plan
    local = iteration - segment.start_iteration
    if local == 0:
        epoch, batch, pass_number = segment.start_epoch + 1, 0, 1
        batches = plan.epoch_iterations(0)
    else:
        pos = plan.locate(local - 1)
        epoch, batch, pass_number = segment.start_epoch + pos.epoch + 1, pos.batch_in_epoch + 1, pos.pass_index + 1
        batches = plan.epoch_iterations(pos.epoch)  # epochs differ in length with epoch_end = cut
    micro = 0
    if plan.accumulate > 1 and local < plan.total_iterations:
        micro = plan.locate(local).micro
    return Counters(
        epoch=epoch, epochs=segment.scenario.epochs, batch=batch, batches=batches,
        iteration=iteration, step=step, samples=samples, pass_number=pass_number,
        micro=micro, accumulate=plan.accumulate,
    )


@dataclass(slots=True)
class StepRecord:
    """One optimizer step, as the trace writes it (DESIGN.md "--trace"), and the running epoch
    loss the history writes with it (:attr:`Simulation.epoch_loss` after the step)."""

    epoch: int
    batch: int
    iteration: int
    step: int
    samples: int
    indices: np.ndarray
    lr: float
    batch_loss: float
    train_loss: float
    val_loss: float
    params: np.ndarray
    grad: np.ndarray
    epoch_loss: float = math.nan
