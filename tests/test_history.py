"""History: exact up to its cap, then bounded min/max/mean buckets; reads proportional to width."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine.history import INDEX, SERIES, History


def fill(h: History, values: np.ndarray) -> None:
    for k, v in enumerate(values):
        row = np.full(len(SERIES), np.nan)
        row[INDEX["batch_loss"]] = v
        row[INDEX["train_loss"]] = 2 * v
        h.append(row, np.array([v, -v]))


def test_exact_below_the_cap() -> None:
    h = History(np.zeros(2), cap=64)
    vals = np.random.default_rng(0).random(50)
    fill(h, vals)
    assert h.exact()
    d = h.decimated(1000)
    assert np.array_equal(d.series("batch_loss"), vals)
    assert np.array_equal(d.step, np.arange(1, 51))
    assert np.array_equal(d.params[1:, 0], vals) and np.array_equal(d.params[0], [0, 0])


def test_buckets_keep_min_max_and_mean_after_the_cap() -> None:
    h = History(np.zeros(2), cap=16)
    vals = np.random.default_rng(1).random(100)
    fill(h, vals)
    assert h.width == 8 and h.count == 100
    d = h.decimated(1000)
    rows = len(d.step)
    assert rows == 100 // 8
    buckets = vals[: rows * 8].reshape(rows, 8)   # independent: the plain reshaped record
    lo, hi = d.envelope("batch_loss")
    assert np.allclose(lo, buckets.min(axis=1))
    assert np.allclose(hi, buckets.max(axis=1))
    assert np.allclose(d.series("batch_loss"), buckets.mean(axis=1))
    assert np.array_equal(d.step, np.arange(1, rows + 1) * 8)
    assert np.all(np.isnan(d.series("val_loss")))


def test_memory_stays_flat() -> None:
    h = History(np.zeros(2), cap=64)
    fill(h, np.ones(200))
    h.decimated(10)
    size = h.nbytes()
    fill(h, np.ones(5000))
    h.decimated(10)
    assert h.nbytes() <= size


def test_decimated_read_is_at_most_about_the_width() -> None:
    h = History(np.zeros(2), cap=4096)
    vals = np.random.default_rng(2).random(3000)
    fill(h, vals)
    for width in (10, 77, 500):
        d = h.decimated(width)
        assert len(d.step) <= width
        assert len(d.params) <= width + 1
        lo, hi = d.envelope("batch_loss")
        assert lo.min() == pytest.approx(vals[: d.step[-1]].min())
        assert hi.max() == pytest.approx(vals[: d.step[-1]].max())


def test_truncate_to_a_bucket_boundary() -> None:
    h = History(np.zeros(2), cap=16)
    fill(h, np.arange(40.0))
    assert h.width == 4
    assert h.truncate(30) == 28
    assert h.count == 28
    d = h.decimated(100)
    assert d.step[-1] == 28
    fill(h, np.arange(28.0, 40.0))
    lo, hi = h.decimated(100).envelope("batch_loss")
    assert np.array_equal(lo, np.arange(0.0, 40.0, 4)) and np.array_equal(hi, np.arange(3.0, 40.0, 4))


def test_ten_million_steps_stay_under_50_mb() -> None:
    """The default cap bounds memory whatever the length (computed from the array sizes)."""
    h = History(np.zeros(33))
    bound = h.nbytes() + 3 * h.cap * len(SERIES) * 8 * 2  # level 0 min/max + the pyramid
    assert bound < 50e6


def test_long_records_keep_exact_envelopes_means_and_parameters_through_many_merges() -> None:
    """Rows are added a block at a time (bucketed blocks reduced together): after many merges
    the buckets still hold what the plain record says, and the parameter path the exact
    parameters of the steps it names."""
    h = History(np.zeros(2), cap=16)
    rng = np.random.default_rng(3)
    vals = rng.random(1000)
    sparse = np.where(np.arange(1000) % 3 == 0, vals * 2, np.nan)   # measured every 3rd step
    params = np.stack([vals, -vals], axis=1)
    for k, v in enumerate(vals):
        row = np.full(len(SERIES), np.nan)
        row[INDEX["batch_loss"]] = v
        row[INDEX["train_loss"]] = sparse[k]
        h.append(tuple(row), params[k].copy())
        assert h.count == k + 1
    assert h.width == 64 and h.param_width == 64
    d = h.decimated(1000)
    rows = len(d.step)
    w = h.width
    assert rows == 1000 // w and np.array_equal(d.step, np.arange(1, rows + 1) * w)
    dense = vals[: rows * w].reshape(rows, w)
    lo, hi = d.envelope("batch_loss")
    assert np.array_equal(lo, dense.min(axis=1)) and np.array_equal(hi, dense.max(axis=1))
    assert np.allclose(d.series("batch_loss"), dense.mean(axis=1), rtol=1e-12)
    lo, hi = d.envelope("train_loss")
    blocks = sparse[: rows * w].reshape(rows, w)
    assert np.array_equal(lo, np.nanmin(blocks, axis=1)) and np.array_equal(hi, np.nanmax(blocks, axis=1))
    assert np.array_equal(d.params[1:], params[d.param_step[1:] - 1])
    assert h.last("batch_loss") == vals[-1]
