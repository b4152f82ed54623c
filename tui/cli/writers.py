"""The files ``mbsim run`` writes: the trace (JSON Lines), the history (CSV) and the data (CSV).

The formats are DESIGN.md's contract ("Command line"); floats keep full precision and a missing
or non-finite value is ``null`` (JSON) or an empty cell (CSV).
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence, TextIO

from .common import UsageError

TRACE_FORMAT = "mbsim-trace/1"
HISTORY_COLUMNS = (
    "epoch", "batch", "iteration", "step", "samples", "lr",
    "batch_loss", "epoch_loss", "train_loss", "val_loss",
)


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_array(a: Any) -> list:
    import numpy as np

    arr = np.asarray(a)
    values = arr.tolist()
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        values = [v if math.isfinite(v) else None for v in values]
    return values


def csv_float(x: float) -> str:
    x = float(x)
    return repr(x) if math.isfinite(x) else ("" if math.isnan(x) else repr(x))


def trace_header(sim) -> dict[str, Any]:
    """The first line of a trace: every resolved setting and the initial parameters."""
    ds = sim.dataset
    return {
        "step": 0,
        "format": TRACE_FORMAT,
        "scenario": sim.scenario.to_dict(),
        "params": _json_array(sim.initial_params),
        "param_names": list(sim.model.param_names),
        "feature_names": list(ds.feature_names),
        "target_name": ds.target_name,
        "task": ds.task,
        "loss": sim.model.loss_name,
        "training_samples": ds.n_samples,
        "validation_samples": int(len(ds.y_val)),
        "train_loss": _json_float(sim.initial_train_loss),
        "val_loss": _json_float(sim.initial_val_loss) if len(ds.y_val) else None,
    }


def trace_record(rec) -> dict[str, Any]:
    """One optimizer step (DESIGN.md --trace): counters, indices, lr, losses, params, grad."""
    return {
        "epoch": rec.epoch, "batch": rec.batch, "iteration": rec.iteration, "step": rec.step,
        "samples": rec.samples, "indices": _json_array(rec.indices), "lr": _json_float(rec.lr),
        "batch_loss": _json_float(rec.batch_loss), "train_loss": _json_float(rec.train_loss),
        "val_loss": _json_float(rec.val_loss), "params": _json_array(rec.params),
        "grad": _json_array(rec.grad),
    }


def _json_number(x: float) -> str:
    """A float as json.dumps writes it (``repr``), ``null`` when not finite."""
    return repr(x) if x - x == 0.0 else "null"


def _json_list(values: list) -> str:
    """A list of Python floats or ints as json.dumps writes it, non-finite floats as null.

    One ``repr`` per value and no NumPy call per value; ``repr`` of a finite float never has
    an ``n`` in it, ``nan`` and ``inf`` do, so only a list holding one takes the slow path."""
    text = ", ".join(map(repr, values))
    if "n" in text:
        text = ", ".join(_json_number(float(v)) for v in values)
    return "[" + text + "]"


def trace_line(rec) -> str:
    """One optimizer step as a JSON Lines line, byte for byte what
    ``json.dumps(trace_record(rec)) + "\n"`` gives (tests/test_writers.py), but formatted
    directly: the trace writer's cost per step is a few ``repr`` calls."""
    return (
        f'{{"epoch": {rec.epoch}, "batch": {rec.batch}, "iteration": {rec.iteration}, '
        f'"step": {rec.step}, "samples": {rec.samples}, "indices": [{", ".join(map(str, rec.indices.tolist()))}], '
        f'"lr": {_json_number(rec.lr)}, "batch_loss": {_json_number(rec.batch_loss)}, '
        f'"train_loss": {_json_number(rec.train_loss)}, "val_loss": {_json_number(rec.val_loss)}, '
        f'"params": {_json_list(rec.params.tolist())}, "grad": {_json_list(rec.grad.tolist())}}}\n'
    )


def history_line(rec, epoch_loss: float) -> str:
    """One ``--history`` CSV row (:data:`HISTORY_COLUMNS`); an empty cell where a value is
    missing or not finite (e.g. the full losses between evaluations)."""
    lr, bl, tl, vl = rec.lr, rec.batch_loss, rec.train_loss, rec.val_loss
    # repr(x) for a number (inf included), "" for NaN: x == x is False only for NaN
    return (f"{rec.epoch},{rec.batch},{rec.iteration},{rec.step},{rec.samples},"
            f"{repr(lr) if lr == lr else ''},{repr(bl) if bl == bl else ''},"
            f"{repr(epoch_loss) if epoch_loss == epoch_loss else ''},"
            f"{repr(tl) if tl == tl else ''},{repr(vl) if vl == vl else ''}\n")


def trace_lines(recs: Sequence) -> str:
    """The trace lines of several steps: exactly ``"".join(map(trace_line, recs))``, in one
    loop (a learning rate repeated as the same object, as a constant schedule gives, is
    formatted once)."""
    lines = []
    last_lr = lr_text = None
    for r in recs:
        lr, bl, tl, vl = r.lr, r.batch_loss, r.train_loss, r.val_loss
        if lr is not last_lr:
            last_lr, lr_text = lr, _json_number(lr)
        # x − x is 0.0 only for a finite x (json.dumps writes NaN and ±inf as null here)
        lines.append(
            f'{{"epoch": {r.epoch}, "batch": {r.batch}, "iteration": {r.iteration}, '
            f'"step": {r.step}, "samples": {r.samples}, "indices": [{", ".join(map(str, r.indices.tolist()))}], '
            f'"lr": {lr_text}, "batch_loss": {repr(bl) if bl - bl == 0.0 else "null"}, '
            f'"train_loss": {repr(tl) if tl - tl == 0.0 else "null"}, '
            f'"val_loss": {repr(vl) if vl - vl == 0.0 else "null"}, '
            f'"params": {_json_list(r.params.tolist())}, "grad": {_json_list(r.grad.tolist())}}}\n')
    return "".join(lines)


def history_rows(recs: Sequence) -> str:
    """The ``--history`` rows of several steps, each with its record's own ``epoch_loss``:
    exactly ``"".join(history_line(r, r.epoch_loss) for r in recs)``, in one loop (a learning
    rate repeated as the same object is formatted once)."""
    rows = []
    last_lr = lr_text = None
    for r in recs:
        lr, bl, el, tl, vl = r.lr, r.batch_loss, r.epoch_loss, r.train_loss, r.val_loss
        if lr is not last_lr:
            last_lr, lr_text = lr, (repr(lr) if lr == lr else "")
        rows.append(f"{r.epoch},{r.batch},{r.iteration},{r.step},{r.samples},{lr_text},"
                    f"{repr(bl) if bl == bl else ''},{repr(el) if el == el else ''},"
                    f"{repr(tl) if tl == tl else ''},{repr(vl) if vl == vl else ''}\n")
    return "".join(rows)


class StepFiles:
    """The trace and the history of one run, written a block of steps at a time.

    :meth:`add` keeps each step's record (the simulation never changes the arrays a record
    holds); :meth:`flush` formats the block (:func:`trace_lines`, :func:`history_rows`: per
    step what :func:`trace_line` and :func:`history_line` give) and writes it with one call per file. So
    the two files always hold the same whole steps, up to :attr:`last_step`. Formatting a
    block at once is about twice as fast as a line after every step (the float formatting
    stays in the CPU's caches). A block holds at most ``BLOCK_STEPS`` records and about
    ``BLOCK_VALUES`` numbers (parameters, gradient, indices): a wide model's are few.
    """

    BLOCK_STEPS = 1024
    BLOCK_VALUES = 100_000

    def __init__(self, trace: TextIO | None, history: TextIO | None, n_params: int, batch: int) -> None:
        self.trace, self.history = trace, history
        self.block = max(1, min(self.BLOCK_STEPS, self.BLOCK_VALUES // (2 * n_params + batch + 16)))
        self.pending: list = []
        self.last_step = 0     # the last step both files hold
        self._failed = False

    def add(self, rec) -> bool:
        """Keep one step's record (a :class:`engine.simulation.StepRecord`); True when the
        block is full (time to :meth:`flush`)."""
        self.pending.append(rec)
        return len(self.pending) >= self.block

    def flush(self) -> None:
        """Write the kept steps (nothing after a write failed: its error is on its way)."""
        recs = self.pending
        if not recs or self._failed:
            return
        trace = trace_lines(recs) if self.trace is not None else ""
        history = history_rows(recs) if self.history is not None else ""
        self._failed = True
        if self.trace is not None:
            self.trace.write(trace)
        if self.history is not None:
            self.history.write(history)
        self._failed = False
        self.last_step = recs[-1].step
        recs.clear()


def write_data_csv(sim, stream: TextIO) -> None:
    """The training set in index order: a header (features..., target), one row per sample."""
    ds = sim.dataset
    stream.write(",".join(_csv_cell(c) for c in (*ds.feature_names, ds.target_name)) + "\n")
    for x_row, y_val in zip(ds.X.tolist(), ds.y.tolist()):
        stream.write(",".join(repr(float(v)) for v in (*x_row, y_val)) + "\n")


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def check_output_paths(outputs: dict[str, str]) -> None:
    """Refuse, before anything is written, every output that would destroy what it should not
    (see :func:`engine.atomic.output_problem`) and two outputs naming the same file."""
    if not outputs:
        return
    from mbsim.engine.atomic import output_problem

    seen: dict[str, str] = {}
    for option, path in outputs.items():
        problem = output_problem(path)
        if problem:
            raise UsageError(f"{option} {path!r}: {problem}")
        for other, other_path in seen.items():
            if _same_file(path, other_path):
                raise UsageError(f"{option} {path!r} and {other} {other_path!r} name the same "
                                 "file; give each output its own file")
        seen[option] = path


def _same_file(a: str, b: str) -> bool:
    try:
        if os.path.exists(a) and os.path.exists(b):
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)
