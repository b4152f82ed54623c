"""An MLP's step over a large batch in pieces of rows (issue 24: at B = N = 10⁶ and H = 8 each
(B, H) array of the pass was 64 MB, three at once, and a session reached 384 MB): the gradient
is still the loss's (finite differences), the pieces agree with one pass to rounding, a run of
K stays its lone run bit for bit, and the memory is a piece's."""

from __future__ import annotations

import numpy as np
import pytest

import mbsim.engine.models.mlp as mlp_module
from mbsim.engine.models.mlp import MLPModel

from memory_helpers import traced_peak


def _problem(loss_name: str, n: int, activation: str = "tanh", seed: int = 0):  # noqa: ANN202
    model = MLPModel(loss_name, 2, 8, activation)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = (rng.random(n) < 0.5).astype(float) if loss_name == "bce" else rng.standard_normal(n)
    return model, X, y, 0.7 * rng.standard_normal((3, model.n_params))


@pytest.fixture
def small_pieces(monkeypatch):  # noqa: ANN001, ANN201
    """Pieces of 64 rows (H = 8: PASS_ELEMENTS of 512), so a batch of a few hundred has several."""
    monkeypatch.setattr(mlp_module, "PASS_ELEMENTS", 64 * 8)
    assert mlp_module._pass_rows(8) == 64


@pytest.mark.parametrize("loss_name", ["bce", "mse"])
@pytest.mark.parametrize("n", [64 * 5 + 1, 64 * 3 + 37])
def test_a_batch_in_pieces_is_the_loss_gradient(small_pieces, loss_name: str, n: int) -> None:  # noqa: ANN001
    model, X, y, params = _problem(loss_name, n)
    p = params[0]
    loss, grad = model.loss_and_grad(p, X, y)
    assert loss == pytest.approx(float(model.loss(p, X, y)), rel=1e-12)
    # central differences of the mean loss, coordinate by coordinate
    h = 1e-6
    fd = np.array([(model.loss(p + h * e, X, y) - model.loss(p - h * e, X, y)) / (2 * h)
                   for e in np.eye(model.n_params)])
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)
    # and one pass over the whole batch (pieces as large as the batch) to rounding
    mlp_module.PASS_ELEMENTS = 1 << 19
    whole_loss, whole = model.loss_and_grad(p, X, y)
    assert loss == pytest.approx(whole_loss, rel=1e-13)
    np.testing.assert_allclose(grad, whole, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("loss_name", ["bce", "mse"])
@pytest.mark.parametrize("n", [1, 64, 64 * 5 + 1, 64 * 3 + 37])
@pytest.mark.parametrize("ones", [False, True])
def test_each_of_k_runs_is_its_lone_run_bit_for_bit(small_pieces, loss_name: str, n: int,  # noqa: ANN001
                                                     ones: bool) -> None:
    model, X, y, params = _problem(loss_name, n, activation="relu", seed=n)
    if ones:                          # the step's inputs with their column of ones, (n, d + 1)
        X = np.hstack([X, np.ones((n, 1)), np.zeros((n, 1))])[:, :3]
    k = params.shape[0]
    X_runs = np.broadcast_to(X, (k,) + X.shape).copy()
    y_runs = np.broadcast_to(y, (k, n)).copy()
    losses, grads = model.loss_and_grad_runs(params, X_runs, y_runs)
    for r in range(k):
        loss, grad = model.loss_and_grad(params[r], X, y)
        assert losses[r] == loss
        assert np.array_equal(grads[r], grad)


def test_a_step_over_a_large_batch_holds_a_piece() -> None:
    # B = 600,000, H = 8: one (B, H) array is 38 MB; the step's peak is a few pieces' arrays
    model, X, y, params = _problem("bce", 600_000)
    one_array = 600_000 * 8 * 8
    peak, (loss, _) = traced_peak(lambda: model.loss_and_grad(params[0], X, y))
    assert peak < 6 * 8 * mlp_module.PASS_ELEMENTS < one_array
    runs_peak, (losses, _) = traced_peak(lambda: model.loss_and_grad_runs(params[:1], X[None], y[None]))
    assert runs_peak < 6 * 8 * mlp_module.PASS_ELEMENTS
    assert losses[0] == loss


@pytest.mark.parametrize("loss_name", ["bce", "mse"])
@pytest.mark.parametrize("n", [64, 64 * 5 + 1, 64 * 3 + 37])
def test_a_batch_gathered_a_piece_at_a_time_is_the_gathered_batch(small_pieces, loss_name: str,  # noqa: ANN001
                                                                  n: int) -> None:
    # the step of a batch not kept in pass order (engine.batches): the same numbers as the
    # batch gathered whole, bit for bit, for one run and for each of K runs
    model, X, y, params = _problem(loss_name, 2_000, activation="sigmoid", seed=n)
    rng = np.random.default_rng(n)
    idx = rng.integers(0, 2_000, (params.shape[0], n))
    loss, grad = model.loss_and_grad_of(params[0], X, y, idx[0])
    whole = model.loss_and_grad(params[0], X[idx[0]], y[idx[0]])
    assert loss == whole[0] and np.array_equal(grad, whole[1])
    losses, grads = model.loss_and_grad_runs_of(params, X, y, idx)
    for r in range(params.shape[0]):
        lone = model.loss_and_grad_of(params[r], X, y, idx[r])
        assert losses[r] == lone[0] and np.array_equal(grads[r], lone[1])


def test_a_large_gathered_batch_is_never_gathered_whole() -> None:
    model, X, y, params = _problem("bce", 600_000)
    idx = np.random.default_rng(1).permutation(600_000)
    peak, _ = traced_peak(lambda: model.loss_and_grad_of(params[0], X, y, idx))
    assert peak < 6 * 8 * mlp_module.PASS_ELEMENTS < X.nbytes + y.nbytes + 600_000 * 8 * 8
    peak, _ = traced_peak(lambda: model.loss_and_grad_runs_of(params[:1], X, y, idx[None]))
    assert peak < 6 * 8 * mlp_module.PASS_ELEMENTS
