"""The members of an ensemble and the groups that step them.

A *member* is one run of the ensemble (:class:`Member`: a label, the settings it changes, its
sampling stream). Members whose batch arithmetic is the same (one plan, one position) form a
*group*: a :class:`Group` is one :class:`~engine.runs.Runs` of its members (the vectorised step,
the same code a lone run steps with); a :class:`SimulationGroup` is one member run by a lone
:class:`~engine.simulation.Simulation` (compare mode, whose screen reads each run's History,
lens and landscape). Both offer the Ensemble the same reads (per-member arrays, counters,
alignment) through public methods only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .alignment import advance
from .counters import Counters, counters_at
from .errors import ScenarioError
from .runs import DIVERGED, RUNNING, MemberState, Runs
from .plan import Position, algorithm_name
from .scenario import LIVE_SETTINGS, Scenario
from .segment import Segment

if TYPE_CHECKING:
    from .simulation import Simulation

#: The most members an ensemble takes (``mbsim run --runs``): 100 is the noise cloud's default;
#: 1000 keeps a K × N order table and a K × N loss evaluation per step in a few MB.
MAX_RUNS = 1000
_STATUS_CODES = {"ready": RUNNING, "diverging": RUNNING, "finished": 1, "target reached": 2, "diverged": DIVERGED}


@dataclass(frozen=True)
class Member:
    """One run of an ensemble: a label, the settings it changes and its sampling stream."""

    label: str
    changes: dict[str, Any] = field(default_factory=dict)
    stream: int = 0

    def scenario(self, base: Scenario) -> Scenario:
        """The scenario of this member as a lone run."""
        return base.replace(**self.changes) if self.changes else base


def checked_changes(base: Simulation, changes: dict[str, Any], checked: dict[Any, Scenario]) -> Scenario:
    """``base.check_changes(**changes)``, worked out once for every equal set of changes
    (``checked`` keeps them: the K streams of one setting share it)."""
    try:
        key = tuple(sorted((name, type(value), value) for name, value in changes.items()))
        hash(key)
    except TypeError:                       # an unhashable value: checked each time
        return base.check_changes(**changes)
    sc = checked.get(key)
    if sc is None:
        sc = checked[key] = base.check_changes(**changes)
    return sc


def batch_size_members(scenario: Scenario, sizes: Sequence[int] | None = None) -> tuple[list[Member], tuple[int, ...]]:
    """Compare mode's members: one per batch size (default N, the scenario's B, 1), without
    accumulation, labelled "Batch GD (B=200)", "Mini-batch GD (B=5)", "SGD (B=1)"."""
    from .prepare import check_scenario_with_data

    probe = check_scenario_with_data(scenario.replace(accumulate=1))
    n = probe[2].n_samples
    sizes = tuple(sizes) if sizes else (n, probe[0].batch_size, 1)
    members = [Member(f"{algorithm_name(b, n)} (B={b})", {"batch_size": b, "accumulate": 1}) for b in sizes]
    return members, sizes


def check_runs(runs: Any) -> int:
    """``runs`` as an int from 1 to :data:`MAX_RUNS`, else a :class:`ScenarioError`."""
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or not 1 <= runs <= MAX_RUNS:
        raise ScenarioError("runs", runs, f"must be a whole number from 1 to {MAX_RUNS}")
    return int(runs)


def _one(value: Any, dtype: Any = float) -> np.ndarray:
    """A per-member array of a group of one."""
    return np.array([value], dtype=dtype)


class Group:
    """Members with one plan at one position, stepped together by one :class:`Runs`."""

    def __init__(self, members: list[int], runs: Runs) -> None:
        self.members = members
        self.runs = runs
        self.k = runs.k

    # --- what alignment reads ----------------------------------------------------------------
    iteration = property(lambda self: self.runs.state.iteration)
    step = property(lambda self: self.runs.state.step)
    samples_seen = property(lambda self: self.runs.state.samples)
    plan = property(lambda self: self.runs.plan)
    segment = property(lambda self: self.runs.segment)
    done = property(lambda self: self.runs.done)

    def next_position(self) -> Position | None:
        return self.runs.next_position()

    def iterate(self) -> None:
        self.runs.run(1)

    def run(self, limit: int) -> int:
        """Up to ``limit`` iterations (fewer when every member is done); how many ran."""
        ran = 0
        while ran < limit and not self.runs.done:
            ran += self.runs.run(limit - ran)[0]
        return ran

    # --- per-member views (rows of the group) --------------------------------------------------
    member_iteration = property(lambda self: self.runs.member_counter(0))
    member_step = property(lambda self: self.runs.member_counter(1))
    member_samples = property(lambda self: self.runs.member_counter(2))
    diverged_step = property(lambda self: self.runs.state.diverged_step)
    diverging_step = property(lambda self: self.runs.state.diverging_step)
    code = property(lambda self: self.runs.state.code)
    epoch_loss = property(lambda self: self.runs.epoch_loss)
    batch_loss = property(lambda self: self.runs.batch_loss)
    lr = property(lambda self: self.runs.lr)
    params = property(lambda self: self.runs.params)

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        ev = self.runs.evaluation()
        return ev[0], ev[1]

    def accuracy(self) -> np.ndarray:
        return self.runs.evaluation()[2]

    def scenario(self, row: int) -> Scenario:
        return self.runs.segments[row].scenario

    def order(self, row: int) -> np.ndarray | None:
        s = self.runs.state
        return s.orders[row] if s.order_pass >= 0 else None

    def member_segment(self, row: int) -> Segment:
        return self.runs.segments[row]

    def counters(self, row: int) -> Counters:
        """Member ``row``'s counters by the lone run's rule (:func:`engine.counters.counters_at`)."""
        it, st, sm = (int(self.runs.member_counter(c)[row]) for c in range(3))
        return counters_at(self.runs.segments[row], it, st, sm)

    def member_state(self, row: int) -> MemberState:
        return self.runs.member_state(row)

    def position(self) -> Counters:
        """The counters of the group's running members (where the group stands)."""
        r = self.runs
        return counters_at(r.segment, r.iteration, r.step, r.samples_seen)

    def goto(self, iteration: int, era: int, target: float, align: str) -> None:
        self.runs.goto(iteration)

    def thin_checkpoints(self, keep: int) -> None:
        self.runs.thin_checkpoints(keep)


class SimulationGroup:
    """A group of ONE member backed by a lone :class:`Simulation` (``Ensemble(lone=...)``): its
    full History, lens and landscape reads (what compare mode draws), stepped by the
    Simulation itself. A live change goes to the Simulation (its segments); going back to a
    tick before a change made at the very iteration the tick stood at undoes it by replaying
    that tick (see :meth:`goto`)."""

    k = 1

    def __init__(self, member: int, sim: Simulation, first_scenario: Callable[[int], Scenario]) -> None:
        self.members = [member]
        self.sim = sim
        self._era_scenario = first_scenario            # era → this member's scenario in that era
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

    def run(self, limit: int) -> int:
        return self.sim.run_iterations(limit)

    # --- per-member views: arrays of one ------------------------------------------------------
    member_iteration = property(lambda self: _one(self.sim.iteration, np.int64))
    member_step = property(lambda self: _one(self.sim.step, np.int64))
    member_samples = property(lambda self: _one(self.sim.samples_seen, np.int64))
    diverged_step = property(lambda self: _one(self.sim.diverged_step, np.int64))
    diverging_step = property(lambda self: _one(self.sim.diverging_step, np.int64))
    code = property(lambda self: _one(_STATUS_CODES[self.sim.status], np.int8))
    epoch_loss = property(lambda self: _one(self.sim.epoch_loss))
    # the last step's values as recorded (the public ``history`` would evaluate the full losses
    # first and record them: the band reads these at every tick)
    batch_loss = property(lambda self: _one(self.sim.recorded("batch_loss")))
    lr = property(lambda self: _one(self.sim.recorded("lr")))

    @property
    def params(self) -> np.ndarray:
        return self.sim.params[None, :]

    def losses(self) -> tuple[np.ndarray, np.ndarray]:
        return _one(self.sim.train_loss), _one(self.sim.val_loss)

    def accuracy(self) -> np.ndarray:
        acc = self.sim.accuracy()
        return _one(math.nan if acc is None else acc)

    def scenario(self, row: int) -> Scenario:
        return self.sim.scenario

    def order(self, row: int) -> np.ndarray | None:
        return self.sim.order

    def member_segment(self, row: int) -> Segment:
        return self.sim.segment

    def counters(self, row: int) -> Counters:
        return self.sim.counters()

    def position(self) -> Counters:
        return self.sim.counters()

    def thin_checkpoints(self, keep: int) -> None:
        pass   # the Simulation thins its own when a change leaves a stretch behind

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
        want = self._era_scenario(era)
        now = self.sim.scenario
        back = {key: getattr(want, key) for key in sorted(LIVE_SETTINGS) if getattr(want, key) != getattr(now, key)}
        if back:
            self.sim.apply_changes(**back)
        advance(self, align, target, self.iterate)

