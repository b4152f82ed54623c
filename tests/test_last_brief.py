"""``Simulation.last_brief``: the last iteration's place, batch and loss without its per-sample
values, for the panels that read it every frame (issue 24: a light running app). It must be the
same iteration as ``Simulation.last`` (which recomputes everything from θ before it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset


def test_none_before_any_iteration() -> None:
    sim = Simulation(Scenario(samples=40, batch_size=5, epochs=2))
    assert sim.last_brief() is None and sim.last is None


def test_an_sgd_step_is_theta_before_minus_lr_times_the_batch_gradient() -> None:
    sim = Simulation(Scenario(samples=40, batch_size=5, epochs=3, optimizer="sgd"))
    sim.run_iterations(11)
    b = sim.last_brief()
    assert b.iteration == 10 and b.phase == 3
    # plain SGD: θ_new = θ_before − lr·ĝ (the closed form of the update, not the code's)
    np.testing.assert_allclose(sim.params, b.params_before - b.lr * b.grad, rtol=0, atol=1e-12)
    # the batch is the order's slice at the iteration's place
    pos = b.position
    np.testing.assert_array_equal(b.indices, sim.order[pos.start:pos.stop])
    np.testing.assert_array_equal(b.X, sim.X[b.indices])
    # its loss is the batch's mean loss at θ before (linear model, mean of squared errors ×½ or not:
    # whichever the model uses, the same as its per-sample losses averaged)
    per_sample = sim.model.per_sample_loss(b.params_before, b.X, b.y)
    assert math.isclose(b.batch_loss, float(np.mean(per_sample)), rel_tol=1e-12)
    assert b.outputs is None and b.losses is None and b.sample_grads is None and b.terms is None


@pytest.mark.parametrize("preset, extra", [("xor-mlp", {}), ("xor-mlp", {"accumulate": 3}),
                                           (None, {"optimizer": "adam"})])
def test_the_same_iteration_as_last(preset, extra) -> None:  # noqa: ANN001
    sc = load_preset(preset) if preset else Scenario(samples=60, batch_size=7, epochs=4)
    sim = Simulation(sc.replace(**extra) if extra else sc)
    for k in (1, 2, 5, 13):
        sim.run_iterations(k)
        b, full = sim.last_brief(), sim.last
        assert (b.iteration, b.micro, b.micro_count, b.position) == (full.iteration, full.micro,
                                                                      full.micro_count, full.position)
        np.testing.assert_array_equal(b.indices, full.indices)
        np.testing.assert_array_equal(b.params_before, full.params_before)
        np.testing.assert_array_equal(b.grad, full.grad)
        assert b.batch_loss == full.batch_loss
        assert (math.isnan(b.lr) and math.isnan(full.lr)) or b.lr == full.lr
