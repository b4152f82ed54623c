"""What a :class:`engine.runs.Runs` shows: where its K runs stand (always stacked, whatever K:
(K, P) parameters, (K,) losses and counters, a stopped run's counters frozen where it stopped),
and what a live change or a lone run reads of one run (its :class:`MemberState`, generator,
last iteration, next batch). Mixed into :class:`engine.runs.Runs`; it reads the step loop's
state (:class:`engine.runs_state.RunsState`) and settings, and changes nothing but a pass's
orders, drawn as the next iteration would draw them (:meth:`RunsReadings.batch_slot`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .runs_state import MemberState, RunsState
from .updates import UpdateSet, row_lrs, row_state

if TYPE_CHECKING:
    from .batches import Batches
    from .orders import Orders
    from .plan import Plan
    from .prepare import TrainingData
    from .segment import Segment


class RunsReadings:
    """The readings of K runs stepped together (see the module docstring)."""

    state: RunsState
    segments: list[Segment]
    k: int
    one: bool
    plan: Plan
    data: TrainingData
    sets: list[UpdateSet]
    orders_: Orders
    batches: Batches
    start_iteration: int
    start_step: int
    _live: np.ndarray
    _all_live: bool
    _done: bool
    _total: int
    _m: int
    _acc: int
    _table: Any
    _last: tuple | None
    _step_parts: list[tuple[np.ndarray, int, int]]

    def _start_pass(self, pass_index: int) -> None: ...   # Runs'

    # --- where the runs stand (stacked, whatever K) ---------------------------------------------
    @property
    def done(self) -> bool:
        """True when no run will take another iteration."""
        return self._done

    @property
    def iteration(self) -> int:
        """Iterations done by the running runs (a stopped run's own: :meth:`member_counter`)."""
        return self.state.iteration

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def samples_seen(self) -> int:
        return self.state.samples

    @property
    def segment(self) -> Segment:
        """Run 0's settings (where the stretch starts: ``start_iteration``, ``start_epoch``)."""
        return self.segments[0]

    @property
    def live(self) -> np.ndarray:
        """(K,) True for the runs still training."""
        return self._live

    @property
    def params(self) -> np.ndarray:
        """(K, P) every run's parameters (each one's last finite ones after a divergence)."""
        p = self.state.params
        return p[None, :] if self.one else p

    def row_params(self, row: int) -> np.ndarray:
        """(P,) run ``row``'s parameters."""
        p = self.state.params
        return p if self.one else p[row]

    @property
    def batch_loss(self) -> np.ndarray:
        """(K,) each run's last step's loss (before its update)."""
        return np.atleast_1d(self.state.batch_loss)

    def next_position(self):  # noqa: ANN201 - engine.sampling.Position
        """Where the next iteration's batch sits in the plan (None when done)."""
        local = self.state.iteration - self.start_iteration
        if self._done or local >= self._total:
            return None
        return self.plan.locate(local)

    def member_counter(self, column: int) -> np.ndarray:
        """(K,) iterations (0), steps (1), samples (2) or epoch samples (3) of each run."""
        s = self.state
        value = (s.iteration, s.step, s.samples, s.epoch_n)[column]
        if self._all_live:
            return np.full(self.k, value, dtype=np.int64)
        return np.where(self._live, value, s.frozen[:, column])

    @property
    def lr(self) -> np.ndarray:
        """(K,) each run's last rate (its rate before this stretch until its first step here)."""
        s = self.state
        if s.step == self.start_step:
            return s.start_lr.copy()
        return row_lrs(self.sets, s.last_lrs, self.k)

    @property
    def epoch_loss(self) -> np.ndarray:
        """(K,) Keras' running epoch loss: Σ n_b·L_b / Σ n_b over the epoch so far, the finished
        epoch's at a boundary (SCIENCE.md §2)."""
        s = self.state
        en = self.member_counter(3)
        with np.errstate(all="ignore"):
            return np.where(en > 0, s.epoch_loss_sum / np.maximum(en, 1), s.finished_epoch_loss)

    def optimizer_state(self, row: int) -> dict:
        """Run ``row``'s optimizer state now (``t`` and its (P,) buffers)."""
        s = self.state
        return self._row_state(s.opt_states, row, s.step - int(self.member_counter(1)[row]))

    def _row_state(self, states: list[dict], row: int, steps_behind: int) -> dict:
        if self.one:
            out = dict(states[0])
            out["t"] = int(out["t"]) - steps_behind
            return out
        return row_state(self.sets, states, row, steps_behind)

    # --- what a live change and a lone run read ---------------------------------------------------
    def _row(self, value: Any, row: int) -> float:
        return float(value if self.one else value[row])

    def member_state(self, row: int) -> MemberState:
        """Run ``row``'s state now, as a new stretch of settings starts from it (its diverging
        reference is the caller's to set: ``loss_ref`` here is NaN)."""
        s = self.state
        it, st, sm = (int(self.member_counter(c)[row]) for c in range(3))
        opt = self._row_state(s.opt_states, row, s.step - st)
        order = None if s.orders is None else s.orders[row]
        return MemberState(self.row_params(row), opt, it, st, sm, order, self.orders_.generator(s, row),
                           self._row(s.finished_epoch_loss, row), float(self.lr[row]), math.nan,
                           self._row(s.batch_loss, row))

    def generator(self, row: int) -> np.random.Generator:
        """Run ``row``'s sampling generator as a run drawing one pass at a time would hold it now."""
        return self.orders_.generator(self.state, row)

    def last_iteration(self) -> tuple | None:
        """The last iteration of run 0 as the lone run shows it: (iteration, micro, micro count,
        indices, params before, loss, gradient, step gradient or None, optimizer state before or
        None, rate), None before any (or after a restore, until an iteration runs)."""
        last = self._last
        if last is None:
            return None
        it, micro, count, orders, a, b, params, loss, grad, step_grad, before, lrs = last
        opt = None if before is None else self._row_state(before, 0, 0)
        lr = lrs[0] if isinstance(lrs, list) else lrs
        lr = float(np.ravel(lr)[0]) if isinstance(lr, np.ndarray) else float(lr)
        one = self.one
        return (it, micro, count, orders[0, a:b], params if one else params[0], self._row(loss, 0),
                grad if one else grad[0], None if step_grad is None else (step_grad if one else step_grad[0]),
                opt, lr)

    def step_indices(self) -> np.ndarray:
        """Run 0's sample indices of the last step, across its micro-batches (with
        :attr:`keep_step_batches`), in order."""
        last = self._last
        if last is None:
            return np.empty(0, dtype=np.int64)
        if last[2] == 1 or not self._step_parts:     # a step of one batch
            return last[3][0, last[4]:last[5]]
        return np.concatenate([o[0, a:b] for o, a, b in self._step_parts])

    def batch_slot(self) -> tuple[np.ndarray, int, int]:
        """Run 0's next batch: (indices, micro, micro count); draws the pass's orders when the
        batch opens a pass (as the iteration itself would)."""
        s = self.state
        it = s.iteration - self.start_iteration
        pass_index, j = divmod(it, self._m)
        if pass_index != s.order_pass or pass_index != self.batches.pass_index:
            self._start_pass(pass_index)
        t = self._table
        a, b = t.start[j], t.stop[j]
        micro, count = (it % self._acc, self._acc) if t.micro is None else (t.micro[j], t.micro_count[j])
        return s.orders[0, a:b], micro, count
