"""The simulation: counters, determinism however it is stepped, exact step-back, accumulation,
steps_per_epoch, divergence and the end of a run."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.engine.errors import ScenarioError
from mbsim.engine.simulation import PHASES, StepRecord


def small(**kw: object) -> Scenario:
    base = dict(samples=40, batch_size=5, epochs=5, val_samples=10)
    base.update(kw)
    return Scenario(**base)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# counters (DESIGN.md wording and worked numbers)
def test_counters_before_any_work() -> None:
    sim = Simulation(Scenario())
    assert sim.counters().text() == "Epoch 1/1000  Batch 0/40  Iteration 0  Step 0  Samples 0"


def test_counters_at_the_first_epoch_boundary() -> None:
    sim = Simulation(Scenario())
    sim.run_iterations(40)
    assert sim.counters().text().startswith("Epoch 1/1000  Batch 40/40")
    assert sim.counters().text() == "Epoch 1/1000  Batch 40/40  Iteration 40  Step 40  Samples 200"
    sim.step_iteration()
    assert sim.counters().text() == "Epoch 2/1000  Batch 1/40  Iteration 41  Step 41  Samples 205"


def test_uneven_last_batch_counts_samples() -> None:
    sim = Simulation(Scenario(samples=1000, batch_size=400, epochs=2))
    sizes = []
    sim.on_step = lambda r: sizes.append(len(r.indices))
    sim.run_epoch()
    assert sizes == [400, 400, 200]
    c = sim.counters()
    assert (c.batch, c.batches, c.samples, c.step) == (3, 3, 1000, 3)


def test_run_epoch_stops_at_the_boundary() -> None:
    sim = Simulation(small())
    sim.run_iterations(3)
    sim.run_epoch()
    assert sim.counters().batch == 8 and sim.counters().epoch == 1
    sim.run_epoch()
    assert (sim.counters().epoch, sim.counters().batch) == (2, 8)


def test_finishes_after_the_epochs() -> None:
    sim = Simulation(small(epochs=2))
    sim.run_to_end()
    assert sim.status == "finished" and sim.done
    assert sim.iteration == 16 and sim.step == 16
    assert not sim.step_iteration()


def test_target_loss_stops_early() -> None:
    sim = Simulation(small(epochs=200, target_loss=0.2, noise=0.1))
    sim.run_to_end()
    assert sim.status == "target reached"
    assert sim.train_loss <= 0.2
    assert sim.history.last("train_loss") <= 0.2
    assert sim.step < 200 * 8


# --------------------------------------------------------------------------------------------
# every epoch uses each sample once; the trace's batch gradient is the batch's mean gradient
def test_reshuffled_epochs_use_every_sample_once_and_differ() -> None:
    sim = Simulation(small(epochs=3))
    seen: list[np.ndarray] = []
    sim.on_step = lambda r: seen.append(r.indices.copy())
    sim.run_to_end()
    epochs = [np.concatenate(seen[e * 8 : (e + 1) * 8]) for e in range(3)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(40))
    assert not np.array_equal(epochs[0], epochs[1])


def test_sequential_and_once_repeat_the_order() -> None:
    for sampling in ("sequential", "once"):
        sim = Simulation(small(epochs=2, sampling=sampling))
        seen: list[np.ndarray] = []
        sim.on_step = lambda r: seen.append(r.indices.copy())
        sim.run_to_end()
        first, second = np.concatenate(seen[:8]), np.concatenate(seen[8:])
        assert np.array_equal(first, second)
        if sampling == "sequential":
            assert first.tolist() == list(range(40))


def test_step_record_gradient_is_the_batch_mean_gradient() -> None:
    sim = Simulation(small(epochs=1))
    records: list[StepRecord] = []
    before: list[np.ndarray] = []
    sim.on_step = lambda r: records.append(r)
    for _ in range(8):
        before.append(sim.params.copy())
        sim.step_iteration()
    X, y = sim.dataset.X, sim.dataset.y
    for theta, rec in zip(before, records):
        idx = rec.indices
        # by hand: MSE of y = w x + b, gradient (2/n) Σ r_i (x_i, 1)
        r = X[idx, 0] * theta[0] + theta[1] - y[idx]
        expect = np.array([2 * np.mean(r * X[idx, 0]), 2 * np.mean(r)])
        assert np.allclose(rec.grad, expect, rtol=1e-12, atol=1e-15)
        assert np.allclose(rec.params, theta - 0.05 * expect, rtol=1e-12, atol=1e-15)
        assert rec.batch_loss == pytest.approx(np.mean(r**2), rel=1e-12)


# --------------------------------------------------------------------------------------------
# determinism: however it is stepped, the same trajectory
SCENARIOS = [
    small(),
    small(sampling="replacement"),
    small(sampling="once"),
    small(dataset="moons", model="mlp", hidden=4, optimizer="adam", lr=0.01, sampling="stratified"),
    small(batch_size=4, accumulate=3),
    small(samples=50, batch_size=4, steps_per_epoch=3, accumulate=2, optimizer="momentum", lr=0.01),
    small(batch_size=7, drop_last=True, optimizer="rmsprop", lr=0.01),
]


def _by_iterations(sc: Scenario, n: int) -> Simulation:
    sim = Simulation(sc)
    for _ in range(n):
        sim.step_iteration()
    return sim


@pytest.mark.parametrize("sc", SCENARIOS, ids=lambda s: f"{s.dataset}-{s.sampling}-{s.optimizer}-K{s.accumulate}")
def test_phases_iterations_epochs_and_back_and_forth_agree(sc: Scenario) -> None:
    n = 2 * Simulation(sc).plan.iterations_per_epoch + 3
    ref = _by_iterations(sc, n)

    phases = Simulation(sc)
    for _ in range(n):
        names = [phases.step_phase() for _ in PHASES]
        assert names == list(PHASES)
    assert np.array_equal(phases.params, ref.params)

    epochs = Simulation(sc)
    epochs.run_epoch()
    epochs.run_epoch()
    epochs.run_iterations(3)
    assert epochs.iteration == n
    assert np.array_equal(epochs.params, ref.params)

    wobble = Simulation(sc)
    extra = min(17, wobble.total_iterations - n)
    assert extra >= 5
    wobble.run_iterations(n + extra)
    for _ in range(extra):
        assert wobble.back()
    assert wobble.iteration == n
    assert np.array_equal(wobble.params, ref.params)
    assert wobble.counters() == ref.counters()
    # and forward again from there: still the same trajectory
    wobble.run_iterations(5)
    ref.run_iterations(5)
    assert np.array_equal(wobble.params, ref.params)
    assert wobble.counters() == ref.counters()


def test_back_is_bit_identical_at_every_iteration() -> None:
    sc = small(optimizer="adam", lr=0.02, epochs=3)
    sim = Simulation(sc)
    snapshots = [(sim.params.copy(), sim.counters(), sim.train_loss)]
    while not sim.done:
        sim.step_iteration()
        snapshots.append((sim.params.copy(), sim.counters(), sim.train_loss))
    for k in range(len(snapshots) - 1, 0, -1):
        assert sim.back()
        params, counters, loss = snapshots[k - 1]
        assert np.array_equal(sim.params, params)
        assert sim.counters() == counters
        assert sim.train_loss == loss
    assert not sim.back()
    assert sim.counters().text().startswith("Epoch 1/3  Batch 0/8")


def test_back_from_a_partial_iteration_discards_its_phases() -> None:
    sim = Simulation(small())
    sim.run_iterations(3)
    params = sim.params.copy()
    sim.step_phase()
    sim.step_phase()
    assert sim.phase == "loss"
    assert sim.back()
    assert sim.phase is None and sim.iteration == 3
    assert np.array_equal(sim.params, params)


def test_history_follows_back() -> None:
    sim = Simulation(small(epochs=2))
    sim.run_iterations(12)
    batch_at_10 = sim.history.decimated(100).series("batch_loss")[9]
    sim.back(2)
    d = sim.history.decimated(100)
    assert len(d.step) == 10 and d.series("batch_loss")[-1] == batch_at_10
    # the full loss is evaluated when read: the row of step 10 now holds it
    assert d.series("train_loss")[-1] == sim.model.loss(sim.params, sim.X, sim.y)
    sim.run_iterations(2)
    assert len(sim.history.decimated(100).step) == 12


def test_reset_restarts_the_same_run() -> None:
    sim = Simulation(small())
    sim.run_iterations(20)
    first = sim.params.copy()
    sim.reset()
    assert sim.iteration == 0 and np.array_equal(sim.params, sim.initial_params)
    sim.run_iterations(20)
    assert np.array_equal(sim.params, first)


# --------------------------------------------------------------------------------------------
# accumulation and steps_per_epoch (SCIENCE.md §1.2, §1.3)
def test_accumulated_step_equals_one_big_batch() -> None:
    sc = Scenario(samples=64, batch_size=8, accumulate=4, epochs=1, val_samples=0)
    sim = Simulation(sc)
    records: list[StepRecord] = []
    sim.on_step = lambda r: records.append(r)
    thetas = [sim.params.copy()]
    while not sim.done:
        sim.step_update()
        thetas.append(sim.params.copy())
    assert sim.iteration == 8 and sim.step == 2  # iterations = K × steps
    X, y = sim.dataset.X, sim.dataset.y
    for theta, rec in zip(thetas, records):
        assert len(rec.indices) == 32
        big = sim.model.batch_grad(theta, X[rec.indices], y[rec.indices])
        assert np.allclose(rec.grad, big, rtol=1e-12, atol=1e-14)


def test_short_last_accumulation_group_takes_a_step() -> None:
    # 5 micro-batches per epoch, 2 per step: steps of 2, 2 and 1
    sim = Simulation(Scenario(samples=50, batch_size=10, accumulate=2, epochs=1, val_samples=0))
    sizes = []
    sim.on_step = lambda r: sizes.append(len(r.indices))
    sim.run_to_end()
    assert sizes == [20, 20, 10]
    assert sim.step == 3 and sim.iteration == 5


def test_steps_per_epoch_continues_the_iterator() -> None:
    sim = Simulation(Scenario(samples=1000, batch_size=10, steps_per_epoch=20, epochs=6, val_samples=0))
    seen: list[np.ndarray] = []
    sim.on_step = lambda r: seen.append(r.indices.copy())
    sim.run_epoch()
    order = sim.order
    assert order is not None
    assert np.array_equal(np.concatenate(seen), order[:200])
    sim.run_epoch()
    assert np.array_equal(np.concatenate(seen[20:]), order[200:400])
    c = sim.counters()
    assert (c.epoch, c.batch, c.batches, c.pass_number) == (2, 20, 20, 1)
    sim.run_epoch(); sim.run_epoch(); sim.run_epoch()
    assert sim.counters().pass_number == 1
    sim.step_iteration()
    c = sim.counters()
    assert (c.epoch, c.batch, c.pass_number) == (6, 1, 2)


# --------------------------------------------------------------------------------------------
# divergence
def test_divergence_does_not_depend_on_how_often_losses_are_evaluated() -> None:
    steps = set()
    for every in ("1", "7", "epoch", "auto"):
        sim = Simulation(Scenario(lr=100.0, epochs=3, eval_every=every))
        sim.run_to_end()
        assert sim.status == "diverged"
        steps.add(sim.diverged_step)
    assert len(steps) == 1


def test_divergence_is_a_state_not_an_exception() -> None:
    sim = Simulation(Scenario(lr=100.0, epochs=3))
    sim.run_to_end()
    assert sim.status == "diverged"
    s = sim.diverged_step
    assert s >= 1
    assert sim.state_summary() == f"diverged at step {s}"
    assert np.all(np.isfinite(sim.params))
    # divergence is told by the batch loss and the parameters (issue 14), not by the full loss:
    # the step that diverged had a non-finite batch loss or produced non-finite parameters
    assert np.isfinite(sim.history.last("batch_loss"))
    assert sim.step == s - 1
    assert not sim.step_iteration()
    assert sim.back()
    assert sim.status != "diverged" and sim.step == s - 1


# --------------------------------------------------------------------------------------------
# live changes of settings (issue 5 builds on these)
def test_live_batch_size_change_keeps_parameters_and_restarts_the_epoch() -> None:
    sim = Simulation(Scenario())
    sim.run_iterations(57)
    params = sim.params.copy()
    sim.apply_changes(batch_size=8)
    assert np.array_equal(sim.params, params)
    c = sim.counters()
    assert (c.epoch, c.batch, c.batches, c.iteration) == (2, 0, 25, 57)
    sim.run_epoch()
    c = sim.counters()
    assert (c.epoch, c.batch, c.batches) == (2, 25, 25)
    assert sim.changes == [(57, "batch_size 5→8")]
    # back across the change undoes it
    sim.back(26)
    assert sim.scenario.batch_size == 5 and sim.counters().batches == 40
    with pytest.raises(ScenarioError):
        sim.apply_changes(batch_size=500)
    with pytest.raises(ScenarioError):
        sim.apply_changes(dataset="moons")


def test_epoch_loss_is_the_weighted_running_mean_and_survives_the_boundary() -> None:
    sim = Simulation(Scenario(samples=1000, batch_size=400, epochs=2, val_samples=0))
    losses, sizes = [], []
    sim.on_step = lambda r: (losses.append(r.batch_loss), sizes.append(len(r.indices)))
    sim.step_iteration()
    assert sim.epoch_loss == losses[0]
    sim.run_epoch()
    expect = (400 * losses[0] + 400 * losses[1] + 200 * losses[2]) / 1000  # Σ n_b L_b / Σ n_b
    assert sim.epoch_loss == pytest.approx(expect, rel=1e-12)
    sim.step_iteration()
    assert sim.epoch_loss == losses[3]


def test_atomic_files_get_ordinary_permissions(tmp_path) -> None:
    import os
    import stat

    from mbsim.engine.atomic import write_text_atomic

    path = write_text_atomic(tmp_path / "x.txt", "hi")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_the_last_batch_is_known_after_stepping_back_onto_a_checkpoint() -> None:
    sim = Simulation(small(epochs=10))
    sim.run_iterations(33)
    sim.back(1)                       # iteration 32: a checkpoint
    assert sim.iteration == 32 and sim.last is not None
    assert sim.last.iteration == 31 and len(sim.current_batch()) == 5


def test_a_step_record_carries_the_keras_running_epoch_loss():
    """StepRecord.epoch_loss (the --history column) is Σ n_b·L_b / Σ n_b over the epoch so far,
    recomputed here from the records' own batch losses and batch sizes, and what
    Simulation.epoch_loss says at that step."""
    sim = Simulation(Scenario(samples=23, val_samples=0, batch_size=5, epochs=3))
    seen = []
    sim.on_step = lambda rec: seen.append((rec, sim.epoch_loss))
    sim.run_to_end()
    assert len(seen) == 3 * 5
    total = count = 0.0
    for rec, said in seen:
        if rec.batch == 1:
            total = count = 0.0
        n = len(rec.indices)
        total += n * rec.batch_loss
        count += n
        assert rec.epoch_loss == pytest.approx(total / count, rel=1e-14)
        assert rec.epoch_loss == said


@pytest.mark.parametrize("preset", ["worked-example", "xor-mlp"])
def test_a_run_without_record_has_the_same_trajectory_and_steps(preset: str) -> None:
    """record=False (mbsim run) keeps no History and no checkpoint after the start; on_step
    still sees every step, the parameters after every step are the recorded run's bit for
    bit, and back stays exact (it replays from the start)."""
    sc = load_preset(preset).replace(epochs=3)
    kept, bare = Simulation(sc), Simulation(sc, record=False)
    seen: list = []
    bare.on_step = seen.append
    kept.run_to_end()
    bare.run_to_end()
    assert len(seen) == kept.step == bare.step
    assert kept.history.count == kept.step and bare.history.count == 0
    assert bare.checkpoint_count == 1
    for rec in seen[-5:]:
        other = Simulation(sc)
        other.run_iterations(rec.iteration)
        assert np.array_equal(other.params, rec.params)
    assert np.array_equal(kept.params, bare.params)
    assert kept.train_loss == bare.train_loss
    bare.back(7)
    kept.back(7)
    assert bare.iteration == kept.iteration and np.array_equal(bare.params, kept.params)


def test_the_order_is_one_object_for_a_whole_pass() -> None:
    """Panels tell a new pass by identity (``is not``): the order read twice within a pass is the
    same object, and a new pass gives a new one (with another permutation)."""
    sim = Simulation(Scenario(samples=40, val_samples=0, batch_size=5, epochs=3))
    sim.run_iterations(3)
    first = sim.order
    sim.run_iterations(2)
    assert sim.order is first
    sim.run_iterations(5)                     # into the second pass
    assert sim.order is not first and not np.array_equal(sim.order, first)
