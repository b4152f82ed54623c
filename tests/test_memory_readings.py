"""Full-data readings in bounded memory (issue 24): the noise readout, the MLP's passes over the
whole data set and the full-batch reference path, computed in pieces of rows — the same numbers
(checked against independent formulas and the one-array computation) with a peak allocation
that does not grow with N × P or N × H."""

from __future__ import annotations

import numpy as np
import pytest

import mbsim.engine.models.mlp as mlp_module
from mbsim.engine.landscape import full_batch_gradient
from mbsim.engine.models import LinearModel, LogisticModel
from mbsim.engine.models.mlp import MLPModel
from mbsim.engine.noise import model_noise_report, noise_report

from memory_helpers import sample_data, traced_peak


def _data(model, n: int, seed: int = 0):  # noqa: ANN001, ANN202
    """(X, y, parameters drawn from the same seed)."""
    X, y, rng = sample_data(model, n, seed)
    return X, y, rng.standard_normal(model.n_params)


def _peak(fn) -> int:  # noqa: ANN001
    return traced_peak(fn)[0]


def test_noise_of_a_line_is_the_closed_form() -> None:
    # mse, one feature: g_i = 2 r_i (x_i, 1), r_i = w x_i + b − y_i; G and tr Σ = mean |g_i − G|²
    # worked out in extended precision, sample by sample, apart from the model's code
    model = LinearModel("linear", "mse", 1)
    X, y, p = _data(model, 700_001)
    rep = model_noise_report(model, p, X, y, 32, np.arange(32) * 11, elements=1 << 16)
    x, yy = X[:, 0].astype(np.longdouble), y.astype(np.longdouble)
    r = np.longdouble(p[0]) * x + np.longdouble(p[1]) - yy
    g = np.stack([2 * r * x, 2 * r], axis=1)
    G = g.mean(axis=0)
    trace = ((g - G) ** 2).sum(axis=1).mean()
    np.testing.assert_allclose(rep.full_grad, G.astype(float), rtol=1e-12)
    assert abs(rep.trace_sigma / float(trace) - 1) < 1e-12
    ghat = g[np.arange(32) * 11].mean(axis=0).astype(float)
    np.testing.assert_allclose(rep.batch_grad, ghat, rtol=1e-12)
    assert rep.n_samples == 700_001 and rep.batch_size == 32


@pytest.mark.parametrize("model", [LogisticModel(2), MLPModel("bce", 2, 8, "tanh"),
                                   MLPModel("mse", 3, 16, "relu")], ids=repr)
def test_noise_in_pieces_is_the_one_array_readout(model) -> None:  # noqa: ANN001
    X, y, p = _data(model, 50_003, seed=1)
    batch = np.arange(64) * 13
    whole = noise_report(model.per_sample_grads(p, X, y), 64, batch)
    pieces = model_noise_report(model, p, X, y, 64, batch, elements=1 << 14)
    np.testing.assert_allclose(pieces.full_grad, whole.full_grad, rtol=1e-11, atol=1e-15)
    for name in ("trace_sigma", "trace_cov", "b_simple", "grad_norm", "batch_grad_norm", "cosine"):
        assert getattr(pieces, name) == pytest.approx(getattr(whole, name), rel=1e-11), name
    # small problems take the one-array path: the very same numbers
    small = model_noise_report(model, p, X[:500], y[:500], 64, batch[:10])
    assert small.trace_sigma == noise_report(model.per_sample_grads(p, X[:500], y[:500]), 64, batch[:10]).trace_sigma


def test_noise_readout_memory_does_not_grow_with_n_times_p() -> None:
    # xor-mlp's 33 parameters over 200,000 samples: the one array of per-sample gradients and
    # its centred copy were 2 × 200,000 × 33 × 8 B = 106 MB
    model = MLPModel("bce", 2, 8, "tanh")
    X, y, p = _data(model, 200_000)
    peak = _peak(lambda: model_noise_report(model, p, X, y, 32, np.arange(32)))
    assert peak < 24 * 2**20, f"{peak / 2**20:.1f} MB"


def test_mlp_passes_in_pieces_hold_the_whole_numbers(monkeypatch) -> None:  # noqa: ANN001
    # a row's output is its own: pieces of rows give the one-array outputs (with one BLAS
    # thread, as the app runs, bit for bit; several threads may round a product's last bits)
    from threadpoolctl import threadpool_limits

    for model in (MLPModel("bce", 2, 8, "tanh"), MLPModel("mse", 3, 16, "relu")):
        X, y, p = _data(model, 300_001, seed=2)
        runs = np.stack([p, 0.5 * p, -p])
        with threadpool_limits(1):
            forward, shared = model.forward(p, X), model._forward_shared_runs(runs, X)
            grad = model.batch_grad(p, X, y)
            monkeypatch.setattr(mlp_module, "PASS_ELEMENTS", 1 << 40)
            assert np.array_equal(forward, model.forward(p, X))
            assert np.array_equal(shared, model._forward_shared_runs(runs, X))
            np.testing.assert_allclose(grad, model.batch_grad(p, X, y), rtol=1e-11, atol=1e-15)
            monkeypatch.undo()


def test_mlp_loss_and_full_gradient_memory_do_not_grow_with_n() -> None:
    # N = 10⁶, H = 8: one hidden layer (N, H) was 64 MB, the backward pass held three or four
    model = MLPModel("bce", 2, 8, "tanh")
    X, y, p = _data(model, 1_000_000)
    # the loss: the outputs and the bce's two temporaries, 3 floats a sample (24 MB), stay
    assert _peak(lambda: model.loss(p, X, y)) < 3 * 8_000_000 + 4 * 2**20
    # the gradients: a piece's (rows, H) arrays, a few of PASS_ELEMENTS floats (4 MB) each
    bound = 6 * 8 * mlp_module.PASS_ELEMENTS
    assert _peak(lambda: model.batch_grad(p, X, y)) < bound
    assert _peak(lambda: full_batch_gradient(model, p, X, y)) < bound


def test_full_batch_gradient_is_loss_and_grads() -> None:
    # the gradient of the mean is the share-weighted mean of the pieces' gradients; a least
    # squares line's is 2 X̃ᵀr / N, worked out here in extended precision
    model = LinearModel("linear", "mse", 1)
    X, y, p = _data(model, 600_000)
    got = full_batch_gradient(model, p, X, y, elements=1 << 15)
    x, yy = X[:, 0].astype(np.longdouble), y.astype(np.longdouble)
    r = np.longdouble(p[0]) * x + np.longdouble(p[1]) - yy
    want = np.array([float(2 * (r * x).mean()), float(2 * r.mean())])
    np.testing.assert_allclose(got, want, rtol=1e-11)
    assert np.array_equal(full_batch_gradient(model, p, X[:1000], y[:1000]),
                          model.loss_and_grad(p, X[:1000], y[:1000])[1])


def test_the_app_estimate_follows_the_pieces() -> None:
    # engine.memory's constants are the code's (it imports no NumPy), and the main screen's
    # readings at N = 10⁶ for xor-mlp no longer count N × P per-sample gradients (528 MB)
    import mbsim.engine.chunks as chunks
    import mbsim.engine.noise as noise
    from mbsim.engine import memory
    from mbsim.engine.scenario import load_preset

    assert memory.NOISE_CHUNK == noise.NOISE_CHUNK and memory.PASS_ELEMENTS == mlp_module.PASS_ELEMENTS
    assert memory.CHUNK_ELEMENTS == chunks.CHUNK_ELEMENTS
    e = memory.estimate_view("main", load_preset("xor-mlp").replace(samples=10**6, batch_size=32))
    assert e.parts["readings"] < 150 * 2**20
    # and it still bounds what the readings measure: the noise readout and the full gradient
    model = MLPModel("bce", 2, 8, "tanh")
    X, y, p = _data(model, 1_000_000)
    measured = max(_peak(lambda: model_noise_report(model, p, X, y, 32, np.arange(32))),
                   _peak(lambda: full_batch_gradient(model, p, X, y)))
    assert measured <= e.parts["readings"]


def _closed_least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """w, b of the least-squares line, worked out in extended precision (the textbook formulas)."""
    x, y = x.astype(np.longdouble), y.astype(np.longdouble)
    mx, my = x.mean(), y.mean()
    w = ((x - mx) * (y - my)).sum() / ((x - mx) ** 2).sum()
    return float(w), float(my - w * mx)


def test_least_squares_in_pieces_is_the_closed_form() -> None:
    from mbsim.engine.chunks import least_squares
    from mbsim.engine.cloud import least_squares_noise_floor

    model = LinearModel("linear", "mse", 1)
    X, y, _ = _data(model, 400_003)
    w, b = _closed_least_squares(X[:, 0], y)
    theta, gram, pieces = least_squares(X, y, elements=1 << 15)
    assert pieces > 1
    np.testing.assert_allclose(theta, [w, b], rtol=1e-11)
    one, _, one_piece = least_squares(X, y, elements=1 << 40)
    assert one_piece == 1
    np.testing.assert_allclose(theta, one, rtol=1e-11)
    # the noise floor: H = 2 X̃ᵀX̃/N and C = mean of g gᵀ with g = 2 r x̃ at θ*
    floor = least_squares_noise_floor(X, y, 0.05, 32)
    x, yy = X[:, 0].astype(np.longdouble), y.astype(np.longdouble)
    r = np.longdouble(w) * x + np.longdouble(b) - yy
    g = np.stack([2 * r * x, 2 * r], axis=1)
    C = (g[:, :, None] * g[:, None, :]).mean(axis=0).astype(float)
    np.testing.assert_allclose(floor.noise_cov, C, rtol=1e-9)
    np.testing.assert_allclose(floor.hessian, 2 * np.array([[float((x * x).mean()), float(x.mean())],
                                                            [float(x.mean()), 1.0]]), rtol=1e-12)


def test_noise_floor_memory_does_not_grow_with_n() -> None:
    # N = 10⁶: X̃, its lstsq copy, the residuals and 2 r X̃ (and its temporary) were ~70 MB
    from mbsim.engine.cloud import least_squares_noise_floor

    model = LinearModel("linear", "mse", 1)
    X, y, _ = _data(model, 1_000_000)
    peak = _peak(lambda: least_squares_noise_floor(X, y, 0.05, 32))
    assert peak < 6 * 8 * (1 << 19), f"{peak / 2**20:.1f} MB"


def test_least_squares_in_pieces_is_the_minimum_norm_fit_without_full_rank() -> None:
    # a feature that is the same number for every sample (0.7) is the bias column times 0.7: X̃ has
    # rank 1, every θ with 0.7 w + b = mean(y) fits equally well, and lstsq on X̃ gives the one of
    # least norm, θ = mean(y) · (0.7, 1) / (0.7² + 1) (the projection on the row space). In pieces
    # the fit must be that one too, not whatever the rounding of X̃ᵀX̃ makes of its null direction.
    from mbsim.engine.chunks import least_squares

    n = 400_000
    rng = np.random.default_rng(3)
    X = np.full((n, 1), 0.7)
    y = 2 * 0.7 + 1 + 0.1 * rng.standard_normal(n)
    mean = float(y.astype(np.longdouble).mean())
    want = mean * np.array([0.7, 1.0]) / (0.7 ** 2 + 1)
    for elements in (1 << 40, 1 << 15):
        theta, _, pieces = least_squares(X, y, elements=elements)
        assert (pieces > 1) == (elements < n), pieces
        np.testing.assert_allclose(theta, want, rtol=1e-9, err_msg=f"{pieces} pieces")
