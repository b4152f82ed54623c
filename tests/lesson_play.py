"""One play of a built-in lesson with Pilot, shared by the tests that check what it shows.

Playing a lesson is the costly part of its tests (every slide's run, every view opened): the
play here goes once per lesson and process, at 120×40, forward to the last slide, one PageDown
past it, then back to the first, waiting on each slide until its run has stopped. On every
slide it calls each registered checker (tests/test_lesson_mode.py: the counters against an
independent model and exact rewind; tests/test_lesson_views.py: each view on its slide's
settings); a checker's first failure is kept and the rest of its calls skipped, and each test
asserts that its own checker never failed. The tests of one lesson share an ``xdist_group``, so
under pytest-xdist the play runs once for them too.

Nothing is timed: a slide's run is waited for until it has stopped.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable

import pytest

from mbsim.engine.lessons import load_lesson
from mbsim.tui.lesson_mode import LessonApp

from pilot_helpers import wait_for

# a checker's factory takes the lesson and returns check(app, k, phase): k the slide shown
# (0-based), phase "forward", "past_end" (PageDown on the last slide), "back" or "end"
Checker = Callable[[object, int, str], None]
CHECKERS: dict[str, Callable[[object], Checker]] = {}
_PLAYS: dict[tuple[str, tuple[str, ...]], dict[str, str | None]] = {}


def register(key: str) -> Callable:
    """Decorator: register a checker factory under ``key`` (at import, so before any play)."""
    def wrap(factory: Callable[[object], Checker]) -> Callable[[object], Checker]:
        CHECKERS[key] = factory
        return factory
    return wrap


def lesson_params(names: list[str]) -> list:
    """``names`` as parameters in one xdist group per lesson (its tests share a play)."""
    return [pytest.param(name, marks=pytest.mark.xdist_group(f"lesson-play-{name}")) for name in names]


async def settle(pilot) -> None:  # noqa: ANN001
    """Wait until the slide's run (if any) has stopped and the panels are idle."""
    app = pilot.app

    def idle() -> bool:
        return not app.running and not app._lesson_run and not app.busy and app.index >= 0

    await pilot.pause()                         # let a key's slide start its run first
    await wait_for(pilot, idle, lambda: f"slide {app.index + 1}: its run never stopped", tries=4500)
    await pilot.pause()


def play(name: str, key: str) -> None:
    """Play lesson ``name`` (once per process for the checkers registered) and fail with
    checker ``key``'s first failure, if it had one."""
    cache = (name, tuple(sorted(CHECKERS)))
    if cache not in _PLAYS:
        _PLAYS[cache] = asyncio.run(_play(name))
    failure = _PLAYS[cache][key]
    if failure is not None:
        raise AssertionError(f"{name}: {failure}")


async def _play(name: str) -> dict[str, str | None]:
    lesson = load_lesson(name)
    checks = {key: factory(lesson) for key, factory in CHECKERS.items()}
    failed: dict[str, str | None] = dict.fromkeys(checks)

    def check(app, k: int, phase: str) -> None:  # noqa: ANN001
        for key, check_one in checks.items():
            if failed[key] is None:
                try:
                    check_one(app, k, phase)
                except AssertionError as err:
                    failed[key] = f"slide {k + 1} ({phase}): " + "".join(traceback.format_exception(err))

    app = LessonApp(lesson, animate=False, fast=True)
    n = len(lesson.slides)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for k in range(n):
            if k:
                await pilot.press("pagedown")
                await settle(pilot)
            check(app, k, "forward")
        await pilot.press("pagedown")           # past the last slide: nothing happens
        await settle(pilot)
        check(app, n - 1, "past_end")
        for k in range(n - 2, -1, -1):
            await pilot.press("pageup")
            await settle(pilot)
            check(app, k, "back")
        check(app, 0, "end")
    return failed
