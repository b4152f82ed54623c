"""The live keys without an app: engine.live's arithmetic (powers of two, cycles, which changes
restart) and tui.live's words for each key's change.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbsim.engine import Scenario, ScenarioError, Simulation
from mbsim.engine.live import (
    RESTART_SETTINGS, classify_changes, cycle, next_batch_size, next_optimizer,
    next_sampling, previous_batch_size,
)
from mbsim.engine.scenario import load_preset
from mbsim.tui import live
from mbsim.tui.live import batching_summary, screenshot_name

from settings_host import engine_message


# ------------------------------------------------------------------------------------------------
# engine.live: the arithmetic of the keys
@pytest.mark.parametrize(("b", "n", "up", "down"), [
    (5, 200, 8, 4), (8, 200, 16, 4), (128, 200, 200, 64), (200, 200, 200, 128), (1, 200, 2, 1),
    (2, 200, 4, 1), (3, 200, 4, 2), (1, 1, 1, 1), (128, 256, 256, 64), (256, 256, 256, 128),
    (100, 100, 100, 64), (64, 100, 100, 32),
])
def test_power_of_two_batch_sizes(b, n, up, down):
    assert next_batch_size(b, n) == up
    assert previous_batch_size(b, n) == down


def test_batch_steps_walk_every_power_of_two_and_both_ends():
    n, b, seen = 200, 1, [1]
    while (b := next_batch_size(b, n)) != seen[-1]:
        seen.append(b)
    assert seen == [1, 2, 4, 8, 16, 32, 64, 128, 200]
    down = [200]
    while (b := previous_batch_size(b, n)) != down[-1]:
        down.append(b)
    assert down == [200, 128, 64, 32, 16, 8, 4, 2, 1]
    with pytest.raises(ValueError):
        next_batch_size(201, 200)
    with pytest.raises(ValueError):
        previous_batch_size(0, 200)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300_000), st.data())
def test_batch_steps_are_powers_of_two_between_1_and_n(n, data):
    b = data.draw(st.integers(1, n))
    up, down = next_batch_size(b, n), previous_batch_size(b, n)
    assert up == n or (up > b and up & (up - 1) == 0 and up < n and up // 2 <= b)
    assert (b == n) == (up == b)
    assert down == 1 if b <= 2 else (down < b and down & (down - 1) == 0 and down * 2 >= b)
    assert previous_batch_size(up, n) <= b and next_batch_size(down, n) >= b


def test_cycles_of_optimizer_and_sampling():
    order = ["sgd"]
    for _ in range(7):
        order.append(next_optimizer(order[-1]))
    assert order == ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw", "sgd"]
    assert next_sampling("replacement", classification=True) == "stratified"
    assert next_sampling("stratified", classification=True) == "reshuffle"
    assert next_sampling("replacement", classification=False) == "reshuffle"
    assert next_sampling("stratified", classification=False) == "reshuffle"
    assert cycle(("a", "b"), "zzz") == "a"


def test_classify_changes():
    old = Simulation(Scenario()).scenario                  # resolved: model linear, momentum 0
    assert classify_changes(old, Scenario()) == ({}, False)
    assert classify_changes(old, Scenario(batch_size=8, lr=0.1)) == ({"batch_size": 8, "lr": 0.1}, False)
    assert classify_changes(old, Scenario(name="other", description="x")) == ({}, False)
    changes, restart = classify_changes(old, Scenario(dataset="blobs"))
    assert restart and changes == {"dataset": "blobs", "model": "auto"}  # auto becomes logistic
    assert classify_changes(old, Scenario(seed=3)) == ({"seed": 3}, True)
    assert {"dataset", "samples", "model", "seed", "noise"} <= RESTART_SETTINGS
    assert "batch_size" not in RESTART_SETTINGS


def test_a_live_change_needs_an_epoch_left():
    sim = Simulation(Scenario(epochs=3))
    sim.run_iterations(41)                               # in epoch 2: it would restart
    with pytest.raises(ScenarioError, match="already in epoch 2; ask for at least 2"):
        sim.apply_changes(epochs=1)
    before = sim.params.copy()
    sim.apply_changes(epochs=2)                          # one epoch to go is enough
    assert np.array_equal(sim.params, before) and sim.counters().epoch == 2
    sim.run_to_end()
    with pytest.raises(ScenarioError, match="finished its 2 epochs"):
        sim.check_changes(batch_size=8)


# ------------------------------------------------------------------------------------------------
# tui.live: each key's change and its words
def test_batch_keys_from_the_worked_example():
    sim = Simulation(Scenario())
    assert live.batch_larger(sim) == "B = 8: 25 batches per epoch, mini-batch GD"
    assert sim.scenario.batch_size == 8 and sim.counters().batches == 25
    assert live.batch_smaller(sim) == "B = 4: 50 batches per epoch, mini-batch GD"
    sim = Simulation(Scenario())
    assert live.batch_smaller(sim) == "B = 4: 50 batches per epoch, mini-batch GD"


def test_batch_keys_at_the_ends():
    sim = Simulation(Scenario(batch_size=128))
    assert live.batch_larger(sim) == "B = 200: 1 batch per epoch, batch GD"
    segments = len(sim.segments)
    assert "already" in live.batch_larger(sim) and sim.scenario.batch_size == 200
    assert len(sim.segments) == segments                # nothing changed
    assert live.batch_smaller(sim) == "B = 128: 2 batches per epoch (the last of 72), mini-batch GD"
    sim = Simulation(Scenario(batch_size=1))
    text = live.batch_smaller(sim)
    assert text.startswith("B = 1 already") and "SGD" in text and sim.scenario.batch_size == 1


def test_batching_summary_mentions_leftovers_and_accumulation():
    sim = Simulation(Scenario(batch_size=32, drop_last=True, accumulate=2))
    assert batching_summary(sim.plan) == \
        "6 batches per epoch (8 samples left out), 2 per step (effective batch 64), mini-batch GD"
    sim = Simulation(Scenario(samples=1000, batch_size=10, steps_per_epoch=20))
    assert batching_summary(sim.plan) == "20 steps per epoch, 100 batches per pass, mini-batch GD"


def test_lr_keys_and_the_engines_limit():
    sim = Simulation(Scenario())
    assert live.lr_double(sim) == "lr 0.05 → 0.1"
    assert sim.scenario.lr == 0.1
    assert live.lr_half(sim) == "lr 0.1 → 0.05"
    assert live.lr_half(sim) == "lr 0.05 → 0.025"
    sim = Simulation(Scenario(lr=6e5))
    with pytest.raises(ScenarioError) as err:
        live.lr_double(sim)
    assert str(err.value) == engine_message("lr", "1.2e6")
    assert sim.scenario.lr == 6e5 and len(sim.segments) == 1


def test_optimizer_and_sampling_keys():
    sim = Simulation(Scenario())
    sim.run_iterations(3)
    params = sim.params.copy()
    words = [live.cycle_optimizer(sim) for _ in range(7)]
    assert words[0] == "optimizer: SGD momentum 0.9 (fresh state; parameters kept)"
    assert words[4] == "optimizer: Adam (fresh state; parameters kept)"
    assert words[6] == "optimizer: SGD (fresh state; parameters kept)"
    assert np.array_equal(sim.params, params)
    assert live.cycle_sampling(sim) == "sampling: once — shuffled once, then the same order every epoch"
    assert live.cycle_sampling(sim) == "sampling: sequential — the same order every epoch, never shuffled"
    assert live.cycle_sampling(sim).startswith("sampling: replacement")
    assert live.cycle_sampling(sim).startswith("sampling: reshuffle")     # a regression: no stratified
    sim = Simulation(load_preset("imbalanced"))
    seen = [sim.scenario.sampling]
    for _ in range(5):
        live.cycle_sampling(sim)
        seen.append(sim.scenario.sampling)
    assert "stratified" in seen


def test_live_keys_rescue_a_diverged_run_and_refuse_a_finished_one():
    sim = Simulation(Scenario(lr=100.0))
    sim.run_epoch()
    sim.run_epoch()
    assert sim.status == "diverged"
    last_finite = sim.params.copy()
    assert live.lr_half(sim) == "lr 100 → 50"
    assert sim.status == "ready" and np.array_equal(sim.params, last_finite)
    sim = Simulation(Scenario(epochs=1))
    sim.run_to_end()
    pending = sim.iteration
    with pytest.raises(ScenarioError, match="finished its 1 epochs"):
        live.batch_larger(sim)
    assert sim.iteration == pending and sim.scenario.batch_size == 5


def test_screenshot_name_is_timestamped_and_unique(tmp_path):
    from datetime import datetime

    when = datetime(2025, 1, 31, 14, 25, 1)
    assert screenshot_name(when, tmp_path) == "mbsim-2025-01-31-142501.svg"
    (tmp_path / "mbsim-2025-01-31-142501.svg").write_text("x")
    assert screenshot_name(when, tmp_path) == "mbsim-2025-01-31-142501-2.svg"
