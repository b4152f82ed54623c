"""A landscape grid computed in a thread that fails is said on the screen (CellCanvas.worker_failed)
and does not stop the panel for good: the next picture that needs another grid (here: a new panel
size) asks for one again. (The one-grid-at-a-time rule, issue 24, marks the simulation's grid as
in flight; a failure must end that as a finished or given-up grid does.)"""

from __future__ import annotations

import asyncio

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets import _landscape_grid
from pilot_helpers import wait_for


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
