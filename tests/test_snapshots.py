"""Snapshot tests of the TUI at 80×24 and 120×40 (pytest-textual-snapshot).

Each picture is taken paused, with the reshuffle animation off, the plots drawn on every change
(``throttle=False``: a plot keeps its axes while the data stay inside them, so which states were
drawn on the way matters) and everything drawn at the end (``app.settle()``), so it does not
depend on timing. Update with ``--snapshot-update`` and look at
every changed SVG before committing it.
"""

from __future__ import annotations

import pytest

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp
from snapshot_helpers import settle_for_snapshot

STATES = {
    "start": ((), {}),
    "mid_epoch": (("n",) * 17 + ("p", "p"), {}),
    "epoch_boundary": (("e",), {}),
    "diverged": (("e", "e", "e"), {"lr": 100.0}),     # e stops at the onset of "diverging" once
    "finished": (("e", "e"), {"epochs": 2}),
    "help": (("n", "question_mark"), {}),
}
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("state", list(STATES))
def test_screen(snap_compare, state, size):
    keys, settings = STATES[state]
    app = MbsimApp(Scenario(**settings), paused=True, animate=False, throttle=False)

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        await settle_for_snapshot(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
