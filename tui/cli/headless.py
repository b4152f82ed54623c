"""What the headless commands share (``mbsim run``, ``run --runs K``, ``lab``): the signal
guard that keeps output files whole, output streams named by their option, the Keras-style
epoch line and its number format, and the terminal checks.

Imports only the standard library and :mod:`engine.errors` (``mbsim --help`` stays NumPy-free);
each command imports this module, none imports another command's (issue 25: no import circles).
"""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator, TextIO

from mbsim.engine.errors import OutputError

from .common import Interrupted

BAR_WIDTH = 20


def format_metric(x: float) -> str:
    """Keras' number format: 4 decimals, or e-notation below 1e-3 (and, unlike Keras, from 1e6)."""
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.4f}" if 1e-3 < abs(x) < 1e6 else f"{x:.4e}"


def epoch_line(epoch: int, epochs: int, batch: int, batches: int, loss: float, train: float,
               val: float | None = None, acc: float | None = None) -> str:
    """``Epoch 3/1000  40/40 ━━━━━━━━━━━━━━━━━━━━  loss: 0.0931  train: 0.0874  val: 0.0902``.

    The bar has 20 cells, ``━`` done and ``─`` to do (a partial epoch at a stop).
    """
    width = len(str(batches))
    filled = BAR_WIDTH if batches <= 0 else min(BAR_WIDTH, (batch * BAR_WIDTH) // batches)
    bar = "━" * filled + "─" * (BAR_WIDTH - filled)
    line = (f"Epoch {epoch}/{epochs}  {batch:>{width}}/{batches} {bar}  "
            f"loss: {format_metric(loss)}  train: {format_metric(train)}")
    if val is not None:
        line += f"  val: {format_metric(val)}"
    if acc is not None:
        line += f"  acc: {format_metric(acc)}"
    return line


class Interrupts:
    """SIGINT (Ctrl+C), SIGTERM and SIGHUP raise :class:`Interrupted` at once, except while a
    step's lines are being written or the files are being closed (then right after), so the
    trace and the history always hold the same whole steps and no temporary file is left.

    Only the first signal raises: mbsim is then stopping, and further signals (Ctrl+C pressed
    five times) are noted and change nothing, not even after :meth:`installed` ends (they are
    ignored from then on: the process is about to exit with the first signal's code; a
    restored default handler would kill it by the signal instead)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.critical = False
        self.pending: int | None = None
        self.raised = False
        self.received = False
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        self.received = True
        if self.critical or self.raised:
            self.pending = self.pending or signum
        else:
            self.raised = True
            raise Interrupted(signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        for sig in self.SIGNALS:
            self._old[sig] = signal.signal(sig, self._handler)
        try:
            yield
        finally:
            for sig, old in self._old.items():
                signal.signal(sig, signal.SIG_IGN if self.received else old)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.critical = True
        try:
            yield
        finally:
            self.critical = False
        if self.pending and not self.raised:
            signum, self.pending = self.pending, None
            self.raised = True
            raise Interrupted(signum)


def smaller_lr(lr: float) -> str:
    """The learning rate a divergence message suggests: a tenth of ``lr``."""
    return f"{lr / 10:g}"


@contextmanager
def named(option: str, path: str, writer: Any) -> Iterator[Any]:
    """``writer``'s stream; an :class:`OutputError` from it names the option and the file."""
    try:
        with writer as stream:
            yield stream
    except OutputError as err:
        if err.what is None and err.path == path:  # not another output's error passing through
            err.what = f"{option} {path!r}"
        raise


class Screen:
    """stdout for the epoch lines; if the terminal goes away (an SSH connection dropping: EIO),
    printing stops and training goes on, so the files still get every step (SIGHUP then ends
    the run cleanly). A closed pipe (``| head``) still ends the run (BrokenPipeError)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self.stream.write(text)
            except BrokenPipeError:
                raise
            except OSError:
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                raise
            except OSError:
                self.gone = True

    def isatty(self) -> bool:
        return not self.gone and is_terminal(self.stream)


def is_terminal(out: TextIO) -> bool:
    """True when ``out`` is a terminal (False for anything that cannot say)."""
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False

