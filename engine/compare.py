"""Compare mode: Batch GD, mini-batch GD and SGD in lockstep on the same data from the same start.

Three simulations of one scenario that differ only in the batch size (N, B, 1 by default). They
share the seed, so the data and the initial parameters are identical. A *tick* advances all three
by the same amount of the chosen alignment:

* ``epochs`` (default): the same fraction of an epoch — after one epoch of N = 200, B = 5, GD has
  made 1 update, mini-batch 40 and SGD 200;
* ``samples``: the same number of samples seen;
* ``steps``: one optimizer step each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import ScenarioError
from .sampling import algorithm_name
from .scenario import Scenario
from .simulation import Simulation

ALIGNMENTS: tuple[str, ...] = ("epochs", "samples", "steps")


@dataclass
class Run:
    """One of the compared runs: a label and its simulation."""

    label: str
    sim: Simulation


@dataclass
class Comparison:
    """Three runs of one scenario with different batch sizes, stepped together."""

    scenario: Scenario
    batch_sizes: tuple[int, int, int] | None = None
    align: str = "epochs"
    runs: list[Run] = field(init=False)
    _ticks: list[tuple[float, tuple[int, ...]]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        if self.align not in ALIGNMENTS:
            raise ScenarioError("align", self.align, "allowed: " + ", ".join(ALIGNMENTS))
        middle = Simulation(self.scenario.replace(accumulate=1))
        n = middle.dataset.n_samples
        sizes = self.batch_sizes or (n, middle.scenario.batch_size, 1)
        self.batch_sizes = tuple(sizes)  # type: ignore[assignment]
        self.runs = []
        for k, b in enumerate(sizes):
            reuse = k == 1 and b == middle.scenario.batch_size
            sim = middle if reuse else Simulation(self.scenario.replace(batch_size=b, accumulate=1))
            self.runs.append(Run(f"{algorithm_name(b, n)} (B={b})", sim))
        self._ticks = [(0.0, self._positions())]

    @property
    def target(self) -> float:
        """How far the runs have been asked to go, in the alignment's unit."""
        return self._ticks[-1][0]

    # ------------------------------------------------------------------------------------
    def _positions(self) -> tuple[int, ...]:
        return tuple(r.sim.iteration for r in self.runs)

    def _progress_after_next(self, sim: Simulation) -> float:
        """Where ``sim`` would stand, in the alignment's unit, after its next iteration."""
        if self.align == "steps":
            return sim.step + 1
        pos = sim.next_position()
        size = (pos.stop - pos.start) if pos is not None else 0
        if self.align == "samples":
            return sim.samples_seen + size
        plan = sim.plan
        if plan.uneven_epochs:  # epoch_end = cut: epochs differ in length (SCIENCE.md §1.3)
            return plan.epochs_done(sim.iteration + 1)
        return (sim.iteration + 1) / plan.iterations_per_epoch

    def unit(self) -> float:
        """One tick, in the alignment's unit: a batch of the middle run (its share of an epoch,
        or its samples), or one step."""
        mid = self.runs[1].sim
        if self.align == "steps":
            return 1.0
        if self.align == "samples":
            return float(mid.scenario.batch_size)
        return 1.0 / mid.plan.iterations_per_epoch

    def _advance_to(self, target: float) -> None:
        eps = 1e-9
        for r in self.runs:
            sim = r.sim
            while not sim.done and self._progress_after_next(sim) <= target + eps:
                sim.step_iteration()
        self._ticks.append((target, self._positions()))

    @property
    def done(self) -> bool:
        """True when every run has finished (or diverged)."""
        return all(r.sim.done for r in self.runs)

    def tick(self) -> bool:
        """Advance all three by one unit of the alignment; False when all are done."""
        if self.done:
            return False
        self._advance_to(self.target + self.unit())
        return True

    def epoch_target(self) -> float:
        """Where :meth:`tick_epoch` takes the runs: the end of the current epoch, in the
        alignment's unit (for steps: one epoch of the middle run's steps further)."""
        t = self.target
        if self.align == "epochs":
            return float(int(t + 1e-9) + 1)
        if self.align == "samples":
            n = self.runs[0].sim.dataset.n_samples
            return float((int(t + 1e-9) // n + 1) * n)
        return t + self.runs[1].sim.plan.steps_per_epoch_count

    def tick_epoch(self) -> bool:
        """Advance all three to the end of the current epoch (see :meth:`epoch_target`)."""
        if self.done:
            return False
        self._advance_to(self.epoch_target())
        return True

    def back(self) -> bool:
        """Undo the last tick on all three runs (exactly: each run steps back to where it was)."""
        if len(self._ticks) <= 1:
            return False
        self._ticks.pop()
        for r, it in zip(self.runs, self._ticks[-1][1]):
            r.sim.goto_iteration(it)
        return True

    def reset(self) -> None:
        """All three back to the start."""
        for r in self.runs:
            r.sim.reset()
        self._ticks = [(0.0, self._positions())]
