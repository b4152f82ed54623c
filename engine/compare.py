"""Compare mode: Batch GD, mini-batch GD and SGD in lockstep on the same data from the same start.

Three runs of one scenario that differ only in the batch size (N, B, 1 by default). They share
the seed, so the data and the initial parameters are identical. A *tick* advances all three by
the same amount of the chosen alignment:

* ``epochs`` (default): the same fraction of an epoch — after one epoch of N = 200, B = 5, GD has
  made 1 update, mini-batch 40 and SGD 200;
* ``samples``: the same number of samples seen;
* ``steps``: one optimizer step each.

A :class:`Comparison` IS an :class:`~engine.ensemble.Ensemble` (one engine for 1, 3 or K runs):
its members are the batch sizes (``engine.ensemble.batch_size_members``), each run by a lone
:class:`Simulation` (``lone="always"``), because the compare screen reads their histories, paths
and counters (``comp.runs[k].sim``); the ticks, the alignment, ``back``, ``reset``,
``revision`` and live changes are the Ensemble's.

**Live changes in compare mode** (``[ ] < >`` and the settings): :meth:`Comparison.apply_changes`
applies a change to all three runs, as ``Simulation.apply_changes`` to each — the learning
rate, the optimizer and its momentum and weight decay, the schedule, the sampling, drop_last,
steps_per_epoch, epoch_end, epochs and the target loss. The batch size and accumulation are
refused: the three runs ARE batch sizes (GD, mini-batch, SGD); a new comparison chooses others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .ensemble import ALIGNMENTS, Ensemble, batch_size_members
from .errors import ScenarioError
from .rules import ENGINE_POLICY, EvalPolicy
from .scenario import Scenario
from .simulation import Simulation

__all__ = ["ALIGNMENTS", "Comparison", "Run", "BATCH_SETTINGS"]

#: Settings compare mode does not change live: its runs are defined by them.
BATCH_SETTINGS: frozenset[str] = frozenset({"batch_size", "accumulate"})


@dataclass
class Run:
    """One of the compared runs: a label and its simulation."""

    label: str
    sim: Simulation


class Comparison(Ensemble):
    """Three (or more) runs of one scenario with different batch sizes, stepped together: an
    :class:`Ensemble` of lone Simulations aligned by ``align``, the middle run's batch a tick."""

    def __init__(self, scenario: Scenario, batch_sizes: Sequence[int] | None = None,
                 align: str = "epochs", eval_policy: EvalPolicy = ENGINE_POLICY) -> None:
        members, sizes = batch_size_members(scenario, batch_sizes)
        super().__init__(scenario, members, align=align, reference=1 if len(members) > 1 else 0,
                         evaluate="read", lone="always", band=False, eval_policy=eval_policy)
        self.given_scenario = scenario
        self.batch_sizes: tuple[int, ...] = sizes
        self._runs = [Run(m.label, self.member_sim(k)) for k, m in enumerate(members)]

    def member_sim(self, k: int) -> Simulation:
        sim = self.simulation(k)
        assert sim is not None   # lone="always": every member is a Simulation
        return sim

    @property
    def runs(self) -> list[Run]:  # type: ignore[override]
        """The compared runs, in batch-size order (GD, mini-batch, SGD)."""
        return self._runs

    def check_changes(self, **changes: Any) -> None:
        """As :meth:`Ensemble.check_changes`, refusing the batch size and accumulation."""
        bad = sorted(set(changes) & BATCH_SETTINGS)
        if bad:
            sizes = ", ".join(str(b) for b in self.batch_sizes)
            raise ScenarioError(bad[0], changes[bad[0]],
                                f"compare mode's runs are the batch sizes {sizes}; start a comparison "
                                "of other batch sizes instead")
        super().check_changes(**changes)

    def apply_changes(self, **changes: Any) -> None:
        """A live change for all compared runs (see the module docstring for what is allowed)."""
        self.check_changes(**changes)
        super().apply_changes(**changes)
