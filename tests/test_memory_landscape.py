"""The loss landscape in bounded memory (issue 24): the same numbers as the one-array
computation, a closed form for least squares, and a peak allocation that does not grow with N."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine.chunks import CHUNK_ELEMENTS, mean_losses, pairwise_split, pairwise_sums
from mbsim.engine.landscape import axes_plane, plane_grid
from mbsim.engine.models import LinearModel, LogisticModel
from mbsim.engine.models.mlp import MLPModel

from memory_helpers import sample_data, traced_peak


def one_array(model, params, X, y) -> np.ndarray:  # noqa: ANN001
    """The computation before issue 24: the whole (G, N) array, then its row means."""
    return model.per_sample_losses_many(params, X, y).mean(axis=1)


def test_pairwise_split_is_numpys() -> None:
    # NumPy's pairwise sum of m > 128 values: the first ⌊m/2⌋ rounded down to a multiple of 8
    assert pairwise_split(129) == 64
    assert pairwise_split(1000) == 496        # 500 -> 496
    assert pairwise_split(10**6) == 500_000
    assert pairwise_split(1_000_001) == 500_000


@pytest.mark.parametrize("n", [1, 7, 8, 127, 129, 1000, 4097, 65_537, 1_000_003])
@pytest.mark.parametrize("most", [128, 1000, 50_000])
def test_sums_from_pieces_are_numpys_bit_for_bit(n: int, most: int) -> None:
    # values over 10 decades, so that any other order of the additions would round differently
    rng = np.random.default_rng(n + most)
    a = rng.standard_normal((3, n)) * 10.0 ** rng.uniform(-5, 5, (3, n))
    seen = []

    def piece(lo: int, hi: int) -> np.ndarray:
        assert hi - lo <= max(most, 128)
        seen.append((lo, hi))
        return np.add.reduce(a[:, lo:hi], axis=1)

    got = pairwise_sums(n, most, piece)
    assert np.array_equal(got, np.add.reduce(a, axis=1))
    # the pieces tile the samples in order
    assert seen[0][0] == 0 and seen[-1][1] == n
    assert all(x[1] == y[0] for x, y in zip(seen, seen[1:]))


def _data(model, n: int, seed: int = 0):  # noqa: ANN001, ANN202
    X, y, _ = sample_data(model, n, seed)
    return X, y


@pytest.mark.parametrize("n", [5, 200, 1001, 20_011])
@pytest.mark.parametrize("elements", [128, 4096, 100_000])
def test_one_feature_is_bit_for_bit(n: int, elements: int) -> None:
    # one feature: x·w + b is an elementwise product, so every piece is the whole's numbers
    for model in (LinearModel("linear", "mse", 1), LogisticModel(1)):
        X, y = _data(model, n)
        params = np.random.default_rng(1).standard_normal((301, model.n_params)) * 3
        assert np.array_equal(mean_losses(model, params, X, y, elements), one_array(model, params, X, y))


@pytest.mark.parametrize("model", [LinearModel("linear", "mse", 2), LinearModel("linear", "mse", 7),
                                   LogisticModel(5), MLPModel("mse", 2, 8, "tanh"),
                                   MLPModel("bce", 3, 5, "relu")], ids=repr)
def test_several_features_within_the_last_bits(model) -> None:  # noqa: ANN001
    # BLAS may round a product over several features differently for a piece of rows than for
    # the whole (its kernel depends on the sizes): the means agree to a few units in the last place
    X, y = _data(model, 5003)
    params = np.random.default_rng(2).standard_normal((257, model.n_params))
    ref = one_array(model, params, X, y)
    got = mean_losses(model, params, X, y, 1000)
    assert np.all(np.abs(got - ref) <= 4 * np.spacing(np.abs(ref)))


def test_small_problems_take_the_one_array_path() -> None:
    model = LinearModel("linear", "mse", 3)
    X, y = _data(model, 100)
    params = np.random.default_rng(3).standard_normal((50, model.n_params))
    assert np.array_equal(model.losses_many(params, X, y), one_array(model, params, X, y))


def test_least_squares_landscape_is_the_closed_form() -> None:
    # L(w, b) = mean((w x + b − y)²) = w² mean(x²) + 2wb mean(x) + b² − 2w mean(xy) − 2b mean(y) + mean(y²)
    model = LinearModel("linear", "mse", 1)
    rng = np.random.default_rng(4)
    n = 300_007
    x = rng.uniform(-2, 2, n)
    y = 1.5 * x - 0.5 + 0.3 * rng.standard_normal(n)
    X = x[:, None]
    xs, ys = np.linspace(-1, 4, 40), np.linspace(-3, 2, 25)
    grid = plane_grid(model, X, y, axes_plane(np.zeros(2), 0, 1), xs, ys)
    w, b = np.meshgrid(xs, ys)
    sx, sxx, sy, syy, sxy = x.mean(), (x * x).mean(), y.mean(), (y * y).mean(), (x * y).mean()
    closed = w * w * sxx + 2 * w * b * sx + b * b - 2 * w * sxy - 2 * b * sy + syy
    assert grid.loss.shape == (25, 40)
    np.testing.assert_allclose(grid.loss, closed, rtol=1e-11)


def _landscape_peak(model, n: int, points: tuple[int, int]) -> int:  # noqa: ANN001
    """Peak bytes allocated while a landscape of ``points`` (columns, rows) over n samples is
    computed, the data already there (tracemalloc counts NumPy's allocations)."""
    X, y = _data(model, n)
    plane = axes_plane(np.zeros(model.n_params), 0, 1)
    xs, ys = np.linspace(-1, 1, points[0]), np.linspace(-1, 1, points[1])
    peak, grid = traced_peak(lambda: plane_grid(model, X, y, plane, xs, ys))
    assert grid.loss.shape == (points[1], points[0]) and np.all(np.isfinite(grid.loss))
    return peak


#: a piece's working arrays are a few times CHUNK_ELEMENTS float64 numbers (outputs, the bce's
#: temporaries); the bound leaves room for the grid's own arrays
BOUND = 6 * 8 * CHUNK_ELEMENTS


def test_landscape_memory_does_not_grow_with_n() -> None:
    # 120 grid points over 10⁶ samples: the one-array computation held 120 × 10⁶ × 8 B = 960 MB
    model = LinearModel("linear", "mse", 1)
    small = _landscape_peak(model, 10_000, (12, 10))
    large = _landscape_peak(model, 1_000_000, (12, 10))
    assert large < BOUND, f"{large / 2**20:.1f} MB"
    assert small < BOUND
    assert large < small + 2**20       # not a byte per sample more: the same pieces


def test_full_screen_landscape_is_bounded() -> None:
    # 120×29 points (a landscape at 120×40) over 20,000 samples was 3480 × 20,000 × 8 B = 557 MB
    model = LogisticModel(2)
    peak = _landscape_peak(model, 20_000, (120, 29))
    assert peak < BOUND, f"{peak / 2**20:.1f} MB"


def test_mlp_landscape_is_bounded() -> None:
    # the MLP's hidden layer (g, H, n) lives in the same pieces
    model = MLPModel("bce", 2, 8, "tanh")
    peak = _landscape_peak(model, 200_000, (4, 3))
    assert peak < BOUND, f"{peak / 2**20:.1f} MB"
