"""What an ensemble shows of its members, in member order: the (K,) and (K, P) readings
gathered from its groups (parameters, losses, counters, status), one member's counters,
scenario, order and generator, and the lone Simulation a member is bit-identical to. Mixed into
:class:`engine.ensemble.Ensemble`; it reads the groups of the settings in force (``groups``,
``_where``: member → (group, row), ``_index``: group → its members) and changes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np

from .counters import Counters
from .errors import ScenarioError
from .groups import Group, Member, SimulationGroup
from .rules import EvalPolicy
from .runs_state import DIVERGED as _DIVERGED
from .runs_state import RUNNING as _RUNNING
from .scenario import Scenario
from .run_status import DIVERGING, STATUS_OF_CODE
from .simulation import Simulation


class MemberReadings:
    """The members' readings (see the module docstring)."""

    members: list[Member]
    groups: list[Group | SimulationGroup]
    scenarios: list[Scenario]
    model: Any
    eval_policy: EvalPolicy
    _where: list[tuple[int, int]]
    _index: list[np.ndarray]
    _initial_scenarios: list[Scenario]

    def _group_of(self, member: int) -> Group | SimulationGroup:
        return self.groups[self._where[member][0]]

    def _gather(self, name: str) -> np.ndarray:
        get = {"train_loss": lambda g: g.losses()[0], "val_loss": lambda g: g.losses()[1],
               "accuracy": lambda g: g.accuracy()}.get(name, lambda g: getattr(g, name))
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
    def diverged(self) -> np.ndarray:
        """(K,) True for the members that have stopped on a non-finite loss or parameters."""
        return self._gather("code") == _DIVERGED

    @property
    def status(self) -> list[str]:
        """Each member's status: ready, diverging, finished, target reached or diverged."""
        codes = self._gather("code")
        diverging = self._gather("diverging_step")
        return [DIVERGING if c == _RUNNING and d > 0 else STATUS_OF_CODE[int(c)] for c, d in zip(codes, diverging)]

    def accuracy(self) -> np.ndarray | None:
        """(K,) training accuracy at each member's parameters (None for regression)."""
        if self.model.loss_name != "bce":
            return None
        return self._gather("accuracy")

    @property
    def done(self) -> bool:
        """True when no member will run another iteration."""
        return all(g.done for g in self.groups)

    def counters(self, member: int = 0) -> Counters:
        """Member ``member``'s counters (DESIGN.md wording), by the lone run's own rule
        (:func:`engine.counters.counters_at`). Members of one plan (the noise cloud) share them."""
        if not 0 <= member < len(self.members):
            raise ScenarioError("member", member, f"allowed: 0 to {len(self.members) - 1}")
        gi, row = self._where[member]
        return self.groups[gi].counters(row)

    def position(self, member: int = 0) -> Counters:
        """Where member ``member``'s group stands: the counters of its running members (the
        member's own, :meth:`counters`, stop where it stopped)."""
        return self._group_of(member).position()

    def iterations_to_epoch_end(self, member: int = 0) -> int:
        """Iterations left in the current epoch of member ``member``'s group (a whole epoch at
        a boundary), as :meth:`Simulation.iterations_to_epoch_end`."""
        g = self._group_of(member)
        seg = g.segment
        pos = seg.plan.locate(g.iteration - seg.start_iteration)
        return seg.plan.epoch_iterations(pos.epoch) - pos.batch_in_epoch

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
        return g.sim if isinstance(g, SimulationGroup) else None

    def member_simulation(self, k: int) -> Simulation:
        """A lone Simulation of member k from the start, with its first settings (the run it is
        bit-identical to; replay the same :meth:`apply_changes` on it to follow live changes)."""
        return Simulation(self._initial_scenarios[k], sampling_stream=self.members[k].stream,
                          eval_policy=self.eval_policy)

    def order(self, k: int) -> np.ndarray | None:
        """Member k's sample order of its current pass (None before its first batch is drawn)."""
        gi, row = self._where[k]
        return self.groups[gi].order(row)

    def member_generator(self, k: int) -> np.random.Generator:
        """Member k's sampling generator as its lone run holds it now (a copy where the group's
        draws ahead)."""
        gi, row = self._where[k]
        g = self.groups[gi]
        return g.sim.rng if isinstance(g, SimulationGroup) else g.runs.generator(row)
