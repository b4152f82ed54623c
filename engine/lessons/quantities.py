"""Named quantities: the only answers a question may have, read from a live simulation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ..simulation import Simulation


@dataclass(frozen=True)
class Quantity:
    """A named engine quantity: what it means and how to read it from a simulation."""

    name: str
    description: str
    read: Callable[[Simulation], Any]


def _plan(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.plan, attr)


def _counter(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.counters(), attr)


def _noise(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.noise(), attr)


def _fpc(sim: Simulation) -> float:
    from ..noise import fpc_factor

    return fpc_factor(sim.plan.n_samples, sim.plan.effective_batch)


def _least_squares(sim: Simulation) -> Any:
    """θ* minimising the mean squared error of a linear model (normal equations)."""
    import numpy as np

    if sim.scenario.model != "linear":
        raise ValueError("fit.minimum needs a linear model")
    X = sim.X
    if sim.scenario.bias:
        X = np.column_stack([X, np.ones(len(X))])
    theta, *_ = np.linalg.lstsq(X, sim.y, rcond=None)
    return [float(t) for t in theta]


def _excess_loss(sim: Simulation) -> float:
    """L(θ) − L(θ*): how far the training loss sits above its minimum (linear models)."""
    import numpy as np

    theta = np.asarray(_least_squares(sim))
    return float(sim.train_loss - sim.model.loss(theta, sim.X, sim.y))


def _sample_minima(sim: Simulation) -> Any:
    """Where each sample's own loss (w·x_i − y_i)² is lowest: w = y_i / x_i (one weight, no bias)."""
    if sim.scenario.model != "linear" or sim.scenario.bias or sim.X.shape[1] != 1:
        raise ValueError("fit.sample_minima needs a linear model with one weight and no bias")
    return [float(y / x) for x, y in zip(sim.X[:, 0], sim.y)]


def _distinct(sim: Simulation) -> int:
    order = sim.order
    return 0 if order is None else len(set(order.tolist()))


def _unused(sim: Simulation) -> int:
    order = sim.order
    return sim.plan.n_samples - (0 if order is None else len(set(order.tolist())))


def _last(attr: str) -> Callable[[Simulation], Any]:
    def read(sim: Simulation) -> Any:
        last = sim.last
        if last is None:
            raise ValueError("no iteration has run yet")
        value = getattr(last, attr)
        return value.tolist() if hasattr(value, "tolist") else value

    return read


_Q = [
    ("plan.n_samples", "N, the training samples", _plan("n_samples")),
    ("plan.batch_size", "B, samples per (micro-)batch", _plan("batch_size")),
    ("plan.batches_per_pass", "M, batches in one pass over the data: ⌈N/B⌉ (⌊N/B⌋ with drop_last)",
     _plan("batches_per_pass")),
    ("plan.batch_sizes", "the sizes of the batches of one pass, in order", lambda s: list(s.plan.batch_sizes)),
    ("plan.last_batch_size", "the size of the last batch of a pass: N − (M−1)·B when it is short",
     _plan("last_batch_size")),
    ("plan.leftover", "samples left out of every pass by drop_last (N mod B)", _plan("leftover")),
    ("plan.iterations_per_epoch", "iterations (forward + backward passes) per epoch", _plan("iterations_per_epoch")),
    ("plan.steps_per_epoch", "optimizer steps (updates) per epoch", _plan("steps_per_epoch_count")),
    ("plan.accumulate", "K, micro-batches accumulated into one step", _plan("accumulate")),
    ("plan.effective_batch", "samples behind one update: K·B", _plan("effective_batch")),
    ("plan.epochs", "epochs of the run (from the last change of settings)", _plan("epochs")),
    ("plan.total_iterations", "iterations in the whole run", _plan("total_iterations")),
    ("plan.total_steps", "optimizer steps (updates) in the whole run", _plan("total_steps")),
    ("plan.total_samples", "samples that go through the model in the whole run (repeats counted)",
     _plan("total_samples")),
    ("plan.passes", "passes over the data in the whole run", _plan("passes")),
    ("plan.algorithm", "the algorithm's name: Batch GD, SGD or Mini-batch GD", _plan("algorithm")),
    ("sim.epoch", "the epoch counter now (1-based: the epoch of the latest batch)", _counter("epoch")),
    ("sim.batch", "batches done in the current epoch", _counter("batch")),
    ("sim.pass", "the pass over the data now (differs from the epoch with steps_per_epoch)",
     _counter("pass_number")),
    ("sim.iteration", "iterations done so far", lambda s: s.iteration),
    ("sim.step", "optimizer steps (updates) done so far", lambda s: s.step),
    ("sim.samples", "samples seen so far (repeats counted)", lambda s: s.samples_seen),
    ("sim.train_loss", "the full training-set loss at the current parameters", lambda s: s.train_loss),
    ("sim.val_loss", "the validation loss at the current parameters", lambda s: s.val_loss),
    ("sim.epoch_loss", "Keras' running mean of the batch losses over the epoch", lambda s: s.epoch_loss),
    ("sim.accuracy", "the training accuracy (classification only)", lambda s: s.accuracy()),
    ("sim.params", "the current parameters θ", lambda s: s.params.tolist()),
    ("sim.lr", "the learning rate in force", lambda s: s.scenario.lr),
    ("last.batch_loss", "the loss of the last batch, before its update", _last("batch_loss")),
    ("last.grad", "ĝ, the mean gradient of the last batch", _last("grad")),
    ("last.update", "θ_new − θ_old of the last iteration", _last("update")),
    ("last.indices", "the sample indices of the last batch", _last("indices")),
    ("order.distinct", "different samples in this pass's order", _distinct),
    ("order.unused", "samples that this pass's order never uses (with replacement: N − distinct)", _unused),
    ("noise.grad_norm", "|G|, the norm of the full gradient", _noise("grad_norm")),
    ("noise.batch_grad_norm", "|ĝ|, the norm of the current batch's gradient", _noise("batch_grad_norm")),
    ("noise.cosine", "cos(ĝ, G): how well the batch gradient points along the full gradient", _noise("cosine")),
    ("noise.trace_sigma", "tr Σ, the per-sample gradient variance (divisor N)", _noise("trace_sigma")),
    ("noise.trace_cov", "tr Cov[ĝ] = (N−B)/(B(N−1)) · tr Σ, without replacement", _noise("trace_cov")),
    ("noise.trace_cov_replacement", "tr Cov[ĝ] = tr Σ / B, with replacement", _noise("trace_cov_replacement")),
    ("noise.fpc", "the finite population factor (N−B)/(B(N−1))", _fpc),
    ("noise.b_simple", "B_simple = tr Σ / |G|², the simple noise scale", _noise("b_simple")),
    ("noise.lr_over_batch", "η/B: the noise floor of constant-step SGD grows with it",
     lambda s: s.scenario.lr / s.plan.effective_batch),
    ("fit.minimum", "θ* that minimises the mean training loss (linear models)", _least_squares),
    ("fit.excess_loss", "L(θ) − L(θ*): the training loss above its minimum (linear models)", _excess_loss),
    ("fit.sample_minima", "where each sample's own loss is lowest: w = y_i / x_i", _sample_minima),
]
QUANTITIES: dict[str, Quantity] = {name: Quantity(name, desc, read) for name, desc, read in _Q}


def quantity_value(name: str, sim: Simulation) -> Any:
    """The value of a named quantity now (a number, a name or a list of numbers)."""
    return QUANTITIES[name].read(sim)


def format_quantity(value: Any) -> str:
    """A quantity for a person: 40,000 · 0.5 · 400, 400, 200 · Mini-batch GD."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return format_quantity(value[0])
        return ", ".join(format_quantity(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
        return f"{int(value):,}"
    if isinstance(value, float) or hasattr(value, "dtype"):
        v = float(value)
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(value)
