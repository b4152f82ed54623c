"""The words for a run's settings and their changes, and the dry run of a live change: what the
live keys (:mod:`tui.live`) and the settings screen (:mod:`tui.screens.settings`) both say, in a
module each imports (issue 25: the two no longer import each other)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mbsim.engine import Simulation
    from mbsim.engine.sampling import Plan


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 batch``, ``25 batches``."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def algorithm_words(algorithm: str) -> str:
    """The algorithm's short name inside a sentence: "mini-batch GD", "batch GD", "SGD"."""
    return algorithm if algorithm == "SGD" else algorithm[:1].lower() + algorithm[1:]


def batching_summary(plan: Plan) -> str:
    """The batch arithmetic in a phrase: "25 batches per epoch, mini-batch GD"."""
    m = plan.batches_per_pass
    if plan.steps_per_epoch:
        parts = [f"{plural(plan.steps_per_epoch_count, 'step')} per epoch, {plural(m, 'batch', 'batches')} per pass"]
        if plan.epoch_end == "cut" and plan.uneven_epochs:
            parts[0] += f" (cut: the pass's last epoch {plural(plan.epoch_steps(plan.cycle_epochs - 1), 'step')})"
        elif plan.epoch_end == "restart":
            parts[0] += " (restart: a fresh pass every epoch)"
    else:
        text = f"{plural(m, 'batch', 'batches')} per epoch"
        if plan.leftover:
            text += f" ({plural(plan.leftover, 'sample')} left out)"
        elif plan.last_batch_size != plan.batch_size:
            text += f" (the last of {plan.last_batch_size})"
        parts = [text]
    if plan.accumulate > 1:
        parts.append(f"{plan.accumulate} per step (effective batch {plan.effective_batch})")
    parts.append(algorithm_words(plan.algorithm))
    return ", ".join(parts)


def fmt(value: Any) -> str:
    """A setting's value as the user would type it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "auto"
    return str(value)


def describe_changes(old: Any, changes: dict[str, Any], new: Any = None) -> str:
    """``batch_size 5 → 8, lr 0.05 → 0.1`` (``old`` is the scenario in force; ``new``, if given,
    the resolved scenario asked for, whose values replace automatic ones such as None)."""
    return ", ".join(
        f"{key} {fmt(getattr(old, key, None))} → {fmt(getattr(new, key) if new is not None else value)}"
        for key, value in changes.items()
    )


def check_live(sim: Simulation, changes: dict[str, Any]) -> None:
    """Raise the :class:`ScenarioError` that applying ``changes`` live now would meet (the
    engine's dry run, :meth:`Simulation.check_changes`)."""
    sim.check_changes(**changes)
