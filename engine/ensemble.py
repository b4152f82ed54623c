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
because both are stepped by the same code (:class:`engine.runs.Runs`, a lone run being the
K = 1 case) whose row k never depends on the other rows (see the note in :mod:`engine.models`).
Tested with ``np.array_equal`` in tests/test_ensemble.py.

**Sampling seeds.** Member 0 of :meth:`Ensemble.seeds` is the scenario's own run (its sampling
continues the generator that made the data); member k ≥ 1 draws its orders from
``np.random.SeedSequence(seed, spawn_key=(k,))`` (:func:`engine.sampling.stream_generator`).

**Alignment** (as compare mode): a *tick* advances every group by the same amount of
``steps`` (one optimizer step), ``samples`` (the reference member's batch of samples) or
``epochs`` (the reference member's share of an epoch). :func:`progress_after_next`,
:func:`tick_unit` and :func:`epoch_target` are shared with :class:`engine.compare.Comparison`.

**Live changes** (:meth:`Ensemble.apply_changes`): a change of batching or optimizer settings
applies to every member from its next iteration on, decided by the lone run's own rules
(:mod:`engine.segment`, applied to the member's counters), so member k afterwards equals its lone
run given the same change at the same iteration, bit for bit. A
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

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .alignment import ALIGNMENTS, Runner, advance, check_alignment, epoch_target, progress_after_next, tick_unit
from .band import BAND_EVAL_POINTS, BAND_PARAM_FLOATS, BAND_POINTS, LossBand, band_quantiles
from .cloud import CloudReadings, NoiseFloor
from .member_readings import MemberReadings
from .errors import ScenarioError
from .groups import MAX_RUNS, Group, Member, SimulationGroup, batch_size_members, check_runs, checked_changes
from .rules import ENGINE_POLICY, EvalPolicy, loss_reference
from .runs import MemberState, Runs
from .sampling import stream_generator
from .scenario import Scenario
from .segment import Segment, check_changes, describe_changes, fresh_optimizer, make_segment, next_segment_epoch
from .simulation import Simulation

__all__ = ["ALIGNMENTS", "LONE", "MAX_RUNS", "EVALUATIONS", "Ensemble", "Member", "Runner", "advance",
           "batch_size_members", "check_alignment", "epoch_target", "progress_after_next", "tick_unit",
           "band_quantiles", "BAND_POINTS", "BAND_EVAL_POINTS", "BAND_PARAM_FLOATS"]

#: Which members run as a lone Simulation (``Ensemble(lone=...)``).
LONE: tuple[str, ...] = ("never", "alone", "always")
#: When the members' full training and validation losses are computed: after every ``step``
#: or when ``read`` (the ``train_loss``/``val_loss`` properties) and where a target is checked
#: (the lone run's eval points). Both give the lone run's numbers.
EVALUATIONS: tuple[str, ...] = ("step", "read")
_CHECKPOINT_EVERY = 32
_MAX_CHECKPOINTS = 256
#: A group's checkpoints hold at most this many numbers (K orders of N and K parameter vectors
#: with their optimizer state each): fewer checkpoints for many runs of large data (64 MB).
_CHECKPOINT_BUDGET = 8_000_000
#: A group left behind by a live change keeps at most this many checkpoints (evenly spaced,
#: its first and last among them): going back into its stretch stays exact and replays a
#: little more, and a long lesson of many changes does not keep 256 snapshots of K generators
#: per change.
_LEFT_CHECKPOINTS = 16


@dataclass
class _Era:
    """The groups of one stretch of settings: the first from the start, one more per live
    change (``step``: the reference member's step at the change; ``note``: what changed)."""

    groups: list[Group | SimulationGroup]
    where: list[tuple[int, int]]        # member → (group, row)
    index: list[np.ndarray]             # group → its members
    scenarios: list[Scenario]           # member → its scenario in force
    step: int = 0
    note: str = ""


class Ensemble(MemberReadings, CloudReadings):
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
    records no band); ``eval_policy``: when each member evaluates and checks its target, as its
    lone run with that policy (:class:`engine.rules.EvalPolicy`); ``exact_target``: check each
    member's target after every step as a lone run with ``eval_every = 1`` does, at the cost of
    its batch (loss bounds, :mod:`engine.target`; vectorised members only); ``record=False``:
    no checkpoint after the start (a headless run that never goes back: :meth:`back` still
    exact, replaying from the start), as ``Simulation(record=False)``.
    """

    def __init__(self, scenario: Scenario, members: Sequence[Member] | None = None, *,
                 align: str = "steps", reference: int | None = None, evaluate: str = "read",
                 lone: str = "never", band: bool = True, eval_policy: EvalPolicy = ENGINE_POLICY,
                 exact_target: bool = False, record: bool = True) -> None:
        members = list(members) if members else [Member("run")]
        if evaluate not in EVALUATIONS:
            raise ScenarioError("evaluate", evaluate, "allowed: " + ", ".join(EVALUATIONS))
        if lone not in LONE:
            raise ScenarioError("lone", lone, "allowed: " + ", ".join(LONE))
        self.evaluate = evaluate
        self.lone = lone
        self.records_band = bool(band)
        self.eval_policy = eval_policy
        self.exact_target = bool(exact_target)
        self.record = bool(record)
        if not 1 <= len(members) <= MAX_RUNS:
            raise ScenarioError("runs", len(members), f"an ensemble has 1 to {MAX_RUNS} runs")
        self.align = check_alignment(align)
        base = Simulation(scenario, eval_policy=eval_policy)
        self.base = base
        self.members = members
        self.revision: int = 0
        """Bumped by every mutating method (tick, tick_epoch, back, goto_tick, reset,
        apply_changes, run_to_end, run_iterations), as ``Simulation.revision``: readers redraw
        when it differs."""
        self.dataset = base.dataset
        self.model = base.model
        self.data = base.data
        self.initial_params = base.initial_params
        self.X, self.y = base.X, base.y
        self.X_all, self.y_all = base.data.X_all, base.data.y_all
        self.n_samples = base.dataset.n_samples
        self.initial_train_loss = base.initial_train_loss
        self.initial_val_loss = base.initial_val_loss
        data_state = base.rng.bit_generator.state     # after the data and the start were drawn
        by_plan: dict[Any, list[tuple[int, Scenario, Segment, np.random.Generator]]] = {}
        self.scenarios: list[Scenario] = []
        first_segments: dict[Scenario, Segment] = {}   # members of one scenario share its (frozen) segment
        checked: dict[Any, Scenario] = {}              # members with the same changes (the streams of a setting)
        for i, m in enumerate(members):
            sc = checked_changes(base, m.changes, checked) if m.changes else base.scenario
            seg = first_segments.get(sc)
            if seg is None:
                seg = first_segments[sc] = make_segment(sc, self.dataset, 0, 0, 0)
            if m.stream:
                gen = stream_generator(scenario.seed, m.stream)
            else:
                gen = np.random.Generator(type(base.rng.bit_generator)())
                gen.bit_generator.state = data_state
            self.scenarios.append(sc)
            by_plan.setdefault((seg.plan, i) if lone == "always" else seg.plan, []).append((i, sc, seg, gen))
        self.groups: list[Group | SimulationGroup] = []
        self._where: list[tuple[int, int]] = [(0, 0)] * len(members)
        base_free = True
        for rows in by_plan.values():
            g: Group | SimulationGroup
            if len(rows) == 1 and lone != "never":
                i, sc = rows[0][0], rows[0][1]
                stream = members[i].stream
                if base_free and stream == 0 and sc == base.scenario:
                    sim, base_free = base, False          # the scenario's own run: no second copy
                else:
                    sim = Simulation(sc, sampling_stream=stream, eval_policy=eval_policy)
                g = SimulationGroup(i, sim, lambda era, i=i: self._eras[era].scenarios[i])
            else:
                g = self._group([r[0] for r in rows], [r[2] for r in rows], [r[3] for r in rows], None)
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
        self._band = LossBand(self)
        self._reference_cache: dict[tuple, np.ndarray] = {}
        self._floor_cache: dict[tuple, NoiseFloor] = {}
        self._record_tick()

    def _group(self, members: list[int], segments: list[Segment], generators: list[np.random.Generator],
               starts: list[MemberState] | None) -> Group:
        """A vectorised group: one :class:`Runs` of these members."""
        k = len(members)
        runs = Runs(self.model, self.data, segments, generators, self.initial_params, self.initial_train_loss,
                    starts, policy=self.eval_policy,
                    evaluate_at="step" if self.evaluate == "step" else "target", exact_target=self.exact_target,
                    # a checkpoint holds K generator states: fewer of them for a large ensemble
                    # (back() replays at most this many iterations)
                    checkpoint_every=_CHECKPOINT_EVERY * max(1, k // 8) if self.record else 1 << 62,
                    max_checkpoints=max(2, min(_MAX_CHECKPOINTS, _CHECKPOINT_BUDGET // (
                        k * (self.n_samples + 4 * self.initial_params.size)))))
        return Group(members, runs)

    # --- ways to build one -------------------------------------------------------------------
    @classmethod
    def seeds(cls, scenario: Scenario, runs: int, **kw: Any) -> Ensemble:
        """The noise cloud: ``runs`` members differing only in the sampling stream 0..runs−1."""
        check_runs(runs)
        return cls(scenario, [Member(f"stream {k}", {}, k) for k in range(runs)], **kw)

    @classmethod
    def vary(cls, scenario: Scenario, setting: str, values: Sequence[Any], **kw: Any) -> Ensemble:
        """One member per value of ``setting`` (batch_size, lr, optimizer, ...), same stream."""
        check_runs(len(values))
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

    # --- live changes ---------------------------------------------------------------------------
    @property
    def changes(self) -> list[tuple[int, str]]:
        """(step of the reference member, what changed) for every live change in force, for
        marking the loss plot (as ``Simulation.changes``)."""
        return [(era.step, era.note) for era in self._eras[1:self._era + 1]]

    def check_changes(self, **changes: Any) -> None:
        """The dry run of :meth:`apply_changes`: the :class:`ScenarioError` it would raise (the
        lone run's, from :func:`engine.segment.check_changes` for each member), else nothing."""
        self._plan_changes(changes)

    def _plan_changes(self, changes: dict[str, Any]) -> list[tuple[Scenario, Segment, bool]]:
        """For each member: (its new scenario, its new segment, whether its optimizer starts
        afresh), decided by the lone run's rules (:mod:`engine.segment`) on the member's counters."""
        memo: dict[tuple, tuple[Scenario, Segment, bool]] = {}
        out = []
        for k in range(len(self.members)):
            gi, row = self._where[k]
            group = self.groups[gi]
            if isinstance(group, SimulationGroup):
                out.append((group.sim.check_changes(**changes), group.sim.segment, False))
                continue
            seg = group.member_segment(row)
            old = seg.scenario
            c = group.counters(row)
            key = (old, seg.start_iteration, seg.start_epoch, c.iteration, c.step, c.samples)
            if key not in memo:
                start_epoch = next_segment_epoch(c)
                new = check_changes(old, self.dataset, start_epoch, changes)
                new_seg = make_segment(new, self.dataset, c.iteration, c.step, start_epoch, describe_changes(old, new))
                memo[key] = (new, new_seg, fresh_optimizer(old, new))
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
        states: list[MemberState | None] = []
        lone: list[SimulationGroup] = []
        for k, (_new, _seg, fresh) in enumerate(plans):
            gi, row = self._where[k]
            group = self.groups[gi]
            if isinstance(group, SimulationGroup):
                states.append(None)
                lone.append(group)
                continue
            st = group.member_state(row)
            if fresh:
                st.opt_state = None
            with np.errstate(all="ignore"):
                here = float(self.model.loss(st.params, self.X, self.y))
            st.loss_ref = loss_reference(self.initial_train_loss, here)
            states.append(st)
        by_key: dict[tuple, list[int]] = {}
        for k, ((_new, seg, _f), st) in enumerate(zip(plans, states)):
            if st is not None:
                key = (seg.plan, seg.start_iteration, seg.start_step, seg.start_epoch, st.samples)
                by_key.setdefault(key, []).append(k)
        groups: list[Group | SimulationGroup] = []
        where: list[tuple[int, int]] = [(0, 0)] * len(self.members)
        for g in lone:
            where[g.members[0]] = (len(groups), 0)
            groups.append(g)
        for idx in by_key.values():
            g = self._group(idx, [plans[i][1] for i in idx], [states[i].generator for i in idx],  # type: ignore[union-attr]
                            [states[i] for i in idx])  # type: ignore[misc]
            for row, i in enumerate(idx):
                where[i] = (len(groups), row)
            groups.append(g)
        ref_step = int(self.step[self.reference])
        note = describe_changes(self.scenarios[0], plans[0][0])
        era = _Era(groups, where, [np.array(g.members) for g in groups], [p[0] for p in plans], ref_step, note)
        del self._eras[self._era + 1:]
        for g in self.groups:          # the groups this change leaves behind
            g.thin_checkpoints(_LEFT_CHECKPOINTS)
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
                    g.run(1 << 30)

    def run_iterations(self, n: int) -> int:
        """Every group up to ``n`` iterations further (no tick, as :meth:`run_to_end`: a
        headless run steps this way, without a tick's bookkeeping per step); the most any group
        ran."""
        self.revision += 1
        with np.errstate(all="ignore"):
            return max(g.run(n) for g in self.groups)

    def stop(self, members: Sequence[int]) -> None:
        """Members ``members`` that are still training stop where they are (status "stopped",
        counters frozen), from a vectorised group (the lab drops the runs of a learning rate
        that can no longer win: :meth:`engine.lab.Lab`)."""
        by_group: dict[int, list[int]] = {}
        for m in members:
            gi, row = self._where[m]
            by_group.setdefault(gi, []).append(row)
        for gi, rows in by_group.items():
            g = self.groups[gi]
            if not isinstance(g, Group):
                raise ValueError("only members of a vectorised group can be stopped")
            mask = np.zeros(g.k, dtype=bool)
            mask[rows] = True
            g.runs.stop_rows(mask)
        self.revision += 1

    def release(self) -> None:
        """Give back the memory of the runs' orders, batches and checkpoints now (the lab after a
        batch size, a view when it closes: counters and parameters stay readable; the ensemble
        cannot step on), in every stretch of settings, lone members included."""
        for era in self._eras:
            for g in era.groups:
                if isinstance(g, Group):
                    g.runs.release()
                else:
                    g.sim.release()

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

    def unit(self) -> float:
        """One tick in the alignment's unit (see :func:`engine.alignment.tick_unit`)."""
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
        """Where :meth:`tick_epoch` takes the runs (see :func:`engine.alignment.epoch_target`)."""
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
        target, era, positions = entry
        if era != self._era:
            del self._eras[era + 1:]
            self._set_era(era)
        with np.errstate(all="ignore"):
            for g, it in zip(self.groups, positions):
                g.goto(it, era, target, self.align)
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
        each recorded tick and values (len(qs), len(x)) the quantiles ``qs`` over the members of
        "batch_loss", "train_loss" or "val_loss" (:meth:`engine.band.LossBand.band` says how)."""
        return self._band.band(quantity, qs, self.revision)
