"""Snapshots for issue 10 items 2–4, 6, 7: a run that starts diverging, the framed momentum
landscape, an MLP's landscape on the plane of its path, the phase view at 80×24 with the
optimizer's update written out, the lens. Taken like tests/test_snapshots.py."""

from __future__ import annotations

import pytest

from mbsim.engine import Scenario, load_preset
from mbsim.tui.app import MbsimApp
from snapshot_helpers import settle_for_snapshot

CASES = {
    # lr 1.6: e stops at the onset (step 7), then three more steps of the zig-zag
    "diverging-80x24": (Scenario(lr=1.6), ("e", "n", "n", "n"), (80, 24)),
    "diverging-120x40": (Scenario(lr=1.6), ("e", "n", "n", "n"), (120, 40)),
    "momentum_landscape-120x40": (load_preset("momentum"), ("e", "e", "e"), (120, 40)),
    "xor_mlp_landscape-120x40": (load_preset("xor-mlp"), ("e", "e", "e"), (120, 40)),
    "phase_view_momentum-80x24": (load_preset("momentum"), ("n", "n", "d"), (80, 24)),
    "phase_view_adam-80x24": (load_preset("adam"), ("n", "n", "d"), (80, 24)),
    "lens_three_losses_stepped-80x24": (load_preset("three-losses"), ("n", "n", "n", "n"), (80, 24)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_truth(snap_compare, case):
    scenario, keys, size = CASES[case]
    app = MbsimApp(scenario, paused=True, animate=False, throttle=False)

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        await settle_for_snapshot(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)
