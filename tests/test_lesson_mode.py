"""Lesson mode, driven as a teacher would with Pilot: every built-in lesson from the first slide
to the last and back, the counters on every slide checked against an independent model of the
batch arithmetic (M = ⌈N/B⌉ etc. written out here), exact rewind (bit-equal parameters), the
keys a slide forbids, questions revealed and typed, the views.

Nothing is timed: a slide's run is waited for until it has stopped.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from mbsim.engine.lessons import builtin_names, load_lesson
from mbsim.engine.scenario import Scenario
from mbsim.tui.lesson_mode import LessonApp
from mbsim.tui.screens.compare import CompareScreen

import lesson_play
from lesson_play import lesson_params
from pilot_helpers import wait_for_notification


# ------------------------------------------------------------------------------------------------
# an independent model of where a slide's directives leave the counters (SCIENCE.md §1)
class Arithmetic:
    """The batch arithmetic of one scenario, from N, B, K, S, E alone."""

    def __init__(self, sc: Scenario) -> None:
        self.n, self.b, self.k, self.s, self.e = sc.samples, sc.batch_size, sc.accumulate, sc.steps_per_epoch, sc.epochs
        self.m = self.n // self.b if sc.drop_last else math.ceil(self.n / self.b)
        self.used = self.m * self.b if sc.drop_last else self.n        # samples per pass
        self.ipe = self.s * self.k if self.s else self.m               # iterations per epoch
        self.spe = self.s if self.s else math.ceil(self.m / self.k)    # steps per epoch
        # Keras "cut" (SCIENCE.md §1.3): a pass is q epochs, the last one the remainder
        self.cut = bool(self.s) and sc.epoch_end == "cut"
        if self.cut:
            self.q = math.ceil(self.m / self.ipe)
            self.lengths = [self.ipe] * (self.q - 1) + [self.m - (self.q - 1) * self.ipe]

    def epoch_end(self, e: int) -> int:
        """The iteration at which 1-based epoch ``e`` ends."""
        if not self.cut:
            return e * self.ipe
        p, r = divmod(e, self.q)
        return p * self.m + sum(self.lengths[:r])

    def where(self, it: int) -> tuple[int, int, int]:
        """(1-based epoch, batches done in it, its length) after ``it`` iterations."""
        if it == 0:
            return 1, 0, self.lengths[0] if self.cut else self.ipe
        e = 1
        while self.epoch_end(e) < it:
            e += 1
        length = self.epoch_end(e) - self.epoch_end(e - 1)
        return e, it - self.epoch_end(e - 1), length

    def steps(self, it: int) -> int:
        if self.cut:  # K = 1 in the lessons that cut: a step per iteration
            assert self.k == 1
            return it
        if self.s:
            return it // self.k
        e, r = divmod(it, self.m)
        return e * self.spe + (self.spe if r == self.m else r // self.k)

    def samples(self, it: int) -> int:
        p, r = divmod(it, self.m)
        return p * self.used + r * self.b       # r < M: only full batches

    def step_end(self, s: int) -> int:
        if self.s:
            return s * self.k
        e, g = divmod(s - 1, self.spe)
        return e * self.m + min((g + 1) * self.k, self.m)

    def after(self, run, it: int) -> int:
        """The iteration a run condition stops at, from iteration ``it``."""
        kind, v = run.kind, run.value
        return {
            "epoch": lambda: self.epoch_end(self.where(it + 1)[0]),
            "pass": lambda: (it // self.m + 1) * self.m,
            "end": lambda: self.epoch_end(self.e),
            "epoch_number": lambda: self.epoch_end(v),
            "iteration": lambda: v,
            "step": lambda: self.step_end(v),
        }[kind]()

    def counters(self, it: int) -> str:
        epoch, batch, length = self.where(it)
        return (f"Epoch {epoch}/{self.e}  Batch {batch}/{length}  Iteration {it}  "
                f"Step {self.steps(it)}  Samples {self.samples(it)}")


class Segmented:
    """A run whose settings change live (``[live]``): each change starts a new stretch of the
    batch arithmetic where the run is, keeping the counters; the epoch in progress restarts (at
    an epoch boundary the next one begins). A run of the cloud view leaves the main run alone."""

    def __init__(self, sc: Scenario) -> None:
        self.arith, self.it0, self.step0, self.samples0, self.epoch0, self.it = Arithmetic(sc), 0, 0, 0, 0, 0

    def change(self, sc: Scenario) -> None:
        local = self.it - self.it0
        epoch, batch, length = self.arith.where(local)
        done = self.epoch0 + (epoch if local and batch == length else epoch - 1)
        self.step0 += self.arith.steps(local)
        self.samples0 += self.arith.samples(local)
        self.it0, self.epoch0 = self.it, done
        self.arith = Arithmetic(sc)
        self.arith.e = sc.epochs - done       # the plan counts the epochs left; the counter all of them
        self.total = sc.epochs

    def run(self, cond) -> None:
        kind, v = cond.kind, cond.value
        if kind == "iteration":            # the counters count from the start, the stretch from its own
            self.it = v
        elif kind == "epoch_number":
            self.it = self.it0 + self.arith.epoch_end(v - self.epoch0)
        elif kind == "step":
            self.it = self.it0 + self.arith.step_end(v - self.step0)
        else:
            self.it = self.it0 + self.arith.after(cond, self.it - self.it0)

    def counters(self) -> str:
        local = self.it - self.it0
        epoch, batch, length = self.arith.where(local)
        total = getattr(self, "total", self.arith.e)
        return (f"Epoch {self.epoch0 + epoch}/{total}  Batch {batch}/{length}  Iteration {self.it}  "
                f"Step {self.step0 + self.arith.steps(local)}  Samples {self.samples0 + self.arith.samples(local)}")


def expected_counters(lesson) -> list[str]:
    """The counters on each slide once its run is done, if nobody presses a key."""
    out = []
    run = Segmented(lesson.start)
    for slide in lesson.slides:
        if slide.fresh:
            run = Segmented(slide.scenario)
        if slide.live:
            run.change(slide.scenario)
        if slide.run is not None and slide.view != "cloud":
            assert slide.run.kind != "loss"  # the built-ins stop at counters, which can be predicted
            run.run(slide.run)
        out.append(run.counters())
    return out


def test_the_independent_model_agrees_with_the_seeds_numbers():
    a = Arithmetic(Scenario(samples=1000, batch_size=400))
    assert (a.m, a.counters(3)) == (3, "Epoch 1/1000  Batch 3/3  Iteration 3  Step 3  Samples 1000")
    a = Arithmetic(Scenario(samples=50_000, batch_size=64))
    assert a.m == 782
    a = Arithmetic(Scenario(samples=256, batch_size=8, accumulate=3))
    assert (a.spe, a.steps(32), a.step_end(12)) == (11, 11, 35)
    # Keras 3.15, arrays: N=1000, B=10, S=30, cut → 30, 30, 30, 10, 30 steps
    a = Arithmetic(Scenario(samples=1000, batch_size=10, steps_per_epoch=30, epoch_end="cut", epochs=5))
    assert [a.epoch_end(e) for e in range(1, 6)] == [30, 60, 90, 100, 130]
    assert a.counters(100) == "Epoch 4/5  Batch 10/10  Iteration 100  Step 100  Samples 1000"


# ------------------------------------------------------------------------------------------------
def drive(app, script, size=(120, 40), notifications=False):
    """Run ``await script(pilot)`` in ``app.run_test`` (``notifications``: show the toasts,
    which Textual leaves out of tests unless asked)."""
    async def main():
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await settle(pilot)
            await script(pilot)

    asyncio.run(main())


async def settle(pilot, timeout: float = 60.0):
    """Wait until the slide's run (if any) has stopped and the panels are idle."""
    app = pilot.app
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if not app.running and not app._lesson_run and not app.busy and app.index >= 0:
            return
        await pilot.pause(0.02)
    raise AssertionError("the slide's run did not stop")


@lesson_play.register("counters")
def _counters_checker(lesson) -> lesson_play.Checker:  # noqa: ANN001
    expected = expected_counters(lesson)
    n = len(lesson.slides)
    seen_start, seen_end = {}, {}

    def check(app, k: int, phase: str) -> None:  # noqa: ANN001
        if phase == "forward":
            assert app.index == k
            assert app.sim.counters().text() == expected[k], f"slide {k + 1}"
            assert f"Slide {k + 1}/{n}" in app.panel.hint and app.panel.border_title.endswith(f"Slide {k + 1}/{n}")
            seen_start[k] = app.starts[k].params.copy()
            seen_end[k] = app.sim.params.copy()
        elif phase == "past_end":                # PageDown past the last slide: nothing happens
            assert app.index == n - 1
        elif phase == "back":
            assert app.index == k
            assert app.sim.counters().text() == expected[k], f"back on slide {k + 1}"
            # exactly the state the slide began in, then its directives again: bit-equal
            assert np.array_equal(app.starts[k].params, seen_start[k])
            assert np.array_equal(app.sim.params, seen_end[k])
        elif not any(s.live for s in lesson.slides):
            # the engine's rewind is exact; a [live] change at a slide's first iteration leaves
            # that start (and the earlier ones on the same run) to a replay of the directives
            assert app.rebuilt == 0
    return check


@pytest.mark.usefixtures("long_frames")         # the checks look at stopped slides only
@pytest.mark.parametrize("name", lesson_params(builtin_names()))
def test_play_every_lesson_forward_and_back(name):
    """Every slide forward, one PageDown past the last, every slide back (the play is shared
    with test_lesson_views: tests/lesson_play.py): the counters as the independent model says,
    and going back gives each slide's start and end bit for bit."""
    lesson_play.play(name, "counters")


def test_a_slide_runs_at_its_speed_and_shows_what_it_does():
    lesson = load_lesson("epochs-and-batches")  # slide 6: N=1000, B=400, run to the epoch's end at 2/s
    app = LessonApp(lesson, animate=False)

    async def script(pilot):
        for _ in range(4):
            await pilot.press("full_stop")
            await settle(pilot)
        await pilot.press("pagedown")
        await pilot.pause()
        assert app._lesson_run and app.speed == 2
        assert "running to the end of this epoch" in app.panel.hint
        await settle(pilot)
        assert "done: ran to the end of this epoch" in app.panel.hint
        await settle(pilot)
        assert app.sim.counters().text() == "Epoch 1/300  Batch 3/3  Iteration 3  Step 3  Samples 1000"
        assert app.speed == 10   # the teacher's speed again
        # "How many steps does one epoch make?" is open: the arithmetic line would answer it
        assert app.panel.arithmetic == "N = 1000, B = 400 → the arithmetic shows once the question is answered"
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert "⌈1000/400⌉ = 3 batches per epoch (last one 200)" in app.panel.arithmetic

    drive(app, script)


def test_keys_the_slide_forbids_say_so_and_do_nothing():
    app = LessonApp(load_lesson("epochs-and-batches"), animate=False, fast=True)  # slide 1: n → ←

    async def script(pilot):
        await pilot.press("right_square_bracket", "e", "space")
        await pilot.pause()
        assert app.sim.counters().text().startswith("Epoch 1/1000  Batch 0/40  Iteration 0")
        assert app.sim.scenario.batch_size == 5 and not app.running
        await wait_for_notification(pilot, "not on this slide — it uses only n, →, ←")
        await pilot.press("n")
        await pilot.pause()
        assert app.sim.iteration == 1

    drive(app, script, notifications=True)


def test_questions_reveal_the_named_quantity_and_typed_answers_are_checked():
    app = LessonApp(load_lesson("epochs-and-batches"), animate=False, fast=True)

    async def script(pilot):
        await pilot.press("pagedown", "pagedown")      # slide 3: steps per epoch, in the run
        await settle(pilot)
        await pilot.press("t")
        await pilot.press(*"39", "enter")             # 200 / 5 = 40, so 39 is wrong
        await pilot.pause()
        q = app.panel.questions
        assert q[0].verdict.startswith("✗ not 39.") and not q[0].revealed
        assert "= 40" not in q[0].verdict and "?" in q[0].verdict     # the working, not the result
        await pilot.press("t", *"40", "enter")
        await pilot.pause()
        q = app.panel.questions
        assert q[0].revealed and q[0].verdict.startswith("✓ 40")
        await pilot.press("enter")                    # reveal the second: 40 × 1000
        await pilot.pause()
        q = app.panel.questions
        assert q[1].revealed and q[1].answer == "40 steps per epoch × 1,000 epochs = 40,000 steps"
        await pilot.press("enter")
        await pilot.pause()
        await wait_for_notification(pilot, "no question left")

    drive(app, script, notifications=True)


def test_views_open_and_close_with_the_slides():
    app = LessonApp(load_lesson("gd-sgd-minibatch"), animate=False, fast=True)

    async def script(pilot):
        for _ in range(5):
            await pilot.press("pagedown")
            await settle(pilot)
        assert isinstance(app.screen, CompareScreen)             # slide 6: compare mode
        await pilot.press("pagedown")                            # slide 7: view = "main"
        await settle(pilot)
        assert not isinstance(app.screen, CompareScreen) and app.index == 6
        assert app.query_one("#detail").has_class("-lesson-highlight")
        await pilot.press("pageup")                              # back into compare mode
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen) and app.index == 5

    drive(app, script)
    app = LessonApp(load_lesson("three-losses"), animate=False, fast=True)

    async def lens(pilot):
        assert app.lens.display and not app.phase_view.display
        assert app.query_one("#lens").has_class("-lesson-highlight")

    drive(app, lens)


def test_going_back_after_the_teacher_stepped_restores_the_slides_start():
    app = LessonApp(load_lesson("epochs-and-batches"), animate=False, fast=True)

    async def script(pilot):
        await pilot.press("pagedown")                            # slide 2: one batch
        await settle(pilot)
        after_slide_2 = app.sim.params.copy()
        await pilot.press("n", "n", "n")                         # the teacher steps on
        await pilot.pause()
        stepped = app.sim.params.copy()
        await pilot.press("pagedown")                            # slide 3: to the epoch's end
        await settle(pilot)
        assert app.starts[2].iteration == 4 and np.array_equal(app.starts[2].params, stepped)
        assert app.sim.iteration == 40
        await pilot.press("pageup")                              # slide 2 again: its start, its run
        await settle(pilot)
        assert app.sim.iteration == 1 and np.array_equal(app.sim.params, after_slide_2)
        await pilot.press("pageup")                              # slide 1 began before any work
        await settle(pilot)
        assert app.sim.iteration == 0 and np.array_equal(app.sim.params, app.sim.initial_params)

    drive(app, script)


def test_a_lesson_slide_that_cannot_load_keeps_the_screen(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(20)), encoding="utf-8")
    path = tmp_path / "l.md"
    path.write_text(f'# One\n---\n# Two\n```mbsim\ndataset = "csv:{csv}"\nval_samples = 5\nbatch_size = 4\n```\n', encoding="utf-8")
    lesson = load_lesson(str(path))
    csv.unlink()                                                # gone between --check and class
    app = LessonApp(lesson, animate=False, fast=True)

    async def script(pilot):
        await pilot.press("pagedown")
        await settle(pilot)
        assert app.index == 0 and app.sim.scenario.dataset == "line"
        await wait_for_notification(pilot, ":3: ", severity="error")

    drive(app, script, notifications=True)


def test_automatic_pauses_and_a_loss_condition(tmp_path):
    path = tmp_path / "pauses.md"
    path.write_text(
        '# Steps\n```mbsim\npreset = "accumulate"\npause = "step"\n```\n---\n'
        '# Passes\n```mbsim\npreset = "steps-per-epoch"\npause = "pass"\n```\n---\n'
        '# Loss\n```mbsim\npreset = "worked-example"\nrun = "loss 0.2"\n```\n', encoding="utf-8")
    lesson = load_lesson(str(path))
    # where the loss first drops below 0.2, by stepping a plain simulation one iteration at a time
    from mbsim.engine.simulation import Simulation

    sim = Simulation(lesson.slides[2].scenario)
    while not sim.train_loss < 0.2:
        sim.run_iterations(1)
    loss_iteration = sim.iteration
    app = LessonApp(lesson, animate=False, fast=True)

    async def script(pilot):
        app.speed = None                        # space runs flat out: only the pauses stop it
        await pilot.press("space")
        await settle(pilot)
        assert (app.sim.iteration, app.sim.step) == (4, 1)          # K = 4 micro-batches per step
        assert "paused at a step" in app.panel.hint
        await pilot.press("space")
        await settle(pilot)
        assert (app.sim.iteration, app.sim.step) == (8, 2)
        await pilot.press("pagedown")
        await settle(pilot)
        app.speed = None
        await pilot.press("space")
        await settle(pilot)
        assert app.sim.iteration == 100                             # ⌈1000/10⌉ batches per pass
        assert app.sim.counters().pass_number == 1 and app.sim.counters().epoch == 5
        await pilot.press("pagedown")
        await settle(pilot)
        assert app.sim.iteration == loss_iteration and app.sim.train_loss < 0.2

    drive(app, script)


def test_slide_keys_wait_while_help_or_settings_are_open():
    app = LessonApp(load_lesson("why-shuffle"), animate=False, fast=True)

    async def script(pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        await pilot.press("pagedown")
        await pilot.pause()
        assert app.index == 0
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("pagedown")
        await settle(pilot)
        assert app.index == 1 and app.sim.iteration == 10

    drive(app, script)
