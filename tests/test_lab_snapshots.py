"""Snapshot tests of the batch-size lab screen at 120×40 and 80×24 (pytest-textual-snapshot).

The picture is taken after the whole sweep (deterministic: seeded runs, the default target
rule), so it does not depend on timing. Update with ``--snapshot-update`` only for a stated
reason, and look at every changed SVG before committing it.
"""

from __future__ import annotations

import pytest
from snapshot_helpers import settle_for_snapshot
from textual.app import App

from mbsim.engine import Scenario
from mbsim.tui.screens.lab import LabScreen
from pilot_helpers import wait_for

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


class Host(App):
    """Opens the lab on a scenario, as the main app does on ``b``."""

    TITLE = "mbsim"
    busy = False            # what settle_for_snapshot asks of an app
    running = False

    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def on_mount(self) -> None:
        self.push_screen(LabScreen(self.scenario))

    def settle(self) -> None:
        """Draw the lab's panels again (as the main app's settle does for its own)."""
        self.screen.refresh(layout=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_lab_finished(snap_compare, size):
    async def run_before(pilot) -> None:
        await pilot.pause()
        screen = pilot.app.screen
        await wait_for(pilot, lambda: not screen.running, "the lab finishing", tries=6000)
        assert not screen.running and screen.result is not None and screen.result.complete
        await settle_for_snapshot(pilot)

    scenario = Scenario(name="lab-demo", samples=64, val_samples=0, epochs=30)
    assert snap_compare(Host(scenario), terminal_size=SIZES[size], run_before=run_before)
