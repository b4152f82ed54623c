"""``mbsim run`` on a terminal: the epoch's line updated in place, as Keras does.

``Epoch 1/1  17400/100000 ━━━━────────────────  ETA 4:12  loss: 0.0931``

The line is rewritten (carriage return, then "erase to the end of the line") at most every
:data:`INTERVAL` seconds, cut to the terminal's width so it never wraps; at the end of the
epoch the usual full line replaces it. In a pipe or a file nothing of this is used: one line per
epoch, as before.
"""

from __future__ import annotations

import math
import shutil
import time
from typing import Callable, TextIO

INTERVAL = 0.25       # seconds between two updates of the line (at most 4 a second)
CHUNK_TIME = 0.05     # seconds of training between two looks at the clock
BAR_WIDTH = 20
CLEAR = "\x1b[K"      # erase from the cursor to the end of the line


def eta_text(seconds: float) -> str:
    """Keras' ETA: ``42s`` under a minute, ``4:12`` under an hour, else ``1:02:03``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def progress_line(epoch: int, epochs: int, batch: int, batches: int, eta: float, loss: float,
                  format_metric: Callable[[float], str]) -> str:
    """``Epoch 3/10  17400/100000 ━━━━────────────────  ETA 4:12  loss: 0.0931`` (in progress)."""
    width = len(str(batches))
    filled = BAR_WIDTH if batches <= 0 else min(BAR_WIDTH, (batch * BAR_WIDTH) // batches)
    bar = "━" * filled + "─" * (BAR_WIDTH - filled)
    loss_text = f"  loss: {format_metric(loss)}" if batch else ""
    return f"Epoch {epoch}/{epochs}  {batch:>{width}}/{batches} {bar}  ETA {eta_text(eta)}{loss_text}"


class LiveLine:
    """The one line being rewritten on the terminal (time from ``clock``, for tests)."""

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic,
                 columns: int | None = None) -> None:
        self.out = out
        self.clock = clock
        self.columns = columns or shutil.get_terminal_size((80, 24)).columns
        self.last = -math.inf
        self.updates = 0

    def update(self, text: str, *, force: bool = False) -> bool:
        """Show ``text`` in place if :data:`INTERVAL` has passed since the last update."""
        now = self.clock()
        if not force and now - self.last < INTERVAL:
            return False
        self.last = now
        self.updates += 1
        self.out.write("\r" + text[: max(1, self.columns - 1)] + CLEAR)
        self.out.flush()
        return True

    def finish(self, text: str) -> None:
        """Replace the line with ``text`` for good and move to the next line."""
        self.out.write("\r" + text + CLEAR + "\n")
        self.out.flush()
        self.last = -math.inf


def train_live(sim, out: TextIO, final_line: Callable[[object], str],
               format_metric: Callable[[float], str],
               clock: Callable[[], float] = time.monotonic) -> None:
    """Run ``sim`` to the end, showing the epoch's progress in place and ``final_line(sim)``
    at the end of each epoch (and at a stop inside one)."""
    live = LiveLine(out, clock)
    chunk = 16
    epoch_start = clock()
    while not sim.done:
        t0 = clock()
        left = sim.iterations_to_epoch_end()
        sim.run_iterations(min(left, chunk))
        spent = clock() - t0
        per_iteration = spent / max(1, min(left, chunk))
        chunk = max(1, min(4096, int(CHUNK_TIME / per_iteration) if per_iteration > 0 else 4096))
        c = sim.counters()
        if c.batch == c.batches or sim.done:
            live.finish(final_line(sim))
            epoch_start = clock()
            continue
        elapsed = clock() - epoch_start
        eta = elapsed / c.batch * (c.batches - c.batch) if c.batch else math.inf
        live.update(progress_line(c.epoch, c.epochs, c.batch, c.batches, eta, sim.epoch_loss,
                                  format_metric))
