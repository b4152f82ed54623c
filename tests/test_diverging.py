"""The "diverging" state (issue 10 item 2): seen when the loss starts to blow up, not when it
overflows; never on the ordinary noise of the built-in presets; exact under back and goto."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset, preset_names
from mbsim.engine.simulation import DIVERGING_FACTOR


def _mse(params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """The worked example's loss by hand: mean of (w·x + b − y)², as torch.nn.MSELoss."""
    w, b = params
    return float(np.mean((w * X[:, 0] + b - y) ** 2))


def _steps(sim: Simulation) -> list:
    records: list = []
    sim.on_step = records.append
    return records


def test_lr_1_6_on_the_worked_example_is_diverging_long_before_it_overflows() -> None:
    sim = Simulation(Scenario(lr=1.6))
    records = _steps(sim)
    L0 = _mse(sim.initial_params, sim.X, sim.y)
    assert sim.initial_train_loss == pytest.approx(L0, rel=1e-12)
    sim.run_iterations(10_000, stop_at_diverging=True)
    onset = sim.diverging_step
    assert 1 < onset < 30 and sim.step == onset
    assert sim.status == "diverging" and not sim.done
    assert sim.state_summary() == f"diverging since step {onset}"
    # the onset is the first step whose batch loss passed 10³ × L(θ₀), by the hand-computed L(θ₀)
    losses = [r.batch_loss for r in records]
    assert losses[-1] > 1e3 * L0
    assert all(loss <= 1e3 * L0 for loss in losses[:-1])
    # each batch loss is the hand-computed mean over its batch, at the parameters before the step
    before = sim.initial_params
    for r in records:
        assert r.batch_loss == pytest.approx(_mse(before, sim.X[r.indices], sim.y[r.indices]), rel=1e-9)
        before = r.params
    # it goes on (it is not an end) and still overflows much later: "diverged" is kept for that
    sim.run_to_end()
    assert sim.status == "diverged" and sim.diverged_step > 10 * onset


def test_the_state_is_exact_under_back_and_goto() -> None:
    sim = Simulation(Scenario(lr=1.6))
    sim.run_iterations(10_000, stop_at_diverging=True)
    onset = sim.diverging_step
    sim.run_iterations(5)
    assert sim.status == "diverging" and sim.diverging_step == onset
    sim.back(5)                      # back onto the onset step: still diverging
    assert sim.step == onset and sim.status == "diverging" and sim.diverging_step == onset
    sim.back(1)                      # one step before the onset: clears it
    assert sim.step == onset - 1 and sim.status == "ready" and sim.diverging_step == 0
    sim.goto_iteration(onset + 3)
    assert sim.status == "diverging" and sim.diverging_step == onset
    sim.goto_iteration(2)
    assert sim.status == "ready" and sim.diverging_step == 0
    sim.step_iteration()
    sim.run_iterations(10_000, stop_at_diverging=True)
    assert sim.diverging_step == onset       # replays to the same onset


def test_stop_at_diverging_stops_only_at_the_onset() -> None:
    sim = Simulation(Scenario(lr=1.6))
    ran = sim.run_iterations(100, stop_at_diverging=True)
    assert ran == sim.diverging_step        # B=5, no accumulation: one iteration per step
    assert sim.run_iterations(10, stop_at_diverging=True) == 10   # already diverging: goes on


def test_a_smaller_learning_rate_rescues_a_diverging_run() -> None:
    sim = Simulation(Scenario(lr=1.6))
    sim.run_iterations(10_000, stop_at_diverging=True)
    high = sim.train_loss
    sim.apply_changes(lr=0.05)
    assert sim.status == "ready" and sim.diverging_step == 0
    # judged from where it is: the threshold is 10³ × the (higher) loss at the change
    assert sim.diverging_threshold == pytest.approx(DIVERGING_FACTOR * high, rel=1e-12)
    sim.run_iterations(2000, stop_at_diverging=True)
    assert sim.status == "ready" and sim.train_loss < high


@pytest.mark.parametrize("name", preset_names())
def test_no_built_in_preset_is_ever_called_diverging(name: str) -> None:
    sim = Simulation(load_preset(name))
    sim.run_iterations(sim.total_iterations, stop_at_diverging=True)
    assert sim.diverging_step == 0
    assert sim.status in ("finished", "target reached"), sim.state_summary()


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"])
def test_no_optimizer_at_its_usual_lr_is_called_diverging(optimizer: str) -> None:
    sim = Simulation(Scenario(optimizer=optimizer, batch_size=1, epochs=30))
    sim.run_iterations(sim.total_iterations, stop_at_diverging=True)
    assert sim.diverging_step == 0 and sim.status == "finished"
