"""Live changes for all members of an ensemble (issue 11: `[ ] < >` apply to all K runs): each
member equals its lone run given the same change, back and goto across changes are exact, and
a refused change leaves everything as it was.

Expected values come from the lone :class:`Simulation` given the same change.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.errors import ScenarioError
from mbsim.engine.optimizers import OPTIMIZERS
from mbsim.engine.simulation import Simulation

from ensemble_helpers import SMALL, change_then_compare, lone_runs, step_lone_alongside


CHANGES = [
    {"batch_size": 8},
    {"lr": 0.02, "optimizer": "momentum"},
    {"optimizer": "adam", "lr": 0.01},
    {"sampling": "replacement", "accumulate": 2},
    {"epochs": 5, "drop_last": True, "batch_size": 7},
]


@pytest.mark.parametrize("model", ["linear", "logistic", "mlp"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_live_change_for_all_members_equals_the_lone_runs_given_it(model: str, optimizer: str) -> None:
    sc = SMALL[model].replace(optimizer=optimizer,
                              lr=0.01 if optimizer in ("adam", "adamw", "rmsprop") else SMALL[model].lr)
    for i, changes in enumerate(CHANGES):
        # mid-epoch (11 steps of 7 or 8 per epoch) and, for one change, at an epoch boundary
        ticks = 7 if i == 1 and model != "linear" else (8 if i == 1 else 11)
        ens = Ensemble.seeds(sc, 3, evaluate="step" if i % 2 else "read")
        change_then_compare(ens, ticks, changes)
        assert len(ens.groups) == 1     # one plan, one position: still stepped together


def test_a_change_regroups_members_of_different_batch_sizes() -> None:
    """Three batch sizes stand at different iterations: a change to one B keeps three groups
    (different positions), each member equal to its lone run given the change."""
    sc = SMALL["linear"].replace(epochs=12)
    ens = Ensemble.vary(sc, "batch_size", [40, 5, 1])
    change_then_compare(ens, 6, {"batch_size": 8, "lr": 0.03})
    assert len(ens.groups) == 3
    assert [ens.member_scenario(k).batch_size for k in range(3)] == [8, 8, 8]


def test_members_differing_in_lr_keep_their_lr_through_a_b_change() -> None:
    sc = SMALL["linear"]
    ens = Ensemble.vary(sc, "lr", [0.01, 0.05])
    change_then_compare(ens, 5, {"batch_size": 10})
    assert [ens.member_scenario(k).lr for k in range(2)] == [0.01, 0.05]
    assert len(ens.groups) == 1


def test_a_diverged_member_resumes_from_its_own_position_as_its_lone_run() -> None:
    """lr 10 diverges early; a change to lr 0.05 makes it continue from its last finite
    parameters at the step it stopped (its lone run's apply_changes), while the other member
    goes on from the ensemble's step: two groups."""
    sc = SMALL["linear"].replace(epochs=20)
    ens = Ensemble.vary(sc, "lr", [0.05, 10.0])
    lone = change_then_compare(ens, 60, {"lr": 0.05})
    assert ens.diverged_step[1] == 0 and lone[1].diverged_step == 0
    assert ens.status == ["finished", "finished"]


def test_a_member_that_reached_its_target_resumes_after_a_change() -> None:
    sc = SMALL["linear"].replace(epochs=50, target_loss=0.12)
    ens = Ensemble.seeds(sc, 3)
    lone, losses = lone_runs(ens)
    while "target reached" not in ens.status:
        ens.tick()
    for _ in range(3):
        ens.tick()
    for k, sim in enumerate(lone):
        sim.run_iterations(int(ens.iteration[k]) - sim.iteration)
    ens.apply_changes(target_loss=0.0, lr=0.02)
    for sim in lone:
        sim.apply_changes(target_loss=0.0, lr=0.02)
    assert step_lone_alongside(ens, lone, losses) > 0
    assert ens.status == ["finished"] * 3


def test_back_across_a_change_restores_the_old_settings_exactly() -> None:
    sc = SMALL["mlp"].replace(epochs=6)
    ens = Ensemble.seeds(sc, 4)
    plain = Ensemble.seeds(sc, 4)
    for _ in range(10):
        ens.tick()
        plain.tick()
    ens.apply_changes(batch_size=4, optimizer="adam", lr=0.01)
    assert ens.scenario.batch_size == 4 and ens.changes and ens.changes[0][0] == 10
    changed = Ensemble.seeds(sc, 4)
    lone = [changed.member_simulation(k) for k in range(4)]
    for _ in range(10):
        ens.tick()
    after = ens.params.copy()
    for _ in range(10):
        ens.back()
    # at the change: its settings are still in force (as the lone run's goto to that iteration)
    assert ens.scenario.batch_size == 4 and list(ens.step) == [10] * 4
    assert np.array_equal(ens.params, plain.params)
    for _ in range(10):
        ens.tick()
    assert np.array_equal(ens.params, after)
    for _ in range(10):
        ens.back()
    ens.back()                      # before the change: the old settings
    assert ens.scenario.batch_size == 6 and not ens.changes
    for _ in range(15):
        ens.tick()
    for _ in range(14):             # ens: 9 + 15 ticks; plain: 10 + 14
        plain.tick()
    assert np.array_equal(ens.params, plain.params)
    # the lone runs given the change at step 10, then 10 steps: the "after" state
    for k, sim in enumerate(lone):
        sim.run_iterations(10)
        sim.apply_changes(batch_size=4, optimizer="adam", lr=0.01)
        sim.run_iterations(10)
        assert np.array_equal(sim.params, after[k])
    ens.reset()
    assert ens.scenario.batch_size == 6
    assert np.array_equal(ens.params, np.repeat(ens.initial_params[None], 4, axis=0))


def test_goto_tick_across_two_changes() -> None:
    sc = SMALL["linear"].replace(epochs=6)
    ens = Ensemble.seeds(sc, 3)
    snapshots = {}
    for t in range(1, 31):
        ens.tick()
        if t == 8:
            ens.apply_changes(lr=0.02)
        if t == 20:
            ens.apply_changes(batch_size=10, sampling="replacement")
        snapshots[t] = (ens.params.copy(), ens.scenario)
    for t in (25, 20, 12, 8, 3):
        ens.goto_tick(t)
        assert np.array_equal(ens.params, snapshots[t][0]), t
        assert ens.scenario == snapshots[t][1], t
    assert ens.scenario.lr == sc.lr and not ens.changes
    for t in range(4, 31):          # the same ticks and changes again: the same states
        ens.tick()
        if t == 8:
            ens.apply_changes(lr=0.02)
        if t == 20:
            ens.apply_changes(batch_size=10, sampling="replacement")
        assert np.array_equal(ens.params, snapshots[t][0]), t
    assert [c[0] for c in ens.changes] == [8, 20]
    with pytest.raises(ScenarioError, match="tick"):
        ens.goto_tick(ens.ticks + 1)


def test_a_change_raises_the_lone_runs_error_before_anything_changes() -> None:
    sc = SMALL["linear"].replace(epochs=2)
    ens = Ensemble.seeds(sc, 3)
    sim = Simulation(sc)
    ens.tick()
    sim.step_update()
    before, revision = ens.params.copy(), ens.revision
    for changes in ({"batch_size": 0}, {"batch_size": 41}, {"model": "mlp"}, {"lr": -1.0},
                    {"optimizer": "nope"}, {"epochs": 0}):
        with pytest.raises(ScenarioError) as lone_err:
            sim.check_changes(**changes)
        with pytest.raises(ScenarioError) as ens_err:
            ens.apply_changes(**changes)
        assert str(ens_err.value) == str(lone_err.value)
        with pytest.raises(ScenarioError):
            ens.check_changes(**changes)
    assert np.array_equal(ens.params, before) and ens.revision == revision
    ens.run_to_end()
    sim.run_to_end()
    with pytest.raises(ScenarioError) as lone_err:
        sim.apply_changes(lr=0.01)
    with pytest.raises(ScenarioError) as ens_err:
        ens.apply_changes(lr=0.01)
    assert str(ens_err.value) == str(lone_err.value) and "finished" in str(ens_err.value)


def test_a_live_change_to_epoch_end_cut_for_all_members() -> None:
    ens = Ensemble.seeds(Scenario(samples=47, batch_size=5, epochs=5), 2)
    change_then_compare(ens, 3, {"steps_per_epoch": 4, "epoch_end": "cut"})
    assert ens.scenario.epoch_end == "cut"


def test_revision_is_bumped_by_every_mutating_method() -> None:
    ens = Ensemble.seeds(SMALL["linear"], 2)
    seen = [ens.revision]
    for act in (ens.tick, ens.tick_epoch, ens.back, lambda: ens.apply_changes(lr=0.02),
                lambda: ens.goto_tick(0), ens.tick, ens.reset, ens.run_to_end):
        act()
        assert ens.revision > seen[-1]
        seen.append(ens.revision)
    ens.params, ens.band(), ens.spread(), ens.predicted_spread()   # reads change nothing
    assert ens.revision == seen[-1]


def test_groups_left_by_a_change_keep_few_checkpoints_and_back_stays_exact() -> None:
    """A live change thins the checkpoints of the groups it leaves behind (at most 16); going
    back to any earlier tick still gives that tick's exact parameters."""
    ens = Ensemble.seeds(Scenario(epochs=100), 4)
    seen: dict[int, np.ndarray] = {}
    for _ in range(900):                      # 900 iterations: ~29 checkpoints every 32
        ens.tick()
    seen[ens.ticks] = ens.params.copy()
    seen[500] = None
    old_groups = list(ens.groups)
    assert len(old_groups[0].runs.checkpoints) > 16
    ens.apply_changes(batch_size=10)
    for _ in range(300):
        ens.tick()
    seen[ens.ticks] = ens.params.copy()
    ens.apply_changes(lr=0.025)
    for _ in range(50):
        ens.tick()
    assert all(len(g.runs.checkpoints) <= 16 for g in old_groups)
    # tick 500 from a fresh ensemble driven there (no change made before it)
    fresh = Ensemble.seeds(Scenario(epochs=100), 4)
    for _ in range(500):
        fresh.tick()
    seen[500] = fresh.params.copy()
    for tick in sorted(seen, reverse=True):
        ens.goto_tick(tick)
        assert np.array_equal(ens.params, seen[tick]), tick
