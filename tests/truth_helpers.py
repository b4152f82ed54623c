"""Shared by the truth tests: the worked example's N and B, an app driven by Pilot, and
:func:`check_screen`, which reads the counters, header, strip grouping and caption for a batch
size worked out by hand (M = ceil(N/B) for ``drop_last`` off), never from the engine's plan.
``NotedApp`` is the app keeping the text of every notification (App.notify overridden).
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np

from mbsim.engine import Scenario
import mbsim.tui.app as tui_app
from mbsim.tui.app import MbsimApp


N = 200                    # the worked example: N = 200, B = 5, 1000 epochs
B0 = 5
POWERS_UP = {5: 8, 8: 16, 16: 32, 32: 64, 64: 128, 128: 200, 200: 200}
POWERS_DOWN = {5: 4, 4: 2, 2: 1, 1: 1, 8: 4, 16: 8}
SAMPLING_WORDS = {              # how the strip's caption names each sampling
    "reshuffle": "reshuffled every epoch",
    "once": "shuffled once, same order every epoch",
    "sequential": "sequential, same order every epoch",
    "replacement": "with replacement",
    "stratified": "stratified",
}


def make_app(**settings) -> MbsimApp:
    return MbsimApp(Scenario(**settings), animate=False, throttle=False)


def drive(app: MbsimApp, script, size=(120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


def algorithm(b: int, n: int = N) -> str:
    return "Batch GD" if b == n else "SGD" if b == 1 else "Mini-batch GD"


def strip_groups(app: MbsimApp) -> int:
    """Batches the strip draws: runs of cells on one row with no gap between them."""
    lay = app.strip.layout_
    assert lay is not None
    if not lay.gaps:
        return -1
    row, col = np.asarray(lay.row), np.asarray(lay.col)
    new = np.r_[True, (row[1:] != row[:-1]) | (col[1:] != col[:-1] + 1)]
    return int(new.sum())


def check_screen(app: MbsimApp, *, b: int, epoch: int, batch: int, iteration: int,
                 sampling: str = "reshuffle", lr: float = 0.05) -> None:
    """Counters, header, strip grouping and caption all show B = b (N = 200)."""
    m = math.ceil(N / b)
    text = app.counters_line.text
    assert f"Epoch {epoch}/1000  Batch {batch}/{m}  Iteration {iteration}" in text, text
    header = app.header.text
    assert f"B={b} of N={N}" in header, header
    assert algorithm(b) in header, header
    assert f"lr {lr:g}" in header, header
    if 2 <= b < N:   # batches of one sample, or one batch of all, are drawn without gaps
        assert strip_groups(app) == m
    caption = app.strip.caption
    assert SAMPLING_WORDS[sampling] in caption, caption
    if app.sim.order is not None and "Epoch" in caption:
        assert f"Epoch {epoch}'s order" in caption, caption


class NotedApp(MbsimApp):
    """The app, keeping the text of every notification."""

    CSS_PATH = str(Path(tui_app.__file__).parent / "app.tcss")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []

    def notify(self, message, *args, **kwargs) -> None:  # noqa: ANN001
        self.notes.append(str(message))
        super().notify(message, *args, **kwargs)
