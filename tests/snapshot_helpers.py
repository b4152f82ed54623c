"""What every snapshot test does before the picture is taken (imported by the snapshot tests)."""

from __future__ import annotations


async def settle_for_snapshot(pilot) -> None:  # noqa: ANN001
    """Wait until no panel computes in the background and the app is not running, then draw
    everything twice: the first draw may change a panel's height (a detail line that wraps),
    and the plots must be drawn at their final size."""
    app = pilot.app
    for _ in range(200):  # a panel may compute its picture in a thread
        if not app.busy and not getattr(app, "running", False):
            break
        await pilot.pause(0.05)
    for _ in range(2):
        app.settle()
        await pilot.pause()
