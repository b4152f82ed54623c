"""The simulation: one training run, stepped by phase, iteration, step or epoch, and rewound.

Data flow (DESIGN.md): Scenario → Dataset → Sampler (an order per pass) → Plan (cuts the order
into batches, groups micro-batches into steps) → Model (loss and gradient of the batch) →
Optimizer (pure ``update``) → History.

Counting (SCIENCE.md §1): an *iteration* is one forward + backward pass over one (micro-)batch;
a *step* is one change of the parameters (every ``accumulate`` iterations); an *epoch* is one
pass over the data unless ``steps_per_epoch`` says otherwise (then a *pass* is counted
separately, and ``epoch_end`` says whether the data iterator continues across epochs, an epoch
is also cut where a pass runs out, or every epoch restarts a pass: SCIENCE.md §1.3).

Determinism: one ``np.random.Generator`` from the seed drives the data, the initial parameters
and the sampling orders. Any way of stepping (phases, iterations, epochs, back and forth) gives
bit-identical parameters, because every iteration runs the same code on the same state, and
:meth:`Simulation.back` restores a checkpoint and replays forward.

Evaluation (issue 14): a step costs what its batch costs, not what the data set costs. The full
training and validation losses (and, for classifiers, the accuracies, from the same forward
pass) are computed when read (:attr:`Simulation.train_loss`, :attr:`Simulation.val_loss`,
:meth:`Simulation.accuracy`, :attr:`Simulation.history`), cached for the parameters they were
computed at, and every ``eval_every`` steps (:meth:`Scenario.eval_interval`), where the history
records them and the target loss is checked. Divergence is detected from the batch loss and the
parameters (both must be finite), so it does not depend on how often the losses are evaluated.

The step loop (issue 14): every way of stepping runs :meth:`Simulation._run`, one loop over what
:meth:`Simulation._on_segment_change` caches of the segment in force, so its bookkeeping
(counters, eval points, the history row, the diverging rule, checkpoints) is a small part of a
step next to the model's and the optimizer's NumPy calls; the history takes rows a block at a
time (:mod:`engine.history`), a step record is built only when something listens (``on_step``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from .datasets import Dataset, make_dataset
from .history import MAX_PARAMS, History
from .models import Model, make_model
from .optimizers import Optimizer, State, UpdateTerms, make_optimizer
from .sampling import Plan, Position, Sampler, make_plan, make_sampler, plan_for, stream_generator
from .errors import ScenarioError
from .scenario import LIVE_SETTINGS, Scenario
from .schedules import make_schedule

if TYPE_CHECKING:  # imported where used: a run without the TUI needs neither
    from .landscape import Grid
    from .noise import NoiseReport

PHASES: tuple[str, ...] = ("forward", "loss", "backward", "update")
PHASE_FORMULAS: dict[str, str] = {
    "forward": "ŷ_i = f(x_i; θ) for each sample i of the batch",
    "loss": "L_b = (1/n_b) Σ_i ℓ(ŷ_i, y_i)",
    "backward": "g_i = ∇θ ℓ_i;  ĝ = (1/n_b) Σ_i g_i",
    "update": "θ ← optimizer(θ, ĝ, lr)",
}

RUNNING, PAUSED = "running", "paused"
READY, FINISHED, TARGET_REACHED, DIVERGED = "ready", "finished", "target reached", "diverged"
DIVERGING = "diverging"

DIVERGING_FACTOR = 1e3
"""A step whose batch loss exceeds this many times the reference loss starts "diverging"
(see :meth:`Simulation._check_diverging` for the rule and why it is safe from SGD noise)."""

CHECKPOINT_EVERY = 32
MAX_CHECKPOINTS = 2048
CHECKPOINT_BUDGET = 8_000_000  # floats kept in checkpoints, whatever the model size (64 MB)


def _prepare(scenario: Scenario) -> tuple[np.random.Generator, Dataset, Scenario, Model]:
    """The checks and the pieces a Simulation starts from: the RNG, the data, the resolved
    scenario and the model (shared with :func:`check_scenario_with_data`, so both refuse the same)."""
    scenario.validate()
    rng = np.random.default_rng(scenario.seed)
    dataset = make_dataset(
        scenario.dataset, scenario.samples, scenario.val_samples, scenario.noise, rng,
        positive_fraction=scenario.positive_fraction, sort_by_class=scenario.sort_by_class,
        target=scenario.target or None, standardize=scenario.standardize,
    )
    ds = dataset
    if scenario.is_csv:
        scenario = scenario.replace(samples=ds.n_samples, val_samples=len(ds.y_val))
        scenario.check_batch_size(ds.n_samples)
        if scenario.sampling == "stratified" and ds.task != "classification":
            raise ScenarioError("sampling", "stratified", "needs 0/1 targets; this CSV is a regression task")
        if scenario.model == "logistic" and ds.task != "classification":
            raise ScenarioError("model", "logistic", "needs 0/1 targets; this CSV is a regression task")
    sc = scenario.resolved(ds.task)
    _check_model_size(sc, ds)
    model = make_model(
        sc.model, ds.n_features, ds.task, hidden=sc.hidden, activation=sc.activation, bias=sc.bias
    )
    return rng, dataset, sc, model


def check_scenario_with_data(scenario: Scenario) -> tuple[Scenario, Plan, Dataset]:
    """Everything ``Simulation(scenario)`` checks, without training state: the resolved
    scenario, the plan and the data (:func:`engine.checks.check_scenario` uses it for CSV
    data, so plan and run refuse the same scenarios). Raises :class:`ScenarioError` like the
    Simulation would."""
    rng, ds, sc, model = _prepare(scenario)
    segment = Simulation._make_segment(_DataOnly(ds), sc, 0, 0, 0)  # type: ignore[arg-type]
    if scenario.is_csv:  # generated data are always of moderate size; a file's may not be
        _check_initial_loss(model, model.init_params(rng), ds)
    return sc, segment.plan, ds


@dataclass
class _DataOnly:
    dataset: Dataset


def _check_initial_loss(model: Model, init: np.ndarray, ds: Dataset) -> float:
    """The initial training loss; refused when it is already not finite (values too large)."""
    with np.errstate(all="ignore"):
        loss = model.loss(init, ds.X, ds.y)
    if not math.isfinite(loss):
        raise ScenarioError(
            "dataset", ds.name,
            f"the initial training loss is already {loss} before any step: the values are too "
            "large for the model; rescale them (e.g. --standardize) or use smaller values")
    return loss


def _check_model_size(sc: Scenario, ds: Dataset) -> None:
    """Refuse a model wider than :data:`engine.history.MAX_PARAMS` parameters (a CSV with
    thousands of columns and a wide mlp), before any array of that width is made."""
    d = ds.n_features
    if sc.model == "mlp":
        n = sc.hidden * d + 2 * sc.hidden + 1
        how = f"an mlp with {sc.hidden} hidden units on {d:,} features"
        fix = "fewer --hidden units or fewer feature columns"
    else:
        n = d + (1 if sc.bias else 0)
        how = f"a {sc.model} model on {d:,} features"
        fix = "fewer feature columns"
    if n > MAX_PARAMS:
        raise ScenarioError("model", sc.model, f"{how} has {n:,} parameters; the limit is "
                                               f"{MAX_PARAMS:,} (use {fix})")


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


@dataclass
class PhaseData:
    """One iteration's values, phase by phase (for the phase view and the step-through keys).

    While stepping by phase it fills in as the phases run; for a finished iteration
    (:attr:`Simulation.last`) every field is computed on demand from the parameters it started from.
    """

    iteration: int                               # 0-based global iteration
    micro: int                                   # which micro-batch of its step (0-based)
    micro_count: int                             # micro-batches in its step
    indices: np.ndarray                          # the batch's sample indices
    X: np.ndarray
    y: np.ndarray
    segment: Segment
    phase: int = -1                              # index into PHASES of the last phase done
    outputs: np.ndarray | None = None            # forward: predictions (probabilities for bce)
    losses: np.ndarray | None = None             # loss: per-sample losses
    batch_loss: float = float("nan")
    sample_grads: np.ndarray | None = None       # backward: (n_b, P)
    grad: np.ndarray | None = None               # backward: the batch gradient ĝ (mean over the batch)
    params_before: np.ndarray | None = None      # update: θ before this iteration
    update: np.ndarray | None = None             # update: θ_new − θ_old (zero on a non-final micro-batch)
    lr: float = float("nan")
    terms: UpdateTerms | None = None             # update: the optimizer's rule with its numbers

    @property
    def position(self) -> Position:
        """Where this iteration sits: epoch, pass, batch, step (0-based, within its segment)."""
        return self.segment.locate(self.iteration)


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


@dataclass(slots=True)
class _State:
    """Everything that changes while training: what a checkpoint copies and back() restores."""

    params: np.ndarray
    opt_state: State
    iteration: int = 0
    step: int = 0
    samples: int = 0
    order: np.ndarray | None = None
    order_pass: int = -1
    rng_state: dict | None = None
    accum: np.ndarray | None = None
    accum_n: int = 0
    accum_loss: float = 0.0
    epoch_loss_sum: float = 0.0
    epoch_n: int = 0
    finished_epoch_loss: float = math.nan
    status: str = READY
    diverged_step: int = 0
    diverging_step: int = 0        # the 1-based step at which "diverging" began (0: not diverging)
    loss_ref: float = math.nan     # the reference loss of the diverging rule
    segment: int = 0

    def copy(self) -> _State:
        # opt_state arrays are never mutated (pure optimizers), so a shallow dict copy suffices
        return _State(
            params=self.params, opt_state=dict(self.opt_state), iteration=self.iteration,
            step=self.step, samples=self.samples, order=self.order, order_pass=self.order_pass,
            rng_state=self.rng_state, accum=None if self.accum is None else self.accum.copy(),
            accum_n=self.accum_n, accum_loss=self.accum_loss, epoch_loss_sum=self.epoch_loss_sum,
            epoch_n=self.epoch_n, finished_epoch_loss=self.finished_epoch_loss, status=self.status, diverged_step=self.diverged_step,
            diverging_step=self.diverging_step, loss_ref=self.loss_ref, segment=self.segment,
        )


@dataclass
class _Checkpoint:
    state: _State
    rng_state: dict
    pinned: bool = False


@dataclass(frozen=True)
class Segment:
    """A stretch of the run with one set of batching and optimizer settings.

    A live change of settings starts a new segment at the current iteration: the epoch in
    progress restarts with the new batch arithmetic, the parameters are kept.
    """

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


class Simulation:
    """One training run of a scenario; owns the data, parameters, RNG, counters and history."""

    #: With ``eval_every = "auto"``, data sets up to this many samples (training + validation)
    #: are evaluated after every step. 0 for the engine and ``mbsim run`` (a step then costs
    #: what its batch costs). The TUI sets 20,000: its budget is 10,000 steps/s, an evaluation
    #: of 20,000 samples costs ~20 µs, and a teacher stepping an epoch at a time sees the full
    #: loss of every step instead of straight segments between eval points.
    auto_every_step_up_to: int = 0

    def __init__(self, scenario: Scenario, *, history_cap: int | None = None,
                 sampling_stream: int = 0, record: bool = True) -> None:
        """``sampling_stream`` k ≥ 1 draws the sampling orders from their own generator
        (:func:`engine.sampling.stream_generator`), the data and initial parameters still
        from the seed: member k of an :class:`engine.ensemble.Ensemble` of seeds.

        ``record=False`` keeps no record in memory, for a headless run whose record is its
        files (``mbsim run``: :attr:`on_step` still sees every step): :attr:`history` stays
        empty and the only checkpoint is the start, so :meth:`back` and :meth:`goto_iteration`
        stay exact but replay from the start. The trajectory is the same either way."""
        self.rng, self.dataset, sc, self.model = _prepare(scenario)
        self._loss_and_grad = self.model.loss_and_grad
        ds = self.dataset
        init = self.model.init_params(self.rng)
        if sampling_stream:
            self.rng = stream_generator(scenario.seed, sampling_stream)
        self._X, self._y = ds.X, ds.y
        self._Xv, self._yv = ds.X_val, ds.y_val
        self._has_val = len(ds.y_val) > 0
        self._n = ds.n_samples
        self._X_all = np.vstack([ds.X, ds.X_val]) if self._has_val else ds.X
        self._y_all = np.concatenate([ds.y, ds.y_val]) if self._has_val else ds.y
        self._classify = ds.task == "classification"
        self.segments: list[Segment] = [self._make_segment(sc, 0, 0, 0)]
        self._state = _State(params=init, opt_state=self.segments[0].optimizer.init(init))
        self._on_segment_change()
        self.initial_params = init.copy()
        self._history = History(init, cap=history_cap or 32_768)
        self.pending: PhaseData | None = None
        self.revision: int = 0
        """Bumped by every change of what the simulation shows (stepping of any kind, back,
        goto, reset, a live change of settings, a rescue): readers redraw when it differs."""
        self._last: tuple | None = None
        self._last_lr = math.nan
        self._permuted_for: np.ndarray | None = None
        self._Xo, self._yo = self._X, self._y
        self.on_step: Callable[[StepRecord], None] | None = None
        self._step_indices: list[np.ndarray] = []
        self._recording_from = 0
        self._replaying = False
        self._checkpoints: list[_Checkpoint] = []
        self._record = record
        # without a record, no checkpoint after the start: the counter never reaches a multiple
        self._checkpoint_every = CHECKPOINT_EVERY if record else 1 << 62
        # checkpoints hold params and optimizer state (~4 vectors): at most CHECKPOINT_BUDGET floats
        self._max_checkpoints = max(16, min(MAX_CHECKPOINTS, CHECKPOINT_BUDGET // (4 * init.size)))
        self._reference_cache: dict[tuple[float, int], np.ndarray] = {}
        self.initial_train_loss = _check_initial_loss(self.model, init, ds)
        self.initial_val_loss = self.model.loss(init, self._Xv, self._yv) if self._has_val else math.nan
        self._eval_params: np.ndarray | None = None      # the parameters _eval_values belong to
        self._eval_values: tuple[float, float, float, float] = (math.nan,) * 4
        self._eval_step = -1                             # the step _eval_values were computed after
        self._state.loss_ref = self.initial_train_loss
        self._take_checkpoint(pinned=True)

    # ----------------------------------------------------------------------------------------
    # settings: one segment per set of batching/optimizer settings
    def _make_segment(self, sc: Scenario, start_iteration: int, start_step: int, start_epoch: int,
                      note: str = "") -> Segment:
        ds = self.dataset
        plan = plan_for(sc, ds.n_samples, start_epoch)
        sampler = make_sampler(sc.sampling, ds.n_samples, batch_size=sc.batch_size, labels=ds.labels)
        optimizer = make_optimizer(sc.optimizer, momentum=sc.momentum, weight_decay=sc.weight_decay)
        schedule = make_schedule(
            sc.schedule, sc.lr, start_step + plan.total_steps, decay_steps=sc.decay_steps,
            decay_rate=sc.decay_rate, warmup_steps=sc.warmup_steps,
        )
        return Segment(start_iteration, start_step, start_epoch, sc, plan, sampler, optimizer, schedule, note)

    @property
    def segment(self) -> Segment:
        """The settings in force now."""
        return self.segments[-1]

    @property
    def scenario(self) -> Scenario:
        """The resolved scenario in force now (live changes included)."""
        return self.segments[-1].scenario

    @property
    def plan(self) -> Plan:
        """The batch arithmetic in force now (for the epochs from the last change on)."""
        return self.segments[-1].plan

    @property
    def optimizer(self) -> Optimizer:
        """The optimizer in force now."""
        return self.segments[-1].optimizer

    LIVE_SETTINGS = LIVE_SETTINGS

    def check_changes(self, **changes: object) -> Scenario:
        """The resolved scenario that :meth:`apply_changes` would switch to now, or the
        :class:`ScenarioError` it would raise (a dry run: nothing changes)."""
        bad = sorted(set(changes) - LIVE_SETTINGS)
        if bad:
            raise ScenarioError(bad[0], changes[bad[0]], "changing this starts a new simulation")
        old = self.scenario
        new = old.replace(**changes)
        if "optimizer" in changes and "momentum" not in changes:
            new = new.replace(momentum=None)
        new = new.validate().resolved(self.dataset.task)
        new.check_batch_size(self.dataset.n_samples)
        start_epoch = self._next_segment_epoch()
        if start_epoch >= new.epochs:
            if "epochs" in changes:
                raise ScenarioError("epochs", new.epochs,
                                    f"the run is already in epoch {start_epoch + 1}; ask for at least {start_epoch + 1}")
            raise ScenarioError(f"the run has finished its {new.epochs:,} epochs", None,
                                "reset to start again, or ask for more epochs")
        return new

    def _next_segment_epoch(self) -> int:
        """The 0-based epoch a change made now starts: the epoch in progress restarts; at an
        epoch boundary the next one begins."""
        s = self._state
        c = self.counters()
        at_boundary = s.iteration == 0 or c.batch == c.batches
        return c.epoch if (at_boundary and s.iteration) else c.epoch - 1

    def apply_changes(self, note: str = "", **changes: object) -> Segment:
        """Change batching or optimizer settings from the next iteration on, keeping the parameters.

        The epoch in progress restarts with the new batch arithmetic (its number is kept) at the
        start of a fresh pass (so a change of ``epoch_end`` or ``steps_per_epoch`` counts its
        epochs from there); a new optimizer starts from a fresh state. Settings outside :data:`LIVE_SETTINGS` (data, model,
        seed) need a new :class:`Simulation`. A diverged run continues from its last finite
        parameters (e.g. with a smaller learning rate). Raises :class:`ScenarioError` for a bad
        value, before anything changes.
        """
        new = self.check_changes(**changes)
        old = self.scenario
        start_epoch = self._next_segment_epoch()
        s = self._state
        self.revision += 1
        self.pending = None
        seg = self._make_segment(new, s.iteration, s.step, start_epoch, note or _describe_changes(old, new))
        while self._checkpoints and self._checkpoints[-1].state.iteration == s.iteration:
            self._checkpoints.pop()
        if self.segments[-1].start_iteration == s.iteration and len(self.segments) > 1:
            self.segments[-1] = seg
        else:
            self.segments.append(seg)
            s.segment = len(self.segments) - 1
        if new.optimizer != old.optimizer or new.momentum != old.momentum or new.weight_decay != old.weight_decay:
            s.opt_state = seg.optimizer.init(s.params)
        s.order_pass = -1
        s.accum, s.accum_n, s.accum_loss = None, 0, 0.0
        s.epoch_loss_sum, s.epoch_n = 0.0, 0
        if s.status in (FINISHED, TARGET_REACHED, DIVERGED, DIVERGING):
            s.status = READY
            s.diverged_step = 0
        # the diverging rule starts afresh: measured from the loss here (if higher than at the start)
        s.diverging_step = 0
        with np.errstate(all="ignore"):
            here = float(self.model.loss(s.params, self._X, self._y))
        s.loss_ref = max(self.initial_train_loss, here) if math.isfinite(here) else self.initial_train_loss
        self._on_segment_change()
        self._take_checkpoint(pinned=True)
        return seg

    @property
    def changes(self) -> list[tuple[int, str]]:
        """(step, what changed) for every live change of settings, for marking the loss plot."""
        return [(seg.start_step, seg.note) for seg in self.segments[1:]]

    # ----------------------------------------------------------------------------------------
    # read-only views
    @property
    def params(self) -> np.ndarray:
        """The current parameters (the last finite ones after a divergence)."""
        return self._state.params

    @property
    def iteration(self) -> int:
        """Iterations done (forward + backward passes over a micro-batch)."""
        return self._state.iteration

    @property
    def step(self) -> int:
        """Optimizer steps done (parameter updates)."""
        return self._state.step

    @property
    def samples_seen(self) -> int:
        """Samples that went through the model so far (repeats counted)."""
        return self._state.samples

    @property
    def status(self) -> str:
        """ready, diverging, finished, target reached or diverged (running/paused is the app's
        business). "diverging" is not an end: training can go on (see :meth:`_check_diverging`)."""
        return self._state.status

    @property
    def diverged_step(self) -> int:
        """The 1-based step whose loss or parameters were not finite (0 if none)."""
        return self._state.diverged_step

    @property
    def diverging_step(self) -> int:
        """The 1-based step at which the run started diverging (0 if it is not diverging).

        See :meth:`_check_diverging` for the rule.
        """
        return self._state.diverging_step

    @property
    def diverging_threshold(self) -> float:
        """The batch loss above which a step starts "diverging": DIVERGING_FACTOR × the reference loss."""
        return DIVERGING_FACTOR * self._state.loss_ref

    @property
    def done(self) -> bool:
        """True when no further iteration will run."""
        return self._state.status in (FINISHED, TARGET_REACHED, DIVERGED)

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
        if self._state.step and self._eval_params is not self._state.params:
            self._evaluate()
        return self._history

    @property
    def eval_every(self) -> int | None:
        """Steps between the evaluations of the full losses (None: at every epoch end)."""
        return self._eval_every

    def _evaluate(self) -> tuple[float, float, float, float]:
        """(train loss, val loss, train acc, val acc) at the current parameters, from one
        forward pass over training and validation data; cached until the parameters change,
        and recorded in the history's row of the current step."""
        params = self._state.params
        if self._eval_params is not params:
            with np.errstate(all="ignore"):
                self._eval_values = self.model.evaluate(params, self._X_all, self._y_all, self._n)
            self._eval_params = params
            self._eval_step = self._state.step
            self._history.fill_last(self._state.step, self._eval_values)
        return self._eval_values

    @property
    def epoch_loss(self) -> float:
        """Keras' running epoch loss: Σ n_b·L_b / Σ n_b over the epoch so far (SCIENCE.md §2).

        At an epoch boundary (before the next batch) it is the finished epoch's value.
        """
        s = self._state
        return s.epoch_loss_sum / s.epoch_n if s.epoch_n else s.finished_epoch_loss

    @property
    def order(self) -> np.ndarray | None:
        """The sample order of the current pass (None before its first batch is drawn)."""
        return self._state.order if self._state.order_pass >= 0 else None

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
        s = self._state
        seg = self.segment
        plan = seg.plan
        local = s.iteration - seg.start_iteration
        if local == 0:
            epoch, batch, pass_number = seg.start_epoch + 1, 0, 1
            batches = plan.epoch_iterations(0)
        else:
            pos = plan.locate(local - 1)
            epoch, batch, pass_number = seg.start_epoch + pos.epoch + 1, pos.batch_in_epoch + 1, pos.pass_index + 1
            batches = plan.epoch_iterations(pos.epoch)  # epochs differ in length with epoch_end = cut
        micro = 0
        if plan.accumulate > 1 and local < plan.total_iterations:
            micro = plan.locate(local).micro
        return Counters(
            epoch=epoch, epochs=seg.scenario.epochs, batch=batch, batches=batches,
            iteration=s.iteration, step=s.step, samples=s.samples, pass_number=pass_number,
            micro=micro, accumulate=plan.accumulate,
        )

    def next_position(self) -> Position | None:
        """Where the next iteration's batch sits in the current plan (None when done)."""
        if self.done or self._state.iteration >= self.total_iterations:
            return None
        return self.segment.locate(self._state.iteration)

    def current_batch(self) -> np.ndarray:
        """Indices of the batch in progress, or of the last one done (empty before any)."""
        if self.pending is not None:
            return self.pending.indices
        if self._last is not None:
            return self._last[3]
        return np.empty(0, dtype=np.int64)

    def state_summary(self) -> str:
        """A short status: ready / finished / target reached / diverged at step s."""
        s = self._state
        if s.status == DIVERGED:
            return f"diverged at step {s.diverged_step}"
        if s.status == DIVERGING:
            return f"diverging since step {s.diverging_step}"
        return s.status

    # ----------------------------------------------------------------------------------------
    # stepping
    def step_phase(self) -> str | None:
        """Do the next phase of the current iteration; return its name (None when done)."""
        if self.done:
            return None
        self.revision += 1
        with np.errstate(all="ignore"):
            if self.pending is None:
                self.pending = self._begin_iteration()
            p = self.pending
            nxt = p.phase + 1
            params = self._state.params
            if nxt == 0:
                p.outputs = self.model.predict(params, p.X)
            elif nxt == 1:
                p.losses = self.model.per_sample_loss(params, p.X, p.y)
                p.batch_loss = float(np.mean(p.losses))
            elif nxt == 2:
                p.sample_grads = self.model.per_sample_grads(params, p.X, p.y)
                p.batch_loss, p.grad = self.model.loss_and_grad(params, p.X, p.y)
            else:
                self._iterate()
                return PHASES[3]
            p.phase = nxt
            return PHASES[nxt]

    def step_iteration(self) -> bool:
        """Finish the current iteration (or do a whole one); False when nothing was left to do."""
        if self.done:
            return False
        with np.errstate(all="ignore"):
            self._iterate()
        return True

    def step_update(self) -> bool:
        """Run iterations until the next optimizer step has been taken."""
        if self.done:
            return False
        start = self._state.step
        with np.errstate(all="ignore"):
            while not self.done and self._state.step == start:
                self._iterate()
        return True

    def iterations_to_epoch_end(self) -> int:
        """Iterations left in the current epoch (a whole epoch when at a boundary)."""
        seg = self.segment
        local = self._state.iteration - seg.start_iteration
        pos = seg.plan.locate(local)
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

    # ----------------------------------------------------------------------------------------
    def _batch_slot(self) -> tuple[int, int, int, int]:
        """(start, stop, micro, micro_count) of the next iteration; draws a new order at a pass start.

        The data are permuted once per pass (``_Xo``, ``_yo``), so a batch is a slice.
        (:meth:`_iterate` does the same inline.)
        """
        s = self._state
        local = s.iteration - self._seg_start
        pass_index, j = divmod(local, self._m)
        if pass_index != s.order_pass or s.order is not self._permuted_for:
            self._start_pass(pass_index)
        if self._micros is None:
            k = self._k
            return self._starts[j], self._stops[j], local % k, k
        return self._starts[j], self._stops[j], self._micros[j], self._counts[j]

    def _start_pass(self, pass_index: int) -> None:
        """Draw the order of pass ``pass_index`` (unless it is the one in the state, e.g. after
        a checkpoint was restored) and permute the data to it."""
        s = self._state
        if pass_index != s.order_pass:
            s.order = self.segments[-1].sampler.order(self.rng, s.order)
            s.order_pass = pass_index
        if s.order is not self._permuted_for:
            self._Xo, self._yo = self._X[s.order], self._y[s.order]
            self._permuted_for = s.order

    def _on_segment_change(self) -> None:
        """Cache what the step loop reads of the segment in force (its plan's pass table,
        epoch length, schedule, optimizer step, target, eval interval) as plain attributes."""
        seg = self.segments[-1]
        plan = seg.plan
        self._seg = seg
        self._seg_start = seg.start_iteration
        table = plan.pass_table()
        self._starts, self._stops = table.start, table.stop
        self._micros, self._counts = table.micro, table.micro_count
        self._m = plan.iterations_per_pass  # a pass's iterations (M, or min(S·K, M) for restart)
        self._k = plan.accumulate
        self._m_epoch = plan.iterations_per_epoch
        # epoch boundaries: every S·K iterations when the iterator continues, else measured
        # inside each pass (cut: a pass is cut into epochs of S·K, the last one shorter)
        self._wrap = 0 if plan.continues else self._m
        self._cut = plan.uneven_epochs
        self._total_local = plan.total_iterations
        self._update = seg.optimizer.step_function
        # a constant schedule's rate, read once (the schedule's own value, so bit-identical)
        self._fixed_lr = seg.schedule(1) if seg.scenario.schedule == "constant" else None
        self._target = seg.scenario.target_loss
        n_eval = self._n + len(self._yv)
        per_step = plan.total_samples / max(1, plan.total_steps)
        self._eval_every = seg.scenario.eval_interval(n_eval, per_step)
        if seg.scenario.eval_every == "auto" and n_eval <= self.auto_every_step_up_to:
            self._eval_every = 1

    def _begin_iteration(self) -> PhaseData:
        start, stop, micro, count = self._batch_slot()
        s = self._state
        return PhaseData(s.iteration, micro, count, s.order[start:stop], self._Xo[start:stop],
                         self._yo[start:stop], self.segments[-1])

    def _iterate(self) -> None:
        """One iteration (finishing the one whose phases are being stepped, if any)."""
        self._run(1, False)

    def _run(self, limit: int, stop_at_diverging: bool) -> tuple[int, bool]:
        """The step loop: up to ``limit`` iterations, until the run is done or, with
        ``stop_at_diverging``, right after the step at which it starts diverging. Returns
        (iterations run, stopped at that onset). Every way of stepping comes here.

        An iteration: the batch's slot in the pass (:meth:`_batch_slot`, inline; a new pass
        draws its order), the batch loss and gradient, and on the last micro-batch of a step
        the update. A step's gradient is the mean over all its samples: Σ n_j ĝ_j / Σ n_j,
        which for K equal micro-batches is the mean of the K micro-batch gradients (SCIENCE.md
        §1.2). What the loop reads of the segment is cached by :meth:`_on_segment_change` and
        held in locals (issue 14: the loop's own cost is a small part of a step's).
        """
        s = self._state
        seg = self._seg
        lag, update = self._loss_and_grad, self._update
        fixed_lr, schedule = self._fixed_lr, seg.schedule
        m, k, starts, stops = self._m, self._k, self._starts, self._stops
        micros, counts, seg_start = self._micros, self._counts, self._seg_start
        wrap, m_epoch, total_local = self._wrap, self._m_epoch, self._total_local
        every, target, history, keep = self._eval_every, self._target, self._history, self._record
        on_step = None if self._replaying else self.on_step
        recording_from, start_epoch, cut = self._recording_from, seg.start_epoch, self._cut
        ran = 0
        while ran < limit:
            self.revision += 1
            ran += 1
            p = self.pending
            if p is None:
                local = s.iteration - seg_start
                pass_index, j = divmod(local, m)
                if pass_index != s.order_pass or s.order is not self._permuted_for:
                    self._start_pass(pass_index)
                start, stop = starts[j], stops[j]
                if micros is None:
                    micro, micro_count = local % k, k
                else:
                    micro, micro_count = micros[j], counts[j]
                loss, grad = lag(s.params, self._Xo[start:stop], self._yo[start:stop])
                indices = s.order[start:stop]
            else:  # the iteration whose phases were stepped one by one
                if p.grad is None:
                    p.batch_loss, p.grad = lag(s.params, p.X, p.y)
                self.pending = None
                indices, micro, micro_count, loss, grad = p.indices, p.micro, p.micro_count, p.batch_loss, p.grad
            n = len(indices)
            if not _isfinite(loss):
                self._diverge()
                return ran, False
            params = s.params
            if micro_count == 1:
                step_grad, step_loss = grad, loss
            else:
                if micro == 0:
                    s.accum, s.accum_n, s.accum_loss = grad * n, n, loss * n
                else:
                    s.accum = s.accum + grad * n
                    s.accum_n += n
                    s.accum_loss += loss * n
                step_grad = s.accum / s.accum_n if micro == micro_count - 1 else None
                step_loss = s.accum_loss / s.accum_n
                if on_step is not None:
                    if micro == 0:
                        self._step_indices = []
                    self._step_indices.append(indices)
            self._last = (s.iteration, micro, micro_count, indices, params, loss, grad, seg, step_grad, s.opt_state)
            if step_grad is None:  # a micro-batch before the last one of its step
                s.epoch_loss_sum += n * loss
                s.epoch_n += n
                s.iteration += 1
                s.samples += n
                self._last_lr = math.nan
                self._end_iteration(seg)
                continue
            step = s.step + 1
            lr = fixed_lr if fixed_lr is not None else schedule(step)
            new_params, new_opt = update(step_grad, s.opt_state, params, lr)
            if not _finite_params(new_params):
                self._diverge()
                return ran, False
            s.epoch_loss_sum += n * loss
            s.epoch_n += n
            s.iteration = iteration = s.iteration + 1
            s.samples += n
            s.params = new_params
            s.opt_state = new_opt
            s.step = step
            self._last_lr = lr
            local = iteration - seg_start
            epoch_end = (local % wrap if wrap else local) % m_epoch == 0
            # eval points: every K steps, every epoch end (the Keras line reads them), the last step
            due = epoch_end or (every is not None and step % every == 0) or local >= total_local
            recording = step > recording_from
            ev = self._evaluate_now(new_params) if due and (recording or target > 0) else _NOT_EVALUATED
            if recording:
                if keep:
                    # epochs of different lengths (cut): the plan places the iteration in its epoch
                    epoch = start_epoch + (seg.plan.epochs_done(local) if cut else local / m_epoch)
                    history.append((iteration, s.samples, epoch, lr, step_loss, s.epoch_loss_sum / s.epoch_n) + ev,
                                   new_params)
                if on_step is not None:  # the step as a StepRecord (its full losses NaN unless evaluated)
                    batch = np.concatenate(self._step_indices) if micro_count > 1 else indices
                    if cut:  # epochs of different lengths: the plan places the step
                        c = self.counters()
                        epoch_no, batch_no = c.epoch, c.batch
                    else:    # after a step the epoch is ⌊(i−1)/M⌋ + 1 and the batch (i−1) mod M + 1
                        e, b = divmod(local - 1, m_epoch)
                        epoch_no, batch_no = start_epoch + e + 1, b + 1
                    on_step(StepRecord(epoch_no, batch_no, iteration, step, s.samples, batch, lr, step_loss,
                                       ev[0], ev[1], new_params, step_grad, s.epoch_loss_sum / s.epoch_n))
            onset = False
            if s.diverging_step or step_loss > DIVERGING_FACTOR * s.loss_ref:  # else nothing changes
                was = s.diverging_step
                self._check_diverging(step_loss)
                onset = stop_at_diverging and not was and s.diverging_step > 0
            if target > 0 and due and ev[0] <= target:
                s.status = TARGET_REACHED
            if epoch_end or iteration % self._checkpoint_every == 0:
                self._end_iteration(seg)       # epoch bookkeeping, end of run, checkpoints
            if onset:
                return ran, True
            if s.status in _RUN_ENDS:
                return ran, False
        return ran, False

    def _evaluate_now(self, params: np.ndarray) -> tuple[float, float, float, float]:
        """Evaluate at an eval point, before the step's history row exists (no fill)."""
        values = self.model.evaluate(params, self._X_all, self._y_all, self._n)
        self._eval_params, self._eval_values, self._eval_step = params, values, self._state.step
        return values

    def _check_diverging(self, step_loss: float) -> None:
        """The "diverging" state: entered at the first step whose batch loss L_b (the step's
        loss before its update) exceeds DIVERGING_FACTOR = 10³ times the reference loss
        L_ref, left when a batch loss falls back below L_ref.

        L_ref is the full training loss at the start, L(θ₀) — after a live change of settings
        the larger of L(θ₀) and the loss where the change was made, so a rescued run is judged
        from where it is.

        Why this rule (SCIENCE.md §5, §6). Gradient descent on a loss with curvature λ along a
        direction multiplies the error there by (1 − ηλ) per step: for ηλ > 2 the loss grows
        geometrically, |1 − ηλ|² per step, and passes any fixed multiple of L(θ₀) within a few
        steps (lr 1.6 on the worked example: L_b passes 10³·L(θ₀) at step 7, ~400 steps before
        the loss overflows). A stable run (0 < ηλ < 2) only settles into a noise floor around
        L* ≤ L(θ₀), so its loss stays below L(θ₀) apart from transients. Sampling noise alone
        cannot reach the threshold either: the per-sample losses are ≥ 0, so L_b ≤ (N/B)·L(θ);
        for N/B < 10³ a batch loss above 10³·L_ref means the full loss itself is above
        (10³·B/N)·L_ref > L_ref — the run has climbed above where it started, not wobbled.
        The batch loss is used (not the full loss) because every step computes it, so the onset
        does not depend on how often the full loss is evaluated. The hysteresis (leave below
        L_ref, not below the threshold) keeps the state from flickering around the threshold.
        Being part of the training state, it is exact under back/goto (replayed, not guessed).
        """
        s = self._state
        ref = s.loss_ref
        if not ref > 0:
            return
        if s.diverging_step:
            if step_loss < ref:
                s.diverging_step = 0
                if s.status == DIVERGING:
                    s.status = READY
        elif step_loss > DIVERGING_FACTOR * ref:
            s.diverging_step = s.step
            if s.status == READY:
                s.status = DIVERGING

    def _end_iteration(self, seg: Segment) -> None:
        s = self._state
        local = s.iteration - seg.start_iteration
        if (local % self._wrap if self._wrap else local) % self._m_epoch == 0:
            s.finished_epoch_loss = s.epoch_loss_sum / s.epoch_n if s.epoch_n else math.nan
            s.epoch_loss_sum = 0.0
            s.epoch_n = 0
            if local >= self._total_local and s.status != TARGET_REACHED:
                s.status = FINISHED
        if s.iteration % self._checkpoint_every == 0:
            self._take_checkpoint()

    @property
    def last(self) -> PhaseData | None:
        """The last finished iteration, every phase's values computed from the θ it started from."""
        if self._last is None:
            return None
        iteration, micro, count, indices, params, loss, grad, seg, _, _ = self._last
        X, y = self._X[indices], self._y[indices]
        p = PhaseData(iteration, micro, count, indices, X, y, seg, phase=3)
        p.outputs = self.model.predict(params, X)
        p.losses = self.model.per_sample_loss(params, X, y)
        p.batch_loss, p.grad = loss, grad
        p.sample_grads = self.model.per_sample_grads(params, X, y)
        p.params_before = params
        final = count == 1 or micro == count - 1
        p.update = (self._state.params - params) if final and self._state.iteration == iteration + 1 else np.zeros_like(params)
        p.lr = self._last_lr
        p.terms = self.last_update() if final else None
        return p

    def last_update(self) -> UpdateTerms | None:
        """The last optimizer step written out (formula, intermediate values, Δθ, effective step
        size, velocity), recomputed by the optimizer from the state it started from; None
        before any step or after a non-final micro-batch."""
        if self._last is None:
            return None
        iteration, _, _, _, params, _, _, seg, step_grad, opt_before = self._last
        if step_grad is None or self._state.iteration != iteration + 1 or not math.isfinite(self._last_lr):
            return None
        with np.errstate(all="ignore"):
            return seg.optimizer.explain(step_grad, opt_before, params, self._last_lr)

    @property
    def optimizer_state(self) -> State:
        """The optimizer's state now (read-only: ``t`` and its buffers, e.g. ``momentum_buffer``)."""
        return self._state.opt_state

    def _diverge(self) -> None:
        s = self._state
        self.revision += 1
        s.status = DIVERGED
        s.diverged_step = s.step + 1
        self.pending = None

    # ----------------------------------------------------------------------------------------
    # checkpoints and stepping back
    def _take_checkpoint(self, pinned: bool = False) -> None:
        s = self._state
        if self._checkpoints and self._checkpoints[-1].state.iteration == s.iteration:
            if pinned:
                self._checkpoints[-1].pinned = True
            return
        self._checkpoints.append(_Checkpoint(s.copy(), self.rng.bit_generator.state, pinned))
        if len(self._checkpoints) > self._max_checkpoints:
            last = len(self._checkpoints) - 1
            self._checkpoints = [c for i, c in enumerate(self._checkpoints) if c.pinned or i % 2 == 0 or i == last]
            self._checkpoint_every *= 2

    def back(self, iterations: int = 1) -> bool:
        """Undo ``iterations`` iterations exactly (bit-identical to the earlier state).

        A partly done iteration (some phases done) or a divergence counts as one.
        Returns False when already at the start.
        """
        s = self._state
        partial = (self.pending is not None and self.pending.phase >= 0) or s.status == DIVERGED
        target = max(0, s.iteration - iterations + (1 if partial else 0))
        if target == s.iteration and not partial:
            return False
        self.goto_iteration(target)
        return True

    def goto_iteration(self, target: int) -> None:
        """Put the simulation in the exact state it had after ``target`` iterations.

        Restores the latest checkpoint at or before ``target`` (settings included: a change made
        later is undone) and replays forward; the history is cut back to match.
        """
        target = max(0, target)
        self.revision += 1
        cps = self._checkpoints
        # replay at least the last iteration (so ``last`` is known) unless a change of settings
        # starts exactly here
        while len(cps) > 1 and (cps[-1].state.iteration > target
                                or (cps[-1].state.iteration == target and not cps[-1].pinned)):
            cps.pop()
        cp = self._checkpoints[-1]
        del self.segments[cp.state.segment + 1 :]
        seg = self.segment
        target = min(target, seg.start_iteration + seg.plan.total_iterations)
        steps_at_target = self._steps_done_after(target)
        kept = self.history.truncate(steps_at_target)
        self._state = cp.state.copy()
        self.rng.bit_generator.state = cp.rng_state
        self.pending = None
        self._last = None
        self._on_segment_change()
        self._recording_from = kept
        self._replaying = True
        try:
            with np.errstate(all="ignore"):
                while self._state.iteration < target and not self.done:
                    self._run(target - self._state.iteration, False)
        finally:
            self._replaying = False
        self._recording_from = 0

    def _steps_done_after(self, iterations: int) -> int:
        seg = self.segment
        local = iterations - seg.start_iteration
        if local >= seg.plan.total_iterations:
            return seg.start_step + seg.plan.total_steps
        return seg.start_step + seg.plan.locate(local).step

    def reset(self) -> None:
        """Back to the start: same data, same initial parameters, same seed, first settings."""
        self.goto_iteration(0)

    def accuracy(self) -> float | None:
        """Training accuracy at the current parameters (None for regression)."""
        return self._evaluate()[2] if self._classify else None

    def val_accuracy(self) -> float | None:
        """Validation accuracy at the current parameters (None for regression or without one)."""
        return self._evaluate()[3] if self._classify and self._has_val else None

    @property
    def X(self) -> np.ndarray:
        """Training inputs in index order."""
        return self._X

    @property
    def y(self) -> np.ndarray:
        """Training targets in index order."""
        return self._y


    # ----------------------------------------------------------------------------------------
    # measurements computed on demand (never in the step loop)
    def noise(self) -> NoiseReport:
        """Gradient noise at the current θ for the current batch size (SCIENCE.md §3).

        The batch gradient is that of the batch in progress, or else of the last batch done.
        """
        from .noise import noise_report

        with np.errstate(all="ignore"):   # after a divergence θ may be finite but huge: ∞ is the answer
            grads = self.model.per_sample_grads(self._state.params, self._X, self._y)
            batch = self.current_batch()
            return noise_report(grads, self.scenario.batch_size * self.scenario.accumulate,
                                batch if len(batch) else None)

    def reference_path(self, max_steps: int = 2000) -> np.ndarray:
        """Full-batch GD from the same start with the same learning rate, one update per epoch
        (cached); shape (k + 1, P)."""
        lr = self.segments[0].scenario.lr
        key = (lr, max_steps)
        cache = self._reference_cache
        if key not in cache:
            steps = min(max_steps, max(self.segments[0].scenario.epochs, 50))
            from .landscape import gd_path

            cache[key] = gd_path(self.model, self._X, self._y, self.initial_params, lr, steps)
        return cache[key]

    def landscape(self, i: int, j: int, xs: np.ndarray, ys: np.ndarray,
                  batch: np.ndarray | None = None, params: np.ndarray | None = None) -> Grid:
        """Loss over parameters i, j on the grid xs × ys, the others held at ``params``
        (default: the current parameters).

        With ``batch`` (indices), the loss of that batch only; else the full training loss.
        """
        X, y = (self._X, self._y) if batch is None else (self._X[batch], self._y[batch])
        held = self._state.params if params is None else np.asarray(params, dtype=float)
        from .landscape import loss_grid

        return loss_grid(self.model, X, y, held, i, j, np.asarray(xs), np.asarray(ys))

    def batch_gradient(self) -> np.ndarray | None:
        """ĝ of the batch in progress, or of the last batch done, at the current θ."""
        batch = self.current_batch()
        if not len(batch):
            return None
        return self.model.batch_grad(self._state.params, self._X[batch], self._y[batch])

    def full_gradient(self) -> np.ndarray:
        """G = ∇L(θ) over the whole training set at the current θ."""
        return self.model.batch_grad(self._state.params, self._X, self._y)


_NOT_EVALUATED = (math.nan, math.nan, math.nan, math.nan)
_isfinite = math.isfinite
_RUN_ENDS = (FINISHED, TARGET_REACHED)  # ends a step can reach without diverging


def _finite_params(a: np.ndarray) -> bool:
    """True when every parameter is finite. A sum is finite only if every term is (an inf
    or NaN makes it inf or NaN), so a finite sum decides at once; one that overflowed from
    huge finite values falls back to the exact check. Small vectors are summed as Python
    floats (cheaper than a NumPy call), larger ones by a dot product."""
    total = sum(a.tolist()) if a.size <= 16 else float(a @ a)
    return total - total == 0.0 or _all_finite(a)


def _all_finite(a: np.ndarray) -> bool:
    """True when every entry is finite (a NaN or ±inf makes the dot product non-finite too,
    but it can also overflow for huge finite values, so the exact check decides)."""
    d = float(a @ a)
    return math.isfinite(d) or bool(np.isfinite(a).all())


def _describe_changes(old: Scenario, new: Scenario) -> str:
    parts = []
    for key in sorted(LIVE_SETTINGS):
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            parts.append(f"{key} {a}→{b}")
    return ", ".join(parts) or "no change"

