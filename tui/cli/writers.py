"""The files ``mbsim run`` writes: the trace (JSON Lines), the history (CSV) and the data (CSV).

The formats are DESIGN.md's contract ("Command line"); floats keep full precision and a missing
or non-finite value is ``null`` (JSON) or an empty cell (CSV).
"""

from __future__ import annotations

import math
import os
from typing import Any, TextIO

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
    from engine.atomic import output_problem

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
