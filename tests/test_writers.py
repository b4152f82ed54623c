"""The fast trace and history formatters write exactly what the json/csv modules would."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from mbsim.engine.simulation import StepRecord
from mbsim.tui.cli.writers import (
    HISTORY_COLUMNS, StepFiles, history_line, history_rows, trace_line, trace_lines, trace_record,
)


def record(params: list[float], grad: list[float], train: float, val: float, lr: float = 0.05) -> StepRecord:
    return StepRecord(epoch=3, batch=7, iteration=87, step=29, samples=435,
                      indices=np.array([4, 0, 199, 12], dtype=np.int64), lr=lr, batch_loss=0.125,
                      train_loss=train, val_loss=val, params=np.array(params), grad=np.array(grad))


CASES = [
    record([0.1, -2.5e-07], [1e300, -3.0], 0.0931, 0.0902),
    record([1.0, 2.0, 3.0], [0.0, -0.0, 5e-324], math.nan, math.nan),
    record([math.nan, math.inf], [-math.inf, 1.0], math.inf, 0.5),
    record([123456789.123456789], [1 / 3], 1e-17, math.nan, lr=1e-6),
]


@pytest.mark.parametrize("rec", CASES)
def test_trace_line_is_json_dumps_of_the_record(rec: StepRecord) -> None:
    line = trace_line(rec)
    assert line == json.dumps(trace_record(rec)) + "\n"
    back = json.loads(line)
    assert back["params"] == [v if math.isfinite(v) else None for v in rec.params.tolist()]
    assert back["indices"] == [4, 0, 199, 12]


@pytest.mark.parametrize("rec", CASES)
def test_history_line_reads_back_with_csv(rec: StepRecord) -> None:
    row = next(csv.reader(io.StringIO(history_line(rec, 0.25))))
    assert len(row) == len(HISTORY_COLUMNS)
    got = dict(zip(HISTORY_COLUMNS, row))
    assert [int(got[k]) for k in ("epoch", "batch", "iteration", "step", "samples")] == [3, 7, 87, 29, 435]
    assert float(got["epoch_loss"]) == 0.25 and float(got["lr"]) == rec.lr
    for key in ("train_loss", "val_loss"):
        value = getattr(rec, key)
        if math.isnan(value):
            assert got[key] == ""           # no evaluation ran at this step
        else:
            assert float(got[key]) == value  # full precision (repr round-trips)


def test_the_block_formatters_give_the_per_step_lines() -> None:
    """trace_lines / history_rows format a block in one loop; each step's text must be what
    the one-step formatters give (which the tests above check against json and csv)."""
    recs = [record([0.5 * i, -1.0], [1.0, 2.0 / 3.0], math.nan if i % 2 else 0.1 * i, math.nan, lr=0.05)
            for i in range(5)] + CASES
    for i, r in enumerate(recs):
        r.epoch_loss = 0.01 * i if i != 3 else math.nan
    assert trace_lines(recs) == "".join(trace_line(r) for r in recs)
    assert history_rows(recs) == "".join(history_line(r, r.epoch_loss) for r in recs)


def test_step_files_write_whole_blocks_of_both_files_and_the_rest_at_flush() -> None:
    trace, history = io.StringIO(), io.StringIO()
    files = StepFiles(trace, history, n_params=2, batch=4)
    files.block = 3
    recs = [record([float(i), 1.0], [0.0, 1.0], math.nan, math.nan) for i in range(7)]
    for i, r in enumerate(recs):
        r.step = i + 1
    assert [files.add(r) for r in recs[:3]] == [False, False, True]   # full: the caller flushes
    assert trace.getvalue() == "" and files.last_step == 0
    files.flush()
    assert trace.getvalue() == "".join(trace_line(r) for r in recs[:3]) and files.last_step == 3
    assert len(history.getvalue().splitlines()) == 3
    assert [files.add(r) for r in recs[3:]] == [False, False, True, True]
    files.flush()
    assert trace.getvalue() == "".join(trace_line(r) for r in recs)
    assert history.getvalue() == "".join(history_line(r, r.epoch_loss) for r in recs)
    assert files.last_step == 7
    files.flush()                                  # nothing kept: nothing written twice
    assert len(history.getvalue().splitlines()) == 7


def test_a_wide_model_writes_small_blocks() -> None:
    """A block keeps at most ~BLOCK_VALUES numbers alive (parameters, gradient, indices)."""
    assert StepFiles(None, io.StringIO(), n_params=2, batch=5).block == StepFiles.BLOCK_STEPS
    wide = StepFiles(io.StringIO(), None, n_params=100_000, batch=32)
    assert wide.block == 1
    mid = StepFiles(io.StringIO(), None, n_params=257, batch=32)
    assert mid.block * (2 * 257 + 32) <= StepFiles.BLOCK_VALUES
