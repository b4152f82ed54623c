"""Snapshots of the one-dimensional lens (l) and the phase view (d) at 80×24 and 120×40,
taken like tests/test_snapshots.py: paused, no animation, plots drawn at the end."""

from __future__ import annotations

import pytest

from mbsim.engine import load_preset
from mbsim.tui.app import MbsimApp
from snapshot_helpers import settle_for_snapshot

VIEWS = {
    "lens_three_losses": ("three-losses", ("n", "n")),          # one parameter: the lens opens by itself
    "phase_view_worked_example": ("worked-example", ("n", "p", "p", "p")),
}
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("view", list(VIEWS))
def test_view(snap_compare, view, size):
    preset, keys = VIEWS[view]
    app = MbsimApp(load_preset(preset), paused=True, animate=False, throttle=False)

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        await settle_for_snapshot(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
