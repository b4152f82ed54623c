"""Compare mode in lockstep and the one-dimensional lens (issue 6's engine side)."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, load_preset
from mbsim.engine.compare import Comparison
from mbsim.engine.lens import lens
from mbsim.engine.simulation import Simulation


def test_one_epoch_aligned_by_epochs_gives_1_40_200_steps() -> None:
    comp = Comparison(Scenario(epochs=3))
    assert [r.label for r in comp.runs] == ["Batch GD (B=200)", "Mini-batch GD (B=5)", "SGD (B=1)"]
    comp.tick_epoch()
    assert [r.sim.step for r in comp.runs] == [1, 40, 200]
    texts = [r.sim.counters().text() for r in comp.runs]
    assert texts[0] == "Epoch 1/3  Batch 1/1  Iteration 1  Step 1  Samples 200"
    assert texts[1] == "Epoch 1/3  Batch 40/40  Iteration 40  Step 40  Samples 200"
    assert texts[2] == "Epoch 1/3  Batch 200/200  Iteration 200  Step 200  Samples 200"


def test_same_data_and_start() -> None:
    comp = Comparison(Scenario(epochs=2))
    a, b, c = (r.sim for r in comp.runs)
    assert np.array_equal(a.dataset.X, b.dataset.X) and np.array_equal(b.dataset.X, c.dataset.X)
    assert np.array_equal(a.initial_params, c.initial_params)


def test_ticks_share_samples_and_back_returns_all_three() -> None:
    comp = Comparison(Scenario(epochs=2))
    comp.tick()
    assert [r.sim.samples_seen for r in comp.runs] == [0, 5, 5]
    for _ in range(39):
        comp.tick()
    assert [r.sim.step for r in comp.runs] == [1, 40, 200]
    before = [r.sim.params.copy() for r in comp.runs]
    comp.tick()
    assert comp.back()
    assert all(np.array_equal(r.sim.params, p) for r, p in zip(comp.runs, before))
    for _ in range(40):
        assert comp.back()
    assert [r.sim.step for r in comp.runs] == [0, 0, 0]
    assert not comp.back()


def test_align_by_steps() -> None:
    comp = Comparison(Scenario(epochs=2), align="steps")
    for _ in range(3):
        comp.tick()
    assert [r.sim.step for r in comp.runs] == [2, 3, 3]  # GD has only 2 epochs = 2 steps


def test_lens_three_losses_shows_three_curves_and_their_mean() -> None:
    sim = Simulation(load_preset("three-losses"))
    sim.step_phase()
    L = lens(sim.model, sim.dataset.X, sim.dataset.y, sim.params, sim.current_batch(), points=201, span=3.0)
    assert L.axis_is_parameter and L.per_sample.shape == (3, 201) and not L.sampled
    x, y = sim.dataset.X[:, 0], sim.dataset.y
    # by hand: ℓ_i(w) = (w x_i − y_i)², and their mean
    by_hand = (L.xs[None, :] * x[:, None] - y[:, None]) ** 2
    assert np.allclose(L.per_sample, by_hand)
    assert np.allclose(L.mean, by_hand.mean(axis=0))
    # the mean is lowest at w = −0.5 (to the grid's resolution), the samples' own minima differ
    assert L.xs[np.argmin(L.mean)] == pytest.approx(-0.5, abs=0.03)
    minima = L.xs[np.argmin(L.per_sample, axis=1)]
    assert min(minima) < -1 and max(minima) > 1
    # slopes: the full data pull toward −0.5 from w = 0
    assert L.position == 0.0 and L.full_slope > 0
    i = int(L.batch[0])
    assert L.batch_slope == pytest.approx(2 * x[i] * (0 * x[i] - y[i]))


def test_lens_samples_curves_when_n_is_large() -> None:
    sim = Simulation(Scenario(samples=500))
    sim.step_iteration()
    L = lens(sim.model, sim.dataset.X, sim.dataset.y, sim.params, sim.current_batch(), max_curves=40)
    assert L.sampled and len(L.shown) <= 40
    assert set(sim.current_batch().tolist()) <= set(L.shown.tolist())
    full = sim.model.losses_many(sim.params[None, :] + L.xs[:, None] * L.direction[None, :], sim.dataset.X, sim.dataset.y)
    assert np.allclose(L.mean, full)
    assert L.full_slope < 0  # along −G the loss goes down


def test_reference_path_is_full_batch_gradient_descent() -> None:
    sim = Simulation(Scenario(samples=50, val_samples=0, epochs=30))
    path = sim.reference_path()
    X = np.hstack([sim.dataset.X, np.ones((50, 1))])
    y = sim.dataset.y
    theta = sim.initial_params.copy()
    for k in range(1, min(len(path), 20)):
        theta = theta - 0.05 * (2 / 50) * X.T @ (X @ theta - y)   # by hand: ∇ mean (Xθ − y)²
        assert np.allclose(path[k], theta, rtol=1e-12, atol=1e-14)


def test_landscape_grid_holds_the_given_parameters() -> None:
    sim = Simulation(Scenario(samples=30, val_samples=0))
    xs, ys = np.linspace(-1, 3, 7), np.linspace(-2, 1, 5)
    g = sim.landscape(0, 1, xs, ys, params=np.array([9.0, 9.0]))
    x, y = sim.dataset.X[:, 0], sim.dataset.y
    assert g.loss.shape == (5, 7)
    assert g.loss[2, 3] == pytest.approx(np.mean((xs[3] * x + ys[2] - y) ** 2))
