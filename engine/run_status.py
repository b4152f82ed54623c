"""Where a lone run stands: its status (the names the panels and files show, from the run's
code in :mod:`engine.runs_state`), counters, parameters, the pass's order, the batch in progress
and the optimizer's state. Mixed into :class:`engine.simulation.Simulation`; it reads the Runs
in force (``_runs``), the one that ran last (``_last_runs``), the stretches of settings
(``_eras``) and the iteration in progress (``pending``), and changes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .counters import Counters, counters_at
from .optimizers import State
from .phases import PHASES, PhaseData
from .rules import DIVERGING_FACTOR

if TYPE_CHECKING:
    from .plan import Position
    from .prepare import TrainingData
    from .runs import Runs
    from .segment import Segment

RUNNING, PAUSED = "running", "paused"
READY, FINISHED, TARGET_REACHED, DIVERGED = "ready", "finished", "target reached", "diverged"
DIVERGING = "diverging"
#: A member of an ensemble its caller stopped (:meth:`engine.ensemble.Ensemble.stop`).
STOPPED = "stopped"
#: A run's status from its code in :mod:`engine.runs` (a running run is "diverging" while the
#: diverging rule says so, else "ready").
STATUS_OF_CODE = (READY, FINISHED, TARGET_REACHED, DIVERGED, STOPPED)


class RunStatus:
    """Where a lone run stands (see the module docstring)."""

    data: TrainingData
    pending: PhaseData | None
    _eras: list[Runs]
    _last_runs: Runs
    _order_view: tuple[Any, Any]

    @property
    def _runs(self) -> Runs:
        """The Runs of the settings in force now (the last stretch)."""
        return self._eras[-1]

    @property
    def segment(self) -> Segment: ...   # Simulation's

    @property
    def params(self) -> np.ndarray:
        """The current parameters (the last finite ones after a divergence)."""
        return self._runs.row_params(0)

    @property
    def iteration(self) -> int:
        """Iterations done (forward + backward passes over a micro-batch)."""
        return self._runs.state.iteration

    @property
    def step(self) -> int:
        """Optimizer steps done (parameter updates)."""
        return self._runs.state.step

    @property
    def samples_seen(self) -> int:
        """Samples that went through the model so far (repeats counted)."""
        return self._runs.state.samples

    @property
    def status(self) -> str:
        """ready, diverging, finished, target reached or diverged (running/paused is the app's
        business). "diverging" is not an end: training can go on (:func:`engine.rules.diverging_update`)."""
        s = self._runs.state
        code = int(s.code[0])
        if code == 0 and s.diverging_step[0] > 0:
            return DIVERGING
        return STATUS_OF_CODE[code]

    @property
    def diverged_step(self) -> int:
        """The 1-based step whose loss or parameters were not finite (0 if none)."""
        return int(self._runs.state.diverged_step[0])

    @property
    def diverging_step(self) -> int:
        """The 1-based step at which the run started diverging (0 if it is not diverging)."""
        return int(self._runs.state.diverging_step[0])

    @property
    def diverging_threshold(self) -> float:
        """The batch loss above which a step starts "diverging": DIVERGING_FACTOR × the reference loss."""
        return DIVERGING_FACTOR * float(self._runs.state.loss_ref[0])

    @property
    def done(self) -> bool:
        """True when no further iteration will run."""
        return self._runs.done

    @property
    def epoch_loss(self) -> float:
        """Keras' running epoch loss: Σ n_b·L_b / Σ n_b over the epoch so far (SCIENCE.md §2).

        At an epoch boundary (before the next batch) it is the finished epoch's value.
        """
        s = self._runs.state
        return s.epoch_loss_sum / s.epoch_n if s.epoch_n else s.finished_epoch_loss

    @property
    def order(self) -> np.ndarray | None:
        """The sample order of the current pass (None before its first batch is drawn): the same
        array object for the whole pass (a panel tells a new pass by ``is not``)."""
        s = self._runs.state
        if s.order_pass < 0:
            return None
        if self._order_view[0] is not s.orders:
            self._order_view = (s.orders, s.orders[0])
        return self._order_view[1]

    @property
    def rng(self) -> np.random.Generator:
        """The sampling generator as a run drawing one pass at a time holds it now."""
        return self._runs.generator(0)

    @property
    def phase(self) -> str | None:
        """The last phase done within the current iteration, or None between iterations."""
        if self.pending is None or self.pending.phase < 0:
            return None
        return PHASES[self.pending.phase]

    @property
    def total_iterations(self) -> int:
        """Iterations in the whole run (with the settings in force now)."""
        seg = self.segment
        return seg.start_iteration + seg.plan.total_iterations

    def counters(self) -> Counters:
        """The counters after the work done so far (DESIGN.md wording)."""
        s = self._runs.state
        return counters_at(self.segment, s.iteration, s.step, s.samples)

    def next_position(self) -> Position | None:
        """Where the next iteration's batch sits in the current plan (None when done)."""
        return self._runs.next_position()

    def current_batch(self) -> np.ndarray:
        """Indices of the batch in progress, or of the last one done (empty before any)."""
        if self.pending is not None:
            return self.pending.indices
        last = self._last_runs.last_iteration()
        if last is not None:
            return last[3]
        return np.empty(0, dtype=np.int64)

    def state_summary(self) -> str:
        """A short status: ready / finished / target reached / diverged at step s."""
        status = self.status
        if status == DIVERGED:
            return f"diverged at step {self.diverged_step}"
        if status == DIVERGING:
            return f"diverging since step {self.diverging_step}"
        return status

    @property
    def X(self) -> np.ndarray:
        """Training inputs in index order."""
        return self.data.X

    @property
    def y(self) -> np.ndarray:
        """Training targets in index order."""
        return self.data.y

    @property
    def checkpoint_count(self) -> int:
        """Checkpoints kept now, over every stretch of settings."""
        return sum(len(r.checkpoints) for r in self._eras)

    @property
    def optimizer_state(self) -> State:
        """The optimizer's state now (read-only: ``t`` and its buffers, e.g. ``momentum_buffer``)."""
        return self._runs.optimizer_state(0)
