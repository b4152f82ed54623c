"""Run conditions (``run = "..."``) against the engine's plan, and the check of a whole lesson."""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Any

from ..errors import ScenarioError, format_value
from ..scenario import Scenario
from .model import RUN_FORMS, Lesson, LessonError, RunCondition

if TYPE_CHECKING:
    from ..sampling import Plan


class Unreachable(ValueError):
    """A run condition that can never be met from where the run is."""


def parse_run(text: Any, line: int) -> RunCondition:
    """``"epoch"``, ``"pass"``, ``"end"``, ``"step K"``, ``"iteration K"``, ``"epoch K"``, ``"loss X"``."""
    if not isinstance(text, str):
        raise ValueError(f"run = {format_value(text)}: must be text, one of {', '.join(RUN_FORMS)}")
    words = text.split()
    if len(words) == 1 and words[0] in ("epoch", "pass", "end"):
        return RunCondition(words[0], None, text, line)
    if len(words) == 2 and words[0] in ("step", "iteration", "epoch"):
        try:
            k = int(words[1].replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"run = {text!r}: {words[0]} needs a whole number, e.g. \"{words[0]} 40\"") from None
        if k < 1:
            raise ValueError(f"run = {text!r}: {words[0]} must be at least 1")
        return RunCondition("epoch_number" if words[0] == "epoch" else words[0], k, text, line)
    if len(words) == 2 and words[0] == "loss":
        try:
            x = float(words[1])
        except ValueError:
            raise ValueError(f"run = {text!r}: loss needs a number, e.g. \"loss 0.1\"") from None
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"run = {text!r}: the loss must be a finite number above 0")
        return RunCondition("loss", x, text, line)
    close = difflib.get_close_matches(words[0] if words else "", ["epoch", "pass", "end", "step", "iteration", "loss"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"run = {text!r}: allowed: {', '.join(RUN_FORMS)}{hint}")


def run_target(cond: RunCondition, plan: Plan, iteration: int, step: int, *, start_iteration: int = 0,
               start_step: int = 0, start_epoch: int = 0) -> int | None:
    """The global iteration at which ``cond`` is met, for a run at ``iteration``/``step`` whose
    settings (``plan``) took force at ``start_iteration``/``start_step``/``start_epoch``.

    None for a loss condition (known only by running). Raises :class:`Unreachable` when the
    condition is already behind or beyond the end of the run. SCIENCE.md §1: an epoch is
    ``plan.iterations_per_epoch`` iterations, a pass ``plan.batches_per_pass``; without
    steps_per_epoch step s of an epoch ends after min(s·K, M) of its iterations.
    """
    local = iteration - start_iteration
    total = plan.total_iterations
    ipe, m, k = plan.iterations_per_epoch, plan.batches_per_pass, plan.accumulate
    if local >= total and cond.kind != "loss":
        raise Unreachable(f"the run is already finished (iteration {iteration:,} of {start_iteration + total:,})")
    kind, v = cond.kind, cond.value
    if kind == "loss":
        return None
    if kind == "end":
        target = total
    elif kind == "epoch":
        epoch = plan.locate(local).epoch
        target = plan.epoch_start(epoch) + plan.epoch_iterations(epoch)
    elif kind == "pass":
        per_pass = plan.batches_per_pass if plan.continues else (plan.iterations_per_pass or m)
        target = min((local // per_pass + 1) * per_pass, total)
    elif kind == "epoch_number":
        last_epoch = start_epoch + plan.epochs
        if v > last_epoch:
            raise Unreachable(f"the run has only {last_epoch:,} epochs (plan.epochs)")
        target = plan.epoch_start(v - start_epoch) if v > start_epoch else 0
        if target <= local:
            raise Unreachable(f"epoch {v:,} is already complete (the run is at iteration {iteration:,})")
    elif kind == "iteration":
        target = v - start_iteration
        if target > total:
            raise Unreachable(f"the run has only {start_iteration + total:,} iterations (plan.total_iterations)")
        if target <= local:
            raise Unreachable(f"the run is already at iteration {iteration:,}")
    else:  # step: after the last micro-batch of local step s (steps grow with the iterations)
        s = v - start_step
        if s > plan.total_steps:
            raise Unreachable(f"the run has only {start_step + plan.total_steps:,} steps (plan.total_steps)")
        if v <= step:
            raise Unreachable(f"the run is already at step {step:,}")
        low, high = 0, total - 1        # the last iteration whose step index is s − 1
        while low < high:
            mid = (low + high + 1) // 2
            if plan.locate(mid).step <= s - 1:
                low = mid
            else:
                high = mid - 1
        target = low + 1
    return start_iteration + target


def plan_of(scenario: Scenario) -> Plan:
    """The batch arithmetic of a scenario (the data are read only for a CSV, to know N)."""
    from ..sampling import make_plan

    if scenario.is_csv:
        from ..simulation import Simulation

        return Simulation(scenario).plan
    return make_plan(scenario.samples, scenario.batch_size, drop_last=scenario.drop_last,
                     accumulate=scenario.accumulate, steps_per_epoch=scenario.steps_per_epoch_or_none,
                     epochs=scenario.epochs)


def check_lesson(lesson: Lesson) -> Lesson:
    """Check every run condition against the plan of the scenario in force on its slide,
    following the counters from slide to slide as the directives move them.

    After a ``loss`` condition the position is known only to lie before the end, so later
    conditions are checked against the end of the run alone.
    """
    iteration = step = 0
    known = True
    plan = None
    for slide in lesson.slides:
        if slide.fresh or plan is None:
            try:
                plan = plan_of(slide.scenario)
            except ScenarioError as err:
                raise LessonError(lesson.source, slide.line, str(err)) from None
            if slide.fresh:
                iteration = step = 0
                known = True
        cond = slide.run
        if cond is None:
            continue
        try:
            if known:
                target = run_target(cond, plan, iteration, step)
            else:
                target = run_target(cond, plan, 0, 0) if cond.kind not in ("epoch", "pass") else None
        except Unreachable as err:
            raise LessonError(lesson.source, cond.line, f"run = {cond.text!r} can never be met: {err}") from None
        if target is None or not known:
            known = False
            continue
        iteration = target
        step = _steps_after(plan, target)
    return lesson


def _steps_after(plan: Plan, iterations: int) -> int:
    """Optimizer steps done after ``iterations`` iterations (SCIENCE.md §1.2)."""
    if iterations >= plan.total_iterations:
        return plan.total_steps
    return plan.locate(iterations).step
