"""Lazy evaluation (issue 14): full losses when read or every eval_every steps, recorded in the
history where measured; the accuracy from the same forward pass; the new sample limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.errors import ScenarioError
from mbsim.engine.history import INDEX, SERIES, History
from mbsim.engine.rules import EvalPolicy
from mbsim.engine.scenario import MAX_SAMPLES


def test_history_holds_full_losses_exactly_at_eval_points_and_epoch_ends() -> None:
    sim = Simulation(Scenario(samples=40, val_samples=10, batch_size=5, epochs=3, eval_every="3"))
    sim._history  # noqa: B018  (read the record without the property's evaluation)
    sim.run_to_end()
    d = sim._history.decimated(10**6)
    train = d.series("train_loss")
    measured = {int(s) for s, v in zip(d.step, train) if math.isfinite(v)}
    assert measured == {s for s in range(1, 25) if s % 3 == 0 or s % 8 == 0}
    # each measured value is the full training loss at that step's parameters (hand formula)
    X = np.hstack([sim.X, np.ones((40, 1))])
    for s, theta in zip(d.param_step[1:], d.params[1:]):
        if s in measured:
            assert train[s - 1] == pytest.approx(np.mean((X @ theta - sim.y) ** 2), rel=1e-12)


def test_reading_the_loss_records_it_in_the_current_row() -> None:
    sim = Simulation(Scenario(samples=40, batch_size=5, epochs=3, eval_every="epoch"))
    sim.run_iterations(5)
    assert math.isnan(sim._history.last("train_loss"))          # not an eval point, not read
    value = sim.train_loss
    assert sim._history.last("train_loss") == value
    assert value == pytest.approx(sim.model.loss(sim.params, sim.X, sim.y), rel=1e-12)


def test_classifier_accuracy_comes_with_the_loss() -> None:
    sim = Simulation(Scenario(dataset="blobs", samples=60, val_samples=20, batch_size=6, epochs=2))
    sim.run_iterations(7)
    ds = sim.dataset
    z = sim.model.forward(sim.params, ds.X)
    assert sim.accuracy() == pytest.approx(np.mean((z > 0) == (ds.y > 0.5)))
    zv = sim.model.forward(sim.params, ds.X_val)
    assert sim.val_accuracy() == pytest.approx(np.mean((zv > 0) == (ds.y_val > 0.5)))
    assert sim.history.last("train_acc") == sim.accuracy()


def test_auto_eval_every_for_the_worked_example_and_a_million_samples() -> None:
    # K_cost = ceil((1000 + n_eval) / (0.1 (1000 + 3 b))), rounded up to 1-2-5
    assert Scenario().eval_interval(250, 5) == 20            # ceil(1250 / 101.5) = 13 -> 20
    assert Scenario().eval_interval(1_100_000, 32) == 20_000  # ceil(1101000 / 109.6) = 10046 -> 20000
    assert Scenario(eval_every="epoch").eval_interval(250, 5) is None
    assert Scenario(eval_every="7").eval_interval(250, 5) == 7
    for bad in ("0", "-3", "often", "2.5"):
        with pytest.raises(ScenarioError, match="eval_every"):
            Scenario(eval_every=bad).validate()


def test_the_sample_limit_is_a_million() -> None:
    assert MAX_SAMPLES == 1_000_000
    Scenario(samples=MAX_SAMPLES, batch_size=32).validate()
    with pytest.raises(ScenarioError, match="samples"):
        Scenario(samples=MAX_SAMPLES + 1).validate()


def test_history_means_ignore_unmeasured_rows() -> None:
    h = History(np.zeros(1), cap=4)
    for step in range(1, 9):                  # 8 rows into 4 slots: buckets of 2, then 4
        row = np.full(len(SERIES), np.nan)
        row[INDEX["batch_loss"]] = step
        if step in (2, 3, 8):
            row[INDEX["train_loss"]] = 10.0 * step
        h.append(row, np.zeros(1))
    d = h.decimated(100)
    assert list(d.step) == [4, 8]
    assert list(d.series("batch_loss")) == [2.5, 6.5]
    assert list(d.series("train_loss")) == [25.0, 80.0]   # mean of 20, 30; then 80 alone
    lo, hi = d.envelope("train_loss")
    assert list(lo) == [20.0, 80.0] and list(hi) == [30.0, 80.0]


def test_the_tui_policy_evaluates_every_step_on_small_data_only() -> None:
    tui = EvalPolicy(every_step_up_to=20_000)
    assert Simulation(Scenario(epochs=1), eval_policy=tui).eval_every == 1
    assert Simulation(Scenario(epochs=1, eval_every="5"), eval_policy=tui).eval_every == 5  # explicit wins
    big = Simulation(Scenario(samples=30_000, val_samples=0, batch_size=32, epochs=1), eval_policy=tui)
    assert big.eval_every == Scenario(batch_size=32).eval_interval(30_000, 32)
    assert Simulation(Scenario(epochs=1)).eval_every == 20               # the engine's own default
    sim = Simulation(Scenario(epochs=1))
    sim.eval_policy = tui                                                  # a setting of this run only
    assert sim.eval_every == 1 and Simulation(Scenario(epochs=1)).eval_every == 20


def test_engine_results_do_not_depend_on_what_was_imported() -> None:
    """Issue 25: importing the TUI used to raise a class attribute that every Simulation read,
    so a target loss stopped at another step once ``tui.runloop`` had been imported. The
    policy is now each run's own: the engine's run checks the target at its eval points (every
    20 steps and the epoch ends: step 80 here), the TUI's policy after every step (step 73),
    whatever has been imported."""
    import importlib

    def stop(**kw) -> int:  # noqa: ANN003
        sim = Simulation(Scenario(target_loss=0.1), **kw)
        sim.run_to_end()
        assert sim.status == "target reached"
        return sim.step

    before = stop()
    for module in ("mbsim.tui.runloop", "mbsim.tui.cli.interactive", "mbsim.tui.app"):
        importlib.import_module(module)
    assert stop() == before == 80
    every = stop(eval_policy=EvalPolicy(every_step_up_to=20_000))
    assert every == 73
    # the first step at or below the target, found by reading the loss after every step
    sim = Simulation(Scenario(target_loss=0.1))
    first = None
    while first is None and sim.step_update():
        if sim.train_loss <= 0.1:
            first = sim.step
    assert first == every
