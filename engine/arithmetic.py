"""The batch arithmetic written out with numbers, for a teacher to read aloud (SCIENCE.md §1).

:func:`arithmetic_line` turns a :class:`~engine.sampling.Plan` into one line such as

    N = 200, B = 5 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · 40 × 1000 epochs = 40,000 steps

with the variants of SCIENCE.md §1: a short last batch (N − (M−1)·B), ``drop_last`` (⌊N/B⌋ and
N mod B samples left out), gradient accumulation (§1.2: iterations = K × steps, effective batch
K·B), ``steps_per_epoch`` with each ``epoch_end`` (§1.3) and sampling with replacement (§1.1: a
pass is N draws, and a sample is missed by all of them with probability (1 − 1/N)^N). Every
number is read from the plan; the symbols are the ones a student writes with a pencil. The
inputs (N, B, K, S, epochs) are written as typed, the results with thousands separators.
"""

from __future__ import annotations

from typing import Sequence

from .sampling import Plan

__all__ = ["arithmetic_line", "epoch_steps_text", "runs_text"]

SEP = " · "


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def runs_text(values: Sequence[int]) -> str:
    """``30 × 3, 10``: the values with runs of equal ones written as ``value × count``."""
    runs: list[list[int]] = []
    for v in values:
        if runs and runs[-1][0] == v:
            runs[-1][1] += 1
        else:
            runs.append([v, 1])
    return ", ".join(f"{v:,}" if c == 1 else f"{v:,} × {c:,}" for v, c in runs)


def epoch_steps_text(plan: Plan, word: str = "steps", list_up_to: int = 8) -> str:
    """The steps of every epoch and their sum: ``30, 30, 30, 10, 30 = 130 steps``.

    Up to ``list_up_to`` epochs are listed one by one; a longer run is written with run
    lengths from the plan's repeating pattern (:meth:`Plan.epoch_pattern`), e.g.
    ``(30 × 3, 10) × 25 = 2,500 steps`` or ``20 × 100 = 2,000 steps``.
    """
    cycle, repeats, tail = plan.epoch_pattern()
    total = f" = {plan.total_steps:,} {word}"
    if plan.epochs <= list_up_to:
        listed = list(cycle) * repeats + list(tail)
        return ", ".join(f"{v:,}" for v in listed) + total
    if len(set(cycle)) == 1:
        return f"{cycle[0]:,} × {plan.epochs:,}" + total
    parts = []
    if repeats == 1:
        parts.append(runs_text(cycle))
    elif repeats > 1:
        parts.append(f"({runs_text(cycle)}) × {repeats:,}")
    if tail:
        parts.append(runs_text(tail))
    return ", ".join(parts) + total


def _batches(plan: Plan, unit: str) -> str:
    n, b, m = plan.n_samples, plan.batch_size, plan.batches_per_pass
    if plan.drop_last:
        left = plan.leftover
        note = "none left out" if left == 0 else f"{_plural(left, 'sample')} left out"
        return f"⌊{n}/{b}⌋ = {_plural(m, 'batch', 'batches')} per {unit} ({note})"
    return f"⌈{n}/{b}⌉ = {_plural(m, 'batch', 'batches')} per {unit} (last one {plan.last_batch_size:,})"


def _effective(plan: Plan) -> str:
    return f"effective batch {plan.accumulate} × {plan.batch_size} = {plan.effective_batch:,}"


def _passes(plan: Plan) -> str:
    p = plan.passes
    if float(p).is_integer():
        return _plural(int(p), "pass", "passes")
    return f"{p:,.4g} passes"


def arithmetic_line(plan: Plan, *, remaining: bool = False) -> str:
    """The plan's batch arithmetic as one line of numbers (see the module docstring).

    ``remaining``: the plan took force during the run (a live change of settings), so its
    epochs are the epochs left: written "× 996 epochs left = 24,900 steps".

    Examples (SCIENCE.md §1's worked numbers):

    * ``N = 200, B = 5 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · 40 × 1000 epochs = 40,000 steps``
    * ``N = 50000, B = 64, drop_last → ⌊50000/64⌋ = 781 batches per epoch (16 samples left out) · …``
    """
    n, b, k, m, e = plan.n_samples, plan.batch_size, plan.accumulate, plan.batches_per_pass, plan.epochs
    e = f"{e} epochs left" if remaining else f"{e} epochs"
    s = plan.steps_per_epoch
    unit = "epoch" if s is None else "pass"
    inputs = f"N = {n}, B = {b}"
    if k > 1:
        inputs += f", K = {k}"
    if plan.drop_last:
        inputs += ", drop_last"
    if plan.sampling == "replacement":
        inputs += f", with replacement ({'an epoch' if s is None else 'a pass'} is {n} draws)"
    parts = [f"{inputs} → {_batches(plan, unit)}"]
    if s is None:
        if k > 1:
            text = f"⌈{m:,}/{k}⌉ = {_plural(plan.steps_per_epoch_count, 'step')} per epoch"
            if m % k:
                text += f" (the last of only {_plural(m % k, 'micro-batch', 'micro-batches')})"
            parts.append(f"{text}, {_effective(plan)}")
        total = f"{plan.steps_per_epoch_count:,} × {e} = {_plural(plan.total_steps, 'step')}"
        if k > 1:
            total += f" ({plan.total_iterations:,} iterations)"
        parts.append(total)
    else:
        if k > 1:
            parts.append(_effective(plan))
        if plan.epoch_end == "continue":
            parts.append(f"steps_per_epoch = {s}, continue: {s} × {e} = "
                         f"{_plural(plan.total_steps, 'step')} ({_passes(plan)})")
        elif plan.epoch_end == "cut":
            parts.append(f"steps_per_epoch = {s}, cut where a pass runs out: "
                         f"{epoch_steps_text(plan, 'steps')}")
        else:  # restart
            asked = f"{s}" if k == 1 else f"{s}·{k}"
            length = plan.iterations_per_epoch
            text = f"steps_per_epoch = {s}, restart: a fresh pass each epoch, min({asked}, {m:,}) = "
            if k == 1:
                text += f"{_plural(length, 'step')} per epoch"
            else:
                text += (f"{length:,} iterations, ⌈{length:,}/{k}⌉ = "
                         f"{_plural(plan.steps_per_epoch_count, 'step')} per epoch")
            parts.append(text)
            parts.append(f"{plan.steps_per_epoch_count:,} × {e} = {_plural(plan.total_steps, 'step')}")
        if k > 1:
            parts[-1] += f" ({plan.total_iterations:,} iterations)"
    if plan.sampling == "replacement":
        missed = (1.0 - 1.0 / n) ** n
        parts.append(f"each {unit} misses about (1 − 1/{n})^{n} ≈ {missed:.1%} of the samples")
    return SEP.join(parts)
