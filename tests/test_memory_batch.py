"""A batch as large as the data (Batch GD at large N; issue 24): what the panels read of the
batch — the phase view's rows, L_b and ĝ, the landscape's gradients, the lens's slopes and its
batch members, the noise readout's ĝ — in memory that does not grow with the batch, with the
values an independent computation gives (extended precision, sample by sample)."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Simulation, load_preset
from mbsim.engine.chunks import batch_loss_and_grad, mean_gradient
from mbsim.engine.lens import SORTED_BATCH, _choose_samples, lens
from mbsim.engine.models import LinearModel, LogisticModel
from mbsim.engine.phases import ROWS_KEPT
from mbsim.tui.widgets.phase_view import phase_rows

from memory_helpers import sample_data, traced_peak


def _line_reading(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(L, ∇L) of the mean squared error of w·x + b, in extended precision."""
    x, y = x.astype(np.longdouble), y.astype(np.longdouble)
    r = np.longdouble(p[0]) * x + np.longdouble(p[1]) - y
    return float((r * r).mean()), np.array([float(2 * (r * x).mean()), float(2 * r.mean())])


def _logistic_reading(p: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """(L, ∇L) of the mean bce of σ(x·w + b), in extended precision."""
    X, y = X.astype(np.longdouble), y.astype(np.longdouble)
    z = X @ p[:-1].astype(np.longdouble) + np.longdouble(p[-1])
    s = 1 / (1 + np.exp(-z))
    loss = (np.logaddexp(0, z) - y * z).mean()
    d = s - y
    return float(loss), np.array([*(float(v) for v in (X * d[:, None]).mean(axis=0)), float(d.mean())])


@pytest.mark.parametrize("kind", ["line", "logistic"])
def test_a_batch_in_pieces_is_the_extended_precision_mean(kind: str) -> None:
    model = LinearModel("linear", "mse", 1) if kind == "line" else LogisticModel(2)
    X, y, rng = sample_data(model, 50_000, seed=3)
    p = 0.5 * rng.standard_normal(model.n_params)
    batch = rng.integers(0, 50_000, 30_001)                 # repeats, any order, an odd count
    want = (_line_reading(p, X[batch, 0], y[batch]) if kind == "line"
            else _logistic_reading(p, X[batch], y[batch]))
    loss, grad = batch_loss_and_grad(model, p, X, y, batch, rows=1000)      # 31 pieces
    assert loss == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(grad, want[1], rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(mean_gradient(model, p, X, y, batch, rows=1000), grad)
    # all the samples (no indices) likewise
    whole = _line_reading(p, X[:, 0], y) if kind == "line" else _logistic_reading(p, X, y)
    loss, grad = batch_loss_and_grad(model, p, X, y, rows=999)
    assert loss == pytest.approx(whole[0], rel=1e-12)
    np.testing.assert_allclose(grad, whole[1], rtol=1e-10, atol=1e-15)


def test_a_diverged_reading_is_infinite_without_a_warning() -> None:
    model = LinearModel("linear", "mse", 1)
    X, y, _ = sample_data(model, 5_000)
    with np.errstate(all="raise"):                      # the reading silences its own
        loss, grad = batch_loss_and_grad(model, np.array([1e300, 1e300]), X, y, rows=700)
    assert loss == np.inf and grad[1] > 1e300           # r² overflows; 2r does not


def test_a_reading_in_pieces_can_be_given_up() -> None:
    # a thread computing for a panel that no longer wants it (a landscape's reference path)
    # stops at its next piece
    from mbsim.engine import pieces

    model = LinearModel("linear", "mse", 1)
    X, y, _ = sample_data(model, 5_000)
    asked: list[int] = []
    pieces.stop_when(lambda: len(asked) > 2 or asked.append(1))
    try:
        with pytest.raises(pieces.Cancelled):
            batch_loss_and_grad(model, np.zeros(2), X, y, rows=1000)      # 5 pieces
    finally:
        pieces.stop_when(None)
    assert len(asked) == 3


def _batch_gd(n: int) -> Simulation:
    scenario = load_preset("full-batch").replace(samples=n, batch_size=n, val_samples=0).validate()
    return Simulation(scenario)


def test_the_phase_view_keeps_the_first_rows_and_reads_the_whole_batch() -> None:
    n = 1_000
    sim = _batch_gd(n)
    sim.run_iterations(2)                                 # θ away from zero
    X, y = sim.dataset.X, sim.dataset.y
    for _ in range(3):
        sim.step_phase()                                  # forward, loss, backward
    p = sim.pending
    assert len(p.indices) == n and p.rows == ROWS_KEPT < n
    head = p.indices[:ROWS_KEPT]
    np.testing.assert_array_equal(p.X, X[head])
    w, b = sim.params
    r = w * X[head, 0] + b - y[head]
    np.testing.assert_allclose(p.outputs, w * X[head, 0] + b, rtol=1e-15)
    np.testing.assert_allclose(p.losses, r * r, rtol=1e-14)
    np.testing.assert_allclose(p.sample_grads, np.stack([2 * r * X[head, 0], 2 * r], axis=1), rtol=1e-13)
    # L_b and ĝ are over all n samples of the batch, not the rows kept
    loss, grad = _line_reading(sim.params, X[p.indices, 0], y[p.indices])
    assert p.batch_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(p.grad, grad, rtol=1e-11)
    pr = phase_rows(sim, p, max_rows=10)
    assert len(pr.rows) == 10 and pr.more == n - 10
    assert [row[0] for row in pr.rows] == [str(int(i)) for i in p.indices[:10]]
    before = sim.params.copy()
    sim.step_phase()                                      # the update
    last = sim.last
    assert last.rows == ROWS_KEPT and len(last.indices) == n
    np.testing.assert_allclose(last.update, -sim.scenario.lr * grad, rtol=1e-11)
    np.testing.assert_array_equal(last.params_before, before)
    assert phase_rows(sim, last, max_rows=ROWS_KEPT + 50).more == n - ROWS_KEPT
    assert sim.last_brief().rows == ROWS_KEPT


def test_a_small_batch_keeps_every_row() -> None:
    sim = Simulation(load_preset("mini-batch-32"))
    sim.run_iterations(3)
    sim.step_phase(); sim.step_phase()
    p = sim.pending
    assert p.rows == len(p.indices) == 32
    np.testing.assert_array_equal(p.X, sim.dataset.X[p.indices])
    assert p.batch_loss == pytest.approx(_line_reading(sim.params, p.X[:, 0], p.y)[0], rel=1e-13)


@pytest.mark.parametrize("size", [SORTED_BATCH // 2, SORTED_BATCH + 1, 400_000])
def test_the_lens_marks_the_batch_samples_it_shows(size: int) -> None:
    rng = np.random.default_rng(size)
    n = 400_000
    batch = rng.permutation(n)[:size] if size < n else rng.permutation(n)
    shown, mine = _choose_samples(n, batch, 40)
    # the batch's 20 lowest indices, then evenly spaced others (the rule, worked out here)
    lowest = np.sort(batch)[:20]
    spaced = np.linspace(0, n - 1, 40 - len(lowest)).astype(np.int64)
    np.testing.assert_array_equal(shown, np.union1d(lowest, spaced))
    members = set(batch.tolist())
    assert mine.tolist() == [int(i) in members for i in shown]


def test_the_lens_slopes_are_the_batch_and_full_gradients() -> None:
    sim = _batch_gd(200_000)
    sim.run_iterations(1)
    L = lens(sim.model, sim.X, sim.y, sim.params, sim.current_batch())
    loss, G = _line_reading(sim.params, sim.X[:, 0], sim.y)
    d = -G / np.linalg.norm(G) if sim.model.n_params > 1 else np.ones(1)
    assert L.full_slope == pytest.approx(float(G @ d), rel=1e-10)
    assert L.batch_slope == pytest.approx(float(G @ d), rel=1e-10)      # the batch is all the data
    assert L.shown_in_batch.all()


def test_a_whole_data_batch_is_read_in_bounded_memory() -> None:
    # Batch GD, B = N = 10⁶: each reading allocates less than one array of N floats (8 MB);
    # the batch gathered whole was two (inputs and targets), and the phase data kept five
    n = 1_000_000
    sim = _batch_gd(n)
    sim.run_iterations(1)
    one_array = 8 * n
    readings = {
        "last": lambda: sim.last,
        "last_brief": sim.last_brief,
        "batch gradient": sim.batch_gradient,
        "full gradient": sim.full_gradient,
        "noise": sim.noise,
        "lens": lambda: lens(sim.model, sim.X, sim.y, sim.params, sim.current_batch()),
    }
    for name, read in readings.items():
        assert traced_peak(read)[0] < one_array, name
    sim.step_phase()                                     # forward (draws the pass's order)
    for _ in range(2):                                   # loss, backward
        assert traced_peak(sim.step_phase)[0] < one_array
    assert traced_peak(lambda: sim.last)[0] < one_array // 8
