"""A tiny app holding one widget, for the panel tests: each widget is mounted alone (``run_test``)
and shown a simulation; the tests read what it decided to draw.
"""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult


class One(App):
    """A test app holding one widget."""

    def __init__(self, widget) -> None:  # noqa: ANN001
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def run(widget, script, size=(100, 30)) -> None:  # noqa: ANN001
    """Mount ``widget`` alone in an app of ``size`` and run ``await script(pilot, widget)``."""

    async def main() -> None:
        app = One(widget)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot, widget)

    asyncio.run(main())


async def settle(pilot, view) -> None:  # noqa: ANN001
    """Wait for the landscape's background work (reference path, large grids) to land."""
    for _ in range(200):
        await pilot.pause(0.02)
        if not view.pending_work:
            return
    raise AssertionError("the landscape kept working")


def screen_text(widget) -> list[str]:  # noqa: ANN001
    """The characters the widget shows, line by line."""
    return ["".join(seg.text for seg in widget.render_line(y)) for y in range(widget.size.height)]
