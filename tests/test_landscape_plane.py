"""The landscape's plane (engine/landscape.py), the minimum it marks, and the optimizer's update
written out (Optimizer.explain): issue 10 items 3, 4 and 7."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.engine.landscape import axes_plane, loss_grid, minimum, path_plane, plane_grid
from mbsim.engine.optimizers import make_optimizer


def test_path_plane_holds_start_now_and_gd_end_exactly() -> None:
    rng = np.random.default_rng(0)
    start, now, anchor = rng.normal(size=(3, 33))
    plane = path_plane(start, now, anchor)
    assert abs(plane.u @ plane.u - 1) < 1e-12 and abs(plane.v @ plane.v - 1) < 1e-12
    assert abs(plane.u @ plane.v) < 1e-12
    pts = np.stack([start, now, anchor])
    ab = plane.coords(pts)
    # the projected points reconstruct the real parameters (they are in the plane)
    np.testing.assert_allclose(plane.lift(ab[:, 0], ab[:, 1]), pts, atol=1e-12)
    assert np.all(plane.distance(pts) < 1e-12)
    # start on the a axis at its distance from the anchor, the anchor at the origin, now above
    assert ab[0, 0] == pytest.approx(np.linalg.norm(start - anchor), rel=1e-12)
    assert abs(ab[0, 1]) < 1e-12 and np.allclose(ab[2], 0, atol=1e-12) and ab[1, 1] > 0
    # a point off the plane is at the distance of its orthogonal part
    off = now + 0.5 * _orthogonal_to(plane.u, plane.v, rng)
    assert plane.distance(off[None])[0] == pytest.approx(0.5, rel=1e-9)


def _orthogonal_to(u: np.ndarray, v: np.ndarray, rng) -> np.ndarray:
    w = rng.normal(size=u.size)
    w -= (w @ u) * u + (w @ v) * v
    return w / np.linalg.norm(w)


def test_path_plane_at_the_start_takes_a_fallback_direction() -> None:
    start = np.array([1.0, 0.0, 0.0])
    anchor = np.zeros(3)
    plane = path_plane(start, start, anchor, (np.array([0.0, 2.0, 0.0]),))
    np.testing.assert_allclose(plane.u, [1, 0, 0], atol=1e-15)
    np.testing.assert_allclose(np.abs(plane.v), [0, 1, 0], atol=1e-15)


def test_the_current_point_has_its_true_loss_on_the_mlp_grid() -> None:
    sim = Simulation(load_preset("xor-mlp"))
    sim.run_iterations(60)
    ref = sim.reference_path()
    anchor, _ = minimum(sim.model, sim.X, sim.y, ref)
    plane = path_plane(sim.initial_params, sim.params, anchor)
    a, b = plane.coords(sim.params[None])[0]
    grid = plane_grid(sim.model, sim.X, sim.y, plane, np.array([a - 0.1, a, a + 0.1]), np.array([b, b + 0.1]))
    # by hand-independent evaluation: the model's own loss at the current parameters
    assert grid.loss[0, 1] == pytest.approx(sim.model.loss(sim.params, sim.X, sim.y), rel=1e-12)
    start = plane.coords(sim.initial_params[None])[0]
    g0 = plane_grid(sim.model, sim.X, sim.y, plane, np.array([start[0]]), np.array([start[1]]))
    assert g0.loss[0, 0] == pytest.approx(sim.initial_train_loss, rel=1e-12)


def test_the_axes_plane_is_the_old_two_parameter_slice() -> None:
    sim = Simulation(load_preset("xor-mlp"))
    sim.run_iterations(5)
    xs, ys = np.linspace(-1, 1, 7), np.linspace(-2, 0.5, 5)
    plane = axes_plane(sim.params, 2, 5, sim.model.param_names)
    np.testing.assert_allclose(plane_grid(sim.model, sim.X, sim.y, plane, xs, ys).loss,
                               loss_grid(sim.model, sim.X, sim.y, sim.params, 2, 5, xs, ys).loss, rtol=1e-13)
    np.testing.assert_allclose(plane.coords(sim.params[None])[0], sim.params[[2, 5]], atol=1e-15)


def test_the_minimum_of_linear_regression_is_least_squares() -> None:
    sim = Simulation(Scenario())
    theta, label = minimum(sim.model, sim.X, sim.y, sim.reference_path())
    w, b = np.polyfit(sim.X[:, 0], sim.y, 1)                 # an independent least-squares fit
    assert label == "minimum"
    np.testing.assert_allclose(theta, [w, b], rtol=1e-10)


def test_explain_writes_out_momentum_and_adam_as_torch_documents_them() -> None:
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    params = np.array([0.3, -0.1])
    lr = 0.1
    opt = make_optimizer("momentum")                          # μ = 0.9
    st = opt.init(params)
    first = opt.explain(g1, st, params, lr)
    np.testing.assert_array_equal(first.velocity, g1)        # b_1 = g_1
    new, st = opt.update(g1, st, params, lr)
    second = opt.explain(g2, st, new, lr)
    np.testing.assert_allclose(second.velocity, 0.9 * g1 + g2, rtol=1e-15)
    np.testing.assert_allclose(second.delta, -lr * (0.9 * g1 + g2), rtol=1e-14)
    assert "b = 0.9·b_old + ĝ" in second.formula and second.formula.endswith("θ_new = θ_old − lr·b")
    adam = make_optimizer("adam")
    t1 = adam.explain(g1, adam.init(params), params, lr)
    names = dict(t1.terms)
    np.testing.assert_allclose(names["m̂"], g1, rtol=1e-12)          # m̂_1 = g_1
    np.testing.assert_allclose(names["v̂"], g1**2, rtol=1e-12)       # v̂_1 = g_1²
    np.testing.assert_allclose(t1.step_size, lr / (np.abs(g1) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(t1.delta, -lr * g1 / (np.abs(g1) + 1e-8), rtol=1e-9)
    rms = make_optimizer("rmsprop")
    r1 = rms.explain(g1, rms.init(params), params, lr)
    np.testing.assert_allclose(r1.step_size, lr / (np.sqrt(0.01) * np.abs(g1) + 1e-8), rtol=1e-12)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"])
def test_the_last_update_is_the_step_the_simulation_took(optimizer: str) -> None:
    sim = Simulation(Scenario(optimizer=optimizer, weight_decay=0.01))
    for _ in range(3):
        sim.step_iteration()
    terms = sim.last_update()
    last = sim.last
    np.testing.assert_array_equal(last.params_before + terms.delta, sim.params)
    assert last.terms is not None and last.terms.formula == terms.formula
    # stepping back replays the same step
    sim.back(1)
    sim.step_iteration()
    np.testing.assert_array_equal(sim.last_update().delta, terms.delta)
