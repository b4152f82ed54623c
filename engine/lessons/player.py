"""Playing a lesson headless: each slide's directives applied to a real simulation, as the app
applies them (a fresh run, a live change, the slide's run to its condition), so that claims can
be checked and answers read at the end of every slide without a screen.

:func:`play` yields each slide's end state; :func:`check_claims` evaluates every ``[[claim]]``
(``mbsim lesson --check`` of a lesson with claims) and raises :class:`LessonError` at the first
one that does not hold; :func:`values_at` gives the ``quantity@N`` values a question reads.
Deterministic: the same lesson gives the same numbers on every machine (one seed per run).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from .conditions import Unreachable, run_target
from .context import Context
from .expressions import Comparison, Number, Read, evaluate, holds, reads, render, tolerance_text
from .model import Lesson, LessonError, RunCondition, Slide
from .quantities import QUANTITIES
from .words import signed

if TYPE_CHECKING:
    from ..simulation import Simulation

_references: OrderedDict[tuple[str, str], dict[tuple[str, int], Any]] = OrderedDict()
_references_lock = threading.Lock()      # one computation per lesson: a second caller waits for it


@dataclass
class SlideEnd:
    """A slide's state after its directives (the simulation is shared: read it before the next)."""

    slide: Slide
    sim: Simulation
    context: Context


def context_of(slide: Slide, sim: Simulation) -> Context:
    """What the slide's quantities read: its simulation, its cloud (K runs, run to the slide's
    condition when the slide opens the cloud view) and its lab."""
    return Context(sim, cloud_runs=slide.runs, cloud_run=slide.run if slide.view == "cloud" else None)


def run_to(sim: Simulation, cond: RunCondition) -> None:
    """Run ``sim`` until ``cond`` is met, as the app's slide run does (nothing if it cannot be)."""
    seg = sim.segment
    try:
        target = run_target(cond, sim.plan, sim.iteration, sim.step, start_iteration=seg.start_iteration,
                            start_step=seg.start_step, start_epoch=seg.start_epoch)
    except Unreachable:
        return
    if target is None:
        while not sim.done and not sim.train_loss < cond.value:
            sim.run_iterations(1)
    else:
        sim.run_iterations(target - sim.iteration)


def apply_slide(slide: Slide, sim: Simulation) -> Simulation:
    """The simulation after ``slide``'s directives, from ``sim`` (a new one for a fresh run,
    evaluating as ``sim`` does: its :class:`~engine.rules.EvalPolicy`)."""
    from ..simulation import Simulation

    if slide.fresh:
        sim = Simulation(slide.scenario, eval_policy=sim.eval_policy)
    if slide.live:
        sim.apply_changes(**dict(slide.live))
    if slide.run is not None and slide.view not in ("cloud", "lab", "compare"):
        run_to(sim, slide.run)
    return sim


def play(lesson: Lesson, upto: int | None = None) -> Iterator[SlideEnd]:
    """Each slide's end state in order (the first ``upto`` slides)."""
    from ..simulation import Simulation

    sim = Simulation(lesson.start)
    for slide in lesson.slides[:upto]:
        sim = apply_slide(slide, sim)
        yield SlideEnd(slide, sim, context_of(slide, sim))


def read(name: str, context: Context) -> Any:
    """A named quantity from a slide's context (ValueError when it is not known there)."""
    q = QUANTITIES[name]
    return q.read(context.source(q.source))


def _wanted(lesson: Lesson) -> dict[int, set[str]]:
    """slide number → the quantities some claim or answer reads there with @N."""
    want: dict[int, set[str]] = {}
    for slide in lesson.slides:
        exprs = [c.expr for c in slide.claims] + [q.expr for q in slide.questions if q.expr is not None]
        for expr in exprs:
            for r in reads(expr):
                if r.slide is not None:
                    want.setdefault(r.slide, set()).add(r.name)
    return want


def values_at(lesson: Lesson) -> dict[tuple[str, int], Any]:
    """Every ``quantity@N`` the lesson's claims and answers read: (name, N) → value at the end
    of slide N (headless; cached per lesson; thread-safe, so the app can compute it in the
    background when a lesson opens). An unknown value is stored as its ValueError."""
    with _references_lock:
        return _values_at(lesson)


def has_references(lesson: Lesson) -> bool:
    """Does some claim or answer read ``quantity@N`` (so :func:`values_at` has work to do)?"""
    return bool(_wanted(lesson))


def _values_at(lesson: Lesson) -> dict[tuple[str, int], Any]:
    key = (lesson.source, lesson.text)
    hit = _references.get(key)
    if hit is not None:
        _references.move_to_end(key)
        return hit
    want = _wanted(lesson)
    values: dict[tuple[str, int], Any] = {}
    if want:
        for end in play(lesson, max(want)):
            for name in want.get(end.slide.number, ()):
                try:
                    values[(name, end.slide.number)] = read(name, end.context)
                except (ValueError, ArithmeticError) as err:
                    values[(name, end.slide.number)] = ValueError(str(err))
    _references[key] = values
    while len(_references) > 8:
        _references.popitem(last=False)
    return values


def label(r: Read) -> str:
    """A quantity as students read it: "the training loss", "the training loss (slide 4)"."""
    text = QUANTITIES[r.name].label
    return text if r.slide is None else f"{text} (slide {r.slide})"


def resolver(context: Context, refs: dict[tuple[str, int], Any]):  # noqa: ANN201
    """value_of(Read) for :func:`engine.lessons.expressions.evaluate`: here from the context,
    @N from ``refs``."""
    def value_of(r: Read) -> Any:
        if r.slide is None:
            return read(r.name, context)
        v = refs.get((r.name, r.slide))
        if isinstance(v, ValueError):
            raise v
        if v is None:
            raise ValueError(f"{r.name}@{r.slide} was not computed")
        return v

    return value_of


def explain_comparison(claim: Comparison, value_of: Any) -> tuple[bool, str]:
    """(holds, the comparison in words with its numbers): "the training loss = 0.4743, the
    training loss (slide 4) = 0.5224: is 0.4743 < 0.5224? yes"."""
    left, right = evaluate(claim.left, value_of), evaluate(claim.right, value_of)
    ok = holds(claim, left, right)
    a, b = signed(left), signed(right)
    sides = [f"{render(side, label)} = {shown}" for side, shown in ((claim.left, a), (claim.right, b))
             if not isinstance(side, Number)]          # a plain number is not "0.001 = 0.001"
    text = (f"{', '.join(sides)}: " if sides else "") + \
        f"is {a} {claim.op} {b}{tolerance_text(claim)}? {'yes' if ok else 'no'}"
    return ok, text


def check_claims(lesson: Lesson) -> float:
    """Play the lesson headless and check every claim at the end of its slide; the seconds it
    took. Raises :class:`LessonError` (FILE:LINE of the claim) at the first that does not hold."""
    t0 = time.process_time()
    if not lesson.claims:
        return 0.0
    refs = values_at(lesson)
    last = max(s.number for s in lesson.slides if s.claims)
    for end in play(lesson, last):
        for claim in end.slide.claims:
            try:
                ok, text = explain_comparison(claim.expr, resolver(end.context, refs))
            except (ValueError, ArithmeticError) as err:
                raise LessonError(lesson.source, claim.line, f"claim {claim.that!r} cannot be checked: {err}") from None
            if not ok:
                why = f" (the slide says: {claim.why})" if claim.why else ""
                raise LessonError(lesson.source, claim.line, f"claim {claim.that!r} does not hold: {text}{why}")
    return time.process_time() - t0
