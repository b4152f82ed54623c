"""The fast trace and history formatters write exactly what the json/csv modules would."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from engine.simulation import StepRecord
from tui.cli.writers import HISTORY_COLUMNS, history_line, trace_line, trace_record


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
