"""``mbsim run --runs K`` (K > 1): the noise cloud headless — K runs of the scenario from the same
data and start, differing in the sampling seed (:meth:`engine.ensemble.Ensemble.seeds`: run 0 is
the scenario's own run, run k ≥ 1 samples from ``SeedSequence(seed, spawn_key=(k,))``).

Prints one Keras-style line per epoch with the **medians** over the K runs and the spread
(tr Cov of the K parameter vectors); ``--history`` writes one row per step with the mean and the
10/50/90 % quantiles of the batch loss and of the train loss, and the spread. ``--trace`` is
refused: a trace is one run's steps (its indices, parameters, gradient per line); replay run k
alone with ``Simulation(scenario, sampling_stream=k)``.
"""

from __future__ import annotations

import argparse
import math
import sys
from contextlib import ExitStack
from typing import TextIO

import numpy as np

from mbsim.engine.errors import visible

from .common import EXIT_DIVERGED, EXIT_OK, PROG, Interrupted, UsageError
from .headless import epoch_line, format_metric, named, smaller_lr
from .writers import csv_float, write_data_csv

#: The columns of ``--history`` with ``--runs K`` (K > 1); mean and q10/q50/q90 (linear
#: interpolation, ``numpy.quantile``) are over the runs' finite values, ``spread`` is tr Cov of the K parameter vectors (divisor K − 1), ``diverged`` counts runs
#: that have stopped on a non-finite loss (they keep their last finite values).
ENSEMBLE_HISTORY_COLUMNS = (
    "epoch", "batch", "iteration", "step", "samples", "lr",
    "batch_loss_mean", "batch_loss_q10", "batch_loss_q50", "batch_loss_q90",
    "train_loss_mean", "train_loss_q10", "train_loss_q50", "train_loss_q90",
    "spread", "diverged",
)
QUANTILES = (0.1, 0.5, 0.9)


def parse_runs(text: str | None) -> int | None:
    """The value of ``--runs``: a whole number from 1 to MAX_RUNS, else a one-line usage error."""
    if text is None:
        return None
    from mbsim.engine.ensemble import MAX_RUNS

    shown = text if text.isprintable() else repr(text)
    try:
        runs = int(text, 10)
    except ValueError:
        runs = None
    if runs is None or not 1 <= runs <= MAX_RUNS:
        raise UsageError(f"--runs {shown}: must be a whole number from 1 to {MAX_RUNS} "
                         "(the number of runs, differing in the sampling seed; 100 makes a noise cloud)")
    return runs


def _median(values: np.ndarray) -> float:
    v = values[np.isfinite(values)]
    return float(np.median(v)) if v.size else math.nan


def execute(ns: argparse.Namespace, scenario, src, runs: int, outputs: dict[str, str],  # noqa: ANN001
            guard) -> int:  # noqa: ANN001
    """Train K runs together; exit 0, 3 if any run diverged, 130/143/129 when stopped by a signal
    (``guard``: the run command's signal handler, already installed).

    Without ``--history`` the runs are stepped an epoch at a time (``Ensemble.run_iterations``):
    the per-step work is the engine's step of K runs, nothing more than one run's loop pays
    (issue 25). With ``--history`` they are stepped a tick (one step) at a time, a row each."""
    from mbsim.engine.atomic import atomic_writer
    from mbsim.engine.ensemble import Ensemble
    from mbsim.engine.errors import ScenarioError

    if "--trace" in outputs:
        raise UsageError(f"--trace writes the steps of one run; --runs {runs} makes {runs} runs. "
                         "Drop --trace (use --history for their quantiles), or use --runs 1")
    try:
        ens = Ensemble.seeds(scenario, runs, evaluate="read", band=False, record=False)
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None
    quiet = ns.quiet
    out = sys.stdout
    if "--data-out" in outputs:
        with named("--data-out", outputs["--data-out"], atomic_writer(outputs["--data-out"])) as stream:
            write_data_csv(ens.base, stream)
    stopped: Interrupted | None = None
    written_step = 0
    has_val = len(ens.dataset.y_val) > 0
    with ExitStack() as stack:
        history: TextIO | None = (stack.enter_context(named("--history", outputs["--history"],
                                                             atomic_writer(outputs["--history"])))
                                  if "--history" in outputs else None)
        if history is not None:
            history.write(",".join(ENSEMBLE_HISTORY_COLUMNS) + "\n")
        try:
            while not ens.done:
                if history is not None:
                    ens.tick()
                    row = _history_row(ens)
                    with guard.deferred():
                        history.write(row)
                        written_step = ens.position().step
                else:
                    ens.run_iterations(ens.iterations_to_epoch_end())
                c = ens.position()
                if not quiet and (c.batch == c.batches or ens.done):
                    _print_epoch(ens, out, has_val)
        except Interrupted as sig:
            stopped = sig
        finally:
            guard.critical = True  # a second signal waits until the files are closed
    guard.critical = False
    stopped = stopped or (Interrupted(guard.pending) if guard.pending else None)
    guard.pending = None
    if stopped is not None:
        if not quiet:
            _print_epoch(ens, out, has_val)
        c = ens.position()
        written = f"; wrote {', '.join(outputs.values())}" if outputs else ""
        step = written_step if "--history" in outputs else c.step
        print(f"{PROG}: {visible(stopped.what)} at step {step} (epoch {c.epoch}/{ens.scenario.epochs}) "
              f"of {runs} runs{visible(written)}", file=sys.stderr)
        return stopped.exit_code
    diverged = ens.diverged_step[ens.diverged_step > 0]
    if diverged.size:
        print(f"{PROG}: {diverged.size} of {runs} runs diverged (the first at step {int(diverged.min())}; "
              f"loss is not finite); try a smaller --lr, e.g. {smaller_lr(ens.scenario.lr)}", file=sys.stderr)
        return EXIT_DIVERGED
    reached = sum(s == "target reached" for s in ens.status)
    if reached and not quiet:
        print(f"Target loss {ens.scenario.target_loss:g} reached by {reached} of {runs} runs", file=out)
    return EXIT_OK


def _history_row(ens) -> str:  # noqa: ANN001
    c = ens.position()
    cells = [str(c.epoch), str(c.batch), str(c.iteration), str(c.step), str(c.samples),
             csv_float(np.median(ens.lr))]
    for values in (ens.batch_loss, ens.train_loss):
        finite = values[np.isfinite(values)]
        cells.append(csv_float(finite.mean() if finite.size else math.nan))
        cells.extend(csv_float(v) for v in ens.quantiles(values, QUANTILES))
    cells.append(csv_float(ens.spread()))
    cells.append(str(int(np.count_nonzero(ens.diverged_step))))
    return ",".join(cells) + "\n"


def _print_epoch(ens, out: TextIO, has_val: bool) -> None:  # noqa: ANN001
    c = ens.position()
    acc = ens.accuracy()
    line = epoch_line(c.epoch, ens.scenario.epochs, c.batch, c.batches, _median(ens.epoch_loss),
                      _median(ens.train_loss), _median(ens.val_loss) if has_val else None,
                      None if acc is None else _median(acc))
    print(f"{line}  spread: {format_metric(ens.spread())}  (medians of {ens.runs} runs)", file=out, flush=True)
