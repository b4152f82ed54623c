"""Tests for engine.datasets: generators (shapes, determinism, class counts, geometry, sorting),
the three-losses teaching example, CSV loading and every CSV error message."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mbsim.engine import datasets
from mbsim.engine.datasets import (
    CLASSIFICATION_DATASETS,
    CSV_MAX_BYTES,
    DATASETS,
    REGRESSION_DATASETS,
    Dataset,
    load_csv,
    make_dataset,
)
from mbsim.engine.errors import DataError, ScenarioError


def make(name: str, n: int = 200, v: int = 50, noise: float = 0.1, seed: int = 0, **kw: object) -> Dataset:
    return make_dataset(name, n, v, noise, np.random.default_rng(seed), **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Built-in generators
# --------------------------------------------------------------------------------------------


def test_registry() -> None:
    assert REGRESSION_DATASETS == ("line", "plane", "hyperplane", "three-losses")
    assert CLASSIFICATION_DATASETS == ("blobs", "moons", "circles", "xor", "spiral")
    assert DATASETS == REGRESSION_DATASETS + CLASSIFICATION_DATASETS
    assert CSV_MAX_BYTES == 64 * 1024 * 1024
    # room for the sample limit (issue 14): a million rows of two full-precision columns
    widest_row = len(f"{-1.2345678901234567e-10!r},{-12.345678901234567!r}\n")
    assert 1_000_000 * widest_row < CSV_MAX_BYTES


@pytest.mark.parametrize("name", DATASETS)
def test_shapes_and_types(name: str) -> None:
    ds = make(name, n=40, v=10)
    d = {"line": 1, "three-losses": 1, "hyperplane": 16}.get(name, 2)
    n = 3 if name == "three-losses" else 40
    assert ds.name == name
    assert ds.X.shape == (n, d) and ds.y.shape == (n,)
    assert ds.X_val.shape == (10, d) and ds.y_val.shape == (10,)
    assert (ds.n_samples, ds.n_features) == (n, d)
    assert len(ds.feature_names) == d
    for a in (ds.X, ds.y, ds.X_val, ds.y_val):
        assert a.dtype == np.float64 and np.all(np.isfinite(a))
        assert not a.flags.writeable
    if name in CLASSIFICATION_DATASETS:
        assert ds.task == "classification"
        assert set(np.unique(ds.y)) == {0.0, 1.0}
        assert ds.labels is not None and ds.labels.dtype.kind == "i"
        np.testing.assert_array_equal(ds.labels, ds.y)
    else:
        assert ds.task == "regression" and ds.labels is None


def test_no_validation_samples() -> None:
    ds = make("moons", v=0)
    assert ds.X_val.shape == (0, 2) and ds.y_val.shape == (0,)
    ds = make("three-losses", v=0)
    assert ds.X_val.shape == (0, 1)


@pytest.mark.parametrize("name", DATASETS)
def test_deterministic_per_seed(name: str) -> None:
    a, b = make(name, seed=7), make(name, seed=7)
    for u, w in ((a.X, b.X), (a.y, b.y), (a.X_val, b.X_val), (a.y_val, b.y_val)):
        np.testing.assert_array_equal(u, w)


@pytest.mark.parametrize("name", DATASETS)
def test_different_seeds_differ(name: str) -> None:
    a, b = make(name, seed=1), make(name, seed=2)
    if name == "three-losses":  # the training set is fixed; the validation draws are random
        assert not np.array_equal(a.y_val, b.y_val)
    else:
        assert not np.array_equal(a.X, b.X)
        assert not np.array_equal(a.X_val, b.X_val)


@pytest.mark.parametrize("name", CLASSIFICATION_DATASETS)
def test_class_counts(name: str) -> None:
    ds = make(name, n=200, v=50, positive_fraction=0.1)
    assert int(ds.y.sum()) == 20 and int((ds.y == 0).sum()) == 180
    assert int(ds.y_val.sum()) == 5
    ds = make(name, n=7, v=0, positive_fraction=0.3)  # round(2.1) = 2
    assert int(ds.y.sum()) == 2
    ds = make(name, n=7, v=9, positive_fraction=0.4)  # round(2.8) = 3, round(3.6) = 4
    assert int(ds.y.sum()) == 3 and int(ds.y_val.sum()) == 4
    ds = make(name, n=200, v=0)
    assert int(ds.y.sum()) == 100


@pytest.mark.parametrize("name", CLASSIFICATION_DATASETS)
def test_order_is_shuffled_unless_sorted(name: str) -> None:
    mixed = make(name)
    # a shuffled order has many class changes; sorted would have exactly one
    assert np.count_nonzero(np.diff(mixed.y)) > 20
    ordered = make(name, sort_by_class=True)
    assert np.all(np.diff(ordered.y) >= 0) and np.count_nonzero(np.diff(ordered.y)) == 1
    # same samples; within each class the shuffled order is kept (a stable sort)
    for c in (0.0, 1.0):
        np.testing.assert_array_equal(ordered.X[ordered.y == c], mixed.X[mixed.y == c])
    np.testing.assert_array_equal(ordered.X_val, mixed.X_val)


def test_sort_by_class_sorts_regression_by_target() -> None:
    mixed = make("line")
    ordered = make("line", sort_by_class=True)
    assert np.all(np.diff(ordered.y) >= 0)
    np.testing.assert_array_equal(ordered.y, np.sort(mixed.y))
    order = np.argsort(mixed.y)
    np.testing.assert_array_equal(ordered.X, mixed.X[order])


def test_line_and_plane_formulas() -> None:
    ds = make("line", n=500, noise=0.0)
    assert np.all(np.abs(ds.X) <= 1.0)
    np.testing.assert_allclose(ds.y, 2 * ds.X[:, 0] - 1, atol=1e-15)
    np.testing.assert_allclose(ds.y_val, 2 * ds.X_val[:, 0] - 1, atol=1e-15)
    ds = make("plane", n=500, noise=0.0)
    assert np.all(np.abs(ds.X) <= 1.0)
    np.testing.assert_allclose(ds.y, 1.5 * ds.X[:, 0] - 2 * ds.X[:, 1] + 0.5, atol=1e-15)
    ds = make("line", n=4000, v=0, noise=0.1)
    resid = ds.y - (2 * ds.X[:, 0] - 1)
    assert 0.09 < resid.std() < 0.11


def test_hyperplane_formula_and_its_isotropic_inputs() -> None:
    """y = x1 − x2 + x3 − … − x16 + 0.5 on 16 features U(−1, 1): each feature's variance is 1/3,
    so XᵀX/N is close to I/3 (the isotropic Hessian the batch-size lesson needs)."""
    ds = make("hyperplane", n=4000, v=10, noise=0.0)
    assert ds.X.shape == (4000, 16) and ds.feature_names == tuple(f"x{j}" for j in range(1, 17))
    assert np.all(np.abs(ds.X) <= 1.0)
    w = np.array([1.0, -1.0] * 8)
    np.testing.assert_allclose(ds.y, ds.X @ w + 0.5, atol=1e-13)
    np.testing.assert_allclose(ds.y_val, ds.X_val @ w + 0.5, atol=1e-13)
    gram = ds.X.T @ ds.X / len(ds.X)
    assert np.allclose(np.diag(gram), 1 / 3, atol=0.03) and np.abs(gram - np.diag(np.diag(gram))).max() < 0.03
    noisy = make("hyperplane", n=4000, v=0, noise=0.5)
    assert 0.47 < (noisy.y - noisy.X @ w - 0.5).std() < 0.53


def test_circles_moons_xor_spiral_geometry_without_noise() -> None:
    ds = make("circles", noise=0.0)
    r = np.hypot(ds.X[:, 0], ds.X[:, 1])
    np.testing.assert_allclose(r[ds.y == 0], 1.0)
    np.testing.assert_allclose(r[ds.y == 1], 0.5)
    ds = make("moons", noise=0.0)
    a = ds.X + (0.5, 0.25)  # undo the centring
    outer, inner = a[ds.y == 0], a[ds.y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0)
    assert np.all(outer[:, 1] >= 0)
    np.testing.assert_allclose(np.hypot(1 - inner[:, 0], 0.5 - inner[:, 1]), 1.0)
    assert np.all(inner[:, 1] <= 0.5)
    ds = make("xor", noise=0.0)
    np.testing.assert_array_equal(ds.y, (ds.X[:, 0] * ds.X[:, 1] > 0).astype(float))
    assert np.all(np.abs(ds.X) >= 0.1) and np.all(np.abs(ds.X) <= 1.0)
    ds = make("spiral", noise=0.0)
    assert np.all(np.hypot(ds.X[:, 0], ds.X[:, 1]) <= 1.0)


def test_blobs_centres_and_spread() -> None:
    ds = make("blobs", n=4000, v=0, noise=0.1)
    np.testing.assert_allclose(ds.X[ds.y == 1].mean(axis=0), [0.5, 0.5], atol=0.03)
    np.testing.assert_allclose(ds.X[ds.y == 0].mean(axis=0), [-0.5, -0.5], atol=0.03)
    np.testing.assert_allclose(ds.X[ds.y == 0].std(axis=0), [0.35, 0.35], atol=0.03)


def test_noise_jitters_classification_data() -> None:
    clean = make("circles", noise=0.0)
    noisy = make("circles", noise=0.2)
    r_clean = np.hypot(*clean.X.T)[clean.y == 0]
    r_noisy = np.hypot(*noisy.X.T)[noisy.y == 0]
    assert r_clean.std() < 1e-12 < 0.1 < r_noisy.std()


# --------------------------------------------------------------------------------------------
# The three-losses teaching example
# --------------------------------------------------------------------------------------------


def test_three_losses_values_and_minimisers() -> None:
    ds = make("three-losses", n=200, v=0, noise=0.5)  # samples and noise are ignored
    np.testing.assert_array_equal(ds.X[:, 0], [1.0, 0.5, 2.0])
    np.testing.assert_array_equal(ds.y, [-2.0, 1.0, -0.5625])
    x, y = ds.X[:, 0], ds.y
    # mean of (w x − y)² is minimised at Σxy/Σx² (set the derivative (2/3)Σ(wx − y)x to 0)
    assert float(np.sum(x * y)) == -2.625 and float(np.sum(x * x)) == 5.25
    assert float(np.sum(x * y) / np.sum(x * x)) == -0.5
    # each sample's own minimiser y_i/x_i; they disagree in sign
    per = y / x
    np.testing.assert_array_equal(per, [-2.0, 2.0, -0.28125])
    assert np.any(per < 0) and np.any(per > 0)
    # brute force over a fine grid agrees
    w = np.linspace(-3, 3, 6001)
    mean_loss = ((w[:, None] * x - y) ** 2).mean(axis=1)
    assert w[np.argmin(mean_loss)] == pytest.approx(-0.5, abs=1e-9)


def test_three_losses_validation_draws_from_the_three_points() -> None:
    ds = make("three-losses", v=30, noise=0.0)
    assert ds.X_val.shape == (30, 1)
    lookup = {1.0: -2.0, 0.5: 1.0, 2.0: -0.5625}
    for xv, yv in zip(ds.X_val[:, 0], ds.y_val):
        assert lookup[xv] == yv
    noisy = make("three-losses", v=30, noise=0.1)
    assert not np.array_equal(noisy.y_val, [lookup[v] for v in noisy.X_val[:, 0]])


# --------------------------------------------------------------------------------------------
# Standardize
# --------------------------------------------------------------------------------------------


def test_standardize_uses_training_statistics() -> None:
    raw = make("plane", n=100, v=20, seed=3)
    std = make("plane", n=100, v=20, seed=3, standardize=True)
    np.testing.assert_allclose(std.X.mean(axis=0), 0.0, atol=1e-14)
    np.testing.assert_allclose(std.X.std(axis=0), 1.0, rtol=1e-14)
    for k in range(2):
        col = raw.X[:, k]
        mu = sum(col) / len(col)
        sd = math.sqrt(sum((c - mu) ** 2 for c in col) / len(col))
        np.testing.assert_allclose(std.X_val[:, k], (raw.X_val[:, k] - mu) / sd, rtol=1e-12)
    np.testing.assert_array_equal(std.y, raw.y)


# --------------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------------


def test_unknown_dataset_suggests_the_closest() -> None:
    with pytest.raises(ScenarioError) as err:
        make("moon")
    assert err.value.setting == "dataset"
    msg = str(err.value)
    assert "did you mean 'moons'" in msg
    for name in DATASETS:
        assert name in msg
    assert "csv:PATH" in msg


@pytest.mark.parametrize(
    ("kw", "setting", "words"),
    [
        ({"n": 0}, "samples", "at least 1"),
        ({"n": 2.5}, "samples", "whole number"),
        ({"v": -1}, "val_samples", "at least 0"),
        ({"noise": -0.1}, "noise", "at least 0"),
        ({"noise": math.inf}, "noise", "finite"),
        ({"noise": math.nan}, "noise", "finite"),
        ({"positive_fraction": 0.0}, "positive_fraction", "strictly between 0 and 1"),
        ({"positive_fraction": 1.0}, "positive_fraction", "strictly between 0 and 1"),
        ({"positive_fraction": 1.5}, "positive_fraction", "strictly between 0 and 1"),
        ({"positive_fraction": math.nan}, "positive_fraction", "strictly between 0 and 1"),
        ({"target": "y"}, "target", "only applies to csv"),
    ],
)
def test_bad_arguments(kw: dict[str, object], setting: str, words: str) -> None:
    with pytest.raises(ScenarioError) as err:
        make("moons", **kw)  # type: ignore[arg-type]
    assert err.value.setting == setting
    assert words in str(err.value)


def test_classification_needs_a_sample_of_each_class() -> None:
    with pytest.raises(ScenarioError) as err:
        make("blobs", n=1)
    assert err.value.setting == "samples" and "at least 2" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        make("blobs", n=4, positive_fraction=0.1)  # round(0.4) = 0 positives
    assert err.value.setting == "positive_fraction"
    assert "at least one sample of each class" in str(err.value)
    make("line", n=1)  # regression is fine with one sample


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, name: str = "data.csv") -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_load_csv_happy_path(tmp_path: Path) -> None:
    path = write(tmp_path, "x1, x2 ,label\n0.5,-1,1\n2e-1, 3 ,0\n\n-4,5.25,1\n")
    X, y, names, target = load_csv(path)
    np.testing.assert_array_equal(X, [[0.5, -1.0], [0.2, 3.0], [-4.0, 5.25]])
    np.testing.assert_array_equal(y, [1.0, 0.0, 1.0])
    assert names == ("x1", "x2") and target == "label"
    X, y, names, target = load_csv(path, target="x1")
    np.testing.assert_array_equal(X, [[-1.0, 1.0], [3.0, 0.0], [5.25, 1.0]])
    np.testing.assert_array_equal(y, [0.5, 0.2, -4.0])
    assert names == ("x2", "label") and target == "x1"


def test_load_csv_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffa,b\n1,2\n".encode())
    X, y, names, target = load_csv(str(p))
    assert names == ("a",) and target == "b" and y[0] == 2.0


def test_make_dataset_from_csv(tmp_path: Path) -> None:
    rows = [(float(i), float(i) * 0.5, float(i % 2)) for i in range(10)]
    path = write(tmp_path, "a,b,c\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    ds = make_dataset(f"csv:{path}", 999, 3, 5.0, np.random.default_rng(0))  # samples/noise ignored
    assert ds.task == "classification" and ds.name == f"csv:{path}"
    assert ds.feature_names == ("a", "b") and ds.target_name == "c"
    assert ds.n_samples == 7 and ds.X_val.shape == (3, 2)
    # training rows keep file order; train + val are exactly the file's rows
    assert np.all(np.diff(ds.X[:, 0]) > 0)
    assert np.all(np.diff(ds.X_val[:, 0]) > 0)
    train = np.column_stack([ds.X, ds.y]).tolist()
    val = np.column_stack([ds.X_val, ds.y_val]).tolist()
    got = sorted(tuple(r) for r in train + val)
    assert got == sorted(rows)
    again = make_dataset(f"csv:{path}", 999, 3, 5.0, np.random.default_rng(0))
    np.testing.assert_array_equal(again.X_val, ds.X_val)
    reg = make_dataset(f"csv:{path}", 1, 0, 0.0, np.random.default_rng(0), target="b")
    assert reg.task == "regression" and reg.target_name == "b" and reg.n_samples == 10
    np.testing.assert_array_equal(reg.y, [r[1] for r in rows])


def test_csv_standardize_leaves_a_constant_column_centred(tmp_path: Path) -> None:
    path = write(tmp_path, "a,k,y\n1,7,0.5\n2,7,1.5\n3,7,2.5\n6,7,3\n")
    ds = make_dataset(f"csv:{path}", 1, 0, 0.0, np.random.default_rng(0), standardize=True)
    np.testing.assert_array_equal(ds.X[:, 1], [0.0, 0.0, 0.0, 0.0])
    # a: mean 3, population std sqrt((4 + 1 + 0 + 9)/4) = sqrt(3.5)
    np.testing.assert_allclose(ds.X[:, 0], np.array([-2.0, -1.0, 0.0, 3.0]) / math.sqrt(3.5), rtol=1e-15)


def test_dataset_round_trips_through_csv(tmp_path: Path) -> None:
    ds = make("moons", n=30, v=0)
    lines = [",".join(ds.feature_names + (ds.target_name,))]
    lines += [",".join(repr(float(v)) for v in (*x, t)) for x, t in zip(ds.X, ds.y)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    again = make_dataset(f"csv:{path}", 1, 0, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(again.X, ds.X)
    np.testing.assert_array_equal(again.y, ds.y)
    assert again.task == "classification"


def csv_error(path: str, **kw: object) -> DataError:
    with pytest.raises(DataError) as err:
        load_csv(path, **kw)  # type: ignore[arg-type]
    assert err.value.setting == "csv" and err.value.value == path
    assert path in str(err.value)
    return err.value


def test_csv_missing_file(tmp_path: Path) -> None:
    err = csv_error(str(tmp_path / "nope.csv"))
    assert "not found" in str(err)


def test_csv_directory(tmp_path: Path) -> None:
    err = csv_error(str(tmp_path))
    assert "directory" in str(err)


def test_csv_empty_file(tmp_path: Path) -> None:
    assert "empty" in str(csv_error(write(tmp_path, "")))
    assert "empty" in str(csv_error(write(tmp_path, "\n\n", name="blank.csv")))


def test_csv_header_only(tmp_path: Path) -> None:
    assert "no data rows" in str(csv_error(write(tmp_path, "a,b\n")))


def test_csv_unknown_target_lists_columns(tmp_path: Path) -> None:
    err = csv_error(write(tmp_path, "x1,x2,label\n1,2,0\n"), target="labl")
    msg = str(err)
    assert "'labl'" in msg and "'x1', 'x2', 'label'" in msg and "did you mean 'label'" in msg


def test_csv_too_big(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "a,b\n" + "1,2\n" * 30)  # 4 + 30·4 = 124 bytes
    monkeypatch.setattr(datasets, "CSV_MAX_BYTES", 100)
    msg = str(csv_error(path))
    assert "124 bytes" in msg and "limit is 100 bytes" in msg


def test_csv_wrong_number_of_cells(tmp_path: Path) -> None:
    msg = str(csv_error(write(tmp_path, "a,b,c\n1,2,3\n4,5\n")))
    assert "line 3" in msg and "2 cells" in msg and "3 columns" in msg
    msg = str(csv_error(write(tmp_path, "a,b\n1,2\n\n1,2,3\n", name="more.csv")))
    assert "line 4" in msg and "3 cells" in msg


def test_csv_non_numeric_cell(tmp_path: Path) -> None:
    msg = str(csv_error(write(tmp_path, "x1,x2,y\n1,2,3\n4,5,6\n7,abc,9\n")))
    assert "line 4, column 'x2': 'abc' is not a number" in msg


def test_csv_empty_cell(tmp_path: Path) -> None:
    msg = str(csv_error(write(tmp_path, "x1,x2,y\n1,2,3\n4, ,6\n")))
    assert "line 3, column 'x2'" in msg and "empty" in msg


def test_csv_non_finite_cell(tmp_path: Path) -> None:
    msg = str(csv_error(write(tmp_path, "x1,y\n1,2\nnan,3\n")))
    assert "line 3, column 'x1'" in msg and "'nan'" in msg and "finite" in msg


def test_csv_bad_header(tmp_path: Path) -> None:
    assert "not column names" in str(csv_error(write(tmp_path, "1,2\n3,4\n")))
    assert "repeats column 'a'" in str(csv_error(write(tmp_path, "a,b,a\n1,2,3\n", name="dup.csv")))
    assert "at least 2" in str(csv_error(write(tmp_path, "a\n1\n", name="one.csv")))
    assert "no name" in str(csv_error(write(tmp_path, "a,,b\n1,2,3\n", name="noname.csv")))


def test_csv_not_utf8(tmp_path: Path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes("a,\xe9\n1,2\n".encode("latin-1"))
    assert "UTF-8" in str(csv_error(str(p)))


def test_csv_too_many_held_out_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3,4\n5,6\n")
    with pytest.raises(ScenarioError) as err:
        make_dataset(f"csv:{path}", 1, 3, 0.0, np.random.default_rng(0))
    assert err.value.setting == "val_samples" and "3 data rows" in str(err.value)
    make_dataset(f"csv:{path}", 1, 2, 0.0, np.random.default_rng(0))  # one row left: fine


def test_csv_error_through_make_dataset(tmp_path: Path) -> None:
    path = str(tmp_path / "missing.csv")
    with pytest.raises(DataError) as err:
        make_dataset(f"csv:{path}", 10, 0, 0.0, np.random.default_rng(0))
    assert path in str(err.value)
    with pytest.raises(DataError):
        make_dataset("csv:", 10, 0, 0.0, np.random.default_rng(0))
