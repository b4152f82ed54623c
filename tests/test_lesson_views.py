"""Every slide on its own state (issue 21, item 3), and the lesson panel under every view.

Every slide of every built-in lesson is played forward and then back with Pilot; on each, the
view the slide opens (main, compare, cloud, lab, lens, phase) must show that slide's settings:
the scenario the lesson file puts in force on the slide (engine.lessons: ``Slide.scenario``),
read back from what the view itself was built on and from the text its header shows. A view
opened on the previous slide's settings (the lab on slide 6's run, as batch-size-and-noise
slide 7 did) fails here.
"""

from __future__ import annotations

import asyncio

import pytest

from mbsim.engine.lessons import builtin_names, load_lesson
from mbsim.tui.lesson_mode import LessonApp
from mbsim.tui.lesson_views import LessonView
from mbsim.tui.screens.cloud import CloudScreen
from mbsim.tui.screens.compare import CompareScreen
from mbsim.tui.screens.lab import LabScreen
from mbsim.tui.widgets.lesson_panel import LessonPanel

import lesson_play
from lesson_play import lesson_params

VIEWS = {"compare": CompareScreen, "cloud": CloudScreen, "lab": LabScreen}


async def settle(pilot, timeout: float = 90.0) -> None:
    app = pilot.app
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if not app.running and not app._lesson_run and not app.busy and app.index >= 0:
            await pilot.pause()
            return
        await pilot.pause(0.02)
    raise AssertionError("the slide did not settle")


def check_slide(app, lesson, k: int) -> None:
    """The view of slide ``k`` (0-based) shows that slide's settings."""
    slide = lesson.slides[k]
    sc = slide.scenario.resolved(app.sim.dataset.task)      # the model and momentum chosen
    where = f"{lesson.source} slide {k + 1}"
    assert app.index == k, where
    assert app.sim.scenario == sc, f"{where}: the main run is on other settings"
    header = app.header.text
    assert f"B={sc.batch_size}" in header and sc.name in header, (where, header)
    view = VIEWS.get(slide.view or "")
    screen = app.screen
    if view is None:
        assert not isinstance(screen, (CompareScreen, CloudScreen, LabScreen)), f"{where}: {screen}"
        # the detail line's noise readout is this run's (a new run at the same counts as the
        # last one, after the lab, kept the old run's |G| and B_simple)
        app.detail.settle()
        assert app.detail._noise.grad_norm == app.sim.noise().grad_norm, where
        if slide.view == "lens":
            assert app.lens.display and not app.phase_view.display, where
        elif slide.view == "phase":
            assert app.phase_view.display, where
        elif slide.view == "main":
            assert not app.lens.display or app.sim.model.n_params == 1, where
            assert not app.phase_view.display, where
        return
    assert isinstance(screen, view) and isinstance(screen, LessonView), f"{where}: {screen}"
    assert screen.shown[0] == sc, f"{where}: the {slide.view} view was opened on other settings"
    panel = screen.query_one(LessonPanel)
    assert panel.border_title.endswith(f"Slide {k + 1}/{len(lesson.slides)}"), where
    assert panel.text == slide.text, where
    if view is CompareScreen:
        comp = screen.comp
        assert comp.runs[0].sim.dataset.n_samples == app.sim.dataset.n_samples, where
        assert sc.batch_size in comp.batch_sizes or screen.note, where
        assert sc.name in screen.header.text, (where, screen.header.text)
    elif view is CloudScreen:
        assert screen.ens.scenario.batch_size == sc.batch_size and screen.ens.scenario.lr == sc.lr, where
        assert screen.ens.runs == (slide.runs or 100), where
    else:
        assert screen.scenario == sc, where
        assert sc.name in screen._settings_text(), where


@lesson_play.register("views")
def _views_checker(lesson) -> lesson_play.Checker:  # noqa: ANN001
    def check(app, k: int, phase: str) -> None:  # noqa: ANN001
        if phase in ("forward", "back"):
            check_slide(app, lesson, k)
    return check


@pytest.mark.usefixtures("long_frames")         # the checks look at stopped slides only
@pytest.mark.parametrize("name", lesson_params(builtin_names()))
def test_every_slide_opens_on_its_own_settings_forward_and_back(name):
    """Played forward and back (the play is shared with test_lesson_mode: tests/lesson_play.py),
    each slide's view shows that slide's settings."""
    lesson_play.play(name, "views")


def test_a_compare_slide_keeps_its_text_and_questions_on_screen(tmp_path):
    """The slide's text under compare mode stays (not a popup); enter and t work there."""
    path = tmp_path / "c.md"
    path.write_text('+++\npreset = "worked-example"\n+++\n# Compare\nLook at the three runs.\n'
                    '```mbsim\nview = "compare"\n[[question]]\nask = "How many batches per epoch?"\n'
                    'answer = "plan.batches_per_pass"\n```\n---\n# Two\n```mbsim\nview = "compare"\n'
                    'batch_size = 10\n```\n', encoding="utf-8")
    lesson = load_lesson(str(path))
    app = LessonApp(lesson, animate=False, fast=True)

    async def main():
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for _ in range(20):                    # no timer: the text is there for good
                await pilot.pause(0.05)
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            panel = screen.query_one(LessonPanel)
            assert panel.text.startswith("# Compare") and "Look at the three runs." in panel.text
            assert "esc main screen" in panel.hint
            rows = "\n".join(s.text for s in screen.rows.render_lines(screen.rows.region.reset_offset))
            assert "0/40" not in rows and "Batch 0/?" in rows    # the open question's answer, masked
            await pilot.press("t", "3", "9", "enter")
            await pilot.pause()
            verdict = panel.questions[0].verdict   # the working, without its result
            assert verdict == "✗ not 39. N / B = 200 / 5 = ?" and not panel.questions[0].revealed
            await pilot.press("t", "4", "0", "enter")
            await pilot.pause()
            assert panel.questions[0].revealed and app.screen is screen
            await pilot.press("pagedown")                  # the next compare slide: B = 10
            await settle(pilot)
            assert isinstance(app.screen, CompareScreen) and app.screen is not screen
            assert app.screen.comp.batch_sizes[1] == 10

    asyncio.run(main())
