"""Snapshot tests of lesson slides (pytest-textual-snapshot): 80×24 is a first-class size.

* epochs-and-batches, slide 5 (N = 1000, B = 400: batches of 400, 400 and 200), after its run,
  with the first question revealed and the second still open (its answer masked), at 80×24 and
  120×40;
* at 80×24, every view a lesson opens: the lens (three-losses slide 2), the phase view
  (one-iteration slide 3), compare mode (gd-sgd-minibatch slide 6), the noise cloud
  (batch-size-and-noise slide 5) and the batch-size lab (batch-size-and-noise slide 10, its
  sweep finished), each with the lesson panel under it.

Taken as tests/test_snapshots.py takes the main screen: paused, no animation, plots drawn on
every change and everything settled at the end.
"""

from __future__ import annotations

import pytest

from mbsim.engine.lessons import load_lesson
from mbsim.tui.lesson_mode import LessonApp
from snapshot_helpers import settle_for_snapshot

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


async def _idle(pilot) -> None:  # noqa: ANN001
    app = pilot.app
    for _ in range(2400):
        await pilot.pause()
        screen = app.screen
        if not (app.running or app._lesson_run or app.busy or getattr(screen, "running", False)
                or getattr(screen, "busy", False)):
            return
        await pilot.pause(0.05)
    raise AssertionError("the slide did not settle")


def _to_slide(index: int, reveal: int = 0):  # noqa: ANN202
    async def run_before(pilot) -> None:  # noqa: ANN001
        await _idle(pilot)
        while pilot.app.index < index:
            await pilot.press("pagedown")
            await _idle(pilot)
        for _ in range(reveal):
            await pilot.press("enter")
            await pilot.pause()
        screen = pilot.app.screen
        if hasattr(screen, "settle"):
            screen.settle()
        await settle_for_snapshot(pilot)
        await _idle(pilot)
    return run_before


@pytest.mark.parametrize("size", list(SIZES))
def test_lesson_slide(snap_compare, size):
    app = LessonApp(load_lesson("epochs-and-batches"), animate=False, throttle=False, fast=True)
    assert snap_compare(app, terminal_size=SIZES[size], run_before=_to_slide(4, reveal=1))


VIEWS = {
    "lens": ("three-losses", 1),
    "phase": ("one-iteration", 2),
    "compare": ("gd-sgd-minibatch", 5),
    "cloud": ("batch-size-and-noise", 4),
    "lab": ("batch-size-and-noise", 9),
}


@pytest.mark.parametrize("view", list(VIEWS))
def test_lesson_view_80x24(snap_compare, view):
    name, index = VIEWS[view]
    app = LessonApp(load_lesson(name), animate=False, throttle=False, fast=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=_to_slide(index))
