"""An ensemble: K runs of one scenario stepped together, in one vectorised NumPy pass.

The K runs (*members*) share the data and the initial parameters (the scenario's seed makes
both) and differ in something named: the sampling stream (the noise cloud), the batch size
(GD, mini-batch, SGD), the learning rate, the optimizer. Members whose batch arithmetic is the
same (one :class:`~engine.sampling.Plan`) form a *group*: at each iteration they take their
batches at the same positions of their own orders, so their parameters (K, P), batches
(K, B, d) and targets (K, B) go through the model and the optimizer as stacked arrays
(:meth:`engine.models.Model.loss_and_grad_runs`; the optimizers of
:mod:`engine.optimizers` are elementwise and take (K, P) arrays as they are).

**Each member is bit-identical to the same run as a lone Simulation**: member k with
``changes`` and ``stream`` equals ``Simulation(scenario.replace(**changes),
sampling_stream=stream)`` — parameters, batch losses, train and validation losses, status —
because every member makes the same floating-point operations in the same order (see the note
in :mod:`engine.models`). Tested with ``np.array_equal`` in tests/test_ensemble.py.

**Sampling seeds.** Member 0 of :meth:`Ensemble.seeds` is the scenario's own run (its sampling
continues the generator that made the data); member k ≥ 1 draws its orders from
``np.random.SeedSequence(seed, spawn_key=(k,))`` (:func:`engine.sampling.stream_generator`).

**Alignment** (as compare mode): a *tick* advances every group by the same amount of
``steps`` (one optimizer step), ``samples`` (the reference member's batch of samples) or
``epochs`` (the reference member's share of an epoch). :func:`progress_after_next`,
:func:`tick_unit` and :func:`epoch_target` are shared with :class:`engine.compare.Comparison`.

**Live changes** (:meth:`Ensemble.apply_changes`): a change of batching or optimizer settings
applies to every member from its next iteration on, decided by the lone run's own rules
(``Simulation.check_changes`` and friends, on a :class:`_MemberView` of the member), so member
k afterwards equals its lone run given the same change at the same iteration, bit for bit. A
change ends the groups of the settings before it (an *era*) and starts new ones from the
members' states; :meth:`Ensemble.back` before the change returns to the old era, exactly.

**Revision**: :attr:`Ensemble.revision` is bumped by every mutating method, like
``Simulation.revision`` (the TUI's one refresh rule).

**Spread** (SCIENCE.md §5): :meth:`Ensemble.spread` is tr Cov of the K parameter vectors
(divisor K − 1); :meth:`Ensemble.predicted_spread` is the Lyapunov prediction
(:func:`engine.cloud.least_squares_noise_floor`) when it applies, :meth:`Ensemble.prediction_note`
says why not. :meth:`Ensemble.band` gives the quantiles of the members' losses per tick;
:meth:`Ensemble.reference_path` the full-batch GD path from the shared start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Protocol, Sequence

import numpy as np

from .cloud import NoiseFloor, least_squares_noise_floor
from .errors import ScenarioError
from .optimizers import Optimizer
from .sampling import Plan, Position, algorithm_name, stream_generator
from .scenario import LIVE_SETTINGS, Scenario
from .landscape import gd_path
from .simulation import (Counters, DIVERGED, DIVERGING, DIVERGING_FACTOR, FINISHED, READY, TARGET_REACHED, Segment,
                         Simulation, _describe_changes, check_scenario_with_data)

ALIGNMENTS: tuple[str, ...] = ("epochs", "samples", "steps")
#: Which members run as a lone Simulation (``Ensemble(lone=...)``).
LONE: tuple[str, ...] = ("never", "alone", "always")
#: The most members an ensemble takes (``mbsim run --runs``): 100 is the noise cloud's default;
#: 1000 keeps a K × N order table and a K × N loss evaluation per step in a few MB.
MAX_RUNS = 1000
#: When the members' full training and validation losses are computed: after every ``step``
#: (as a lone Simulation does today; needed for a target loss) or when ``read`` (the
#: ``train_loss``/``val_loss`` properties). Both are exact: with ``read`` a bound on the outputs
#: (:meth:`Model.surely_finite_loss_runs`) shows the training loss is finite, as the lone run's
#: divergence check needs, and the few members it cannot vouch for are evaluated.
EVALUATIONS: tuple[str, ...] = ("step", "read")
_CHECKPOINT_EVERY = 32
_MAX_CHECKPOINTS = 256
#: A group left behind by a live change keeps at most this many checkpoints (evenly spaced,
#: its first and last among them): going back into its stretch stays exact and replays a
#: little more, and a long lesson of many changes does not keep 256 snapshots of K generators
#: per change.
_LEFT_CHECKPOINTS = 16
# reshuffled orders drawn ahead: at most this many passes per call, and this many indices
_AHEAD_PASSES = 8
_AHEAD_ELEMENTS = 1 << 21
#: The loss band keeps about this many batch losses (K per recorded tick, 64 to 2,048 ticks;
#: see :meth:`Ensemble.band`): 2,048 ticks of 100 runs, 1.6 MB.
BAND_POINTS = 1 << 18
#: The full losses of the band: at most this many ticks (their K parameter vectors kept until
#: evaluated, at most BAND_PARAM_FLOATS floats, so fewer ticks for large models; 16 at least).
BAND_EVAL_POINTS = 256
BAND_PARAM_FLOATS = 1 << 21


# ------------------------------------------------------------------------------------------------
# alignment, shared with compare mode


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
    # (Simulation.apply_changes), so the epochs done are the segment's first epoch plus its own
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


def advance(run: Runner, align: str, target: float, iterate: Any) -> None:
    """Run ``iterate()`` while the next iteration of ``run`` ends at or before ``target``."""
    eps = 1e-9
    while not run.done and progress_after_next(run, align) <= target + eps:
        iterate()


# ------------------------------------------------------------------------------------------------
# members


@dataclass(frozen=True)
class Member:
    """One run of an ensemble: a label, the settings it changes and its sampling stream."""

    label: str
    changes: dict[str, Any] = field(default_factory=dict)
    stream: int = 0

    def scenario(self, base: Scenario) -> Scenario:
        """The scenario of this member as a lone run."""
        return base.replace(**self.changes) if self.changes else base


@dataclass
class _UpdateSet:
    """Members of a group with one optimizer (stacked update); ``rows`` index the group."""

    optimizer: Optimizer
    rows: np.ndarray | slice
    schedules: list[Any]
    constant_lr: float | np.ndarray | None
    state: dict
    last_lr: float | np.ndarray = math.nan
    step: Any = field(init=False, repr=False)      # the optimizer's pure step function

    def __post_init__(self) -> None:
        self.step = self.optimizer.step_function


_CODES = {0: READY, 1: FINISHED, 2: TARGET_REACHED, 3: DIVERGED}
_RUNNING, _FINISHED, _TARGET, _DIVERGED = 0, 1, 2, 3


@dataclass
class _MemberState:
    """One member's training state where a live change is made: what its lone run keeps
    across :meth:`Simulation.apply_changes` (parameters, optimizer state, counters, the last
    sampling order and generator, the last epoch's loss) and what it resets (status,
    accumulation, the running epoch loss, the diverging rule's reference loss)."""

    params: np.ndarray
    opt_state: dict | None          # None: a fresh state of the new optimizer
    iteration: int
    step: int
    samples: int
    order: np.ndarray | None
    generator: np.random.Generator
    finished_epoch_loss: float
    train_loss: float
    val_loss: float
    lr: float
    loss_ref: float
    batch_loss: float = math.nan


class _MemberView:
    """A member seen as a lone run, so that :class:`Simulation`'s own rules for a live change
    (``check_changes``, ``_next_segment_epoch``, ``counters``, ``_make_segment``) decide it:
    one copy of those rules, and the same :class:`ScenarioError` messages. Those methods read
    only the attributes set here."""

    counters = Simulation.counters
    _next_segment_epoch = Simulation._next_segment_epoch
    check_changes = Simulation.check_changes
    _make_segment = Simulation._make_segment
    segment = Simulation.segment
    scenario = Simulation.scenario

    def __init__(self, dataset: Any, segment: Segment, iteration: int, step: int, samples: int) -> None:
        self.dataset = dataset
        self.segments = [segment]
        self._state = SimpleNamespace(iteration=iteration, step=step, samples=samples)


_STATUS_CODES = {READY: 0, DIVERGING: 0, FINISHED: 1, TARGET_REACHED: 2, DIVERGED: 3}


def _one(value: Any, dtype: Any = float) -> np.ndarray:
    """A per-member array of a group of one."""
    return np.array([value], dtype=dtype)


class _LoneGroup:
    """A group of ONE member backed by a lone :class:`Simulation` (``Ensemble(lone=...)``): its
    full History, lens and landscape reads (what compare mode draws), stepped by the
    Simulation itself, so it is the lone run by construction. A live change goes to the
    Simulation (its segments); going back to a tick before a change made at the very
    iteration the tick stood at undoes it by replaying that tick (see :meth:`goto`)."""

    k = 1

    def __init__(self, ens: Ensemble, member: int, sim: Simulation) -> None:
        self.ens = ens
        self.members = [member]
        self.sim = sim
        self._applied: list[tuple[int, int, dict]] = []   # (era, iteration, changes) made live

    # --- what alignment reads (the Simulation's own) --------------------------------------------
    iteration = property(lambda self: self.sim.iteration)
    step = property(lambda self: self.sim.step)
    samples_seen = property(lambda self: self.sim.samples_seen)
    plan = property(lambda self: self.sim.plan)
    segment = property(lambda self: self.sim.segment)
    done = property(lambda self: self.sim.done)

    def next_position(self) -> Position | None:
        return self.sim.next_position()

    def iterate(self) -> None:
        self.sim.step_iteration()

    # --- per-member views: arrays of one ------------------------------------------------------
    member_iteration = property(lambda self: _one(self.sim.iteration, np.int64))
    member_step = property(lambda self: _one(self.sim.step, np.int64))
    member_samples = property(lambda self: _one(self.sim.samples_seen, np.int64))
    diverged_step = property(lambda self: _one(self.sim.diverged_step, np.int64))
    diverging_step = property(lambda self: _one(self.sim.diverging_step, np.int64))
    code = property(lambda self: _one(_STATUS_CODES[self.sim.status], np.int8))
    epoch_loss = property(lambda self: _one(self.sim.epoch_loss))
    # the last step's values, from the History as it is (its public property would evaluate
    # the full losses first and record them: the band reads these at every tick)
    batch_loss = property(lambda self: _one(self.sim._history.last("batch_loss") if self.sim.step else math.nan))
    lr = property(lambda self: _one(self.sim._history.last("lr") if self.sim.step else math.nan))

    @property
    def params(self) -> np.ndarray:
        return self.sim.params[None, :]

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        return _one(self.sim.train_loss), _one(self.sim.val_loss)

    # --- live changes and rewinding -----------------------------------------------------------
    def apply_changes(self, era: int, changes: dict) -> None:
        self._applied.append((era, self.sim.iteration, dict(changes)))
        self.sim.apply_changes(**changes)

    def goto(self, iteration: int, era: int, target: float, align: str) -> None:
        """The state of a tick of era ``era`` that stood at ``iteration`` (``target``: that tick's
        goal). ``Simulation.goto_iteration`` undoes the changes made after ``iteration`` and keeps
        one made AT it; when that one belongs to a later era, go one iteration further back and
        replay the tick (its goal decides, as it did, whether the run also tried the next
        iteration and diverged), then re-apply the changes of eras up to ``era`` made there."""
        later = [a for a in self._applied if a[0] > era]
        self._applied = [a for a in self._applied if a[0] <= era]
        if not any(it == iteration for _e, it, _c in later):
            self.sim.goto_iteration(iteration)
            return
        redo = [c for _e, it, c in self._applied if it == iteration]
        if iteration > 0:
            self.sim.goto_iteration(iteration - 1)
            with np.errstate(all="ignore"):
                while self.sim.iteration < iteration and not self.sim.done:
                    self.sim.step_iteration()
            for changes in redo:
                self.sim.apply_changes(**changes)
            advance(self, align, target, self.iterate)
            return
        # at the start the first settings were replaced (Simulation keeps no older checkpoint):
        # change them back to the era's settings
        self.sim.goto_iteration(0)
        want = self.ens._eras[era].scenarios[self.members[0]]
        now = self.sim.scenario
        back = {key: getattr(want, key) for key in sorted(LIVE_SETTINGS) if getattr(want, key) != getattr(now, key)}
        if back:
            self.sim.apply_changes(**back)
        advance(self, align, target, self.iterate)


@dataclass
class _Era:
    """The groups of one stretch of settings: the first from the start, one more per live
    change (``step``: the reference member's step at the change; ``note``: what changed)."""

    groups: list[_Group]
    where: list[tuple[int, int]]        # member → (group, row)
    index: list[np.ndarray]             # group → its members
    scenarios: list[Scenario]           # member → its scenario in force
    step: int = 0
    note: str = ""


class _BandRecord:
    """Values of the K members at recorded ticks, decimated: tick n is recorded when n is a
    multiple of ``stride``; when full, the ticks that are not multiples of 2·stride are dropped
    and the stride doubles (so the record is the same however the ticks were reached: back and
    replay give the same points). ``fields``: name → the shape of one point's array."""

    def __init__(self, cap: int, fields: dict[str, tuple[int, ...]], fill: dict[str, Any]) -> None:
        self.cap = int(cap)
        self.stride = 1
        self.n = 0
        self.ticks = np.zeros(self.cap, dtype=np.int64)
        self.steps = np.zeros(self.cap, dtype=np.int64)
        self.data = {name: np.full((self.cap,) + shape, fill[name]) for name, shape in fields.items()}

    def wants(self, tick: int) -> bool:
        """True when tick ``tick`` is to be recorded (making room first when full)."""
        if self.n == self.cap and tick % self.stride == 0:
            keep = np.flatnonzero(self.ticks[:self.n] % (2 * self.stride) == 0)
            m = len(keep)
            self.ticks[:m] = self.ticks[keep]
            self.steps[:m] = self.steps[keep]
            for arr in self.data.values():
                arr[:m] = arr[keep]
            self.n = m
            self.stride *= 2
        return tick % self.stride == 0

    def add(self, tick: int, step: int, **values: Any) -> int:
        i = self.n
        self.ticks[i], self.steps[i] = tick, step
        for name, v in values.items():
            self.data[name][i] = v
        self.n = i + 1
        return i

    def truncate(self, ticks: int) -> None:
        """Keep the points of ticks 0..ticks−1."""
        self.n = int(np.searchsorted(self.ticks[:self.n], ticks))


def band_quantiles(steps: np.ndarray, values: np.ndarray, qs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(x, quantiles over the members (len(qs), len(x))) of ``values`` (points, K), leaving out
    non-finite values and the points where none is finite."""
    v = np.where(np.isfinite(values), values, np.nan)
    ok = ~np.isnan(v).all(axis=1)
    x = steps[ok]
    if not x.size:
        return x, np.empty((len(qs), 0))
    with np.errstate(all="ignore"):
        return x, np.nanquantile(v[ok], qs, axis=1)


class _LossBand:
    """The loss band's record: each member's batch loss at every recorded tick (K floats a
    tick, up to :data:`BAND_POINTS` // K ticks), and, sparser (up to :data:`BAND_EVAL_POINTS`
    ticks, fewer for large models), the members' parameters, from which the full training and
    validation losses are evaluated only when :meth:`Ensemble.band` asks for them (one stacked
    evaluation of the new points; never, if nobody asks)."""

    def __init__(self, ens: Ensemble) -> None:
        k, p = len(ens.members), ens.initial_params.size
        self.ens = ens
        self.batch = _BandRecord(min(2048, max(64, BAND_POINTS // k)), {"loss": (k,)}, {"loss": np.nan})
        cap = min(BAND_EVAL_POINTS, max(16, BAND_PARAM_FLOATS // (k * p)))
        self.full = _BandRecord(cap, {"params": (k, p), "gone": (k,), "train": (k,), "val": (k,), "done": ()},
                                {"params": 0.0, "gone": False, "train": np.nan, "val": np.nan, "done": False})

    def record(self, tick: int) -> None:
        ens = self.ens
        want_batch, want_full = self.batch.wants(tick), self.full.wants(tick)
        if not (want_batch or want_full):
            return
        gone = ens._gather("code") == _DIVERGED
        step = int(ens.step[ens.reference])
        if want_batch:
            loss = ens.batch_loss
            self.batch.add(tick, step, loss=np.where(gone, np.nan, loss) if gone.any() else loss)
        if want_full:
            if tick == 0:   # every member at its start: the lone run's L(θ₀)
                k = len(ens.members)
                self.full.add(tick, step, params=ens.params, gone=gone, done=True,
                              train=np.full(k, ens.initial_train_loss), val=np.full(k, ens.initial_val_loss))
            else:
                self.full.add(tick, step, params=ens.params, gone=gone, done=False)

    def truncate(self, ticks: int) -> None:
        self.batch.truncate(ticks)
        self.full.truncate(ticks)

    def _evaluate(self) -> None:
        rec = self.full
        d = rec.data
        todo = np.flatnonzero(~d["done"][:rec.n])
        if not todo.size:
            return
        ens = self.ens
        k, p = d["params"].shape[1:]
        stacked = d["params"][todo].reshape(len(todo) * k, p)
        with np.errstate(all="ignore"):
            train, val = ens.model.split_loss_runs(stacked, ens.X_all, ens.y_all, ens.n_samples)
        gone = d["gone"][todo]
        d["train"][todo] = np.where(gone, np.nan, train.reshape(len(todo), k))
        d["val"][todo] = np.where(gone, np.nan, val.reshape(len(todo), k))
        d["done"][todo] = True

    def quantiles(self, quantity: str, qs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        if quantity == "batch_loss":
            rec = self.batch
            return band_quantiles(rec.steps[:rec.n], rec.data["loss"][:rec.n], qs)
        self._evaluate()
        rec = self.full
        name = "train" if quantity == "train_loss" else "val"
        return band_quantiles(rec.steps[:rec.n], rec.data[name][:rec.n], qs)


class _Group:
    """Members with one plan at one position, stepped together: the vectorised hot loop.

    A group covers one stretch of settings (a :class:`Segment` per member, all starting at the
    same iteration, step and epoch); a live change ends it and starts new groups from its
    members' states (``starts``)."""

    def __init__(self, ens: Ensemble, members: list[int], scenarios: list[Scenario],
                 segments: list[Segment], generators: list[np.random.Generator],
                 starts: list[_MemberState] | None = None) -> None:
        self.ens = ens
        self.members = members
        self.scenarios = scenarios
        self.segments = segments
        seg0 = segments[0]
        self.plan: Plan = seg0.plan
        self.start_iteration = seg0.start_iteration
        self.start_step = seg0.start_step
        self.start_epoch = seg0.start_epoch
        self.samplers = [s.sampler for s in segments]
        self.rngs = generators
        k = len(members)
        self.k = k
        self._table = self.plan.pass_table()
        self._m = self.plan.batches_per_pass
        self._acc = self.plan.accumulate
        self._m_epoch = self.plan.iterations_per_epoch
        self._total = self.plan.total_iterations
        # when the lone run evaluates (Simulation._on_segment_change): the target is checked there
        n_eval = ens.n_samples + len(ens.dataset.y_val)
        per_step = self.plan.total_samples / max(1, self.plan.total_steps)
        sc0 = scenarios[0]
        self._eval_every = sc0.eval_interval(n_eval, per_step)
        if sc0.eval_every == "auto" and n_eval <= Simulation.auto_every_step_up_to:
            self._eval_every = 1
        self.targets = np.array([sc.target_loss for sc in scenarios])
        self._any_target = bool(np.any(self.targets > 0))
        if starts is None:
            init = np.repeat(ens.initial_params[None, :], k, axis=0)
            states = None
        else:
            init = np.stack([st.params for st in starts])
            states = [st.opt_state if st.opt_state is not None
                      else {key: (v[0] if isinstance(v, np.ndarray) else v)
                            for key, v in seg.optimizer.init(init[r:r + 1]).items()}
                      for r, (st, seg) in enumerate(zip(starts, segments))]
        # one update set per optimizer (members differing only in lr share one); after a live
        # change also per step count t of the optimizer's state (a member that switched optimizer
        # starts at t = 0)
        sets: dict[tuple[Optimizer, int], list[int]] = {}
        for row, seg in enumerate(segments):
            t = 0 if states is None else int(states[row]["t"])
            sets.setdefault((seg.optimizer, t), []).append(row)
        self.sets: list[_UpdateSet] = []
        for (opt, _t), rows in sets.items():
            sel: np.ndarray | slice = slice(None) if len(rows) == k else np.array(rows)
            scheds = [segments[r].schedule for r in rows]
            lrs = [scenarios[r].lr for r in rows]
            const = None
            if all(scenarios[r].schedule == "constant" for r in rows):
                const = lrs[0] if len(set(lrs)) == 1 else np.array(lrs)[:, None]
            if states is None:
                state = opt.init(init[sel])
            else:
                first = states[rows[0]]
                state = {key: (np.stack([states[r][key] for r in rows]) if isinstance(v, np.ndarray) else v)
                         for key, v in first.items()}
            self.sets.append(_UpdateSet(opt, sel, scheds, const, state))
        one = self.sets[0] if len(self.sets) == 1 and isinstance(self.sets[0].rows, slice) else None
        self._one_set: _UpdateSet | None = one
        self.params = init
        self.orders: np.ndarray | None = None
        if starts is None:
            self.iteration = self.step = self.samples_seen = 0
            self.finished_epoch_loss = np.full(k, np.nan)
            self.train_loss = np.full(k, ens.initial_train_loss)
            self.val_loss = np.full(k, ens.initial_val_loss)
            self._loss_ref = np.full(k, float(ens.base.initial_train_loss))
            self._start_lr = np.full(k, np.nan)
            self._loss_stamp = 0
        else:
            s0 = starts[0]
            self.iteration, self.step, self.samples_seen = s0.iteration, s0.step, s0.samples
            if s0.order is not None:
                self.orders = np.stack([st.order for st in starts])
            self.finished_epoch_loss = np.array([st.finished_epoch_loss for st in starts])
            self.train_loss = np.array([st.train_loss for st in starts])
            self.val_loss = np.array([st.val_loss for st in starts])
            self._loss_ref = np.array([st.loss_ref for st in starts])
            self._start_lr = np.array([st.lr for st in starts])
            self._loss_stamp = self.iteration   # the losses carried were evaluated at these params
        self._ref_ok = self._loss_ref > 0
        self._diverging_at = DIVERGING_FACTOR * self._loss_ref
        self._diverging_low = float(self._diverging_at.min()) if self._diverging_at.size else math.inf
        self.order_pass = -1
        self._Xo: np.ndarray | None = None
        self._yo: np.ndarray | None = None
        self._by_sample = bool(getattr(ens.model, "runs_by_sample", False))
        self._xs = self._ys = None
        self.accum: np.ndarray | None = None
        self.accum_n = 0
        self.accum_loss = np.zeros(k)
        self.epoch_loss_sum = np.zeros(k)
        self.epoch_n = 0
        self.code = np.zeros(k, dtype=np.int8)
        self.diverged_step = np.zeros(k, dtype=np.int64)
        self.diverging_step = np.zeros(k, dtype=np.int64)  # Simulation._check_diverging
        self._no_diverging = self.diverging_step          # this very array: nobody diverging
        # a member that stops keeps its counters here (iteration, step, samples, epoch_n);
        # while it runs they are the group's
        self._frozen = np.zeros((k, 4), dtype=np.int64)
        self.batch_loss = np.full(k, np.nan)
        self._eager = ens.evaluate == "step" or self._any_target
        self._live = np.ones(k, dtype=bool)
        self._all_true = np.ones(k, dtype=bool)
        self._all_live = True
        self._done = False
        # where every sampler allows it (reshuffle), each member's orders are drawn a few passes
        # ahead in one call (:meth:`_draw_ahead`); its generator then runs ahead of its lone
        # run's, so each member also keeps the state its block started from, and how many
        # passes of the block its lone run has drawn
        self._ahead_ok = all(sm.draws_ahead for sm in self.samplers)
        self._ahead: np.ndarray | None = None             # (k, P, N): pass _ahead_first + p in row p
        self._ahead_first = 0
        self._ahead_passes = 0
        self._ahead_states: list[dict | None] = [None] * k
        self._ahead_from = np.full(k, -1, dtype=np.int64)  # the pass each member's block starts at
        self._drawn = np.zeros(k, dtype=np.int64)
        self._checkpoints: list[tuple[int, dict]] = []
        # a checkpoint holds K generator states: fewer of them for a large ensemble (back()
        # replays at most this many iterations)
        self._every = _CHECKPOINT_EVERY * max(1, k // 8)
        self._checkpoint()

    @property
    def segment(self) -> _Group:
        """Where the group's settings start (``start_iteration``, ``start_epoch``), as
        ``Simulation.segment`` for alignment."""
        return self

    def member_state(self, row: int) -> _MemberState:
        """Member ``row``'s state now, as its lone run holds it (a stopped member's counters and
        optimizer step count are those it stopped with)."""
        if self.code[row] == _RUNNING:
            it, st, sm = self.iteration, self.step, self.samples_seen
        else:
            it, st, sm = (int(v) for v in self._frozen[row, :3])
        for us in self.sets:
            if isinstance(us.rows, slice):
                r = row
            else:
                hit = np.flatnonzero(us.rows == row)
                if not hit.size:
                    continue
                r = int(hit[0])
            opt = {key: (v[r] if isinstance(v, np.ndarray) else v) for key, v in us.state.items()}
            opt["t"] = int(us.state["t"]) - (self.step - st)   # t counts the member's own updates
            break
        train, val = self.losses()
        params = self.params[row]
        ens = self.ens
        with np.errstate(all="ignore"):
            here = float(ens.model.loss(params, ens.X, ens.y))
        ref = max(ens.initial_train_loss, here) if math.isfinite(here) else ens.initial_train_loss
        return _MemberState(params, opt, it, st, sm, None if self.orders is None else self.orders[row],
                            self._lone_generator(row), float(self.finished_epoch_loss[row]), float(train[row]),
                            float(val[row]), float(self.lr[row]), ref, float(self.batch_loss[row]))

    def _lone_generator(self, row: int) -> np.random.Generator:
        """Member ``row``'s generator in the state its lone run's is in now. Drawn ahead, the
        group's own is past it: then a new generator, wound to the start of the member's block
        and through the passes its lone run has drawn (the group's stays as it is)."""
        gen = self.rngs[row]
        if self._ahead_from[row] < 0:
            return gen
        lone = np.random.Generator(type(gen.bit_generator)())
        lone.bit_generator.state = self._ahead_states[row]
        drawn = int(self._drawn[row])
        if drawn:
            self.samplers[row].orders_ahead_into(lone, np.empty((drawn, self.ens.n_samples), dtype=np.int64))
        return lone

    def member_view(self, row: int) -> _MemberView:
        """Member ``row`` as a lone run for Simulation's change rules."""
        if self.code[row] == _RUNNING:
            it, st, sm = self.iteration, self.step, self.samples_seen
        else:
            it, st, sm = (int(v) for v in self._frozen[row, :3])
        return _MemberView(self.ens.dataset, self.segments[row], it, st, sm)

    # --- what alignment reads -------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._done

    def next_position(self) -> Position | None:
        local = self.iteration - self.start_iteration
        if self.done or local >= self._total:
            return None
        return self.plan.locate(local)

    # --- the hot loop -------------------------------------------------------------------------
    def _draw_orders(self, pass_index: int) -> None:
        prev = self.orders
        if self._ahead_ok:
            orders = self._draw_ahead(pass_index)
        else:
            orders = np.empty((self.k, self.ens.n_samples), dtype=np.int64)
            live = self._live.tolist()
            for i, (sampler, gen) in enumerate(zip(self.samplers, self.rngs)):
                if prev is None:
                    sampler.order_into(gen, None, orders[i])
                elif live[i]:
                    sampler.order_into(gen, prev[i], orders[i])
                else:   # a stopped member draws no more (its generator stays where its lone run's is)
                    orders[i] = prev[i]
        self.orders = orders
        self.order_pass = pass_index
        self._take_data()

    def _take_data(self) -> None:
        """Each member's data in its pass order, so that a batch is a slice (as
        Simulation._batch_slot); sample-major too where the model uses it."""
        ens = self.ens
        if self._by_sample:               # one feature: x run-major for the dots, x and y sample-major
            x = ens.X[:, 0]
            self._Xo = np.take(x, self.orders)
            by_sample = self.orders.T
            self._xs = np.take(x, by_sample)
            self._ys = np.take(ens.y, by_sample)
        else:
            self._Xo = np.take(ens.X, self.orders, axis=0)
            self._yo = np.take(ens.y, self.orders)

    def _draw_ahead(self, pass_index: int) -> np.ndarray:
        """(k, N) this pass's orders, from the block drawn ahead; past its end, a new block:
        the next few passes of every running member, one call each (a stopped member draws
        no more and keeps its order)."""
        row = pass_index - self._ahead_first
        if self._ahead is None or not 0 <= row < self._ahead_passes:
            self._new_block(pass_index)
            row = 0
        if self._all_live:
            self._drawn = self._drawn + 1
            return self._ahead[:, row].copy()   # a copy: a checkpoint keeps it, not the block
        live = self._live
        self._drawn = np.where(live, self._drawn + 1, self._drawn)
        return np.where(live[:, None], self._ahead[:, row], self.orders)

    def _new_block(self, pass_index: int) -> None:
        """Draw the orders of passes ``pass_index`` on (as many as remain, at most
        _AHEAD_PASSES, within _AHEAD_ELEMENTS indices) for every running member."""
        k, n = self.k, self.ens.n_samples
        passes_left = -(-self._total // self._m) - pass_index
        p = max(1, min(_AHEAD_PASSES, passes_left, _AHEAD_ELEMENTS // max(1, k * n)))
        block = np.empty((k, p, n), dtype=np.int64)
        states = list(self._ahead_states)
        start, drawn = self._ahead_from.copy(), self._drawn.copy()
        live = self._live.tolist()
        for i, (sampler, gen) in enumerate(zip(self.samplers, self.rngs)):
            if live[i]:
                states[i] = gen.bit_generator.state
                sampler.orders_ahead_into(gen, block[i])
                start[i], drawn[i] = pass_index, 0
            else:
                block[i] = 0 if self.orders is None else self.orders[i]
        self._ahead, self._ahead_first, self._ahead_passes = block, pass_index, p
        self._ahead_states, self._ahead_from, self._drawn = states, start, drawn

    def _redraw_block(self) -> None:
        """The block drawn ahead, drawn again from the states it started from (a checkpoint
        keeps those, not the block); the caller then restores the generators' states."""
        self._ahead = None
        if not self._ahead_ok or self._ahead_passes == 0:
            return
        k, n, p = self.k, self.ens.n_samples, self._ahead_passes
        block = np.empty((k, p, n), dtype=np.int64)
        for i, (sampler, gen) in enumerate(zip(self.samplers, self.rngs)):
            if self._ahead_from[i] == self._ahead_first:
                gen.bit_generator.state = self._ahead_states[i]
                sampler.orders_ahead_into(gen, block[i])
            else:
                block[i] = 0 if self.orders is None else self.orders[i]
        self._ahead = block

    def iterate(self) -> None:
        """One iteration of every member (SCIENCE.md §1.2 for accumulation), exactly as
        :meth:`Simulation._finish_iteration` does it for one run."""
        ens = self.ens
        it = self.iteration - self.start_iteration
        pass_index, j = divmod(it, self._m)
        if pass_index != self.order_pass or self._Xo is None:
            self._draw_orders(pass_index)
        t = self._table
        start, stop = t.start[j], t.stop[j]
        if t.micro is None:
            micro, count = it % self._acc, self._acc
        else:
            micro, count = t.micro[j], t.micro_count[j]
        n = stop - start
        all_live = self._all_live
        live = self._live
        if self._by_sample:
            loss, grad = ens.model.loss_and_grad_runs_by_sample(
                self.params, self._xs[start:stop], self._ys[start:stop], self._Xo[:, start:stop])
        else:
            loss, grad = ens.model.loss_and_grad_runs(self.params, self._Xo[:, start:stop], self._yo[:, start:stop])
        # the largest batch loss: NaN or inf if any is (maximum propagates NaN), and what the
        # "diverging" rule compares first
        loss_max = np.maximum.reduce(loss)
        if not math.isfinite(loss_max):
            bad = live & ~np.isfinite(loss)
            if bad.any():
                self._diverge(bad)
                live = self._live
                all_live = False
        if count == 1:
            step_grad, step_loss, step_max = grad, loss, loss_max
        else:
            if micro == 0:
                self.accum, self.accum_n, self.accum_loss = grad * n, n, loss * n
            else:
                self.accum = self.accum + grad * n
                self.accum_n += n
                self.accum_loss = self.accum_loss + loss * n
            step_grad = self.accum / self.accum_n if micro == count - 1 else None
            step_loss = self.accum_loss / self.accum_n
            step_max = None
        if step_grad is None:
            self._commit_counts(all_live, live, n, loss)
            self.iteration += 1
            self.samples_seen += n
            self._end_iteration(all_live, live, None)
            return
        s = self.step + 1
        one = self._one_set
        if one is not None:          # one update set over all members: one stacked update
            lr = one.constant_lr
            if lr is None:
                lr = self._set_lr(one, s)
            else:
                one.last_lr = lr
            new_params, st = one.step(step_grad, one.state, self.params, lr)
            new_states = [st]
        else:
            new_states = []
            new_params = np.empty_like(self.params)
            for us in self.sets:
                rows = us.rows
                g = step_grad if isinstance(rows, slice) else step_grad[rows]
                p = self.params if isinstance(rows, slice) else self.params[rows]
                new_p, st = us.step(g, us.state, p, self._set_lr(us, s))
                new_params[rows] = new_p
                new_states.append(st)
        train = val = None
        if self._eager:
            with np.errstate(over="ignore", invalid="ignore"):  # a run far out: its loss is inf
                train, val = ens.model.split_loss_runs(new_params, ens.X_all, ens.y_all, ens.n_samples)
        # the lone run stops when its parameters stop being finite (a non-finite batch loss was
        # caught above): the same test per member, after a finite sum clears them all at once
        if not math.isfinite(np.add.reduce(new_params, axis=None)):
            bad = live & ~np.isfinite(new_params).all(axis=1)
            if bad.any():
                self._diverge(bad)
                live = self._live
                all_live = False
        if all_live:
            self.params = new_params
            if one is not None:
                one.state = new_states[0]
            else:
                for us, st in zip(self.sets, new_states):
                    us.state = st
            if train is not None:
                self.train_loss, self.val_loss = train, val
            self.batch_loss = step_loss
        else:
            keep = live[:, None]
            self.params = np.where(keep, new_params, self.params)
            for us, st in zip(self.sets, new_states):
                rows_live = live[us.rows]
                us.state = {key: (np.where(rows_live[:, None], val_, us.state[key])
                                  if isinstance(val_, np.ndarray) else val_)
                            for key, val_ in st.items()}
            if train is not None:
                self.train_loss = np.where(live, train, self.train_loss)
                self.val_loss = np.where(live, val, self.val_loss)
            self.batch_loss = np.where(live, step_loss, self.batch_loss)
        if all_live:
            self.epoch_loss_sum = self.epoch_loss_sum + n * loss
            self.epoch_n += n
        else:
            self._commit_counts(all_live, live, n, loss)
        self.iteration += 1
        self.samples_seen += n
        self.step = s
        # the common case, no member diverging and none starting, skips the rule (a NaN
        # maximum does not: the other members still follow it)
        if (self.diverging_step is not self._no_diverging
                or not (step_max if step_max is not None else np.maximum.reduce(step_loss)) <= self._diverging_low):
            self._check_diverging(live, step_loss, s)
        self._loss_stamp = -1
        hit = None
        if self._any_target and self._eval_due():
            hit = live & (self.targets > 0) & (train <= self.targets)
            if not hit.any():
                hit = None
        if (self.iteration - self.start_iteration) % self._m_epoch == 0 or self.iteration % self._every == 0:
            self._end_iteration(all_live, live, hit)
        if hit is not None:                   # after the epoch's end, as the lone run
            self._stop(hit, _TARGET)

    def _set_lr(self, us: _UpdateSet, step: int) -> float | np.ndarray:
        """The learning rate of step ``step`` for an update set: a float, or (k, 1) per member."""
        if us.constant_lr is not None:
            lr = us.constant_lr
        else:
            lrs = [f(step) for f in us.schedules]
            lr = lrs[0] if len(set(lrs)) == 1 else np.array(lrs)[:, None]
        us.last_lr = lr
        return lr

    @property
    def lr(self) -> np.ndarray:
        """(k,) the learning rate of each member's last step (NaN before the first)."""
        if self.step == self.start_step:
            return self._start_lr.copy()
        out = np.full(self.k, np.nan)
        for us in self.sets:
            lr = us.last_lr
            out[us.rows] = np.ravel(lr) if isinstance(lr, np.ndarray) else lr
        return out

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        """(train, val) losses at each member's current parameters: kept from the step when
        evaluated every step, else computed now (the same function as the step would use)."""
        if self._eager or self._loss_stamp == self.iteration:
            return self.train_loss, self.val_loss
        ens = self.ens
        with np.errstate(over="ignore", invalid="ignore"):  # a run far out: its loss is inf
            train, val = ens.model.split_loss_runs(self.params, ens.X_all, ens.y_all, ens.n_samples)
        fresh = self.member_step == 0
        if fresh.any():                       # the lone run's initial values (Model.loss)
            train = np.where(fresh, ens.initial_train_loss, train)
            val = np.where(fresh, ens.initial_val_loss, val)
        self.train_loss, self.val_loss = train, val
        self._loss_stamp = self.iteration
        return train, val

    def _refresh_live(self) -> None:
        self._live = self.code == _RUNNING
        self._all_live = bool(self._live.all())
        self._done = not self._live.any()

    def _commit_counts(self, all_live: bool, live: np.ndarray, n: int, loss: np.ndarray) -> None:
        if all_live:
            self.epoch_loss_sum = self.epoch_loss_sum + n * loss
        else:
            self.epoch_loss_sum = np.where(live, self.epoch_loss_sum + n * loss, self.epoch_loss_sum)
        self.epoch_n += n

    def _member_counter(self, column: int, value: int) -> np.ndarray:
        if self._all_live:
            return np.full(self.k, value, dtype=np.int64)
        return np.where(self._live, value, self._frozen[:, column])

    @property
    def member_iteration(self) -> np.ndarray:
        return self._member_counter(0, self.iteration)

    @property
    def member_step(self) -> np.ndarray:
        return self._member_counter(1, self.step)

    @property
    def member_samples(self) -> np.ndarray:
        return self._member_counter(2, self.samples_seen)

    def _stop(self, rows: np.ndarray, code: int) -> None:
        """Members ``rows`` stop with ``code``: their counters freeze at the group's."""
        self._frozen[rows] = (self.iteration, self.step, self.samples_seen, self.epoch_n)
        self.code[rows] = code
        self._refresh_live()

    def _eval_due(self) -> bool:
        """True after a step at which the lone run evaluates its full losses (and so checks the
        target): every epoch end, every ``eval_every`` steps and the last step."""
        local = self.iteration - self.start_iteration
        k = self._eval_every
        return (local % self._m_epoch == 0 or (k is not None and self.step % k == 0)
                or local >= self._total)

    def _check_diverging(self, live: np.ndarray, step_loss: np.ndarray, step: int) -> None:
        """The lone run's "diverging" rule (:meth:`Simulation._check_diverging`) for every live
        member: it starts at a batch loss above DIVERGING_FACTOR × L(θ₀), ends below L(θ₀).
        :meth:`iterate` calls it only when a member is diverging or may start to."""
        d = self.diverging_step
        ref = self._loss_ref
        live = live & self._ref_ok
        clear = live & (d > 0) & (step_loss < ref)
        start = live & (d == 0) & (step_loss > self._diverging_at)
        if clear.any() or start.any():
            d = d.copy()  # replaced, never written into: checkpoints keep the old array
            d[clear] = 0
            d[start] = step
            self.diverging_step = d if d.any() else self._no_diverging

    def _diverge(self, rows: np.ndarray) -> None:
        self.diverged_step[rows] = self.step + 1
        self._stop(rows, _DIVERGED)

    def _end_iteration(self, all_live: bool, live: np.ndarray, hit: np.ndarray | None) -> None:
        local = self.iteration - self.start_iteration
        if local % self._m_epoch == 0:
            if all_live:
                self.finished_epoch_loss = self.epoch_loss_sum / self.epoch_n
                self.epoch_loss_sum = np.zeros(self.k)
            else:
                with np.errstate(all="ignore"):
                    done = self.epoch_loss_sum / self.epoch_n if self.epoch_n else np.full(self.k, np.nan)
                self.finished_epoch_loss = np.where(live, done, self.finished_epoch_loss)
                self.epoch_loss_sum = np.where(live, 0.0, self.epoch_loss_sum)
            self.epoch_n = 0
            if local >= self._total:
                ending = live if hit is None else live & ~hit
                if ending.any():
                    self._stop(ending, _FINISHED)
        if self.iteration % self._every == 0:
            self._checkpoint()

    @property
    def epoch_loss(self) -> np.ndarray:
        """Keras' running epoch loss of each member (SCIENCE.md §2)."""
        en = self._member_counter(3, self.epoch_n)
        with np.errstate(all="ignore"):
            return np.where(en > 0, self.epoch_loss_sum / en, self.finished_epoch_loss)

    # --- checkpoints and rewinding -------------------------------------------------------------
    _FIELDS = ("params", "iteration", "step", "samples_seen", "order_pass", "orders",
               "accum", "accum_n", "accum_loss", "epoch_loss_sum", "epoch_n", "finished_epoch_loss",
               "code", "diverged_step", "diverging_step", "_frozen",
               "batch_loss", "train_loss", "val_loss", "_loss_stamp",
               "_ahead_first", "_ahead_passes", "_ahead_states", "_ahead_from", "_drawn")

    # arrays the hot loop changes in place (the others are replaced, never written into)
    _MUTABLE = ("code", "diverged_step", "_frozen")

    def _snapshot(self) -> dict:
        snap = {name: getattr(self, name) for name in self._FIELDS}
        for name in self._MUTABLE:
            snap[name] = snap[name].copy()
        snap["_states"] = [(dict(us.state), us.last_lr) for us in self.sets]
        snap["_rngs"] = [g.bit_generator.state for g in self.rngs]
        return snap

    def _checkpoint(self) -> None:
        cps = self._checkpoints
        if cps and cps[-1][0] == self.iteration:
            return
        cps.append((self.iteration, self._snapshot()))
        if len(cps) > _MAX_CHECKPOINTS:
            last = len(cps) - 1
            self._checkpoints = [c for i, c in enumerate(cps) if i % 2 == 0 or i == last]
            self._every *= 2

    def thin_checkpoints(self, keep: int = _LEFT_CHECKPOINTS) -> None:
        """Keep at most ``keep`` (≥ 2) checkpoints, evenly spaced, the first and last among them."""
        cps = self._checkpoints
        if len(cps) > keep:
            picks = np.unique(np.linspace(0, len(cps) - 1, keep).round().astype(int))
            self._checkpoints = [cps[i] for i in picks]

    def goto_iteration(self, target: int) -> None:
        """The exact state after ``target`` iterations: restore a checkpoint, replay forward."""
        cps = self._checkpoints
        while len(cps) > 1 and cps[-1][0] > target:
            cps.pop()
        snap = cps[-1][1]
        for name in self._FIELDS:
            setattr(self, name, snap[name])
        for name in self._MUTABLE:
            setattr(self, name, snap[name].copy())
        if self.orders is not None:
            self._take_data()
        for us, (st, lr) in zip(self.sets, snap["_states"]):
            us.state, us.last_lr = dict(st), lr
        self._refresh_live()
        self._redraw_block()
        for g, st in zip(self.rngs, snap["_rngs"]):
            g.bit_generator.state = st
        with np.errstate(all="ignore"):
            while self.iteration < target and not self.done:
                self.iterate()


# ------------------------------------------------------------------------------------------------


class Ensemble:
    """K runs of one scenario stepped together (see the module docstring).

    ``members``: the runs (default: the scenario's own run alone). ``align``: what one tick
    advances (:data:`ALIGNMENTS`); ``reference``: the member whose batch is a tick (default the
    middle one of three, as compare mode, else the first); ``evaluate``: when the full losses
    are computed (:data:`EVALUATIONS`; both exact); ``lone``: which members run as a lone
    :class:`Simulation` (:data:`LONE`: ``never``; ``alone``, a member alone in its group, e.g.
    each batch size of compare mode; ``always``, every member) — with its full History, lens and
    landscape reads (:meth:`simulation`), while groups of many members stay vectorised;
    ``band``: record the loss band at every tick (:meth:`band`; reading a lone member's losses
    evaluates them and so fills its History's row: compare mode, which draws those Histories,
    records no band).
    """

    def __init__(self, scenario: Scenario, members: Sequence[Member] | None = None, *,
                 align: str = "steps", reference: int | None = None, evaluate: str = "read",
                 lone: str = "never", band: bool = True) -> None:
        members = list(members) if members else [Member("run")]
        if evaluate not in EVALUATIONS:
            raise ScenarioError("evaluate", evaluate, "allowed: " + ", ".join(EVALUATIONS))
        if lone not in LONE:
            raise ScenarioError("lone", lone, "allowed: " + ", ".join(LONE))
        self.evaluate = evaluate
        self.lone = lone
        self.records_band = bool(band)
        if not 1 <= len(members) <= MAX_RUNS:
            raise ScenarioError("runs", len(members), f"an ensemble has 1 to {MAX_RUNS} runs")
        self.align = check_alignment(align)
        base = Simulation(scenario)
        self.base = base
        self.members = members
        self.revision: int = 0
        """Bumped by every mutating method (tick, tick_epoch, back, goto_tick, reset,
        apply_changes, run_to_end), as ``Simulation.revision``: readers redraw when it differs."""
        self.dataset = base.dataset
        self.model = base.model
        self.initial_params = base.initial_params
        self.X, self.y = base.X, base.y
        self.X_all, self.y_all = base._X_all, base._y_all
        self.n_samples = base.dataset.n_samples
        self.initial_train_loss = base.initial_train_loss
        self.initial_val_loss = base.initial_val_loss
        self.x_absmax = np.max(np.abs(self.X), axis=0)
        self.y_absmax = float(np.max(np.abs(self.y)))
        self.finite_radius = self.model.finite_loss_radius(self.x_absmax, self.y_absmax, self.n_samples)
        data_state = base.rng.bit_generator.state
        by_plan: dict[Plan, list[tuple[int, Scenario, Any, np.random.Generator]]] = {}
        self.scenarios: list[Scenario] = []
        first_segments: dict[Scenario, Segment] = {}   # members of one scenario share its (frozen) segment
        for i, m in enumerate(members):
            sc = base.check_changes(**m.changes) if m.changes else base.scenario
            seg = first_segments.get(sc)
            if seg is None:
                seg = first_segments[sc] = base._make_segment(sc, 0, 0, 0)
            if m.stream:
                gen = stream_generator(scenario.seed, m.stream)
            else:
                gen = np.random.Generator(type(base.rng.bit_generator)())
                gen.bit_generator.state = data_state
            self.scenarios.append(sc)
            by_plan.setdefault((seg.plan, i) if lone == "always" else seg.plan, []).append((i, sc, seg, gen))
        self.groups: list[_Group | _LoneGroup] = []
        self._where: list[tuple[int, int]] = [(0, 0)] * len(members)
        base_free = True
        for rows in by_plan.values():
            g: _Group | _LoneGroup
            if len(rows) == 1 and lone != "never":
                i, sc = rows[0][0], rows[0][1]
                stream = members[i].stream
                if base_free and stream == 0 and sc == base.scenario:
                    sim, base_free = base, False          # the scenario's own run: no second copy
                else:
                    sim = Simulation(sc, sampling_stream=stream)
                g = _LoneGroup(self, i, sim)
            else:
                _check_plan_mode(rows[0][2])
                g = _Group(self, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                           [r[3] for r in rows])
            for row, (i, *_rest) in enumerate(rows):
                self._where[i] = (len(self.groups), row)
            self.groups.append(g)
        self._index = [np.array(g.members) for g in self.groups]
        self._initial_scenarios = list(self.scenarios)
        self._eras: list[_Era] = [_Era(self.groups, self._where, self._index, self.scenarios)]
        self._era = 0
        ref = (len(members) // 2 if len(members) == 3 else 0) if reference is None else reference
        self.reference = ref
        self._ticks: list[tuple[float, int, tuple[int, ...]]] = [(0.0, 0, self._positions())]
        self._band = _LossBand(self)
        self._band_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._reference_cache: dict[tuple, np.ndarray] = {}
        self._floor_cache: dict[tuple, NoiseFloor] = {}
        self._record_tick()

    # --- ways to build one -------------------------------------------------------------------
    @classmethod
    def seeds(cls, scenario: Scenario, runs: int, **kw: Any) -> Ensemble:
        """The noise cloud: ``runs`` members differing only in the sampling stream 0..runs−1."""
        _check_runs(runs)
        return cls(scenario, [Member(f"stream {k}", {}, k) for k in range(runs)], **kw)

    @classmethod
    def vary(cls, scenario: Scenario, setting: str, values: Sequence[Any], **kw: Any) -> Ensemble:
        """One member per value of ``setting`` (batch_size, lr, optimizer, ...), same stream."""
        _check_runs(len(values))
        members = []
        for v in values:
            label = f"{setting}={v}"
            if setting == "batch_size":
                label = f"B={v}"
            members.append(Member(label, {setting: v}))
        return cls(scenario, members, **kw)

    @classmethod
    def batch_sizes(cls, scenario: Scenario, sizes: Sequence[int] | None = None, **kw: Any) -> Ensemble:
        """Compare mode's runs: batch sizes (N, B, 1) by default, labelled as compare mode does."""
        return cls(scenario, batch_size_members(scenario, sizes)[0], **kw)

    # --- per-member views (member order) --------------------------------------------------------
    def _gather(self, name: str) -> np.ndarray:
        get = {"train_loss": lambda g: g.losses()[0], "val_loss": lambda g: g.losses()[1]}.get(
            name, lambda g: getattr(g, name))
        first = get(self.groups[0])
        if len(self.groups) == 1:
            return first
        out = np.empty((len(self.members),) + first.shape[1:], dtype=first.dtype)
        for g, idx in zip(self.groups, self._index):
            out[idx] = get(g)
        return out

    @property
    def runs(self) -> int:
        """K, the number of members."""
        return len(self.members)

    @property
    def params(self) -> np.ndarray:
        """(K, P) current parameters (each member's last finite ones after a divergence)."""
        return self._gather("params")

    @property
    def batch_loss(self) -> np.ndarray:
        """(K,) loss of each member's last step (mean over its samples, before its update)."""
        return self._gather("batch_loss")

    @property
    def train_loss(self) -> np.ndarray:
        """(K,) full training-set loss at each member's current parameters."""
        return self._gather("train_loss")

    @property
    def val_loss(self) -> np.ndarray:
        """(K,) validation loss (NaN without a validation set)."""
        return self._gather("val_loss")

    @property
    def epoch_loss(self) -> np.ndarray:
        """(K,) Keras' running epoch loss."""
        return self._gather("epoch_loss")

    @property
    def lr(self) -> np.ndarray:
        """(K,) learning rate of each member's last step."""
        return self._gather("lr")

    @property
    def step(self) -> np.ndarray:
        """(K,) optimizer steps done by each member."""
        return self._gather("member_step")

    @property
    def iteration(self) -> np.ndarray:
        """(K,) iterations done by each member."""
        return self._gather("member_iteration")

    @property
    def samples_seen(self) -> np.ndarray:
        """(K,) samples seen by each member."""
        return self._gather("member_samples")

    @property
    def diverged_step(self) -> np.ndarray:
        """(K,) the 1-based step at which each member diverged (0 if it did not)."""
        return self._gather("diverged_step")

    @property
    def status(self) -> list[str]:
        """Each member's status: ready, diverging, finished, target reached or diverged."""
        codes = self._gather("code")
        diverging = self._gather("diverging_step")
        return [DIVERGING if c == _RUNNING and d > 0 else _CODES[int(c)] for c, d in zip(codes, diverging)]

    def accuracy(self) -> np.ndarray | None:
        """(K,) training accuracy at each member's parameters (None for regression)."""
        return self.model.accuracy_runs(self.params, self.X, self.y)

    @property
    def done(self) -> bool:
        """True when no member will run another iteration."""
        return all(g.done for g in self.groups)

    def counters(self, member: int = 0) -> Counters:
        """Member ``member``'s counters (DESIGN.md wording), by the lone run's own rule
        (:meth:`Simulation.counters`): a vectorised member is seen through its group's view,
        a lone one is its Simulation. Members of one plan (the noise cloud) share them."""
        if not 0 <= member < len(self.members):
            raise ScenarioError("member", member, f"allowed: 0 to {len(self.members) - 1}")
        gi, row = self._where[member]
        group = self.groups[gi]
        if isinstance(group, _LoneGroup):
            return group.sim.counters()
        return group.member_view(row).counters()

    def member_scenario(self, k: int) -> Scenario:
        """Member k's resolved scenario in force now (live changes included)."""
        return self.scenarios[k]

    @property
    def scenario(self) -> Scenario:
        """The resolved scenario in force now, live changes included: member 0's view (members
        that differ in a setting, e.g. the batch sizes of compare mode, have their own:
        :meth:`member_scenario`)."""
        return self.scenarios[0]

    def simulation(self, k: int) -> Simulation | None:
        """The lone Simulation that runs member k (``lone``), or None when it is vectorised."""
        g = self.groups[self._where[k][0]]
        return g.sim if isinstance(g, _LoneGroup) else None

    def member_simulation(self, k: int) -> Simulation:
        """A lone Simulation of member k from the start, with its first settings (the run it is
        bit-identical to; replay the same :meth:`apply_changes` on it to follow live changes)."""
        return Simulation(self._initial_scenarios[k], sampling_stream=self.members[k].stream)

    @property
    def changes(self) -> list[tuple[int, str]]:
        """(step of the reference member, what changed) for every live change in force, for
        marking the loss plot (as ``Simulation.changes``)."""
        return [(era.step, era.note) for era in self._eras[1:self._era + 1]]

    # --- live changes ---------------------------------------------------------------------------
    def check_changes(self, **changes: Any) -> None:
        """The dry run of :meth:`apply_changes`: the :class:`ScenarioError` it would raise (the
        lone run's, from ``Simulation.check_changes`` for each member), else nothing."""
        self._plan_changes(changes)

    def _plan_changes(self, changes: dict[str, Any]) -> list[tuple[Scenario, Segment, bool]]:
        """For each member: (its new scenario, its new segment, whether its optimizer starts
        afresh), decided by Simulation's own rules on the member's state (:class:`_MemberView`)."""
        memo: dict[tuple, tuple[Scenario, Segment, bool]] = {}
        out = []
        for k in range(len(self.members)):
            gi, row = self._where[k]
            group = self.groups[gi]
            if isinstance(group, _LoneGroup):
                out.append((group.sim.check_changes(**changes), group.sim.segment, False))
                continue
            view = group.member_view(row)
            old = view.scenario
            st = view._state
            key = (old, view.segment.start_iteration, view.segment.start_epoch, st.iteration, st.step, st.samples)
            if key not in memo:
                new = view.check_changes(**changes)
                start_epoch = view._next_segment_epoch()
                seg = view._make_segment(new, st.iteration, st.step, start_epoch, _describe_changes(old, new))
                _check_plan_mode(seg)
                fresh = (new.optimizer != old.optimizer or new.momentum != old.momentum
                         or new.weight_decay != old.weight_decay)
                memo[key] = (new, seg, fresh)
            out.append(memo[key])
        return out

    def apply_changes(self, **changes: Any) -> None:
        """Change batching or optimizer settings of ALL members from their next iteration on,
        as ``Simulation.apply_changes`` does for one run (the epoch in progress restarts with
        the new batch arithmetic, a new optimizer starts from a fresh state, a stopped member
        resumes from its last parameters): member k then equals its lone run
        (:meth:`member_simulation`) driven to the same iteration, given the same change and run
        on, bit for bit. Raises the lone run's :class:`ScenarioError` before anything changes.

        The members are regrouped: those with the same new plan at the same position (iteration,
        step, samples) are stepped together, so a group keeps its members through any change; a
        member that had stopped (diverged, target reached) resumes in a group of its own
        position. The change stays in force while the ticks stay at or after it (as the lone
        run's segments): :meth:`back` before it restores the old settings."""
        plans = self._plan_changes(changes)
        states: list[_MemberState | None] = []
        lone: list[_LoneGroup] = []
        for k, (_new, _seg, fresh) in enumerate(plans):
            gi, row = self._where[k]
            group = self.groups[gi]
            if isinstance(group, _LoneGroup):
                states.append(None)
                lone.append(group)
                continue
            st = group.member_state(row)
            if fresh:
                st.opt_state = None
            states.append(st)
        by_key: dict[tuple, list[int]] = {}
        for k, ((_new, seg, _f), st) in enumerate(zip(plans, states)):
            if st is not None:
                key = (seg.plan, seg.start_iteration, seg.start_step, seg.start_epoch, st.samples)
                by_key.setdefault(key, []).append(k)
        groups: list[_Group | _LoneGroup] = []
        where: list[tuple[int, int]] = [(0, 0)] * len(self.members)
        for g in lone:
            where[g.members[0]] = (len(groups), 0)
            groups.append(g)
        for idx in by_key.values():
            g = _Group(self, idx, [plans[i][0] for i in idx], [plans[i][1] for i in idx],
                       [states[i].generator for i in idx], [states[i] for i in idx])
            for row, i in enumerate(idx):
                where[i] = (len(groups), row)
            groups.append(g)
        ref_step = int(self.step[self.reference])
        note = _describe_changes(self.scenarios[0], plans[0][0])
        era = _Era(groups, where, [np.array(g.members) for g in groups], [p[0] for p in plans],
                   ref_step, note)
        for g, idx in zip(groups, era.index):
            if isinstance(g, _Group):
                g.batch_loss = np.array([states[i].batch_loss for i in idx])
        del self._eras[self._era + 1:]
        for g in self.groups:          # the groups this change leaves behind
            if isinstance(g, _Group):
                g.thin_checkpoints()
        for g in lone:
            g.apply_changes(self._era + 1, changes)
        self._eras.append(era)
        self._set_era(len(self._eras) - 1)
        target = self._ticks[-1][0]
        self._ticks[-1] = (target, self._era, self._positions())
        self.revision += 1

    def _set_era(self, index: int) -> None:
        self._era = index
        era = self._eras[index]
        self.groups, self._where, self._index, self.scenarios = era.groups, era.where, era.index, era.scenarios

    # --- stepping ------------------------------------------------------------------------------
    def run_to_end(self) -> None:
        """Train every member until it finishes, reaches the target or diverges (no tick: the
        band does not record it, :meth:`back` returns to the last tick)."""
        self.revision += 1
        with np.errstate(all="ignore"):
            for g in self.groups:
                while not g.done:
                    g.iterate()

    @property
    def target(self) -> float:
        """How far the ticks have asked the runs to go, in the alignment's unit."""
        return self._ticks[-1][0]

    @property
    def ticks(self) -> int:
        """Ticks done since the start (what :meth:`back` can undo)."""
        return len(self._ticks) - 1

    def _positions(self) -> tuple[int, ...]:
        return tuple(g.iteration for g in self.groups)

    def _group_of(self, member: int) -> _Group:
        return self.groups[self._where[member][0]]

    def unit(self) -> float:
        """One tick in the alignment's unit (see :func:`tick_unit`)."""
        return tick_unit(self._group_of(self.reference), self.align)

    def _advance_to(self, target: float) -> None:
        self.revision += 1
        with np.errstate(all="ignore"):
            for g in self.groups:
                advance(g, self.align, target, g.iterate)
        self._ticks.append((target, self._era, self._positions()))
        self._record_tick()

    def tick(self) -> bool:
        """Advance every group by one unit of the alignment; False when all are done."""
        if self.done:
            return False
        self._advance_to(self.target + self.unit())
        return True

    def epoch_target(self) -> float:
        """Where :meth:`tick_epoch` takes the runs (see :func:`epoch_target`)."""
        return epoch_target(self.target, self.align, self.n_samples, self._group_of(self.reference))

    def tick_epoch(self) -> bool:
        """Advance every group to the end of the current epoch in the alignment's unit."""
        if self.done:
            return False
        self._advance_to(self.epoch_target())
        return True

    def _go_to_entry(self, entry: tuple[float, int, tuple[int, ...]]) -> None:
        """Every group to the positions of a recorded tick (and its settings: a tick before a
        live change has the settings before it)."""
        self.revision += 1
        _target, era, positions = entry
        if era != self._era:
            del self._eras[era + 1:]
            self._set_era(era)
        for g, it in zip(self.groups, positions):
            if isinstance(g, _LoneGroup):
                g.goto(it, era, _target, self.align)
            else:
                g.goto_iteration(it)
        self._band.truncate(len(self._ticks))

    def back(self) -> bool:
        """Undo the last tick exactly (each group goes back to where it was)."""
        if len(self._ticks) <= 1:
            return False
        self._ticks.pop()
        self._go_to_entry(self._ticks[-1])
        return True

    def goto_tick(self, n: int) -> None:
        """The exact state after the first ``n`` ticks (0: the start; at most :attr:`ticks`)."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= self.ticks:
            raise ScenarioError("tick", n, f"must be a whole number from 0 to {self.ticks}")
        del self._ticks[int(n) + 1:]
        self._go_to_entry(self._ticks[-1])

    def reset(self) -> None:
        """Every member back to the start (same data, parameters and sampling streams; a live
        change made before the first tick stays, as the lone run's)."""
        del self._ticks[1:]
        self._go_to_entry(self._ticks[0])

    # --- the loss band ----------------------------------------------------------------------
    def _record_tick(self) -> None:
        if self.records_band:
            self._band.record(len(self._ticks) - 1)

    def band(self, quantity: str = "train_loss",
             qs: Sequence[float] = (0.1, 0.5, 0.9)) -> tuple[np.ndarray, np.ndarray]:
        """The band of the members' losses: (x, values) with x the reference member's step at
        each recorded tick (1-D) and values (len(qs), len(x)) the quantiles ``qs`` over the
        members of ``quantity`` there — "batch_loss" (each member's last step), "train_loss" or
        "val_loss" (the full losses, evaluated at the recorded ticks). Non-finite members are
        left out (a diverged member is left out from its divergence on); ticks where no member
        is finite are left out.

        Recorded at every tick (in step alignment: every step), decimated to keep memory
        bounded (:class:`_LossBand`): the batch losses of at most :data:`BAND_POINTS` // K ticks
        (64..2,048), the parameters of at most :data:`BAND_EVAL_POINTS` ticks (fewer for large
        models) for the full losses, which are evaluated when first asked for (so a run that
        never asks pays nothing). When a record is full every other point is dropped and only
        every 2nd, 4th, ... tick is recorded from then on. Quantiles are computed when asked
        and cached per :attr:`revision`. Truncated by back, goto_tick and reset."""
        names = ("batch_loss", "train_loss", "val_loss")
        if quantity not in names:
            raise ScenarioError("quantity", quantity, "allowed: " + ", ".join(names))
        qs = tuple(float(q) for q in qs)
        if not qs or not all(0.0 <= q <= 1.0 for q in qs):
            raise ScenarioError("quantiles", qs, "each must be from 0 to 1")
        key = (self.revision, quantity, qs)
        hit = self._band_cache.get(key)
        if hit is None:
            hit = self._band.quantiles(quantity, qs)
            self._band_cache = {key: hit}
        return hit[0].copy(), hit[1].copy()

    # --- the cloud (SCIENCE.md §5) ------------------------------------------------------------
    def spread(self, params: np.ndarray | None = None) -> float:
        """tr Cov of the K parameter vectors: Σ_p var_p with divisor K − 1 (NaN for K = 1)."""
        p = self.params if params is None else params
        if p.shape[0] < 2:
            return math.nan
        return float(np.sum(np.var(p, axis=0, ddof=1)))

    def noise_floor(self, member: int = 0) -> NoiseFloor | None:
        """SCIENCE.md §5's predicted stationary state for member ``member``'s learning rate and
        batch (B × accumulate; c = 1/B with ``replacement`` sampling, else the finite population
        factor); None unless the model is least squares (linear, mse)."""
        if self.model.name != "linear" or self.model.loss_name != "mse":
            return None
        sc = self.scenarios[member]
        key = (sc.lr, sc.batch_size * sc.accumulate, sc.sampling == "replacement")
        cache = self._floor_cache
        if key not in cache:
            cache[key] = least_squares_noise_floor(self.X, self.y, key[0], key[1], replacement=key[2],
                                                   bias=getattr(self.model, "bias", True))
        return cache[key]

    _CLOUD_SETTINGS = ("lr", "batch_size", "accumulate", "sampling", "optimizer", "momentum",
                       "weight_decay", "schedule")

    def prediction_note(self) -> str:
        """Why :meth:`predicted_spread` is None ("" when there is a prediction; a caveat for
        sampling without replacement, whose prediction uses the finite population factor)."""
        model = self.model
        if model.name != "linear" or model.loss_name != "mse":
            return (f"no prediction: the stationary spread is predicted for least squares (a linear "
                    f"model with mse loss); this is {model.name} with {model.loss_name}")
        sc = self.scenarios[0]
        for name in self._CLOUD_SETTINGS:
            values = {getattr(s, name) for s in self.scenarios}
            if len(values) > 1:
                return f"no prediction: the runs differ in {name} ({', '.join(sorted(map(str, values)))})"
        if sc.optimizer != "sgd" or (sc.momentum or 0) > 0 or (sc.weight_decay or 0) > 0:
            what = sc.optimizer if sc.optimizer != "sgd" else (
                "sgd with momentum" if (sc.momentum or 0) > 0 else "sgd with weight decay")
            return f"no prediction: it is for plain SGD (θ ← θ − η ĝ); these runs use {what}"
        if sc.schedule != "constant":
            return f"no prediction: it needs a constant learning rate; this one follows the {sc.schedule} schedule"
        if sc.sampling == "sequential":
            return "no prediction: sequential sampling gives every run the same batches, so the runs do not spread"
        nf = self.noise_floor(0)
        if nf is None or not nf.stable:
            lam = float(np.max(np.linalg.eigvalsh(nf.hessian))) if nf is not None else math.nan
            return (f"no prediction: lr × λ_max = {sc.lr * lam:.3g} is not between 0 and 2, so the "
                    "runs have no stationary state (they diverge)")
        if sc.sampling != "replacement":
            return (f"predicted for independent batches (factor (N−B)/(B(N−1)) without replacement); "
                    f"{sc.sampling} sampling makes an epoch's batches anti-correlated, so the cloud "
                    "sits lower: compare with replacement sampling")
        return ""

    def predicted_spread(self) -> NoiseFloor | None:
        """SCIENCE.md §5's predicted stationary state (:class:`NoiseFloor`; its ``spread`` is tr Σ_θ,
        to compare with :meth:`spread`) for the current lr, batch (B × accumulate) and sampling of
        member 0, when the prediction applies: least squares, plain constant-step SGD, every
        member with those settings, a stable step; else None and :meth:`prediction_note` says why."""
        note = self.prediction_note()
        if note.startswith("no prediction"):
            return None
        return self.noise_floor(0)

    def reference_path(self, max_steps: int = 2000) -> np.ndarray:
        """Full-batch GD from the shared start with member 0's current learning rate, one update
        per epoch, as ``Simulation.reference_path`` (which keeps the first lr): (k + 1, P),
        computed once per (lr, max_steps, epochs) and cached."""
        sc = self.scenarios[0]
        key = (sc.lr, int(max_steps), sc.epochs)
        cache = self._reference_cache
        if key not in cache:
            steps = min(int(max_steps), max(sc.epochs, 50))
            cache[key] = gd_path(self.model, self.X, self.y, self.initial_params, sc.lr, steps)
        return cache[key]

    def quantiles(self, values: np.ndarray, qs: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
        """Quantiles of a per-member array over the finite values (NaN if none)."""
        v = values[np.isfinite(values)]
        if v.size == 0:
            return np.full(len(qs), np.nan)
        return np.quantile(v, qs)


def _check_plan_mode(seg: Segment) -> None:
    """Refuse epoch_end = cut or restart: the vectorised loop walks whole passes; epochs cut
    short by a pass are not in it."""
    if seg.plan.mode in ("cut", "restart"):
        raise ScenarioError("epoch_end", seg.scenario.epoch_end,
                            "an ensemble of runs supports epoch_end = continue only")


def batch_size_members(scenario: Scenario, sizes: Sequence[int] | None = None) -> tuple[list[Member], tuple[int, ...]]:
    """Compare mode's members: one per batch size (default N, the scenario's B, 1), without
    accumulation, labelled "Batch GD (B=200)", "Mini-batch GD (B=5)", "SGD (B=1)"."""
    probe = check_scenario_with_data(scenario.replace(accumulate=1))
    n = probe[2].n_samples
    sizes = tuple(sizes) if sizes else (n, probe[0].batch_size, 1)
    members = [Member(f"{algorithm_name(b, n)} (B={b})", {"batch_size": b, "accumulate": 1}) for b in sizes]
    return members, sizes


def _check_runs(runs: Any) -> int:
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or not 1 <= runs <= MAX_RUNS:
        raise ScenarioError("runs", runs, f"must be a whole number from 1 to {MAX_RUNS}")
    return int(runs)
