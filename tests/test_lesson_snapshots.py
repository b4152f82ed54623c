"""Snapshot tests of a lesson slide at 80×24 and 120×40 (pytest-textual-snapshot).

epochs-and-batches, slide 5 (N = 1000, B = 400: batches of 400, 400 and 200), after its run (the two full batches),
with the first question revealed. Taken as tests/test_snapshots.py takes the main screen:
paused, no animation, plots drawn on every change and everything settled at the end.
"""

from __future__ import annotations

import pytest

from engine.lessons import load_lesson
from tui.lesson_mode import LessonApp
from snapshot_helpers import settle_for_snapshot

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.mark.parametrize("size", list(SIZES))
def test_lesson_slide(snap_compare, size):
    app = LessonApp(load_lesson("epochs-and-batches"), animate=False, throttle=False, fast=True)

    async def run_before(pilot) -> None:
        for _ in range(5):
            await pilot.pause()
            while pilot.app.running or pilot.app._lesson_run or pilot.app.busy:
                await pilot.pause(0.05)
            if pilot.app.index < 4:
                await pilot.press("pagedown")
        await pilot.press("enter")
        await pilot.pause()
        await settle_for_snapshot(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
