"""``mbsim run``: train headless, one Keras-style line per epoch, and write the trace and history.

Imports NumPy and the engine only (never textual, rich or plotext). Exit codes: 0 finished or
target loss reached, 3 diverged, 2 bad input, 130 interrupted (Ctrl+C; the files hold what was
done so far).
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator, TextIO

from .common import EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_OK, PROG
from .scenario_args import build_scenario, make_simulation
from .writers import (
    HISTORY_COLUMNS, check_output_path, history_line, trace_header, trace_line, write_data_csv,
)

NAME = "run"
SUMMARY = "train headless, one Keras-style line per epoch"
DESCRIPTION = "Train without the TUI (never imports it)."
EPILOG = """\
examples:
  mbsim run                               the worked example: 1000 lines, one per epoch
  mbsim run --preset adam --epochs 50
  mbsim run --quiet --trace t.jsonl --history h.csv --data-out d.csv
  mbsim run --dataset csv:my.csv --target y --batch-size 16 --epochs 100

Each line reads: Epoch e/E  b/M <bar>  loss: (running epoch mean of the batch losses, Keras)
train: (full training loss after the epoch)  val: (validation loss)  acc: (classifiers)
Exit codes: 0 finished or target loss reached, 3 diverged, 2 bad input, 130 interrupted
(the files then hold every step done so far). Files are written atomically.
"""
SCENARIO_OPTIONS = True
BAR_WIDTH = 20


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``mbsim run`` (besides the scenario's)."""
    out = parser.add_argument_group("output")
    out.add_argument("--trace", metavar="F.jsonl", default=argparse.SUPPRESS,
                     help="write every optimizer step as JSON Lines (header line first)")
    out.add_argument("--history", metavar="F.csv", default=argparse.SUPPRESS,
                     help="write one CSV row per step: the counters and the losses")
    out.add_argument("--data-out", metavar="F.csv", dest="data_out", default=argparse.SUPPRESS,
                     help="write the training set (features..., target) in index order")
    out.add_argument("--quiet", "-q", action="store_true", default=False,
                     help="print nothing but errors")


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


class _Interrupts:
    """Ctrl+C raises KeyboardInterrupt at once, except while a step's lines are being written
    (then right after), so the trace and the history always hold the same whole steps."""

    def __init__(self) -> None:
        self.critical = False
        self.pending = False
        self._old: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.critical:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._old = signal.signal(signal.SIGINT, self._handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, self._old)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.critical = True
        try:
            yield
        finally:
            self.critical = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def _smaller_lr(lr: float) -> str:
    return f"{lr / 10:g}"


def execute(ns: argparse.Namespace) -> int:
    """Train headless; the exit code says how the run ended."""
    scenario, src = build_scenario(ns)
    outputs = {opt: getattr(ns, dest) for opt, dest in
               (("--trace", "trace"), ("--history", "history"), ("--data-out", "data_out"))
               if getattr(ns, dest, None) is not None}
    for option, path in outputs.items():
        check_output_path(option, path)
    sim = make_simulation(scenario, src)
    quiet = ns.quiet
    out = sys.stdout
    from engine.atomic import atomic_writer

    if "--data-out" in outputs:
        with atomic_writer(outputs["--data-out"]) as stream:
            write_data_csv(sim, stream)

    guard = _Interrupts()
    interrupted = False
    last = {"step": 0}
    with ExitStack() as stack:
        trace = stack.enter_context(atomic_writer(outputs["--trace"])) if "--trace" in outputs else None
        history = stack.enter_context(atomic_writer(outputs["--history"])) if "--history" in outputs else None
        if trace is not None:
            trace.write(json.dumps(trace_header(sim)) + "\n")
        if history is not None:
            history.write(",".join(HISTORY_COLUMNS) + "\n")
        callback = _make_callback(sim, trace, history, last, guard) if (trace or history) else None
        sim.on_step = callback
        try:
            with guard.installed():
                _train(sim, quiet, out)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sim.on_step = None
    # the writers closed normally: the files now hold every step recorded
    status = sim.status
    if interrupted:
        c = sim.counters()
        if not quiet:
            _print_epoch(sim, out)
        written = f"; wrote {', '.join(outputs.values())}" if outputs else ""
        print(f"{PROG}: interrupted at step {last['step'] if callback else sim.step} "
              f"(epoch {c.epoch}/{c.epochs}){written}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if status == "diverged":
        print(f"{PROG}: diverged at step {sim.diverged_step} (loss is not finite); try a smaller "
              f"--lr, e.g. {_smaller_lr(sim.scenario.lr)}", file=sys.stderr)
        return EXIT_DIVERGED
    if status == "target reached" and not quiet:
        print(f"Target loss {sim.scenario.target_loss:g} reached at step {sim.step:,} "
              f"(train loss {format_metric(sim.train_loss)})", file=out)
    return EXIT_OK


def _make_callback(sim, trace: TextIO | None, history: TextIO | None, last: dict, guard: _Interrupts
                   ) -> Callable[[Any], None]:
    def on_step(rec) -> None:
        t = trace_line(rec) if trace is not None else None
        h = history_line(rec, sim.epoch_loss) if history is not None else None
        guard.critical = True          # guard.deferred(), inlined: this runs every step
        try:
            if t is not None:
                trace.write(t)
            if h is not None:
                history.write(h)
            last["step"] = rec.step
        finally:
            guard.critical = False
        if guard.pending:
            guard.pending = False
            raise KeyboardInterrupt

    return on_step


def _train(sim, quiet: bool, out: TextIO) -> None:
    """Run to the end, printing a line at the end of each epoch (and at a stop inside one)."""
    chunk = 4096
    while not sim.done:
        sim.run_iterations(min(sim.iterations_to_epoch_end(), chunk))
        c = sim.counters()
        if not quiet and (c.batch == c.batches or sim.done):
            _print_epoch(sim, out)


def _print_epoch(sim, out: TextIO) -> None:
    c = sim.counters()
    has_val = len(sim.dataset.y_val) > 0
    acc = sim.accuracy()
    print(epoch_line(c.epoch, c.epochs, c.batch, c.batches, sim.epoch_loss, sim.train_loss,
                     sim.val_loss if has_val else None, acc), file=out, flush=True)
