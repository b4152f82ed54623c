"""What a question or a claim reads its quantities from: the simulation now, and on demand the
noise cloud and the batch-size lab run on the simulation's scenario, exactly as the app's views
run them (same members, same seeds, same defaults), so an answer matches what the view shows.

The cloud is :meth:`engine.ensemble.Ensemble.seeds` of K runs (default 100, the cloud view's)
from the scenario's start, run to the slide's condition (:func:`cloud_goal`, in steps, the
cloud's tick); the lab is :class:`engine.lab.Lab` with the lab screen's defaults (8 runs per
batch size, the lr tuned per batch size). Both are cached per scenario and condition.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .model import DEFAULT_CLOUD_RUNS, RunCondition

if TYPE_CHECKING:
    from ..cloud import NoiseFloor
    from ..ensemble import Ensemble
    from ..sampling import Plan
    from ..simulation import Simulation

CACHE_SIZE = 8
_clouds: OrderedDict[tuple, CloudRun] = OrderedDict()
_labs: OrderedDict[Any, Any] = OrderedDict()


@dataclass(frozen=True)
class CloudRun:
    """The noise cloud after its run: what the ``cloud.*`` quantities read."""

    runs: int
    epochs: int             # epochs complete
    steps: int              # steps done by each run
    lr: float
    batch: int              # B × accumulate
    spread: float           # measured tr Cov of the K parameter vectors
    excess_loss: float      # mean over the runs of L(θ) − L(θ*) (NaN unless least squares)
    floor: NoiseFloor | None
    note: str               # why there is no prediction ("" when there is one)


def cloud_goal(cond: RunCondition | None, plan: Plan) -> int:
    """The steps every run of the cloud makes for a slide's ``run`` condition (0 without one):
    ``epoch K`` (epoch K complete), ``end``, ``step K`` or ``epoch`` (the first epoch)."""
    if cond is None:
        return 0
    from .conditions import run_target, steps_after

    target = run_target(cond, plan, 0, 0)
    if target is None:
        raise ValueError(f"run = {cond.text!r}: the cloud runs to an epoch, a step or the end, not to a loss")
    return steps_after(plan, target)


def _evict(cache: OrderedDict, key: Any) -> None:
    cache.move_to_end(key)
    while len(cache) > CACHE_SIZE:
        cache.popitem(last=False)


def run_cloud(ens: Ensemble, goal: int) -> None:
    """Advance the cloud (aligned by steps) until every run has made ``goal`` steps."""
    while not ens.done and ens.target < goal:
        if ens.epoch_target() <= goal:
            ens.tick_epoch()
        else:
            ens.tick()


def cloud_run(sim: Simulation, runs: int = DEFAULT_CLOUD_RUNS, cond: RunCondition | None = None) -> CloudRun:
    """The noise cloud of ``runs`` runs on ``sim``'s scenario (from its start), run to ``cond``."""
    import numpy as np

    from ..ensemble import Ensemble

    scenario = sim.scenario
    goal = cloud_goal(cond, sim.plan)
    key = (scenario, runs, goal)
    hit = _clouds.get(key)
    if hit is not None:
        _evict(_clouds, key)
        return hit
    ens = Ensemble.seeds(scenario, runs, align="steps", band=False)
    run_cloud(ens, goal)
    c = ens.counters(0)
    epochs = c.epoch if c.batch == c.batches and ens.target > 0 else c.epoch - 1
    nf = ens.noise_floor(0)
    excess = math.nan
    if nf is not None:
        with np.errstate(all="ignore"):
            excess = float(np.mean(ens.train_loss - ens.model.loss(nf.theta_star, ens.X, ens.y)))
    note = ens.prediction_note()
    floor = ens.predicted_spread()
    sc = ens.scenario
    result = CloudRun(runs, int(epochs), int(ens.step[0]), float(sc.lr), sc.batch_size * sc.accumulate,
                      float(ens.spread()), excess, floor, note)
    _clouds[key] = result
    _evict(_clouds, key)
    return result


def lab_result(sim: Simulation) -> Any:
    """The batch-size lab on ``sim``'s scenario with the lab screen's defaults (a LabResult)."""
    from ..lab import DEFAULT_RUNS, Lab

    scenario = sim.scenario
    hit = _labs.get(scenario)
    if hit is not None:
        _evict(_labs, scenario)
        return hit
    lab = Lab(scenario, runs=DEFAULT_RUNS, lr_rule="tuned")
    lab.run()
    result = lab.result()
    _labs[scenario] = result
    _evict(_labs, scenario)
    return result


class Context:
    """The sources of a slide's quantities: ``sim``, and (computed when first read) the noise
    cloud of ``cloud_runs`` runs run to ``cloud_run``, and the lab."""

    def __init__(self, sim: Simulation, *, cloud_runs: int | None = None,
                 cloud_run: RunCondition | None = None) -> None:
        self.sim = sim
        self.cloud_runs = cloud_runs or DEFAULT_CLOUD_RUNS
        self.cloud_run = cloud_run

    def source(self, kind: str) -> Any:
        """The Simulation, the :class:`CloudRun` or the LabResult a quantity of ``kind`` reads."""
        if kind == "cloud":
            return cloud_run(self.sim, self.cloud_runs, self.cloud_run)
        if kind == "lab":
            return lab_result(self.sim)
        return self.sim
