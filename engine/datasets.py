"""Built-in datasets and CSV loading (pure NumPy, float64).

Every generator draws all of its randomness from the ``np.random.Generator`` it is given, so a
seed fixes the data. Training and validation samples are drawn from the same distribution
(training first, then validation, from the same generator).

Regression (target ``y``):

* ``line``: x ~ U(−1, 1), y = 2x − 1 + noise·ε, ε ~ N(0, 1). One feature ``x``.
* ``plane``: x ∈ U(−1, 1)², y = 1.5·x1 − 2·x2 + 0.5 + noise·ε. Features ``x1, x2``.
* ``hyperplane``: x ∈ U(−1, 1)¹⁶, y = x1 − x2 + x3 − … − x16 + 0.5 + noise·ε. Features
  ``x1 … x16``: a linear model has 17 parameters and an isotropic Hessian (every feature has
  variance 1/3), the setting where the noise scale B_simple predicts the critical batch size
  (the batch-size lab on it shows perfect scaling, diminishing returns and maximal data
  parallelism).
* ``three-losses``: the teaching example for the one-parameter model y = w·x (no bias): always
  exactly 3 training samples x = (1, 0.5, 2), y = (−2, 1, −0.5625); ``samples`` and ``noise``
  are ignored for the training set. The per-sample MSE losses (w·x_i − y_i)² have their minima
  at w = y_i/x_i = −2, 2, −0.28125 (they pull in different directions); the mean loss has its
  minimum at w* = Σx_i y_i / Σx_i² = −2.625 / 5.25 = −0.5 exactly. A validation set (only if
  ``val_samples`` > 0) draws from the same three points with replacement and adds noise·ε to y.

Classification (target ``label``, 0.0 or 1.0; two features ``x1, x2``). ``noise`` is the
standard deviation of a Gaussian jitter of the points, so the default 0.1 gives data that are
clearly separable but not trivially so:

* ``blobs``: class 0 ~ N((−0.5, −0.5), s²I), class 1 ~ N((0.5, 0.5), s²I) with s = 0.25 + noise
  (at noise 0.1 typically a few of 200 points lie on the wrong side of x1 + x2 = 0, so logistic
  regression usually has a finite optimum).
* ``moons``: two interleaving half circles like ``sklearn.datasets.make_moons``: class 0 on
  (cos t, sin t), class 1 on (1 − cos t, 0.5 − sin t), t ~ U(0, π), shifted by (−0.5, −0.25)
  to centre the data, plus noise·N(0, I).
* ``circles``: like ``sklearn.datasets.make_circles(factor=0.5)``: class 0 on the circle of radius
  1, class 1 on the circle of radius 0.5, angle ~ U(0, 2π), plus noise·N(0, I).
* ``xor``: each point is drawn in a quadrant, |x1|, |x2| ~ U(0.1, 1); class 1 in the quadrants
  where x1·x2 > 0 (first and third), class 0 where x1·x2 < 0; then noise·N(0, I) is added (so
  with noise some points cross an axis; the label stays the one of the quadrant drawn).
* ``spiral``: two interleaved spirals: r = t, angle 2π·1.25·t + π·class, t = √u with
  u ~ U(0, 1) (evenly spread along the arm), plus noise·N(0, I).

Class counts: round(positive_fraction·N) samples of class 1 (Python's ``round``), the rest
class 0; the validation set likewise with V. The sample order is shuffled (a random permutation).

``sort_by_class=True`` sorts the training set (stably) by class, all 0s then all 1s; for a
regression dataset it sorts by target, smallest first. It is for demonstrating why sequential
sampling of sorted data goes wrong.

``csv:PATH``: see :func:`load_csv`. ``samples``, ``noise`` and ``positive_fraction`` are ignored;
``val_samples`` rows chosen with the generator are held out, the other rows are the training
set in file order (and the held-out rows keep file order too).

``standardize=True`` (any dataset) scales each feature column to mean 0, std 1 with the training
rows' mean and (population) standard deviation, and applies the same affine map to the
validation rows; a constant column is only centred.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mbsim.engine.errors import DataError, ScenarioError

REGRESSION_DATASETS: tuple[str, ...] = ("line", "plane", "hyperplane", "three-losses")
#: The hyperplane dataset's features (d) and weights: y = Σ_j w_j x_j + 0.5 + noise·ε.
HYPERPLANE_FEATURES = 16
HYPERPLANE_WEIGHTS: tuple[float, ...] = tuple(1.0 if j % 2 == 0 else -1.0 for j in range(HYPERPLANE_FEATURES))
CLASSIFICATION_DATASETS: tuple[str, ...] = ("blobs", "moons", "circles", "xor", "spiral")
DATASETS: tuple[str, ...] = REGRESSION_DATASETS + CLASSIFICATION_DATASETS  # plus "csv:PATH"
CSV_PREFIX = "csv:"
CSV_MAX_BYTES = 64 * 1024 * 1024  # room for 10**6 rows of a few full-precision columns
#: Features (input columns) a CSV may have; with the target, MAX_FEATURES + 1 columns.
MAX_FEATURES = 1000

# The three-losses teaching example (see the module docstring).
THREE_LOSSES_X: tuple[float, ...] = (1.0, 0.5, 2.0)
THREE_LOSSES_Y: tuple[float, ...] = (-2.0, 1.0, -0.5625)


@dataclass(frozen=True)
class Dataset:
    """A training set (X, y) in index order and a held-out validation set (X_val, y_val).

    Arrays are float64 and read-only. For classification, y holds 0.0 and 1.0.
    """

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    target_name: str

    @property
    def n_samples(self) -> int:
        """N, the number of training samples."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """d, the number of input features."""
        return int(self.X.shape[1])

    @property
    def labels(self) -> np.ndarray | None:
        """Training labels as int (0/1) for classification, ``None`` for regression: in the
        smallest integer type that holds them (a byte a sample, not 8, at N = 10⁶: issue 24)."""
        if self.task != "classification":
            return None
        lo, hi = (float(self.y.min()), float(self.y.max())) if self.y.size else (0.0, 0.0)
        for kind in (np.int8, np.int16, np.int32):
            info = np.iinfo(kind)
            if info.min <= lo and hi <= info.max:
                return self.y.astype(kind)
        return self.y.astype(np.int64)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _unknown_dataset(name: object) -> ScenarioError:
    allowed = ", ".join(DATASETS) + ", or csv:PATH"
    hint = ""
    if isinstance(name, str):
        match = difflib.get_close_matches(name, DATASETS, n=1)
        if match:
            hint = f"; did you mean {match[0]!r}?"
    return ScenarioError("dataset", name, f"unknown dataset; allowed: {allowed}{hint}")


def _check_common(
    n_samples: object, val_samples: object, noise: object, positive_fraction: object
) -> None:
    if not _is_int(n_samples) or n_samples < 1:  # type: ignore[operator]
        raise ScenarioError("samples", n_samples, "must be a whole number of at least 1")
    if not _is_int(val_samples) or val_samples < 0:  # type: ignore[operator]
        raise ScenarioError("val_samples", val_samples, "must be a whole number of at least 0")
    if not _is_real(noise) or not math.isfinite(noise) or noise < 0:  # type: ignore[arg-type,operator]
        raise ScenarioError("noise", noise, "must be a finite number of at least 0")
    if (
        not _is_real(positive_fraction)
        or not math.isfinite(positive_fraction)  # type: ignore[arg-type]
        or not 0.0 < positive_fraction < 1.0  # type: ignore[operator]
    ):
        raise ScenarioError(
            "positive_fraction",
            positive_fraction,
            "must be strictly between 0 and 1 (the fraction of samples in class 1)",
        )


from .scenario import class_counts  # noqa: E402  (one rule, NumPy-free, for validate() too)


# --------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------


def _line(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(−1, 1), y = 2x − 1 + noise·N(0, 1)."""
    X = rng.uniform(-1.0, 1.0, size=(n, 1))
    y = 2.0 * X[:, 0] - 1.0 + noise * rng.standard_normal(n)
    return X, y


def _plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(−1, 1)², y = 1.5·x1 − 2·x2 + 0.5 + noise·N(0, 1)."""
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = 1.5 * X[:, 0] - 2.0 * X[:, 1] + 0.5 + noise * rng.standard_normal(n)
    return X, y


def _hyperplane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x ~ U(−1, 1)¹⁶, y = x1 − x2 + x3 − … − x16 + 0.5 + noise·N(0, 1)."""
    X = rng.uniform(-1.0, 1.0, size=(n, HYPERPLANE_FEATURES))
    y = X @ np.asarray(HYPERPLANE_WEIGHTS) + 0.5 + noise * rng.standard_normal(n)
    return X, y


def _three_losses_val(
    n: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """n draws (with replacement) of the three teaching points, y + noise·N(0, 1)."""
    idx = rng.integers(0, 3, size=n)
    X = np.asarray(THREE_LOSSES_X, dtype=np.float64)[idx].reshape(n, 1)
    y = np.asarray(THREE_LOSSES_Y, dtype=np.float64)[idx] + noise * rng.standard_normal(n)
    return X, y


def _blobs(cls: int, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """N(±(0.5, 0.5), (0.25 + noise)² I): class 0 at (−0.5, −0.5), class 1 at (0.5, 0.5)."""
    centre = 0.5 if cls == 1 else -0.5
    return centre + (0.25 + noise) * rng.standard_normal((n, 2))


def _moons(cls: int, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """make_moons: class 0 on (cos t, sin t), class 1 on (1 − cos t, 0.5 − sin t); centred."""
    t = rng.uniform(0.0, math.pi, size=n)
    if cls == 0:
        pts = np.column_stack([np.cos(t), np.sin(t)])
    else:
        pts = np.column_stack([1.0 - np.cos(t), 0.5 - np.sin(t)])
    pts -= (0.5, 0.25)
    return pts + noise * rng.standard_normal((n, 2))


def _circles(cls: int, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """make_circles(factor=0.5): class 0 at radius 1, class 1 at radius 0.5."""
    radius = 1.0 if cls == 0 else 0.5
    a = rng.uniform(0.0, 2.0 * math.pi, size=n)
    pts = radius * np.column_stack([np.cos(a), np.sin(a)])
    return pts + noise * rng.standard_normal((n, 2))


def _xor(cls: int, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Quadrants: class 1 where x1·x2 > 0, class 0 where x1·x2 < 0; |x_k| ~ U(0.1, 1)."""
    mag = rng.uniform(0.1, 1.0, size=(n, 2))
    s1 = rng.choice(np.array([-1.0, 1.0]), size=n)
    s2 = s1 if cls == 1 else -s1
    pts = mag * np.column_stack([s1, s2])
    return pts + noise * rng.standard_normal((n, 2))


def _spiral(cls: int, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Arm of class ``cls``: r = t, angle 2π·1.25·t + π·cls, t = √U(0, 1)."""
    t = np.sqrt(rng.uniform(0.0, 1.0, size=n))
    angle = 2.0 * math.pi * 1.25 * t + math.pi * cls
    pts = t[:, None] * np.column_stack([np.cos(angle), np.sin(angle)])
    return pts + noise * rng.standard_normal((n, 2))


_CLASSIFIERS: dict[str, Callable[[int, int, float, np.random.Generator], np.ndarray]] = {
    "blobs": _blobs,
    "moons": _moons,
    "circles": _circles,
    "xor": _xor,
    "spiral": _spiral,
}


def _classification(
    name: str, n: int, noise: float, positive_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """n points: class counts from :func:`class_counts`, in a random order."""
    n0, n1 = class_counts(n, positive_fraction)
    gen = _CLASSIFIERS[name]
    X = np.concatenate([gen(0, n0, noise, rng), gen(1, n1, noise, rng)])
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    order = rng.permutation(n)
    return X[order], y[order]


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _csv_number(text: str, path: str, line: int, column: str) -> float:
    cell = text.strip()
    if cell == "":
        raise DataError(
            "csv", path, f"line {line}, column {column!r}: the cell is empty; every cell must be a number"
        )
    try:
        value = float(cell)
    except ValueError:
        raise DataError(
            "csv", path, f"line {line}, column {column!r}: {cell!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DataError(
            "csv", path, f"line {line}, column {column!r}: {cell!r} is not a finite number"
        )
    return value


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_csv(
    path: str, *, target: str | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """Read a numeric CSV file: (X (n, d), y (n,), feature names, target name).

    The first line is a header of column names (at least two columns); every other non-blank
    line is a row with one number per column. The target is the column named ``target``
    (default: the last column); the other columns, in file order, are the features.
    Raises :class:`DataError` naming the file and, for a bad cell, the line (1-based, the
    header is line 1) and the column.
    """
    if not path:
        raise DataError("csv", path, "no file given; write the dataset as csv:PATH")
    from .files import read_text_limited
    from .scenario import MAX_SAMPLES

    try:
        text = read_text_limited(path, CSV_MAX_BYTES, "csv")
    except ScenarioError as err:
        reason = "file not found" if err.reason == "does not exist" else err.reason
        raise DataError("csv", path, reason) from None
    if text.strip() == "":
        raise DataError(
            "csv", path, "file is empty; it needs a header row of column names and data rows"
        )

    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header: list[str] | None = None
        rows: list[list[float]] = []
        for cells in reader:
            line = reader.line_num
            if len(cells) == 0 or (len(cells) == 1 and cells[0].strip() == ""):
                continue  # a blank line
            if header is None:
                header = [c.strip() for c in cells]
                if len(header) > MAX_FEATURES + 1:
                    raise DataError(
                        "csv",
                        path,
                        f"line {line}: the header has {len(header):,} columns; the limit is "
                        f"{MAX_FEATURES + 1:,} ({MAX_FEATURES:,} features and a target)",
                    )
                for k, col in enumerate(header):
                    if col == "":
                        raise DataError(
                            "csv", path, f"line {line}: header column {k + 1} has no name"
                        )
                    if not col.isprintable():
                        raise DataError(
                            "csv", path, f"line {line}: the name of header column {k + 1} "
                            f"({col!r}) holds a control character; column names must be "
                            "printable text",
                        )
                seen: set[str] = set()
                for col in header:
                    if col in seen:
                        raise DataError(
                            "csv",
                            path,
                            f"line {line}: the header repeats column {col!r}; "
                            "column names must be unique",
                        )
                    seen.add(col)
                if all(_looks_numeric(c) for c in header):
                    raise DataError(
                        "csv",
                        path,
                        f"line {line}: the first row holds numbers, not column names; "
                        "the first row must be a header of column names",
                    )
                if len(header) < 2:
                    raise DataError(
                        "csv",
                        path,
                        f"line {line}: the header has {len(header)} column; at least 2 "
                        "are needed (one or more features and a target)",
                    )
                continue
            if len(cells) != len(header):
                raise DataError(
                    "csv",
                    path,
                    f"line {line}: has {len(cells)} cells; the header has "
                    f"{len(header)} columns",
                )
            if len(rows) == MAX_SAMPLES:
                raise DataError(
                    "csv",
                    path,
                    f"has more than {MAX_SAMPLES:,} data rows; the limit is {MAX_SAMPLES:,} "
                    "(training and validation rows together)",
                )
            rows.append(
                [_csv_number(c, path, line, col) for c, col in zip(cells, header)]
            )
    except csv.Error as err:
        raise DataError("csv", path, f"is not valid CSV: {err}") from None

    if header is None:
        raise DataError(
            "csv", path, "file is empty; it needs a header row of column names and data rows"
        )
    if not rows:
        raise DataError("csv", path, "has a header row but no data rows")

    if target is None:
        t = len(header) - 1
    elif target in header:
        t = header.index(target)
    else:
        columns = ", ".join(repr(c) for c in header)
        match = difflib.get_close_matches(target, header, n=1)
        hint = f"; did you mean {match[0]!r}?" if match else ""
        raise DataError(
            "csv", path, f"has no column {target!r} to use as the target; its columns are {columns}{hint}"
        )
    data = np.asarray(rows, dtype=np.float64)
    features = [k for k in range(len(header)) if k != t]
    X = np.ascontiguousarray(data[:, features])
    y = np.ascontiguousarray(data[:, t])
    return X, y, tuple(header[k] for k in features), header[t]


def csv_task(y: np.ndarray) -> str:
    """"classification" if the targets are exactly the two values 0 and 1, else "regression"."""
    values = np.unique(y)
    if values.size == 2 and values[0] == 0.0 and values[1] == 1.0:
        return "classification"
    return "regression"


# --------------------------------------------------------------------------------------------
# make_dataset
# --------------------------------------------------------------------------------------------


def _standardize(
    X: np.ndarray, X_val: np.ndarray, names: tuple[str, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """(X − μ)/σ with the training mean μ and population std σ per column (σ = 0: only − μ).

    Values so large that μ or σ overflow (e.g. ±1e300: their squares are beyond float64) are
    refused with a :class:`ScenarioError` naming the column, instead of turning it into zeros.
    """
    if X.shape[0] == 0:
        return X, X_val
    with np.errstate(all="ignore"):
        mu = X.mean(axis=0)
        sd = X.std(axis=0)
        ok = np.isfinite(mu) & np.isfinite(sd)
        sd = np.where(sd > 0.0, sd, 1.0)
        Xs, Xv = (X - mu) / sd, (X_val - mu) / sd
    ok &= np.isfinite(Xs).all(axis=0)
    if X_val.size:
        ok &= np.isfinite(Xv).all(axis=0)
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        column = repr(names[k]) if k < len(names) else str(k + 1)
        raise ScenarioError(
            "standardize", True,
            f"feature {column} has values too large to standardise (its mean or standard "
            "deviation is beyond floating point); rescale the column in the file",
        )
    return Xs, Xv


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _sorted_by_target(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(y, kind="stable")
    return X[order], y[order]


def make_dataset(
    name: str,
    n_samples: int,
    val_samples: int,
    noise: float,
    rng: np.random.Generator,
    *,
    positive_fraction: float = 0.5,
    sort_by_class: bool = False,
    target: str | None = None,
    standardize: bool = False,
) -> Dataset:
    """Make the named dataset: N = ``n_samples`` training and V = ``val_samples`` validation
    samples (see the module docstring for each generator).

    ``name`` is one of :data:`DATASETS` or ``"csv:PATH"`` (then ``target`` names the target
    column; ``target`` is only allowed for CSV). Raises :class:`ScenarioError` naming the bad
    setting (dataset, samples, val_samples, noise, positive_fraction, target) and
    :class:`DataError` for an unreadable CSV file.
    """
    if not isinstance(name, str):
        raise _unknown_dataset(name)
    _check_common(n_samples, val_samples, noise, positive_fraction)
    n, v, noise_f, pf = int(n_samples), int(val_samples), float(noise), float(positive_fraction)

    if name.startswith(CSV_PREFIX):
        path = name[len(CSV_PREFIX) :]
        X_all, y_all, feature_names, target_name = load_csv(path, target=target)
        rows = X_all.shape[0]
        if v >= rows:
            raise ScenarioError(
                "val_samples",
                v,
                f"must be less than the {rows} data rows of {path}, so that at least one row "
                "is left for training",
            )
        task = csv_task(y_all)
        held = np.zeros(rows, dtype=bool)
        if v > 0:
            held[rng.choice(rows, size=v, replace=False)] = True
        X, y = X_all[~held], y_all[~held]
        X_val, y_val = X_all[held], y_all[held]
        if task == "classification" and np.unique(y).size < 2:
            raise ScenarioError(
                "val_samples",
                v,
                f"holding out {v} rows leaves only class {int(y[0])} in the training set; "
                "classification needs at least one training sample of each class",
            )
    else:
        if target is not None:
            raise ScenarioError(
                "target",
                target,
                f"only applies to csv:PATH datasets; {name!r} has its own target",
            )
        if name in REGRESSION_DATASETS:
            task = "regression"
            if name == "three-losses":
                X = np.asarray(THREE_LOSSES_X, dtype=np.float64).reshape(3, 1)
                y = np.asarray(THREE_LOSSES_Y, dtype=np.float64)
                X_val, y_val = _three_losses_val(v, noise_f, rng)
                feature_names = ("x",)
            else:
                gen = {"line": _line, "plane": _plane, "hyperplane": _hyperplane}[name]
                X, y = gen(n, noise_f, rng)
                X_val, y_val = gen(v, noise_f, rng)
                feature_names = {"line": ("x",), "plane": ("x1", "x2")}.get(
                    name, tuple(f"x{j + 1}" for j in range(HYPERPLANE_FEATURES)))
            target_name = "y"
        elif name in CLASSIFICATION_DATASETS:
            task = "classification"
            if n < 2:
                raise ScenarioError(
                    "samples",
                    n,
                    "a classification dataset needs at least 2 samples, at least one of each class",
                )
            n0, n1 = class_counts(n, pf)
            if n0 == 0 or n1 == 0:
                raise ScenarioError(
                    "positive_fraction",
                    pf,
                    f"gives {n1} of {n} samples in class 1 and {n0} in class 0; classification "
                    "needs at least one sample of each class (change positive_fraction or "
                    "samples)",
                )
            X, y = _classification(name, n, noise_f, pf, rng)
            X_val, y_val = _classification(name, v, noise_f, pf, rng)
            feature_names = ("x1", "x2")
            target_name = "label"
        else:
            raise _unknown_dataset(name)

    if sort_by_class:
        X, y = _sorted_by_target(X, y)
    if standardize:
        X, X_val = _standardize(X, X_val, tuple(feature_names))
    d = X.shape[1]
    return Dataset(
        name=name,
        task=task,
        X=_frozen(X),
        y=_frozen(y),
        X_val=_frozen(np.asarray(X_val).reshape(-1, d)),
        y_val=_frozen(y_val),
        feature_names=tuple(feature_names),
        target_name=target_name,
    )
