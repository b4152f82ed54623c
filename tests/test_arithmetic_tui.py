"""The arithmetic line in the app: ``a`` shows it, a live change (``]``) rewrites it at once,
``a`` hides it; a snapshot at 80×24 with it shown. The expected text is worked out by hand."""

from __future__ import annotations

import asyncio

import pytest

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp
from snapshot_helpers import settle_for_snapshot
from pilot_helpers import wait_for


def test_a_shows_the_arithmetic_and_it_follows_the_batch_size():
    app = MbsimApp(Scenario(), animate=False)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            line = app.query_one("#arithmetic")
            assert not line.display
            await pilot.press("a")
            await pilot.pause()
            assert line.display and line.region.height >= 1
            # N = 200, B = 5: 40 batches, 40 × 1000 = 40,000 steps
            assert line.text == ("N = 200, B = 5 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · "
                                 "40 × 1000 epochs = 40,000 steps")
            await pilot.press("right_square_bracket")  # B = 5 → 8 (the next power of two)
            await pilot.pause()
            # ⌈200/8⌉ = 25; the first epoch restarts with the new batches: 25 × 1000 = 25,000
            assert line.text == ("N = 200, B = 8 → ⌈200/8⌉ = 25 batches per epoch (last one 8) · "
                                 "25 × 1000 epochs = 25,000 steps")
            await pilot.press("right_square_bracket")  # 8 → 16: 200 = 12·16 + 8
            await pilot.pause()
            assert line.text.startswith("N = 200, B = 16 → ⌈200/16⌉ = 13 batches per epoch (last one 8)")
            await pilot.press("a")
            await pilot.pause()
            assert not line.display

    asyncio.run(main())


def test_the_arithmetic_line_of_a_cut_epoch_run():
    app = MbsimApp(Scenario(samples=47, batch_size=5, steps_per_epoch=4, epochs=5, epoch_end="cut"),
                   animate=False)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("a", "e", "e", "e")  # to the end of the short third epoch
            await pilot.pause()
            await wait_for(pilot, lambda: not app.running, "the third epoch's run stopping")
            assert app.counters_line.text.startswith("Epoch 3/5  Batch 2/2  Iteration 10")
            assert app.query_one("#arithmetic").text.endswith(
                "steps_per_epoch = 4, cut where a pass runs out: 4, 4, 2, 4, 4 = 18 steps")

    asyncio.run(main())


def test_snapshot_with_the_arithmetic_line(snap_compare):
    app = MbsimApp(Scenario(), paused=True, animate=False, throttle=False)

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press("a", "n", "n", "n")
        await pilot.pause()
        await settle_for_snapshot(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_epoch_end_is_a_select_on_the_settings_screen_and_applies_live():
    from textual.widgets import Select

    from mbsim.engine.sampling import EPOCH_ENDS
    from mbsim.tui.screens.settings import SettingsScreen

    app = MbsimApp(Scenario(samples=1000, batch_size=10, steps_per_epoch=30, epochs=5), animate=False)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("a", "n", "s")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, SettingsScreen)
            control = screen.controls["epoch_end"]
            assert isinstance(control, Select) and control.value == "continue"
            assert [value for _, value in control._options if value in EPOCH_ENDS] == list(EPOCH_ENDS)
            control.value = "cut"
            await pilot.pause()
            assert not screen.result.restart and screen.result.changes == {"epoch_end": "cut"}
            await pilot.press("enter")
            await pilot.pause()
            sim = app.sim
            assert sim.scenario.epoch_end == "cut" and len(sim.segments) == 2
            # the epoch in progress restarts with a fresh pass: 30, 30, 30, 10, 30 again
            assert app.query_one("#arithmetic").text.endswith(
                "cut where a pass runs out: 30, 30, 30, 10, 30 = 130 steps")
            assert sim.total_iterations == 1 + 130

    asyncio.run(main())
