"""Snapshot tests of compare mode at 80×24 and 120×40 (pytest-textual-snapshot).

Each picture is taken paused, after whole epochs (``e``), with every panel drawn
(``screen.settle()``), so it does not depend on timing. Update with ``--snapshot-update`` and
look at every changed SVG before committing it.
"""

from __future__ import annotations

import pytest
from textual.app import App

from mbsim.engine import Scenario
from mbsim.tui.screens.compare import CompareScreen
from pilot_helpers import wait_idle

STATES = {
    "after_epoch": (1, {}),              # GD 1 update, mini-batch 40, SGD 200
    "sgd_diverged": (10, {"lr": 0.9}),   # SGD explodes at this learning rate, the others do not
}
SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


class Host(App):
    """Opens compare mode on a scenario, as the main app does on ``c``."""

    TITLE = "mbsim"

    def __init__(self, scenario: Scenario) -> None:
        super().__init__()
        self.scenario = scenario

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.scenario))


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("state", list(STATES))
def test_compare(snap_compare, state, size):
    epochs, settings = STATES[state]

    async def run_before(pilot) -> None:
        await pilot.pause()
        screen = pilot.app.screen
        for _ in range(epochs):
            await pilot.press("e")
            await wait_idle(pilot, screen)       # e may hand over to the frame timer
        screen.settle()
        await pilot.pause()

    assert snap_compare(Host(Scenario(**settings)), terminal_size=SIZES[size], run_before=run_before)
