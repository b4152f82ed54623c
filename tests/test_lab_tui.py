"""The batch-size lab screen, driven with Pilot: ``b`` opens it, the sweep runs in a worker while
the progress bar moves, escape stops it keeping the batch sizes done, escape (or b) returns; the
palette lists it; the numbers shown are the engine's (an independent Lab run of the same
settings gives the same points). Nothing here times anything."""

from __future__ import annotations

import asyncio
import threading

from textual.widgets import ProgressBar

from mbsim.engine import Scenario
from mbsim.engine.lab import Lab
from mbsim.tui.app import MbsimApp
from mbsim.tui.commands import commands_for
from mbsim.tui.screens.lab import LabScreen
from mbsim.tui.widgets.lab_summary import LabSummary

SMALL = dict(samples=64, val_samples=0, epochs=30)


def drive(app, script, size=(120, 40)) -> None:  # noqa: ANN001
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


async def wait_until(pilot, condition, timeout: float = 120.0) -> None:  # noqa: ANN001
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached in time")


def test_b_opens_the_lab_the_bar_moves_and_escape_returns():
    app = MbsimApp(Scenario(**SMALL), animate=False)

    async def script(pilot):
        main_screen = app.screen
        await pilot.press("b")
        screen = app.screen
        # the sweep of this small scenario may already be over when the key press returns
        assert isinstance(screen, LabScreen) and (screen.running or screen.result is not None)
        bar = screen.query_one(ProgressBar)
        seen = []
        while screen.running:
            seen.append(bar.progress)
            await pilot.pause(0.01)
        assert screen.progress_seen > 0                        # the UI took progress while it ran
        assert seen == sorted(seen)                            # the bar only moves forward
        assert bar.progress == bar.total == 7 * 8 * 7          # 7 batch sizes × 8 runs × 7 lrs
        r = screen.result
        assert r is not None and r.complete and [p.batch_size for p in r.points] == [1, 2, 4, 8, 16, 32, 64]
        # the same sweep run here gives the same numbers (the screen draws the engine's result)
        again = Lab(Scenario(**SMALL), lr_rule="tuned")
        again.run()
        assert [(p.lr, p.steps, p.examples, p.reached) for p in again.result().points] == \
               [(p.lr, p.steps, p.examples, p.reached) for p in r.points]
        text = screen.query_one(LabSummary).render().plain
        assert f"{r.fit.b_crit:.3g}" in text and f"{r.b_simple_start:.3g}" in text
        await pilot.press("space")                              # main-screen keys wait here
        assert app.sim.step == 0
        await pilot.press("escape")
        assert app.screen is main_screen

    drive(app, script)


def test_escape_stops_the_sweep_and_keeps_what_is_done(monkeypatch):  # noqa: ANN001
    """The sweep waits after its first batch size until escape has been pressed (the engine
    finishes this small sweep in well under a second, faster than keys arrive)."""
    pressed = threading.Event()
    run = Lab.run

    def held_run(self, progress=None, cancelled=None):  # noqa: ANN001, ANN202
        def held_progress(p):  # noqa: ANN001, ANN202
            if progress is not None:
                progress(p)
            if self.points:
                pressed.wait(30)
        return run(self, progress=held_progress, cancelled=cancelled)

    monkeypatch.setattr(Lab, "run", held_run)
    app = MbsimApp(Scenario(), animate=False)

    async def script(pilot):
        await pilot.press("b")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await wait_until(pilot, lambda: screen.lab is not None and len(screen.lab.points) >= 1)
        await pilot.press("escape")                             # stop, stay
        assert screen._cancel.is_set()
        pressed.set()
        await wait_until(pilot, lambda: not screen.running)
        assert app.screen is screen
        r = screen.result
        assert r is not None and not r.complete
        assert 1 <= len(r.points) < len(r.batch_sizes)
        assert r.points[0].batch_size == 1
        await pilot.press("escape")                             # now back
        assert app.screen is not screen and not isinstance(app.screen, LabScreen)

    drive(app, script)


def test_b_on_the_lab_returns_and_the_palette_lists_the_lab():
    app = MbsimApp(Scenario(**SMALL), animate=False)

    async def script(pilot):
        cmds = [c for c in commands_for(app) if c.action == "lab"]
        assert len(cmds) == 1 and cmds[0].text == "Batch-size lab"
        await app.run_action("lab")
        await pilot.pause()
        assert isinstance(app.screen, LabScreen)
        await pilot.press("b")
        assert not isinstance(app.screen, LabScreen)

    drive(app, script)
