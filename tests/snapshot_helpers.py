"""What every snapshot test does before the picture is taken (imported by the snapshot tests)."""

from __future__ import annotations

from pilot_helpers import wait_idle


async def settle_for_snapshot(pilot) -> None:  # noqa: ANN001
    """Wait until no panel computes in the background and the app is not running (failing
    with a clear message if it never gets there: a picture of a busy app would be compared),
    then draw everything twice: the first draw may change a panel's height (a detail line that
    wraps), and the plots must be drawn at their final size."""
    await wait_idle(pilot)
    for _ in range(2):
        pilot.app.settle()
        await pilot.pause()
