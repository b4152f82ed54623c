"""The step, once: K ≥ 1 runs with one batch plan at one position, stepped together.

Every way of training steps through :meth:`Runs.run`: a lone :class:`~engine.simulation.Simulation`
is a ``Runs`` of one run; an :class:`~engine.ensemble.Ensemble` groups its members into ``Runs``
of many (members with one plan at one position: the noise cloud is one ``Runs`` of 100). So a
rule (when to evaluate, when a run diverges, what ends an epoch) is written once, and member k
of an ensemble is bit-identical to the lone run because it *is* the same code: every operation
on the K rows is elementwise, or a reduction along a row, or one BLAS call per row (see
:mod:`engine.models`), so row k never depends on K or on the other rows (tests/test_ensemble.py).

An iteration (SCIENCE.md §1): the batch's slot in the pass (a new pass draws the runs'
orders, :mod:`engine.orders`), the batch loss and gradient of every run (the model's
``loss_and_grad_runs``), and on the last micro-batch of a step the update (one
:class:`~engine.updates.UpdateSet` per optimizer). A step's gradient is the mean over all its
samples: Σ n_j ĝ_j / Σ n_j (SCIENCE.md §1.2). After the update: the eval points
(:mod:`engine.rules`: the full losses are evaluated and the target checked there), the diverging
rule, the epoch's end, checkpoints. A run stops alone (finished, target reached, diverged: its
counters freeze, it draws no more orders) while the others go on.

**One run is K = 1 of the same code.** Its per-run values are kept as what they are for one run
(the parameters a (P,) vector, a loss a float) and K runs' as stacked arrays ((K, P), (K,)):
the loop only combines them elementwise (``+ − × ÷``, the optimizer's step, comparisons), which
reads the same for both, so one run pays no stacking (issue 25's budget for ``mbsim run``: the
worked example within 1.5× a bare NumPy loop). Reads that must not care (:attr:`Runs.params`,
:attr:`Runs.batch_loss`, …) always give stacked arrays.

Everything that changes while stepping is one :class:`RunsState`; checkpoints snapshot all of
its fields generically (:mod:`engine.snapshot`), and an array a checkpoint holds is frozen, so
an in-place write into it raises instead of corrupting :meth:`Runs.goto`. The other attributes
of a ``Runs`` are settings (:data:`Runs.SETTINGS`) or recomputed from the state after a restore
(:data:`Runs.DERIVED`); tests/test_runs.py fails when an attribute is neither.

What the runs show (stacked counters, parameters and losses; one run's state for a live change;
the lone run's last iteration) is :class:`engine.runs_readings.RunsReadings`, mixed in here.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .batches import Batches
from .models import Model
from .orders import Orders
from .prepare import TrainingData
from .rules import DIVERGING_FACTOR, EvalPolicy, diverging_update
from .runs_readings import RunsReadings
from .runs_state import DIVERGED, FINISHED, RUNNING, STOPPED, TARGET_REACHED, MemberState, RunsState  # noqa: F401
from .segment import Segment
from .snapshot import Checkpoints
from .target import ExactTarget, evaluate_runs
from .updates import UpdateSet, fresh_state, stack_states, update_sets

#: When the full losses are evaluated, besides when read: at the eval points (a lone run: its
#: history and trace record them), after every step, or only where a target is checked.
EVALUATE_AT = ("points", "step", "target")


class Runs(RunsReadings):
    """K runs of one model on one data set with one plan, from one position (a stretch of
    settings: ``segments[r]`` is run r's; they differ at most in what the plan leaves free:
    learning rate, optimizer, schedule, target, sampling stream)."""

    #: Attributes that are settings, fixed for the life of a Runs.
    SETTINGS = frozenset({
        "model", "data", "segments", "k", "one", "plan", "start_iteration", "start_step", "start_epoch",
        "uneven", "sets", "targets", "policy", "evaluate_at", "eval_every", "orders_", "checkpoints",
        "on_step", "keep_step_batches", "eval_from_step", "_m", "_acc", "_m_epoch", "_wrap", "_total",
        "_table", "batches", "_const_lr", "_one_set", "_any_target", "_nan", "_exact",
    })
    #: Attributes recomputed from the state after a restore (:meth:`_derive`).
    DERIVED = frozenset({
        "state", "_live", "_all_live", "_done", "_diverging_at", "_diverging_low", "_diverging",
        "_last", "_step_parts",
    })

    def __init__(self, model: Model, data: TrainingData, segments: list[Segment],
                 generators: list[np.random.Generator], initial_params: np.ndarray, initial_loss: float,
                 starts: list[MemberState] | None = None, *, policy: EvalPolicy = EvalPolicy(),
                 evaluate_at: str = "points", exact_target: bool = False, checkpoint_every: int = 32,
                 max_checkpoints: int = 256) -> None:
        if evaluate_at not in EVALUATE_AT:
            raise ValueError(f"evaluate_at must be one of {EVALUATE_AT}, not {evaluate_at!r}")
        self.model = model
        self.data = data
        self.segments = segments
        k = self.k = len(segments)
        self.one = k == 1                 # one run: plain (P,) parameters and float losses
        self._nan: Any = math.nan if self.one else np.full(k, math.nan)
        seg0 = segments[0]
        plan = self.plan = seg0.plan
        self.start_iteration, self.start_step, self.start_epoch = seg0.start_iteration, seg0.start_step, seg0.start_epoch
        self._table = plan.pass_table()
        self._m = plan.iterations_per_pass
        self._acc = plan.accumulate
        self._m_epoch = plan.iterations_per_epoch
        # epoch boundaries: every S·K iterations when the iterator continues, else counted
        # inside each pass (cut: a pass is cut into epochs of S·K, the last one shorter)
        self._wrap = 0 if plan.continues else self._m
        self._total = plan.total_iterations
        self.uneven = plan.uneven_epochs       # epochs of different lengths (epoch_end = cut)
        self.policy = policy
        self.evaluate_at = evaluate_at
        self.eval_every = policy.interval(seg0.scenario, len(data.y_all), plan)
        self.targets = np.array([s.scenario.target_loss for s in segments], dtype=float)
        self._any_target = bool(np.any(self.targets > 0))
        # the target checked after every step (engine.target), else at the eval points
        self._exact = (ExactTarget(model, data.X, data.X_all, data.y_all, data.n, self.targets)
                       if exact_target and self._any_target else None)
        #: called after every step with (step loss, step gradient, rate, evaluation or None, and
        #: the last batch's slice [a, b) of the orders and its step's micro-batch count)
        self.on_step: Callable[..., None] | None = None
        self.keep_step_batches = False   # keep a step's micro-batches (a lone run's trace)
        self.eval_from_step = 0          # no evaluation at eval points up to this step (replay)
        constant = [s.schedule(1) if s.scenario.schedule == "constant" else None for s in segments]
        counts = [0 if st is None or st.opt_state is None else int(st.opt_state["t"])
                  for st in (starts or [None] * k)]
        self.sets: list[UpdateSet] = update_sets([s.optimizer for s in segments], [s.schedule for s in segments],
                                                 constant, counts)
        self._one_set = self.sets[0] if len(self.sets) == 1 else None
        self._const_lr = self._one_set.constant_lr if self._one_set is not None else None
        passes = -(-self._total // self._m)
        self.orders_ = Orders([s.sampler for s in segments], generators, data.n, passes)
        self.batches = Batches(model, data, k, plan.batch_size)   # each step's batches (engine.batches)
        self.state = self._first_state(initial_params, initial_loss, starts)
        if self._exact is not None:
            self.state.anchor = self.params.copy()
            self.state.anchor_loss = self._exact.evaluate(self.state.anchor)
            self.state.anchor_grad = self._exact.gradients(self.state.anchor)
        self.checkpoints: Checkpoints[RunsState] = Checkpoints(checkpoint_every, max_checkpoints)
        self._derive()
        self._take_checkpoint()

    def _first_state(self, init: np.ndarray, initial_loss: float, starts: list[MemberState] | None) -> RunsState:
        k, one = self.k, self.one
        if starts is None:
            params = init.copy() if one else np.repeat(init[None, :], k, axis=0)
            states = [us.optimizer.init(params if one else params[us.rows]) for us in self.sets]
            s = RunsState(params, states, [math.nan] * len(self.sets), np.full(k, initial_loss),
                          np.full(k, math.nan), self._nan, self._nan)
        else:
            own = [st.opt_state if st.opt_state is not None else fresh_state(seg.optimizer, st.params)
                   for st, seg in zip(starts, self.segments)]
            if one:
                params, states = starts[0].params, [own[0]]
                batch_loss, finished = float(starts[0].batch_loss), float(starts[0].finished_epoch_loss)
            else:
                params = np.stack([st.params for st in starts])
                states = stack_states(self.sets, own, params)
                batch_loss = np.array([st.batch_loss for st in starts])
                finished = np.array([st.finished_epoch_loss for st in starts])
            s0 = starts[0]
            s = RunsState(params, states, [math.nan] * len(self.sets), np.array([st.loss_ref for st in starts]),
                          np.array([st.lr for st in starts]), batch_loss, finished,
                          iteration=s0.iteration, step=s0.step, samples=s0.samples)
            if s0.order is not None:
                s.orders = np.stack([st.order for st in starts])
        s.accum_loss = 0.0 if one else np.zeros(k)
        s.epoch_loss_sum = 0.0 if one else np.zeros(k)
        s.code = np.zeros(k, dtype=np.int8)
        s.diverged_step = np.zeros(k, dtype=np.int64)
        s.diverging_step = np.zeros(k, dtype=np.int64)
        s.frozen = np.zeros((k, 4), dtype=np.int64)
        s.ahead_states = [None] * k
        s.ahead_from = np.full(k, -1, dtype=np.int64)
        s.drawn = np.zeros(k, dtype=np.int64)
        return s

    def _derive(self) -> None:
        """Recompute what follows from the state (after construction and after a restore)."""
        s = self.state
        self._live = s.code == RUNNING
        self._all_live = bool(self._live.all())
        self._done = not self._live.any()
        self._diverging_at = DIVERGING_FACTOR * s.loss_ref
        self._diverging_low = float(self._diverging_at.min())
        self._diverging = bool(s.diverging_step.any())
        self.batches.forget()
        self._last: tuple | None = None
        self._step_parts: list[tuple[np.ndarray, int, int]] = []

    # --- the full losses (at the eval points, and when read) ------------------------------------
    def evaluation(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(train loss, val loss, train accuracy, val accuracy) of every run at its parameters,
        from one forward pass over training and validation data (computed once per parameters)."""
        s = self.state
        if s.eval_params is not s.params:
            self._evaluate(s.params)
        return s.evaluation  # type: ignore[return-value]

    def _evaluate(self, params: np.ndarray) -> tuple:
        d = self.data
        with np.errstate(all="ignore"):       # a run far out: its loss is inf
            values = evaluate_runs(self.model, params[None, :] if self.one else params, d.X_all, d.y_all, d.n)
        s = self.state
        s.eval_params, s.evaluation = params, values
        return values

    def set_policy(self, policy: EvalPolicy) -> None:
        """Evaluate by ``policy`` from the next step on."""
        self.policy = policy
        self.eval_every = policy.interval(self.segments[0].scenario, len(self.data.y_all), self.plan)

    # --- the step loop ---------------------------------------------------------------------------
    def run(self, limit: int, stop_at_onset: bool = False) -> tuple[int, bool]:
        """Up to ``limit`` iterations, until every run is done or, with ``stop_at_onset``, right
        after a step at which a run starts diverging. Returns (iterations run, stopped at that
        onset)."""
        s = self.state
        sets, one_set, one = self.sets, self._one_set, self.one
        m, acc, t = self._m, self._acc, self._table
        starts, stops, micros, counts = t.start, t.stop, t.micro, t.micro_count
        start_it, wrap, m_epoch, total = self.start_iteration, self._wrap, self._m_epoch, self._total
        every, hook = self.eval_every, self.on_step
        at_points, every_step = self.evaluate_at == "points", self.evaluate_at == "step"
        batches, exact = self.batches, self._exact is not None
        # one run, its data in pass order: the batch sliced here (no call between), as ever
        direct = one and not batches.gather
        lag, xo, yo = self.model.loss_and_grad, batches.xo, batches.yo
        cp = self.checkpoints
        ran = 0
        while ran < limit and not self._done:
            ran += 1
            it = s.iteration - start_it
            pass_index, j = divmod(it, m)
            if pass_index != s.order_pass or pass_index != batches.pass_index:
                self._start_pass(pass_index)
                xo, yo = batches.xo, batches.yo
            a, b = starts[j], stops[j]
            if micros is None:
                micro, count = it % acc, acc
            else:
                micro, count = micros[j], counts[j]
            n = b - a
            params = s.params
            if direct:
                loss, grad = lag(params, xo[a:b], yo[a:b])
            else:
                loss, grad = batches.loss_and_grad(params, a, b)
            loss_max = loss if one else np.maximum.reduce(loss)
            all_live, live = self._all_live, self._live
            if not math.isfinite(loss_max):
                bad = live & ~np.isfinite(loss)
                if bad.any():
                    self._stop(bad, DIVERGED, s.step + 1)
                    if self._done:
                        return ran, False
                    all_live, live = False, self._live
            if count == 1:
                step_grad, step_loss, step_max = grad, loss, loss_max
            else:
                if micro == 0:
                    s.accum, s.accum_n, s.accum_loss = grad * n, n, loss * n
                else:
                    s.accum = s.accum + grad * n
                    s.accum_n += n
                    s.accum_loss = s.accum_loss + loss * n
                step_grad = s.accum / s.accum_n if micro == count - 1 else None
                step_loss = s.accum_loss / s.accum_n
                step_max = step_loss if one else None
                if self.keep_step_batches:
                    if micro == 0:
                        self._step_parts = []
                    self._step_parts.append((s.orders, a, b))
            if step_grad is None:        # a micro-batch before the last one of its step
                self._last = (s.iteration, micro, count, s.orders, a, b, params, loss, grad, None, None, math.nan)
                self._add_epoch_loss(all_live, live, n, loss)
                s.iteration += 1
                s.samples += n
                self._end_iteration(live, None)
                continue
            step = s.step + 1
            before = s.opt_states
            if one_set is not None:      # one optimizer for every run: one stacked update
                lr = self._const_lr if self._const_lr is not None else one_set.lr(step)
                new_params, st = one_set.step(step_grad, before[0], params, lr)
                new_states, lrs = [st], [lr]
            else:
                new_params = np.empty_like(params)
                new_states, lrs = [], []
                for us, st in zip(sets, before):
                    rows = us.rows
                    lr = us.lr(step)
                    new_p, st = us.step(step_grad[rows], st, params[rows], lr)
                    new_params[rows] = new_p
                    new_states.append(st)
                    lrs.append(lr)
            self._last = (s.iteration, micro, count, s.orders, a, b, params, loss, grad, step_grad, before, lrs)
            # a run stops when its parameters stop being finite: a finite sum clears them all
            # at once (small vectors summed as Python floats, cheaper than a NumPy call)
            total_p = sum(new_params.ravel().tolist()) if new_params.size <= 16 else float(np.add.reduce(new_params, axis=None))
            if total_p - total_p != 0.0:
                bad = live & ~np.isfinite(new_params).all(axis=-1)
                if bad.any():
                    self._stop(bad, DIVERGED, step)
                    if self._done:
                        return ran, False
                    all_live, live = False, self._live
            if all_live:
                s.params = new_params
                s.opt_states = new_states
                s.batch_loss = step_loss
                s.epoch_loss_sum = s.epoch_loss_sum + n * loss
            else:
                keep = live[:, None]
                s.params = np.where(keep, new_params, params)
                s.opt_states = [{key: (np.where(live[us.rows][:, None], v, old[key]) if isinstance(v, np.ndarray) else v)
                                 for key, v in st.items()} for us, st, old in zip(sets, new_states, before)]
                s.batch_loss = np.where(live, step_loss, s.batch_loss)
                s.epoch_loss_sum = np.where(live, s.epoch_loss_sum + n * loss, s.epoch_loss_sum)
            s.last_lrs = lrs
            s.epoch_n += n
            s.iteration += 1
            s.samples += n
            s.step = step
            local = s.iteration - start_it
            epoch_end = (local % wrap if wrap else local) % m_epoch == 0
            due = epoch_end or (every is not None and step % every == 0) or local >= total
            ev = None
            if every_step or (due and ((at_points and step > self.eval_from_step) or (self._any_target and not exact))):
                ev = self._evaluate(s.params)
            if hook is not None:
                hook(step_loss, step_grad, lrs[0], ev if due else None, a, b, count)
            onset = False
            if self._diverging or not (step_max if step_max is not None else np.maximum.reduce(step_loss)) <= self._diverging_low:
                new = diverging_update(s.diverging_step, step_loss, s.loss_ref, live, step)
                if new is not None:
                    onset = stop_at_onset and bool((new == step).any())
                    s.diverging_step = new
                    self._diverging = bool(new.any())
            hit = None
            if self._exact is not None:
                hit = self._exact.check(s, s.params[None, :] if one else s.params, live)
            elif due and self._any_target:
                hit = live & (self.targets > 0) & (ev[0] <= self.targets)
                if not hit.any():
                    hit = None
            if epoch_end or s.iteration % cp.every == 0:
                self._end_iteration(live, hit, epoch_end)
            if hit is not None:              # after the epoch's end, as one run does it
                self._stop(hit, TARGET_REACHED, 0)
            if onset:
                return ran, True
        return ran, False

    def _start_pass(self, pass_index: int) -> None:
        """The orders of pass ``pass_index`` (drawn unless the state holds them, e.g. after a
        restore) and the runs' data in that order."""
        s = self.state
        if pass_index != s.order_pass:
            self.orders_.draw(s, pass_index, self._live, self._all_live)
        self.batches.start_pass(s.orders, pass_index)

    def _add_epoch_loss(self, all_live: bool, live: np.ndarray, n: int, loss: Any) -> None:
        s = self.state
        if all_live:
            s.epoch_loss_sum = s.epoch_loss_sum + n * loss
        else:
            s.epoch_loss_sum = np.where(live, s.epoch_loss_sum + n * loss, s.epoch_loss_sum)
        s.epoch_n += n

    def _end_iteration(self, live: np.ndarray, hit: np.ndarray | None, epoch_end: bool | None = None) -> None:
        """The epoch's end (its loss kept, the sums reset; at the plan's end the runs finish) and
        checkpoints."""
        s = self.state
        local = s.iteration - self.start_iteration
        if epoch_end is None:
            epoch_end = (local % self._wrap if self._wrap else local) % self._m_epoch == 0
        if epoch_end:
            with np.errstate(all="ignore"):
                done = s.epoch_loss_sum / s.epoch_n if s.epoch_n else self._nan
            if self._all_live:
                s.finished_epoch_loss = done
                s.epoch_loss_sum = 0.0 if self.one else np.zeros(self.k)
            else:
                s.finished_epoch_loss = np.where(live, done, s.finished_epoch_loss)
                s.epoch_loss_sum = np.where(live, 0.0, s.epoch_loss_sum)
            s.epoch_n = 0
            if local >= self._total:
                ending = live if hit is None else live & ~hit
                if ending.any():
                    self._stop(ending, FINISHED, 0)
        if self.checkpoints.due(s.iteration):
            self._take_checkpoint()

    def release(self) -> None:
        """Drop the arrays that grow with K × N (the pass's orders, the block drawn ahead, the
        batches, the checkpoints but the first) when the runs are no longer needed: the objects of a Runs refer
        to each other, so the garbage collector, not the reference count, would otherwise free
        them, at a time of its own. Reading the parameters and counters still works; stepping
        does not."""
        self.state.orders = None
        self.orders_.release()
        self.batches.release()
        self.checkpoints.items = self.checkpoints.items[:1]
        self._last = None                 # it holds the last batch's orders (a view of them all)
        self._step_parts = []

    def stop_rows(self, rows: np.ndarray) -> None:
        """Runs ``rows`` (a (K,) mask) that are still training stop where they are (code
        STOPPED): their counters freeze, they draw no more orders (the caller's choice, e.g. the
        lab's tuned rule dropping a learning rate that can no longer win)."""
        rows = rows & self._live
        if rows.any():
            self._stop(rows, STOPPED, 0)

    def _stop(self, rows: np.ndarray, code: int, diverged_step: int) -> None:
        """Runs ``rows`` stop with ``code``: their counters freeze where they are."""
        s = self.state
        frozen = s.frozen.copy()
        frozen[rows] = (s.iteration, s.step, s.samples, s.epoch_n)
        s.frozen = frozen
        codes = s.code.copy()
        codes[rows] = code
        s.code = codes
        if code == DIVERGED:
            d = s.diverged_step.copy()
            d[rows] = diverged_step
            s.diverged_step = d
        self._live = s.code == RUNNING
        self._all_live = bool(self._live.all())
        self._done = not self._live.any()

    # --- checkpoints -----------------------------------------------------------------------------
    def _take_checkpoint(self) -> None:
        """A checkpoint of the state; without the pass's orders when they can be drawn again
        from the generators' states it keeps (:meth:`engine.orders.Orders.redrawable`), so the
        checkpoints of a long run do not keep an order of N per pass."""
        s = self.state
        if self.orders_.redrawable(s):
            orders, s.orders = s.orders, None
            orders.flags.writeable = False   # as if kept: a restore redraws these very numbers
            try:
                self.checkpoints.add(s.iteration, s, self.orders_.generator_states())
            finally:
                s.orders = orders
        else:
            self.checkpoints.add(s.iteration, s, self.orders_.generator_states())

    def thin_checkpoints(self, keep: int) -> None:
        """A stretch a live change has left behind: at most ``keep`` checkpoints, and none of
        its pass's data (the batches' arrays: [X 1] and the pass in order, ~N × 64 B for the
        MLP's one run, for every change made; :meth:`goto`, the only way back into a stretch,
        makes them again at its first pass start), nor its block of orders drawn ahead (up to
        AHEAD_ELEMENTS indices: :meth:`goto` draws it again from the states it started from)."""
        self.checkpoints.thin(keep)
        self.batches.release()
        self.orders_.release(samplers=False)    # goto() replays the stretch with its samplers

    def goto(self, target: int, *, before: bool = False) -> None:
        """The exact state after ``target`` iterations: the latest checkpoint at or before it
        (strictly before with ``before``, so that the last iteration is replayed and known,
        unless the stretch starts there), then replay forward."""
        cp = self.checkpoints.latest(target, before=before)
        self.state, gen_states = self.checkpoints.restore(cp)
        self._derive()
        self.orders_.redraw(self.state)
        self.orders_.set_generator_states(gen_states)
        with np.errstate(all="ignore"):
            while self.state.iteration < target and not self._done:
                self.run(target - self.state.iteration)
