"""Run conditions (``run = "..."``) against the engine's plan, and the check of a whole lesson."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
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


def n_samples_of(scenario: Scenario) -> int:
    """N, the training samples of a scenario (the data are read only for a CSV, to know N)."""
    if scenario.is_csv:
        from ..simulation import check_scenario_with_data

        return check_scenario_with_data(scenario)[2].n_samples
    return scenario.samples


def plan_of(scenario: Scenario, start_epoch: int = 0) -> Plan:
    """The batch arithmetic of a scenario from ``start_epoch`` on, through
    :func:`engine.sampling.plan_for` (the one place a Scenario becomes a Plan)."""
    from ..sampling import plan_for

    return plan_for(scenario, n_samples_of(scenario), start_epoch)


@dataclass
class Cursor:
    """Where a lesson's run is, followed from slide to slide without running it (the counters of
    :class:`engine.simulation.Simulation`, from its plan arithmetic): the segment in force (its
    plan and where it began) and the iteration and step now. ``known`` is False after a
    ``loss`` condition (the position is then known only to lie before the end)."""

    scenario: Scenario
    plan: Plan
    start_iteration: int = 0
    start_step: int = 0
    start_epoch: int = 0
    iteration: int = 0
    step: int = 0
    known: bool = True

    @classmethod
    def fresh(cls, scenario: Scenario) -> Cursor:
        return cls(scenario, plan_of(scenario))

    def target(self, cond: RunCondition) -> int | None:
        """The global iteration ``cond`` stops at (None: a loss, or unknown). Raises Unreachable."""
        if not self.known:
            if cond.kind in ("epoch", "pass"):
                return None
            run_target(cond, self.plan, self.start_iteration, self.start_step, start_iteration=self.start_iteration,
                       start_step=self.start_step, start_epoch=self.start_epoch)
            return None
        return run_target(cond, self.plan, self.iteration, self.step, start_iteration=self.start_iteration,
                          start_step=self.start_step, start_epoch=self.start_epoch)

    def run(self, cond: RunCondition) -> None:
        """Move to where ``cond`` stops (unknown after a loss condition)."""
        target = self.target(cond)
        if target is None:
            self.known = False
            return
        self.iteration = target
        self.step = self.start_step + steps_after(self.plan, target - self.start_iteration)

    def next_segment_epoch(self) -> int:
        """The 0-based epoch a live change made now starts (Simulation._next_segment_epoch: the
        epoch in progress restarts; at an epoch boundary the next one begins)."""
        local = self.iteration - self.start_iteration
        if local == 0:
            epoch, batch, batches = self.start_epoch + 1, 0, self.plan.epoch_iterations(0)
        else:
            pos = self.plan.locate(local - 1)
            epoch = self.start_epoch + pos.epoch + 1
            batch, batches = pos.batch_in_epoch + 1, self.plan.epoch_iterations(pos.epoch)
        at_boundary = self.iteration == 0 or batch == batches
        return epoch if (at_boundary and self.iteration) else epoch - 1

    def change(self, scenario: Scenario) -> None:
        """A live change to ``scenario`` now: a new segment from the current iteration."""
        start_epoch = self.next_segment_epoch() if self.known else 0
        if start_epoch >= scenario.epochs:
            raise Unreachable(f"the run is already in epoch {start_epoch + 1:,} of {scenario.epochs:,}")
        self.scenario = scenario
        self.plan = plan_of(scenario, start_epoch)
        self.start_iteration, self.start_step, self.start_epoch = self.iteration, self.step, start_epoch


def check_lesson(lesson: Lesson) -> Lesson:
    """Check every run condition against the plan of the scenario in force on its slide,
    following the counters from slide to slide as the directives move them (a fresh run starts
    at 0; a ``live`` change starts a new stretch of settings where the run is, as
    :meth:`engine.simulation.Simulation.apply_changes` does).

    After a ``loss`` condition the position is known only to lie before the end, so later
    conditions are checked against the end of the run alone. A run on a cloud slide runs the
    cloud (from the scenario's start), not the main run.
    """
    cursor: Cursor | None = None
    for slide in lesson.slides:
        try:
            if slide.fresh or cursor is None:
                cursor = Cursor.fresh(slide.scenario)
            if slide.live:
                try:
                    cursor.change(slide.scenario)
                except Unreachable as err:
                    raise LessonError(lesson.source, slide.live_line, f"live: cannot change the run: {err}") from None
        except ScenarioError as err:
            raise LessonError(lesson.source, slide.line, str(err)) from None
        cond = slide.run
        if cond is None:
            continue
        try:
            if slide.view == "cloud":
                if cond.kind not in ("epoch", "epoch_number", "end", "step"):
                    raise LessonError(lesson.source, cond.line, f"run = {cond.text!r}: the noise cloud runs "
                                      "to \"epoch\", \"epoch K\", \"step K\" or \"end\"")
                run_target(cond, plan_of(slide.scenario), 0, 0)
                continue
            cursor.run(cond)
        except Unreachable as err:
            raise LessonError(lesson.source, cond.line, f"run = {cond.text!r} can never be met: {err}") from None
    return lesson


def steps_after(plan: Plan, iterations: int) -> int:
    """Optimizer steps done after ``iterations`` iterations of ``plan`` (SCIENCE.md §1.2)."""
    if iterations >= plan.total_iterations:
        return plan.total_steps
    return plan.locate(iterations).step
