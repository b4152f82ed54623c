"""The landscape ends on the state shown, whatever its own throttles refused meanwhile.

Its draws are rate-limited twice: its own DRAW_THROTTLE (a draw asked sooner is refused) and,
for a model of more than two parameters, GRID_THROTTLE on moving the picture's plane (the plane
kept a little longer). A refused draw or plane must come later, once allowed, when nothing else
changes any more: after a pause, or after the last of a few quick keys (every panel shows the
new state after any change)."""

from __future__ import annotations

import asyncio

import numpy as np

from mbsim.engine import Scenario, load_preset
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets._runs import revision_key
from pilot_helpers import wait_for, wait_idle


def test_a_draw_refused_in_the_run_loop_comes_after_the_pause():
    """Compare mode draws its landscape every PLOT_INTERVAL while running, which can come before
    the landscape's own throttle allows; such a draw, refused in the last frame before a pause,
    must still come (the loop's frame emulated step by step: one tick, the plot drawn, pause)."""
    app = MbsimApp(Scenario(samples=200, batch_size=10), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("c")
            screen = app.screen
            land = screen.query_one("#cmp-landscape")
            await wait_for(pilot, lambda: land._sig is not None, "compare's landscape drawn")
            land.show(screen.comp, force=True)          # drawn now: its throttle starts
            screen.running = True                        # a frame of the run loop:
            screen.comp.tick()                           # the runs advance,
            screen.redraw(plots=False)                   # the panels are marked,
            screen._draw_plot(land)                      # the landscape's turn: refused (too soon)
            assert land._sig[0] != revision_key(screen.comp)
            screen.pause()                               # space
            await wait_for(pilot, lambda: land._sig is not None and land._sig[0] == revision_key(screen.comp),
                           "the landscape drawn at the paused state", tries=250)

    asyncio.run(script())


def test_quick_steps_end_with_the_plane_of_the_last_state():
    """xor-mlp (17 parameters): the landscape's plane follows θ, moved at most every
    GRID_THROTTLE; after six quick steps the plane shown must end as the last state's."""
    app = MbsimApp(load_preset("xor-mlp"), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for _ in range(30):
                await pilot.press("n")
            await wait_idle(pilot)
            await pilot.pause(1.0)
            for _ in range(6):                     # a key every ~50 ms (held down)
                await pilot.press("n")
                await pilot.pause(0.05)
            await wait_idle(pilot)
            land = app.landscape
            # the plane refused by its throttle comes by the landscape's trailing timer
            await wait_for(pilot, lambda: land._trailing is None and not land.pending_work,
                           "the landscape's trailing draw done")
            await pilot.pause()
            assert _same_plane_as_forced(app, land.plane), "the plane of an earlier state is shown"

    asyncio.run(script())


def _same_plane_as_forced(app, shown) -> bool:  # noqa: ANN001
    """The plane a forced draw of the state shown chooses equals ``shown`` (the forced draw is
    then undone: the test only reads)."""
    land = app.landscape
    saved = (land.plane, land._sig)
    land.show(app.sim, force=True)
    fresh = land.plane
    land.plane, land._sig = saved
    return all(np.array_equal(getattr(shown, a), getattr(fresh, a)) for a in ("origin", "u", "v"))
