"""Shared by the ensemble tests: small scenarios of each model, and stepping every member's lone
Simulation alongside the ensemble with a bit-for-bit comparison after every step.
"""

from __future__ import annotations

import numpy as np

from mbsim.engine import Scenario, load_preset
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.simulation import Simulation


SMALL = {
    "linear": Scenario(samples=40, val_samples=10, epochs=3, batch_size=5),
    "logistic": load_preset("imbalanced").replace(samples=40, val_samples=10, epochs=3, batch_size=6),
    "mlp": load_preset("xor-mlp").replace(samples=40, val_samples=10, epochs=3, batch_size=6, hidden=4),
}


RUNNING = ("ready", "diverging")  # the states in which a run takes further steps


def assert_members_match_lone_runs(ens: Ensemble) -> None:
    """Step the ensemble one step at a time and every member's lone Simulation alongside;
    after every step the parameters, batch loss, train and validation losses, counters and
    status must be equal bit for bit."""
    assert ens.align == "steps"
    lone, batch_losses = lone_runs(ens)
    checked = step_lone_alongside(ens, lone, batch_losses)
    for k, sim in enumerate(lone):
        assert sim.done and ens.status[k] == sim.status
        assert ens.diverged_step[k] == sim.diverged_step
    assert checked > 0


def step_lone_alongside(ens: Ensemble, lone: list[Simulation], batch_losses: list[list[float]]) -> int:
    """Tick the ensemble (step alignment) to the end, stepping each lone run to the member's
    step (one step per tick; more for a member that resumed behind the ticks after a change, as
    it catches up) and, when the member has stopped, until the lone run stops too; compare them
    bit for bit after every tick; returns how many comparisons were made."""
    checked = 0
    while ens.tick():
        for k, sim in enumerate(lone):
            while not sim.done and (sim.step < ens.step[k] or ens.status[k] not in RUNNING):
                sim.step_update()
            assert np.array_equal(ens.params[k], sim.params), (k, sim.step)
            assert ens.step[k] == sim.step and ens.iteration[k] == sim.iteration
            assert ens.samples_seen[k] == sim.samples_seen
            assert np.array_equal(ens.train_loss[k], sim.train_loss)
            assert np.array_equal(ens.val_loss[k], sim.val_loss, equal_nan=True)
            assert np.array_equal(ens.epoch_loss[k], sim.epoch_loss, equal_nan=True)
            if sim.step:
                assert np.array_equal(ens.batch_loss[k], batch_losses[k][-1])
            assert ens.status[k] == sim.status
            checked += 1
    return checked


def lone_runs(ens: Ensemble) -> tuple[list[Simulation], list[list[float]]]:
    lone = [ens.member_simulation(k) for k in range(ens.runs)]
    losses: list[list[float]] = [[] for _ in lone]
    for sim, record in zip(lone, losses):
        sim.on_step = lambda rec, record=record: record.append(rec.batch_loss)
    return lone, losses


def change_then_compare(ens: Ensemble, ticks: int, changes: dict) -> list[Simulation]:
    """Tick ``ticks`` times, apply ``changes`` to the ensemble and to every lone run driven to
    the same iteration, then compare them to the end."""
    lone, losses = lone_runs(ens)
    for _ in range(ticks):
        ens.tick()
    for k, sim in enumerate(lone):
        sim.run_iterations(int(ens.iteration[k]) - sim.iteration)
        assert np.array_equal(sim.params, ens.params[k])
    ens.apply_changes(**changes)
    for sim in lone:
        sim.apply_changes(**changes)
    for k, sim in enumerate(lone):
        assert ens.member_scenario(k) == sim.scenario
    assert step_lone_alongside(ens, lone, losses) > 0
    for k, sim in enumerate(lone):
        assert sim.done and ens.status[k] == sim.status
    return lone
