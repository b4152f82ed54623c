"""What a run starts from: the checks of a scenario against its data, the generator, the data,
the resolved scenario and the model (one place, so a Simulation, an Ensemble and ``mbsim plan``
refuse the same scenarios with the same messages)."""

from __future__ import annotations

import dataclasses
import math
import os
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from .datasets import Dataset, make_dataset
from .errors import ScenarioError
from .history import MAX_PARAMS
from .models import Model, make_model
from .plan import Plan
from .scenario import Scenario


@dataclass(frozen=True)
class TrainingData:
    """The arrays every run of one data set reads: training (``X``, ``y``), training and
    validation stacked (``X_all``, ``y_all``: one forward pass evaluates both), ``n`` training
    samples first."""

    X: np.ndarray
    y: np.ndarray
    X_all: np.ndarray
    y_all: np.ndarray
    n: int

    @property
    def has_val(self) -> bool:
        return len(self.y_all) > self.n

    @classmethod
    def of(cls, ds: Dataset) -> TrainingData:
        """The arrays of ``ds``, made once per data set (every run of it shares them)."""
        made = ds.__dict__.get("_training")
        if made is not None:
            return made
        has_val = len(ds.y_val) > 0
        X_all = np.vstack([ds.X, ds.X_val]) if has_val else ds.X
        y_all = np.concatenate([ds.y, ds.y_val]) if has_val else ds.y
        for a in (X_all, y_all):
            a.flags.writeable = False
        made = cls(ds.X, ds.y, X_all, y_all, ds.n_samples)
        object.__setattr__(ds, "_training", made)
        return made


#: The data sets alive now, by what makes them (:func:`_data_key`): the runs of one data set
#: (the main screen's, compare mode's three, the noise cloud's, the lab's) share its arrays
#: instead of drawing N samples again each (issue 24: compare mode at N = 10⁶ held three
#: copies). A data set is dropped with its last run (weak references).
_ALIVE: weakref.WeakValueDictionary[tuple, Dataset] = weakref.WeakValueDictionary()


def _data_key(scenario: Scenario) -> tuple | None:
    """What the data of ``scenario`` depend on: the generator's settings and seed, or for a
    CSV file its path and identity (device, inode, size, modification time); None when the
    file cannot be looked at (then it is read as usual, and says why)."""
    fields: tuple[Any, ...] = (scenario.dataset, scenario.samples, scenario.val_samples, scenario.noise,
                               scenario.positive_fraction, scenario.sort_by_class, scenario.target,
                               scenario.standardize, scenario.seed)
    if scenario.is_csv:
        try:
            st = os.stat(scenario.dataset.split(":", 1)[1])
        except (OSError, ValueError):
            return None
        fields += (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return fields


def shared_dataset(scenario: Scenario, rng: np.random.Generator) -> Dataset:
    """The data of ``scenario`` drawn from ``rng`` (seeded with the scenario's seed), or the
    same data set already made for another run, ``rng`` then set to the state the drawing
    would have left it in (the initial parameters and the orders follow from it unchanged)."""
    key = _data_key(scenario)
    ds = _ALIVE.get(key) if key is not None else None
    if ds is not None:
        rng.bit_generator.state = ds.__dict__["_rng_after"]
        return ds
    ds = make_dataset(
        scenario.dataset, scenario.samples, scenario.val_samples, scenario.noise, rng,
        positive_fraction=scenario.positive_fraction, sort_by_class=scenario.sort_by_class,
        target=scenario.target or None, standardize=scenario.standardize,
    )
    ds = _stacked(ds)
    if key is not None:
        object.__setattr__(ds, "_rng_after", rng.bit_generator.state)
        _ALIVE[key] = ds
    return ds


def _stacked(ds: Dataset) -> Dataset:
    """``ds`` with its training and validation arrays as the two parts of one stacked pair
    (X_all, y_all: what one forward pass evaluates), so the data are held once, not twice."""
    if not len(ds.y_val):
        return ds
    n = ds.n_samples
    X_all, y_all = np.vstack([ds.X, ds.X_val]), np.concatenate([ds.y, ds.y_val])
    for a in (X_all, y_all):
        a.flags.writeable = False
    out = dataclasses.replace(ds, X=X_all[:n], y=y_all[:n], X_val=X_all[n:], y_val=y_all[n:])
    object.__setattr__(out, "_training", TrainingData(out.X, out.y, X_all, y_all, n))
    return out


def prepare(scenario: Scenario) -> tuple[np.random.Generator, Dataset, Scenario, Model]:
    """The checks and the pieces a run starts from: the generator (seeded), the data, the
    resolved scenario and the model."""
    scenario.validate()
    rng = np.random.default_rng(scenario.seed)
    ds = shared_dataset(scenario, rng)
    if scenario.is_csv:
        scenario = scenario.replace(samples=ds.n_samples, val_samples=len(ds.y_val))
        scenario.check_batch_size(ds.n_samples)
        if scenario.sampling == "stratified" and ds.task != "classification":
            raise ScenarioError("sampling", "stratified", "needs 0/1 targets; this CSV is a regression task")
        if scenario.model == "logistic" and ds.task != "classification":
            raise ScenarioError("model", "logistic", "needs 0/1 targets; this CSV is a regression task")
    sc = scenario.resolved(ds.task)
    check_model_size(sc, ds)
    model = make_model(
        sc.model, ds.n_features, ds.task, hidden=sc.hidden, activation=sc.activation, bias=sc.bias
    )
    return rng, ds, sc, model


def check_scenario_with_data(scenario: Scenario) -> tuple[Scenario, Plan, Dataset]:
    """Everything ``Simulation(scenario)`` checks, without training state: the resolved
    scenario, the plan and the data (:func:`engine.checks.check_scenario` uses it for CSV
    data, so plan and run refuse the same scenarios). Raises :class:`ScenarioError` like the
    Simulation would."""
    from .segment import make_segment

    rng, ds, sc, model = prepare(scenario)
    segment = make_segment(sc, ds, 0, 0, 0)
    if scenario.is_csv:  # generated data are always of moderate size; a file's may not be
        initial_loss(model, model.init_params(rng), ds)
    return sc, segment.plan, ds


def initial_loss(model: Model, init: np.ndarray, ds: Dataset) -> float:
    """The initial training loss; refused when it is already not finite (values too large)."""
    with np.errstate(all="ignore"):
        loss = model.loss(init, ds.X, ds.y)
    if not math.isfinite(loss):
        raise ScenarioError(
            "dataset", ds.name,
            f"the initial training loss is already {loss} before any step: the values are too "
            "large for the model; rescale them (e.g. --standardize) or use smaller values")
    return loss


def check_model_size(sc: Scenario, ds: Dataset) -> None:
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
