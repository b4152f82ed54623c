"""A landscape grid computed in a thread that fails is said on the screen (CellCanvas.worker_failed)
and does not stop the panel for good: the next picture that needs another grid (here: a new panel
size) asks for one again. (The one-grid-at-a-time rule, issue 24, marks the simulation's grid as
in flight; a failure must end that as a finished or given-up grid does.)"""

from __future__ import annotations

import asyncio

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets import _landscape_grid
from pilot_helpers import hold_until, run_then_release, wait_for


def test_a_failed_grid_does_not_stop_later_grids(monkeypatch):  # noqa: ANN001
    real = _landscape_grid.plane_grid
    calls: list[int] = []

    def failing_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("no room for the grid")
        return real(*args, **kwargs)

    monkeypatch.setattr(_landscape_grid, "plane_grid", failing_once)
    app = MbsimApp(Scenario(samples=20_000, batch_size=32), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            land = app.landscape
            await wait_for(pilot, lambda: land.failures and not land.pending_work,
                           "the first grid failed")
            await pilot.resize_terminal(110, 36)       # another size: another grid is needed
            await wait_for(pilot, lambda: land.grid is not None and not land.pending_work,
                           lambda: f"a grid asked for again and drawn (plane_grid called {len(calls)} times)",
                           tries=400)
            assert len(calls) >= 2

    asyncio.run(script())


def test_a_new_simulation_does_not_wait_for_the_old_ones_grid(monkeypatch):  # noqa: ANN001
    """The one-grid-at-a-time rule queues the new simulation's grid behind the one in flight; a
    grid of a simulation no longer shown is given up at its next piece (engine.pieces), so the new
    picture does not wait for it (an MLP's grid at N = 10⁶ takes minutes)."""
    import threading

    from mbsim.engine import Simulation
    from mbsim.tui.app import EVAL_POLICY

    real = _landscape_grid.plane_grid
    release = threading.Event()
    calls: list[int] = []

    def slow_first(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 1:
            hold_until(release)             # the old simulation's grid: minutes, in pieces
        return real(*args, **kwargs)

    monkeypatch.setattr(_landscape_grid, "plane_grid", slow_first)
    app = MbsimApp(Scenario(samples=20_000, batch_size=32), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            land = app.landscape
            await wait_for(pilot, lambda: calls, "the first simulation's grid under way")
            app.replace_simulation(Simulation(Scenario(samples=20_000, batch_size=32, seed=7),
                                              eval_policy=EVAL_POLICY))
            await wait_for(pilot, lambda: land.grid is not None and not land.pending_work,
                           lambda: f"the new simulation's grid drawn (plane_grid called {len(calls)} times, "
                                   f"running {land._work_running}, queued {list(land._work_queued)})",
                           tries=400)
            assert not release.is_set()

    run_then_release(script, release)


def test_a_grid_given_up_out_of_sight_is_asked_again_when_its_end_comes_back_in_sight():
    """The race of a covered grid: its thread gives up at a piece while compare covers the main
    screen, but the student closes compare before the app thread hears of it (the worker's
    finish is a call_from_thread queued behind the key). The screen change has then already
    happened; the grid must still be asked for again (paused: no frame would)."""
    app = MbsimApp(Scenario(samples=20_000, batch_size=32), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            land = app.landscape
            await wait_for(pilot, lambda: land.grid is not None and not land.pending_work,
                           "the first grid drawn")
            key = ("grid", land._sim_id, land._grid_key)
            land.grid = None                       # (what the given-up grid left: nothing new)
            land.work_cancelled(key)               # its finish, run with the screen back in sight
            assert not land.out_of_sight()
            await wait_for(pilot, lambda: land.grid is not None and not land.pending_work,
                           "the grid asked for again", tries=400)

    asyncio.run(script())
