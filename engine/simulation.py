"""The simulation: one training run, stepped by phase, iteration, step or epoch, and rewound.

Data flow (DESIGN.md): Scenario → Dataset → Sampler (an order per pass) → Plan (cuts the order
into batches, groups micro-batches into steps) → Model (loss and gradient of the batch) →
Optimizer (pure ``update``) → History.

Counting (SCIENCE.md §1): an *iteration* is one forward + backward pass over one (micro-)batch;
a *step* is one change of the parameters (every ``accumulate`` iterations); an *epoch* is one
pass over the data unless ``steps_per_epoch`` says otherwise (then a *pass* is counted
separately, and ``epoch_end`` says whether the data iterator continues across epochs, an epoch
is also cut where a pass runs out, or every epoch restarts a pass: SCIENCE.md §1.3).

**One step implementation** (issue 25): a Simulation is ONE run of :class:`engine.runs.Runs`, the
loop that also steps the K members of an :class:`engine.ensemble.Ensemble`. Each stretch of
settings (a :class:`~engine.segment.Segment`; a live change starts the next) is one ``Runs``;
what is a lone run's own is here: phase-by-phase stepping, the History, the per-step record
(``on_step``), going back across live changes, and the measurements the panels read.

Determinism: one ``np.random.Generator`` from the seed drives the data, the initial parameters
and the sampling orders. Any way of stepping (phases, iterations, epochs, back and forth) gives
bit-identical parameters, because every iteration runs the same code on the same state, and
:meth:`Simulation.back` restores a checkpoint and replays forward.

Evaluation (issue 14): a step costs what its batch costs, not what the data set costs. The full
training and validation losses (and, for classifiers, the accuracies, from the same forward
pass) are computed when read (:attr:`Simulation.train_loss`, :attr:`Simulation.val_loss`,
:meth:`Simulation.accuracy`, :attr:`Simulation.history`), cached for the parameters they were
computed at, and at the eval points of the run's :class:`~engine.rules.EvalPolicy`, where the
history records them and the target loss is checked. Divergence is detected from the batch loss
and the parameters (both must be finite), so it does not depend on how often the losses are
evaluated.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .chunks import batch_loss_and_grad
from .counters import Counters, StepRecord
from .history import History
from .optimizers import Optimizer
from .phases import PHASE_FORMULAS, PHASES, ROWS_KEPT, PhaseData
from .readings import RunReadings
from .run_status import (DIVERGED, DIVERGING, FINISHED, PAUSED, READY, RUNNING, STATUS_OF_CODE, STOPPED,
                         TARGET_REACHED, RunStatus)
from .prepare import TrainingData, check_scenario_with_data, initial_loss, prepare
from .rules import DIVERGING_FACTOR, ENGINE_POLICY, EvalPolicy, loss_reference
from .runs import DIVERGED as _DIVERGED_CODE
from .runs import Runs
from .plan import Plan
from .sampling import stream_generator
from .scenario import LIVE_SETTINGS, Scenario
from .segment import Segment, check_changes, describe_changes, fresh_optimizer, make_segment, next_segment_epoch

__all__ = ["Simulation", "Counters", "StepRecord", "PhaseData", "PHASES", "PHASE_FORMULAS", "Segment",
           "DIVERGING_FACTOR", "check_scenario_with_data", "RUNNING", "PAUSED", "READY", "FINISHED",
           "TARGET_REACHED", "DIVERGED", "DIVERGING", "STOPPED", "STATUS_OF_CODE", "CHECKPOINT_BUDGET"]

CHECKPOINT_EVERY = 32
MAX_CHECKPOINTS = 2048
CHECKPOINT_BUDGET = 8_000_000  # floats kept in checkpoints, whatever the model size (64 MB)
#: A stretch of settings a live change left behind keeps at most this many checkpoints.
LEFT_CHECKPOINTS = 16
_NOT_EVALUATED = (math.nan, math.nan, math.nan, math.nan)


class Simulation(RunStatus, RunReadings):
    """One training run of a scenario; owns the data, parameters, RNG, counters and history
    (where it stands: :class:`engine.run_status.RunStatus`; its readings:
    :class:`engine.readings.RunReadings`)."""

    LIVE_SETTINGS = LIVE_SETTINGS

    def __init__(self, scenario: Scenario, *, history_cap: int | None = None,
                 sampling_stream: int = 0, record: bool = True,
                 eval_policy: EvalPolicy = ENGINE_POLICY) -> None:
        """``sampling_stream`` k ≥ 1 draws the sampling orders from their own generator
        (:func:`engine.sampling.stream_generator`), the data and initial parameters still
        from the seed: member k of an :class:`engine.ensemble.Ensemble` of seeds.

        ``record=False`` keeps no record in memory, for a headless run whose record is its
        files (``mbsim run``: :attr:`on_step` still sees every step): :attr:`history` stays
        empty and the only checkpoint is the start, so :meth:`back` and :meth:`goto_iteration`
        stay exact but replay from the start. The trajectory is the same either way.

        ``eval_policy``: when the full losses are evaluated (:class:`engine.rules.EvalPolicy`;
        the TUI evaluates every step on small data)."""
        rng, self.dataset, sc, self.model = prepare(scenario)
        ds = self.dataset
        init = self.model.init_params(rng)
        self._rng = stream_generator(scenario.seed, sampling_stream) if sampling_stream else rng
        self.data = TrainingData.of(ds)
        self._has_val = len(ds.y_val) > 0
        self._classify = ds.task == "classification"
        self.initial_params = init.copy()
        self.initial_params.flags.writeable = False
        self.initial_train_loss = initial_loss(self.model, init, ds)
        self.initial_val_loss = self.model.loss(init, ds.X_val, ds.y_val) if self._has_val else math.nan
        self._policy = eval_policy
        self._record = record
        self._history = History(init, cap=history_cap or 32_768)
        self.pending: PhaseData | None = None
        self.revision: int = 0
        """Bumped by every change of what the simulation shows (stepping of any kind, back,
        goto, reset, a live change of settings, a rescue): readers redraw when it differs."""
        self._on_step: Callable[[StepRecord], None] | None = None
        self._recording_from = 0
        self._replaying = False
        # checkpoints hold params and optimizer state (~4 vectors): at most CHECKPOINT_BUDGET floats
        self.checkpoint_limit = max(16, min(MAX_CHECKPOINTS, CHECKPOINT_BUDGET // (4 * init.size)))
        self._reference_cache: dict[tuple[float, int], np.ndarray] = {}
        self._order_view: tuple = (None, None)       # (the state's orders, run 0's row of them)
        self._eras: list[Runs] = [self._new_era(make_segment(sc, ds, 0, 0, 0), None)]
        self._last_runs = self._eras[0]

    def release(self) -> None:
        """Give back the arrays that grow with N (each stretch's orders, batches and checkpoints
        but the first) now, when the run is no longer needed (a view that closes): its counters
        and parameters stay readable; it cannot step on."""
        for runs in self._eras:
            runs.release()

    def _new_era(self, segment: Segment, start) -> Runs:  # noqa: ANN001 - engine.runs.MemberState
        """The Runs of one run over a stretch of settings (from the start, or from ``start``)."""
        gen = self._rng if start is None else start.generator
        runs = Runs(self.model, self.data, [segment], [gen], self.initial_params, self.initial_train_loss,
                    None if start is None else [start], policy=self._policy, evaluate_at="points",
                    checkpoint_every=CHECKPOINT_EVERY if self._record else 1 << 62,
                    max_checkpoints=self.checkpoint_limit)
        runs.on_step = self._recorder(runs) if (self._record or self._on_step is not None) else None
        runs.keep_step_batches = self._on_step is not None
        return runs

    # ----------------------------------------------------------------------------------------
    # settings: one segment per set of batching/optimizer settings
    @property
    def segments(self) -> list[Segment]:
        """The stretches of settings, the first from the start, one more per live change."""
        return [r.segment for r in self._eras]

    @property
    def segment(self) -> Segment:
        """The settings in force now."""
        return self._eras[-1].segment

    @property
    def scenario(self) -> Scenario:
        """The resolved scenario in force now (live changes included)."""
        return self._eras[-1].segment.scenario

    @property
    def plan(self) -> Plan:
        """The batch arithmetic in force now (for the epochs from the last change on)."""
        return self._eras[-1].plan

    @property
    def optimizer(self) -> Optimizer:
        """The optimizer in force now."""
        return self._eras[-1].segment.optimizer

    @property
    def eval_policy(self) -> EvalPolicy:
        """When the full losses are evaluated (settable: from the next step on)."""
        return self._policy

    @eval_policy.setter
    def eval_policy(self, policy: EvalPolicy) -> None:
        self._policy = policy
        for runs in self._eras:
            runs.set_policy(policy)

    @property
    def on_step(self) -> Callable[[StepRecord], None] | None:
        """Called with a :class:`StepRecord` after every optimizer step (not while replaying)."""
        return self._on_step

    @on_step.setter
    def on_step(self, callback: Callable[[StepRecord], None] | None) -> None:
        self._on_step = callback
        for runs in self._eras:
            runs.on_step = self._recorder(runs) if (self._record or callback is not None) else None
            runs.keep_step_batches = callback is not None

    def check_changes(self, **changes: object) -> Scenario:
        """The resolved scenario that :meth:`apply_changes` would switch to now, or the
        :class:`ScenarioError` it would raise (a dry run: nothing changes)."""
        return check_changes(self.scenario, self.dataset, next_segment_epoch(self.counters()), changes)

    def apply_changes(self, note: str = "", **changes: object) -> Segment:
        """Change batching or optimizer settings from the next iteration on, keeping the parameters.

        The epoch in progress restarts with the new batch arithmetic (its number is kept) at the
        start of a fresh pass (so a change of ``epoch_end`` or ``steps_per_epoch`` counts its
        epochs from there); a new optimizer starts from a fresh state. Settings outside
        :data:`LIVE_SETTINGS` (data, model, seed) need a new :class:`Simulation`. A diverged run
        continues from its last finite parameters (e.g. with a smaller learning rate). Raises
        :class:`ScenarioError` for a bad value, before anything changes.
        """
        new = self.check_changes(**changes)
        old = self.scenario
        runs = self._runs
        s = runs.state
        seg = make_segment(new, self.dataset, s.iteration, s.step, next_segment_epoch(self.counters()),
                           note or describe_changes(old, new))
        start = runs.member_state(0)
        if fresh_optimizer(old, new):
            start.opt_state = None
        with np.errstate(all="ignore"):
            here = float(self.model.loss(start.params, self.data.X, self.data.y))
        start.loss_ref = loss_reference(self.initial_train_loss, here)
        self.revision += 1
        self.pending = None
        era = self._new_era(seg, start)
        if runs.start_iteration == s.iteration and len(self._eras) > 1:
            self._eras[-1] = era          # a second change at the same iteration replaces the first
        else:
            runs.thin_checkpoints(LEFT_CHECKPOINTS)
            self._eras.append(era)
        return seg

    @property
    def changes(self) -> list[tuple[int, str]]:
        """(step, what changed) for every live change of settings, for marking the loss plot."""
        return [(r.segment.start_step, r.segment.note) for r in self._eras[1:]]

    # ----------------------------------------------------------------------------------------
    # the full losses and the record
    @property
    def train_loss(self) -> float:
        """Full training-set loss at the current parameters (computed when read, then cached)."""
        return self._evaluate()[0]

    @property
    def val_loss(self) -> float:
        """Validation loss at the current parameters (NaN without a validation set)."""
        return self._evaluate()[1]

    @property
    def history(self) -> History:
        """The per-step record; reading it records the current step's full losses first
        (so a plot drawn from it ends at the losses the header shows)."""
        s = self._runs.state
        if s.step and s.eval_params is not s.params:
            self._evaluate()
        return self._history

    def recorded(self, name: str) -> float:
        """The last recorded value of a History series as it is (NaN before any step), without
        evaluating the full losses first (:attr:`history` would)."""
        return self._history.last(name) if self.step else math.nan

    @property
    def eval_every(self) -> int | None:
        """Steps between the evaluations of the full losses (None: at every epoch end)."""
        return self._runs.eval_every

    def _evaluate(self) -> tuple[float, float, float, float]:
        """(train loss, val loss, train acc, val acc) at the current parameters, from one
        forward pass over training and validation data; cached until the parameters change,
        and recorded in the history's row of the current step."""
        runs = self._runs
        s = runs.state
        fresh = s.eval_params is not s.params
        ev = runs.evaluation()
        values = (float(ev[0][0]), float(ev[1][0]), float(ev[2][0]), float(ev[3][0]))
        if fresh:
            self._history.fill_last(s.step, values)
        return values

    def accuracy(self) -> float | None:
        """Training accuracy at the current parameters (None for regression)."""
        return self._evaluate()[2] if self._classify else None

    def val_accuracy(self) -> float | None:
        """Validation accuracy at the current parameters (None for regression or without one)."""
        return self._evaluate()[3] if self._classify and self._has_val else None

    # ----------------------------------------------------------------------------------------
    # stepping
    def step_phase(self) -> str | None:
        """Do the next phase of the current iteration; return its name (None when done)."""
        if self.done:
            return None
        self.revision += 1
        with np.errstate(all="ignore"):
            if self.pending is None:
                idx, micro, count = self._runs.batch_slot()
                head = idx[:ROWS_KEPT]
                X, y = self.data.X[head], self.data.y[head]
                self.pending = PhaseData(self.iteration, micro, count, idx, X, y, self.segment)
            p = self.pending
            nxt = p.phase + 1
            params = self.params
            if nxt == 0:
                p.outputs = self.model.predict(params, p.X)
            elif nxt == 1:
                p.losses = self.model.per_sample_loss(params, p.X, p.y)
                whole = p.rows == len(p.indices)
                p.batch_loss = float(np.mean(p.losses)) if whole else self._batch_reading(p)[0]
            elif nxt == 2:
                p.sample_grads = self.model.per_sample_grads(params, p.X, p.y)
                p.batch_loss, p.grad = self._batch_reading(p)
            else:
                self._run(1, False)
                return PHASES[3]
            p.phase = nxt
            return PHASES[nxt]

    def _batch_reading(self, p: PhaseData) -> tuple[float, np.ndarray]:
        """(L_b, ĝ) of the batch in progress at θ, over the whole batch (its per-sample rows are
        kept for its first samples only): :func:`engine.chunks.batch_loss_and_grad`, the step's
        own numbers where the batch fits one piece, else in pieces."""
        return batch_loss_and_grad(self.model, self.params, self.data.X, self.data.y, p.indices)

    def step_iteration(self) -> bool:
        """Finish the current iteration (or do a whole one); False when nothing was left to do."""
        if self.done:
            return False
        with np.errstate(all="ignore"):
            self._run(1, False)
        return True

    def step_update(self) -> bool:
        """Run iterations until the next optimizer step has been taken."""
        if self.done:
            return False
        start = self.step
        with np.errstate(all="ignore"):
            while not self.done and self.step == start:
                self._run(1, False)
        return True

    def iterations_to_epoch_end(self) -> int:
        """Iterations left in the current epoch (a whole epoch when at a boundary)."""
        seg = self.segment
        pos = seg.plan.locate(self.iteration - seg.start_iteration)
        return seg.plan.epoch_iterations(pos.epoch) - pos.batch_in_epoch

    def run_epoch(self) -> bool:
        """Run to the end of the current epoch (the next epoch boundary)."""
        if self.done:
            return False
        self.run_iterations(self.iterations_to_epoch_end())
        return True

    def run_iterations(self, n: int, *, stop_at_diverging: bool = False) -> int:
        """Run up to ``n`` iterations (fewer at the end); return how many ran.

        With ``stop_at_diverging`` it also stops right after the step at which the run starts
        diverging (so a viewer sees the onset); a run already diverging goes on.
        """
        ran = 0
        with np.errstate(all="ignore"):
            while ran < n and not self.done:
                done, onset = self._run(n - ran, stop_at_diverging)
                ran += done
                if onset:
                    break
        return ran

    def run_to_end(self) -> None:
        """Train until the epochs are done, the target loss is reached or the run diverges."""
        self.run_iterations(self.total_iterations + 1)

    def _run(self, limit: int, stop_at_diverging: bool) -> tuple[int, bool]:
        """Every way of stepping comes here: up to ``limit`` iterations of the Runs in force."""
        self.pending = None
        runs = self._runs
        ran, onset = runs.run(limit, stop_at_diverging)
        self._last_runs = runs
        self.revision += ran + (1 if runs.state.code[0] == _DIVERGED_CODE else 0)
        return ran, onset

    def _recorder(self, runs: Runs) -> Callable[..., None]:
        """The hook ``runs`` calls after every step: the History's row and the :attr:`on_step`
        record (the full losses NaN unless this step was evaluated). What it reads of the
        stretch of settings is bound once."""
        history, plan = self._history, runs.plan
        start_it, start_epoch, per_epoch, cut = runs.start_iteration, runs.start_epoch, plan.iterations_per_epoch, runs.uneven
        epochs_done, indices = plan.epochs_done, runs.step_indices

        def record(step_loss: float, step_grad: np.ndarray, lr: float, ev: tuple | None, a: int, b: int,
                   count: int) -> None:
            s = runs.state       # (a restore replaces it)
            step = s.step
            if step <= self._recording_from:
                return
            values = _NOT_EVALUATED if ev is None else (float(ev[0][0]), float(ev[1][0]), float(ev[2][0]), float(ev[3][0]))
            loss = float(step_loss)
            epoch_loss = s.epoch_loss_sum / s.epoch_n
            iteration = s.iteration
            local = iteration - start_it
            if self._record:
                # epochs of different lengths (cut): the plan places the iteration in its epoch
                epoch = start_epoch + (epochs_done(local) if cut else local / per_epoch)
                history.append((iteration, s.samples, epoch, lr, loss, epoch_loss) + values, s.params)
            on_step = self._on_step
            if on_step is not None and not self._replaying:
                if cut:  # epochs of different lengths: the plan places the step
                    c = self.counters()
                    epoch_no, batch_no = c.epoch, c.batch
                else:    # after a step the epoch is ⌊(i−1)/M⌋ + 1 and the batch (i−1) mod M + 1
                    e, j = divmod(local - 1, per_epoch)
                    epoch_no, batch_no = start_epoch + e + 1, j + 1
                batch = s.orders[0, a:b] if count == 1 else indices()
                on_step(StepRecord(epoch_no, batch_no, iteration, step, s.samples, batch, lr, loss,
                                   values[0], values[1], s.params, step_grad, epoch_loss))

        return record

    # ----------------------------------------------------------------------------------------
    # stepping back
    def back(self, iterations: int = 1) -> bool:
        """Undo ``iterations`` iterations exactly (bit-identical to the earlier state).

        A partly done iteration (some phases done) or a divergence counts as one.
        Returns False when already at the start.
        """
        partial = (self.pending is not None and self.pending.phase >= 0) or self.status == DIVERGED
        target = max(0, self.iteration - iterations + (1 if partial else 0))
        if target == self.iteration and not partial:
            return False
        self.goto_iteration(target)
        return True

    def goto_iteration(self, target: int) -> None:
        """Put the simulation in the exact state it had after ``target`` iterations.

        Goes back to the stretch of settings in force then (a change made later is undone; one
        made at ``target`` itself stays), restores its latest checkpoint before ``target`` and
        replays forward (at least the last iteration, so :attr:`last` is known, unless the
        stretch starts at ``target``); the history is cut back to match.
        """
        target = max(0, target)
        self.revision += 1
        eras = self._eras
        while len(eras) > 1 and eras[-1].start_iteration > target:
            eras.pop()
        runs = eras[-1]
        target = min(target, runs.start_iteration + runs.plan.total_iterations)
        kept = self._history.truncate(self._steps_done_after(target))
        self.pending = None
        self._recording_from = kept
        self._replaying = True
        runs.eval_from_step = kept
        try:
            runs.goto(target, before=True)
        finally:
            self._replaying = False
            self._recording_from = 0
            runs.eval_from_step = 0
        self._last_runs = runs

    def _steps_done_after(self, iterations: int) -> int:
        seg = self.segment
        local = iterations - seg.start_iteration
        if local >= seg.plan.total_iterations:
            return seg.start_step + seg.plan.total_steps
        return seg.start_step + seg.plan.locate(local).step

    def reset(self) -> None:
        """Back to the start: same data, same initial parameters, same seed, first settings."""
        self.goto_iteration(0)
