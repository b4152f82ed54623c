"""``mbsim run``: train headless, one Keras-style line per epoch, and write the trace and history.

Imports NumPy and the engine only (never textual, rich or plotext). Exit codes: 0 finished or
target loss reached, 3 diverged, 2 bad input, 74 an output could not be written, 130/143/129
interrupted by SIGINT/SIGTERM/SIGHUP (the files hold every step done so far).
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from contextlib import ExitStack, contextmanager
from typing import Any, Callable, Iterator, TextIO

from engine.errors import OutputError, visible

from .common import EXIT_CODES_TEXT, EXIT_DIVERGED, EXIT_OK, PROG, Interrupted
from .scenario_args import build_scenario, make_simulation
from .writers import HISTORY_COLUMNS, StepFiles, check_output_paths, trace_header, write_data_csv

NAME = "run"
SUMMARY = "train headless, one Keras-style line per epoch"
DESCRIPTION = "Train without the TUI (never imports it)."
EPILOG = """\
examples:
  mbsim run                               the worked example: 1000 lines, one per epoch
  mbsim run --preset adam --epochs 50
  mbsim run --quiet --trace t.jsonl --history h.csv --data-out d.csv
  mbsim run --dataset csv:my.csv --target y --batch-size 16 --epochs 100
  mbsim run --runs 100 --sampling replacement --history cloud.csv   100 sampling seeds

Each line reads: Epoch e/E  b/M <bar>  loss: (running epoch mean of the batch losses, Keras)
train: (full training loss after the epoch)  val: (validation loss)  acc: (classifiers)
Stopped by Ctrl+C, SIGTERM or SIGHUP, the files hold every step done so far (no temporary
file is left) and the exit code is 130, 143 or 129. A regular output file is written
atomically (temp file + rename); an existing device or FIFO (/dev/stdout into a pipe) is
written to directly; a read-only file, a folder or one file for two outputs is refused.
On a terminal the epoch's line is updated in place; in a pipe, one line per epoch.
""" + EXIT_CODES_TEXT + "\n"
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
    ens = parser.add_argument_group("ensemble")
    ens.add_argument("--runs", metavar="K", default=None,
                     help="train K runs together from the same data and start, differing in the "
                          "sampling seed (the noise cloud); lines show medians, --history "
                          "quantiles; not with --trace")


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


def _smaller_lr(lr: float) -> str:
    return f"{lr / 10:g}"


def execute(ns: argparse.Namespace) -> int:
    """Train headless; the exit code says how the run ended."""
    guard = _Interrupts()
    with guard.installed():  # from the start: a signal never leaves a temporary file behind
        return _execute(ns, guard)


def _execute(ns: argparse.Namespace, guard: _Interrupts) -> int:
    from engine.threads import use_one_blas_thread

    use_one_blas_thread()  # before anything imports NumPy: then it is free (engine/threads.py)
    scenario, src = build_scenario(ns)
    outputs = {opt: getattr(ns, dest) for opt, dest in
               (("--trace", "trace"), ("--history", "history"), ("--data-out", "data_out"))
               if getattr(ns, dest, None) is not None}
    check_output_paths(outputs)
    from . import run_ensemble

    runs = run_ensemble.parse_runs(getattr(ns, "runs", None))
    if runs is not None and runs > 1:
        return run_ensemble.execute(ns, scenario, src, runs, outputs, guard)
    sim = make_simulation(scenario, src, record=False)
    quiet = ns.quiet
    out = _Screen(sys.stdout)

    def writer(option: str):  # names the option in an OS error (disk full, size limit)
        from engine.atomic import atomic_writer

        return _named(option, outputs[option], atomic_writer(outputs[option]))

    if "--data-out" in outputs:
        with writer("--data-out") as stream:
            write_data_csv(sim, stream)

    stopped: Interrupted | None = None
    files: StepFiles | None = None
    with ExitStack() as stack:
        trace = stack.enter_context(writer("--trace")) if "--trace" in outputs else None
        history = stack.enter_context(writer("--history")) if "--history" in outputs else None
        if trace is not None:
            import json

            trace.write(json.dumps(trace_header(sim)) + "\n")
        if history is not None:
            history.write(",".join(HISTORY_COLUMNS) + "\n")
        if trace is not None or history is not None:
            files = StepFiles(trace, history, sim.params.size, sim.scenario.batch_size * sim.scenario.accumulate)
            sim.on_step = _make_callback(files, guard)
        try:
            _train(sim, quiet, out)
        except Interrupted as sig:
            stopped = sig
        finally:
            guard.critical = True  # a second signal waits until the files are closed
            sim.on_step = None
            if files is not None:
                files.flush()      # the steps of the last block
    guard.critical = False
    stopped = stopped or (Interrupted(guard.pending) if guard.pending else None)
    guard.pending = None
    # the writers closed normally: the files now hold every step recorded
    status = sim.status
    if stopped is not None:
        c = sim.counters()
        if not quiet:
            _print_epoch(sim, out)
        written = f"; wrote {', '.join(repr(p) for p in outputs.values())}" if outputs else ""
        print(f"{PROG}: {visible(stopped.what)} at step {files.last_step if files else sim.step} "
              f"(epoch {c.epoch}/{c.epochs}){visible(written)}", file=sys.stderr)
        return stopped.exit_code
    if status == "diverged":
        print(f"{PROG}: diverged at step {sim.diverged_step} (loss is not finite); try a smaller "
              f"--lr, e.g. {_smaller_lr(sim.scenario.lr)}", file=sys.stderr)
        return EXIT_DIVERGED
    if status == "target reached" and not quiet:
        print(f"Target loss {sim.scenario.target_loss:g} reached at step {sim.step:,} "
              f"(train loss {format_metric(sim.train_loss)})", file=out)
    return EXIT_OK


@contextmanager
def _named(option: str, path: str, writer: Any) -> Iterator[Any]:
    """``writer``'s stream; an :class:`OutputError` from it names the option and the file."""
    try:
        with writer as stream:
            yield stream
    except OutputError as err:
        if err.what is None and err.path == path:  # not another output's error passing through
            err.what = f"{option} {path!r}"
        raise


def _make_callback(files: StepFiles, guard: _Interrupts) -> Callable[[Any], None]:
    """The simulation's per-step hook: keep the record, write a full block (a signal during
    the write waits until the block is written, so the files hold whole steps)."""
    add = files.add

    def on_step(rec) -> None:
        if add(rec):
            guard.critical = True          # guard.deferred(), inlined: this runs every block
            try:
                files.flush()
            finally:
                guard.critical = False
            if guard.pending and not guard.raised:
                signum, guard.pending = guard.pending, None
                guard.raised = True
                raise Interrupted(signum)

    return on_step


def _train(sim, quiet: bool, out: TextIO) -> None:
    """Run to the end, printing a line at the end of each epoch (and at a stop inside one).

    On a terminal the epoch's line is updated in place a few times a second (Keras-like)."""
    if not quiet and _is_terminal(out):
        from .progress import train_live

        train_live(sim, out, _epoch_text, format_metric)
        return
    chunk = 4096
    while not sim.done:
        sim.run_iterations(min(sim.iterations_to_epoch_end(), chunk))
        c = sim.counters()
        if not quiet and (c.batch == c.batches or sim.done):
            _print_epoch(sim, out)


class _Screen:
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
        return not self.gone and _is_terminal(self.stream)


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _epoch_text(sim) -> str:
    c = sim.counters()
    has_val = len(sim.dataset.y_val) > 0
    acc = sim.accuracy()
    return epoch_line(c.epoch, c.epochs, c.batch, c.batches, sim.epoch_loss, sim.train_loss,
                      sim.val_loss if has_val else None, acc)


def _print_epoch(sim, out: TextIO) -> None:
    if _is_terminal(out):  # over the line updated in place, if any
        out.write("\r" + _epoch_text(sim) + "\x1b[K\n")
        out.flush()
        return
    print(_epoch_text(sim), file=out, flush=True)
