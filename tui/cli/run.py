"""``mbsim run``: train headless, one Keras-style line per epoch, and write the trace and history.

Imports NumPy and the engine only (never textual, rich or plotext). Exit codes: 0 finished or
target loss reached, 3 diverged, 2 bad input, 74 an output could not be written, 130/143/129
interrupted by SIGINT/SIGTERM/SIGHUP (the files hold every step done so far).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import Any, Callable, TextIO

from mbsim.engine.errors import visible

from .common import EXIT_CODES_TEXT, EXIT_DIVERGED, EXIT_OK, PROG, Interrupted
from .headless import Interrupts, Screen, epoch_line, format_metric, is_terminal, named, smaller_lr
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


def execute(ns: argparse.Namespace) -> int:
    """Train headless; the exit code says how the run ended."""
    guard = Interrupts()
    with guard.installed():  # from the start: a signal never leaves a temporary file behind
        return _execute(ns, guard)


def _execute(ns: argparse.Namespace, guard: Interrupts) -> int:
    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()  # before anything imports NumPy: then it is free (engine/threads.py)
    scenario, src = build_scenario(ns)
    outputs = {opt: getattr(ns, dest) for opt, dest in
               (("--trace", "trace"), ("--history", "history"), ("--data-out", "data_out"))
               if getattr(ns, dest, None) is not None}
    check_output_paths(outputs)
    from . import run_ensemble

    runs = run_ensemble.parse_runs(getattr(ns, "runs", None))
    from .memory_check import check_run

    held = check_run(scenario, src, runs or 1)   # over the memory budget: one line, exit 2
    if runs is not None and runs > 1:
        return run_ensemble.execute(ns, scenario, src, runs, outputs, guard)
    sim = make_simulation(scenario, src, record=False)
    del held
    quiet = ns.quiet
    out = Screen(sys.stdout)

    def writer(option: str):  # names the option in an OS error (disk full, size limit)
        from mbsim.engine.atomic import atomic_writer

        return named(option, outputs[option], atomic_writer(outputs[option]))

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
              f"--lr, e.g. {smaller_lr(sim.scenario.lr)}", file=sys.stderr)
        return EXIT_DIVERGED
    if status == "target reached" and not quiet:
        print(f"Target loss {sim.scenario.target_loss:g} reached at step {sim.step:,} "
              f"(train loss {format_metric(sim.train_loss)})", file=out)
    return EXIT_OK


def _make_callback(files: StepFiles, guard: Interrupts) -> Callable[[Any], None]:
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
    if not quiet and is_terminal(out):
        from .progress import train_live

        train_live(sim, out, _epoch_text, format_metric)
        return
    chunk = 4096
    while not sim.done:
        sim.run_iterations(min(sim.iterations_to_epoch_end(), chunk))
        c = sim.counters()
        if not quiet and (c.batch == c.batches or sim.done):
            _print_epoch(sim, out)


def _epoch_text(sim) -> str:
    c = sim.counters()
    has_val = len(sim.dataset.y_val) > 0
    acc = sim.accuracy()
    return epoch_line(c.epoch, c.epochs, c.batch, c.batches, sim.epoch_loss, sim.train_loss,
                      sim.val_loss if has_val else None, acc)


def _print_epoch(sim, out: TextIO) -> None:
    if is_terminal(out):  # over the line updated in place, if any
        out.write("\r" + _epoch_text(sim) + "\x1b[K\n")
        out.flush()
        return
    print(_epoch_text(sim), file=out, flush=True)
