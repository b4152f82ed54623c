"""The counting quantities: the batch arithmetic (``plan.*``), the counters (``sim.*``), the last
batch (``last.*``) and this pass's order (``order.*``), with their workings in the students'
words (SCIENCE.md §1: M = ⌈N/B⌉, ⌊N/B⌋ with drop_last, the last batch N − (M−1)·B, steps of K
micro-batches, steps_per_epoch and what the end of a pass does)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .quantities import Quantity, Working
from .words import number, vector, with_unit

if TYPE_CHECKING:
    from ..sampling import Plan
    from ..simulation import Simulation


def _plan(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.plan, attr)


def _counter(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.counters(), attr)


def _epoch_word(plan: Plan) -> str:
    """What one pass of batches is, in words: "per epoch", or "per pass over the data" when
    steps_per_epoch makes an epoch something else."""
    return "per epoch" if plan.steps_per_epoch is None else "per pass over the data"


# --- the batch arithmetic ---------------------------------------------------------------------
def _work_batches(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    n, b = p.n_samples, p.batch_size
    where = _epoch_word(p)
    if p.sampling == "replacement":
        return Working(f"⌈N / B⌉ = ⌈{n:,} / {b:,}⌉ (N draws with replacement)", note=f" {where}")
    if n % b == 0:
        return Working(f"N / B = {n:,} / {b:,}", note=f" {where}")
    if p.drop_last:
        return Working(f"⌊N / B⌋ = ⌊{n:,} / {b:,}⌋ = ⌊{n / b:.4g}⌋",
                       note=f" {where}: drop_last drops the short one")
    return Working(f"⌈N / B⌉ = ⌈{n:,} / {b:,}⌉ = ⌈{n / b:.4g}⌉",
                   note=f" {where}, the last one short")


def _work_batch_sizes(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    sizes = list(value)
    if len(sizes) <= 8:
        return Working(f"filled to B = {p.batch_size:,}, the rest in the last", ": ",
                       f" (sum {sum(sizes):,} = N)")
    return Working(f"every batch is filled to B = {p.batch_size:,}", ": ")


def _work_last_batch(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    n, b, m = p.n_samples, p.batch_size, p.batches_per_pass
    if p.drop_last or n % b == 0:
        why = "drop_last keeps only full batches" if p.drop_last and n % b else f"B = {b:,} divides N = {n:,}"
        return Working(f"{why}: a full batch of B", " = ")
    return Working(f"N − (M − 1) × B = {n:,} − {m - 1:,} × {b:,}")


def _work_leftover(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    n, b, m = p.n_samples, p.batch_size, p.batches_per_pass
    if not p.drop_last:
        return Working("without drop_last every sample is in a batch", ": ")
    return Working(f"N − M × B = {n:,} − {m:,} × {b:,}", note=" sit out each epoch (N mod B)")


def _work_iterations_per_epoch(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    if p.steps_per_epoch is None:
        return Working(f"one iteration per batch, {with_unit(p.batches_per_pass, 'batches')}", " → ", " per epoch")
    s, k = p.steps_per_epoch, p.accumulate
    if k == 1:
        return Working(f"S = {s:,} steps of one batch each", " → ", " per epoch")
    return Working(f"S × K = {s:,} × {k:,}", note=" per epoch")


def _steps_per_epoch(sim: Simulation) -> int:
    return sim.plan.steps_per_epoch_count


def _work_steps_per_epoch(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    m, k = p.batches_per_pass, p.accumulate
    if p.steps_per_epoch is not None:
        if p.uneven_epochs:
            return Working(f"steps_per_epoch: S = {p.steps_per_epoch:,} (an epoch ends early when the "
                           "pass runs out)", ": ", " in a full epoch")
        return Working(f"steps_per_epoch: S = {p.steps_per_epoch:,}", ": ", " per epoch")
    if k == 1:
        return Working(f"one step per batch, {with_unit(m, 'batches')}", " → ", " per epoch")
    if m % k == 0:
        return Working(f"M / K = {m:,} / {k:,}", note=" per epoch")
    return Working(f"⌈M / K⌉ = ⌈{m:,} / {k:,}⌉", note=f" per epoch, the last from {m % k} micro-batches")


def _pattern(p: Plan, unit: str, per_epoch: int, total: int) -> Working:
    cycle, repeats, tail = p.epoch_pattern()
    if len(cycle) == 1 or not p.uneven_epochs:
        return Working(f"{per_epoch:,} {unit} per epoch × {p.epochs:,} epochs")
    shown = " + ".join(f"{c:,}" for c in cycle)
    how = f"every {len(cycle)} epochs make one pass: {shown} = {sum(cycle):,} steps; {repeats:,} × {sum(cycle):,}"
    if tail:
        how += " + " + " + ".join(f"{c:,}" for c in tail)
    return Working(how)


def _work_total_steps(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    return _pattern(p, "steps", p.steps_per_epoch_count, value)


def _work_total_iterations(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    if p.uneven_epochs:
        return Working(f"the iterations of the {p.epochs:,} epochs added up", ": ")
    return Working(f"{p.iterations_per_epoch:,} iterations per epoch × {p.epochs:,} epochs")


def _work_algorithm(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    b, n = p.effective_batch, p.n_samples
    if b >= n:
        return Working(f"B = N = {n:,}: every step uses the whole training set", " → ")
    if b == 1:
        return Working("B = 1: every step uses one sample", " → ")
    return Working(f"1 < B = {b:,} < N = {n:,}: every step uses a batch of the data", " → ")


ALGORITHM_NAMES: dict[str, tuple[str, ...]] = {
    "Batch GD": ("batch gd", "batch gradient descent", "full-batch gd", "full batch gd",
                 "full-batch gradient descent", "full batch gradient descent", "gd", "gradient descent",
                 "bgd", "batch"),
    "SGD": ("sgd", "stochastic gradient descent", "stochastic gd", "online gradient descent",
            "online learning", "stochastic"),
    "Mini-batch GD": ("mini-batch gd", "minibatch gd", "mini batch gd", "mini-batch gradient descent",
                      "minibatch gradient descent", "mini batch gradient descent", "mini-batch sgd",
                      "minibatch sgd", "mini-batch", "minibatch", "mini batch", "mbgd"),
}


# --- the counters -----------------------------------------------------------------------------
def _work_step(sim: Simulation, value: Any) -> Working:
    k = sim.plan.accumulate
    it = sim.iteration
    if k == 1 and sim.plan.steps_per_epoch is None:
        return Working(f"one step per iteration: {with_unit(it, 'iterations')}", " → ")
    if k > 1:
        return Working(f"a step after every K = {k} micro-batches: {with_unit(it, 'iterations')}", " → ")
    return Working("the step counter reads", " ")


def _work_iteration(sim: Simulation, value: Any) -> Working:
    k = sim.plan.accumulate
    if k > 1 and sim.step:
        return Working(f"K = {k} micro-batches per step, {with_unit(sim.step, 'steps')} done", " → ")
    return Working("the iteration counter reads", " ")


def _work_epoch(sim: Simulation, value: Any) -> Working:
    c = sim.counters()
    return Working(f"the counters read Epoch {c.epoch:,}/{c.epochs:,}, Batch {c.batch:,}/{c.batches:,}: "
                   "the epoch of the latest batch is", " ")


def _work_pass(sim: Simulation, value: Any) -> Working:
    p = sim.plan
    return Working(f"a pass is M = {p.batches_per_pass:,} batches and the latest batch is batch "
                   f"{sim.iteration:,} of the run: it belongs to pass", " ")


def _work_samples(sim: Simulation, value: Any) -> Working:
    return Working(f"{sim.iteration:,} batches went through the model, repeats counted", ": ")


def _accuracy(sim: Simulation) -> Any:
    return sim.accuracy()


def _work_accuracy(sim: Simulation, value: Any) -> Working | None:
    if value is None:
        return None
    n = sim.plan.n_samples
    right = round(float(value) * n)
    return Working(f"{right:,} of the {n:,} training samples on the right side: {right:,} / {n:,}")


def _work_train_loss(sim: Simulation, value: Any) -> Working:
    return Working(f"the mean loss over all N = {sim.plan.n_samples:,} training samples at the current "
                   "parameters", ": ")


def _work_val_loss(sim: Simulation, value: Any) -> Working:
    return Working("the mean loss over the held-out validation samples at the current parameters", ": ")


def _work_epoch_loss(sim: Simulation, value: Any) -> Working:
    return Working("the mean of this epoch's batch losses so far, weighted by batch size (what Keras "
                   "prints)", ": ")


def _params(sim: Simulation) -> Any:
    return sim.params.tolist()


def _work_params(sim: Simulation, value: Any) -> Working:
    return Working("the parameters now", ": ")


# --- the last batch ---------------------------------------------------------------------------
def _last(attr: str) -> Callable[[Simulation], Any]:
    def read(sim: Simulation) -> Any:
        last = sim.last
        if last is None:
            raise ValueError("no batch has run yet")
        value = getattr(last, attr)
        return value.tolist() if hasattr(value, "tolist") else value

    return read


def _work_batch_loss(sim: Simulation, value: Any) -> Working:
    last = sim.last
    n = len(last.indices) if last is not None else 0
    return Working(f"the mean loss over the {n:,} samples of the last batch, before its update", ": ")


def _work_grad(sim: Simulation, value: Any) -> Working:
    last = sim.last
    n = len(last.indices) if last is not None else 0
    return Working(f"ĝ, the mean of the {n:,} per-sample gradients of the last batch", ": ")


def _work_update(sim: Simulation, value: Any) -> Working:
    last = sim.last
    sc = sim.scenario
    if last is not None and last.grad is not None and sc.optimizer == "sgd" and not (sc.momentum or 0) \
            and not (sc.weight_decay or 0) and last.micro_count == 1:
        names = sim.model.param_names
        return Working(f"θ_new − θ_old = −η · ĝ = −{number(last.lr)} × {vector(list(last.grad))}", " = ",
                       f" for ({', '.join(names)})" if len(names) > 1 else "", bare=True)
    return Working("θ_new − θ_old, the optimizer's step", ": ")


def _step_length(sim: Simulation) -> float:
    last = sim.last
    if last is None:
        raise ValueError("no batch has run yet")
    return float(sum(float(u) * float(u) for u in last.update) ** 0.5)


def _work_indices(sim: Simulation, value: Any) -> Working:
    return Working("the last batch took", " ")


# --- this pass's order ------------------------------------------------------------------------
def _distinct(sim: Simulation) -> int:
    order = sim.order
    return 0 if order is None else len(set(order.tolist()))


def _unused(sim: Simulation) -> int:
    return sim.plan.n_samples - _distinct(sim)


def _work_distinct(sim: Simulation, value: Any) -> Working:
    n = sim.plan.n_samples
    draws = 0 if sim.order is None else len(sim.order)
    return Working(f"the {draws:,} draws of this pass reached", " ", f" of the N = {n:,}")


def _work_unused(sim: Simulation, value: Any) -> Working:
    n = sim.plan.n_samples
    return Working(f"N − different samples drawn = {n:,} − {_distinct(sim):,}",
                   note=f" never drawn (about N/e ≈ {n / 2.718281828459045:.0f} expected)")


def _q(name: str, description: str, read: Callable[[Any], Any], label: str, unit: str = "",
       kind: str = "number", work: Callable[[Any, Any], Working | None] | None = None,
       **kw: Any) -> Quantity:
    return Quantity(name, description, read, label, unit, kind, "sim", work, **kw)


def _names(table: dict[str, tuple[str, ...]]) -> Callable[[Any], dict[str, tuple[str, ...]]]:
    return lambda source: table


COUNTING: list[Quantity] = [
    _q("plan.n_samples", "N, the training samples", _plan("n_samples"), "N, the training samples", "samples",
       "count", lambda s, v: Working("N", " = ")),
    _q("plan.batch_size", "B, samples per (micro-)batch", _plan("batch_size"), "the batch size B", "samples",
       "count", lambda s, v: Working("B", " = ", " per batch")),
    _q("plan.batches_per_pass", "M, batches in one pass over the data: ⌈N/B⌉ (⌊N/B⌋ with drop_last)",
       _plan("batches_per_pass"), "batches per epoch", "batches", "count", _work_batches),
    _q("plan.batch_sizes", "the sizes of the batches of one pass, in order", lambda s: list(s.plan.batch_sizes),
       "the batch sizes of one epoch", "", "list", _work_batch_sizes),
    _q("plan.last_batch_size", "the size of the last batch of a pass: N − (M−1)·B when it is short",
       _plan("last_batch_size"), "the size of the last batch", "samples", "count", _work_last_batch),
    _q("plan.leftover", "samples left out of every pass by drop_last (N mod B)", _plan("leftover"),
       "samples left out of each epoch", "samples", "count", _work_leftover),
    _q("plan.samples_per_pass", "samples used in one pass over the data: N − leftover", _plan("samples_per_pass"),
       "samples in one pass over the data", "samples", "count",
       lambda s, v: Working(f"N − samples left out = {s.plan.n_samples:,} − {s.plan.leftover:,}") if s.plan.leftover
       else Working("no sample is left out: all N", " = ")),
    _q("plan.iterations_per_epoch", "iterations (forward + backward passes) per epoch",
       _plan("iterations_per_epoch"), "iterations per epoch", "iterations", "count", _work_iterations_per_epoch),
    _q("plan.steps_per_epoch", "optimizer steps (updates) per epoch", _steps_per_epoch, "steps per epoch",
       "steps", "count", _work_steps_per_epoch),
    _q("plan.accumulate", "K, micro-batches accumulated into one step", _plan("accumulate"),
       "micro-batches per step K", "micro-batches", "count", lambda s, v: Working("K", " = ", " per step")),
    _q("plan.effective_batch", "samples behind one update: K·B", _plan("effective_batch"),
       "samples behind one step", "samples", "count",
       lambda s, v: Working(f"K × B = {s.plan.accumulate:,} × {s.plan.batch_size:,}", note=" per step")),
    _q("plan.epochs", "epochs of the run (from the last change of settings)", _plan("epochs"), "epochs of the run",
       "epochs", "count", lambda s, v: Working("the run is set to", " ")),
    _q("plan.total_iterations", "iterations in the whole run", _plan("total_iterations"),
       "iterations in the whole run", "iterations", "count", _work_total_iterations),
    _q("plan.total_steps", "optimizer steps (updates) in the whole run", _plan("total_steps"),
       "steps in the whole run", "steps", "count", _work_total_steps),
    _q("plan.total_samples", "samples that go through the model in the whole run (repeats counted)",
       _plan("total_samples"), "samples through the model in the whole run", "samples", "count",
       lambda s, v: Working(f"{s.plan.samples_per_pass:,} samples per pass × {number(s.plan.passes)} passes")),
    _q("plan.passes", "passes over the data in the whole run", _plan("passes"), "passes over the data",
       "passes", "number", lambda s, v: Working("the whole run makes", " ")),
    _q("plan.algorithm", "the algorithm's name: Batch GD, SGD or Mini-batch GD", _plan("algorithm"),
       "the algorithm", "", "name", _work_algorithm, names=_names(ALGORITHM_NAMES)),
    _q("sim.epoch", "the epoch counter now (1-based: the epoch of the latest batch)", _counter("epoch"),
       "the epoch now", "", "count", _work_epoch),
    _q("sim.batch", "batches done in the current epoch", _counter("batch"), "batches done in this epoch",
       "batches", "count", lambda s, v: Working(f"the counters read Batch {v:,}/{s.counters().batches:,}:", " ")),
    _q("sim.pass", "the pass over the data now (differs from the epoch with steps_per_epoch)",
       _counter("pass_number"), "the pass over the data of the latest batch", "", "count", _work_pass),
    _q("sim.iteration", "iterations done so far", lambda s: s.iteration, "iterations done", "iterations", "count",
       _work_iteration),
    _q("sim.step", "optimizer steps (updates) done so far", lambda s: s.step, "steps done", "steps", "count",
       _work_step),
    _q("sim.samples", "samples seen so far (repeats counted)", lambda s: s.samples_seen, "samples seen",
       "samples", "count", _work_samples),
    _q("sim.train_loss", "the full training-set loss at the current parameters", lambda s: s.train_loss,
       "the training loss", "", "number", _work_train_loss),
    _q("sim.val_loss", "the validation loss at the current parameters", lambda s: s.val_loss,
       "the validation loss", "", "number", _work_val_loss),
    _q("sim.epoch_loss", "Keras' running mean of the batch losses over the epoch", lambda s: s.epoch_loss,
       "the epoch's running loss", "", "number", _work_epoch_loss),
    _q("sim.accuracy", "the training accuracy (classification only)", _accuracy, "the training accuracy", "",
       "percent", _work_accuracy),
    _q("sim.params", "the current parameters θ", _params, "the parameters", "θ", "vector", _work_params),
    _q("sim.lr", "the learning rate in force", lambda s: s.scenario.lr, "the learning rate η", "", "number",
       lambda s, v: Working("η", " = ")),
    _q("last.batch_loss", "the loss of the last batch, before its update", _last("batch_loss"),
       "the last batch's loss", "", "number", _work_batch_loss),
    _q("last.grad", "ĝ, the mean gradient of the last batch", _last("grad"), "the last batch's gradient ĝ",
       "θ", "vector", _work_grad),
    _q("last.update", "θ_new − θ_old of the last iteration", _last("update"), "the last update", "θ", "vector",
       _work_update),
    _q("last.step_length", "|θ_new − θ_old|, the length of the last update", _step_length,
       "the length of the last step", "", "number",
       lambda s, v: Working("|θ_new − θ_old|, how far the last step moved the parameters", ": ")),
    _q("last.indices", "the sample indices of the last batch (numbered from 0)", _last("indices"),
       "the samples of the last batch", "", "indices", _work_indices),
    _q("order.distinct", "different samples in this pass's order", _distinct, "different samples drawn",
       "samples", "count", _work_distinct),
    _q("order.unused", "samples that this pass's order never uses (with replacement: N − distinct)", _unused,
       "samples never drawn", "samples", "count", _work_unused),
]

