"""The ensemble (engine/ensemble.py): every member bit-identical to the same run as a lone
Simulation, step by step (np.array_equal, never allclose); alignment as compare mode; rewinding.

Expected values come from an independent computation: the lone :class:`Simulation`, which has
its own tests against hand computations and torch (tests/test_simulation.py, test_science.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import Scenario, load_preset
from engine.compare import Comparison
from engine.ensemble import MAX_RUNS, Ensemble, Member
from engine.errors import ScenarioError
from engine.models import make_model
from engine.optimizers import OPTIMIZERS
from engine.sampling import SAMPLINGS
from engine.simulation import Simulation

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


@pytest.mark.parametrize("evaluate", ["step", "read"])
@pytest.mark.parametrize("model", ["linear", "logistic", "mlp"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_seed_members_equal_lone_runs_every_model_and_optimizer(model: str, optimizer: str,
                                                                evaluate: str) -> None:
    sc = SMALL[model].replace(optimizer=optimizer, weight_decay=0.01 if optimizer in ("adamw", "sgd") else 0.0,
                              lr=0.01 if optimizer in ("adam", "adamw", "rmsprop") else SMALL[model].lr)
    ens = Ensemble.seeds(sc, 3, evaluate=evaluate)
    assert_members_match_lone_runs(ens)
    # the members really differ (different sampling streams) and member 0 is the scenario's own run
    assert not np.array_equal(ens.params[0], ens.params[1])
    own = Simulation(sc)
    own.run_to_end()
    assert np.array_equal(own.params, ens.params[0])
    acc = ens.accuracy()
    if model == "linear":
        assert acc is None
    else:
        assert acc[0] == own.accuracy()


@pytest.mark.parametrize("sampling", SAMPLINGS)
@pytest.mark.parametrize("accumulate", [1, 3])
@pytest.mark.parametrize("drop_last", [False, True])
def test_members_equal_lone_runs_every_sampling_accumulation_drop_last(
        sampling: str, accumulate: int, drop_last: bool) -> None:
    models = ["logistic", "mlp"] if sampling == "stratified" else ["linear", "logistic", "mlp"]
    for model in models:
        # B = 7 does not divide N = 40: a short last batch, or 5 left over with drop_last
        sc = SMALL[model].replace(sampling=sampling, accumulate=accumulate, drop_last=drop_last,
                                  batch_size=7)
        evaluate = "read" if (accumulate == 3) == drop_last else "step"
        assert_members_match_lone_runs(Ensemble.seeds(sc, 3, evaluate=evaluate))


def test_steps_per_epoch_momentum_and_a_schedule() -> None:
    sc = SMALL["linear"].replace(steps_per_epoch=3, optimizer="momentum", schedule="cosine", epochs=4)
    assert_members_match_lone_runs(Ensemble.seeds(sc, 2))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_mlp_regression_members_equal_lone_runs(activation: str) -> None:
    sc = Scenario(dataset="plane", model="mlp", activation=activation, hidden=5, samples=30,
                  val_samples=0, epochs=3, batch_size=4, lr=0.05)
    assert_members_match_lone_runs(Ensemble.seeds(sc, 2))


def test_members_differing_in_batch_size_lr_and_optimizer() -> None:
    sc = SMALL["linear"]
    for ens in (Ensemble.vary(sc, "batch_size", [40, 5, 1]),
                Ensemble.vary(sc, "lr", [0.01, 0.05, 0.1]),
                Ensemble.vary(sc, "optimizer", ["sgd", "adam", "momentum"]),
                Ensemble(sc, [Member("a", {"lr": 0.02}, 0), Member("b", {"batch_size": 8}, 4),
                              Member("c", {"lr": 0.1, "optimizer": "adam"}, 2)])):
        assert_members_match_lone_runs(ens)
    # one group per batch size; members differing only in lr or optimizer share one group
    assert len(Ensemble.vary(sc, "batch_size", [40, 5, 1]).groups) == 3
    assert len(Ensemble.vary(sc, "lr", [0.01, 0.05, 0.1]).groups) == 1


@pytest.mark.parametrize("evaluate", ["step", "read"])
@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_a_diverging_member_stops_alone_as_its_lone_run(model: str, evaluate: str) -> None:
    sc = SMALL[model].replace(epochs=20)
    lr = 10.0
    if model == "mlp":       # an mse mlp (bce's gradients are bounded: it does not blow up)
        sc = Scenario(dataset="plane", model="mlp", hidden=4, samples=40, val_samples=10,
                      epochs=20, batch_size=6)
        lr = 3.0
    ens = Ensemble.vary(sc, "lr", [0.05, lr], evaluate=evaluate)
    assert_members_match_lone_runs(ens)
    assert ens.status == ["finished", "diverged"]
    assert ens.diverged_step[1] > 0


def test_target_loss_stops_members_as_lone_runs() -> None:
    sc = SMALL["linear"].replace(epochs=50, target_loss=0.12)
    ens = Ensemble.seeds(sc, 3)
    assert_members_match_lone_runs(ens)
    assert "target reached" in ens.status


def test_target_reached_at_an_epoch_end_closes_the_epoch_as_the_lone_run() -> None:
    """The target is the lone run's train loss at the end of an epoch (a new minimum there), so
    member 0 stops exactly at an epoch boundary; its epoch loss must be the lone run's."""
    sc = SMALL["linear"].replace(epochs=30)
    sim = Simulation(sc)
    train: list[float] = []
    sim.on_step = lambda rec: train.append(rec.train_loss)
    sim.run_to_end()
    per_epoch = 8                                               # N = 40, B = 5
    evaluated = [v if v is not None and math.isfinite(v) else math.inf for v in train]  # NaN: not evaluated
    target = next(evaluated[s - 1] for s in range(per_epoch * 2, len(train) + 1, per_epoch)
                  if evaluated[s - 1] < min(evaluated[: s - 1]))
    ens = Ensemble.seeds(sc.replace(target_loss=target), 2)
    assert_members_match_lone_runs(ens)
    assert ens.status[0] == "target reached" and ens.step[0] % per_epoch == 0


def test_quantiles_use_the_finite_values() -> None:
    ens = Ensemble.seeds(Scenario(samples=10, val_samples=0, epochs=1), 2)
    values = np.array([np.nan, 1.0, 2.0, 3.0, np.inf])
    assert list(ens.quantiles(values, (0.0, 0.5, 1.0))) == [1.0, 2.0, 3.0]
    assert np.isnan(ens.quantiles(np.array([np.nan]))).all()


def test_seed_rule_member_k_is_the_spawned_stream() -> None:
    """Member k ≥ 1 draws its first order from SeedSequence(seed, spawn_key=(k,)), computed
    here independently of the engine's helper."""
    sc = Scenario(samples=20, val_samples=0, epochs=1, batch_size=20, seed=7)
    ens = Ensemble.seeds(sc, 3)
    ens.tick()
    child = np.random.SeedSequence(7).spawn(3)[2]
    expected = np.random.default_rng(child).permutation(20)
    assert np.array_equal(ens.order(2), expected)
    assert ens.members[2].stream == 2


def test_compare_alignment_matches_comparison_tick_by_tick() -> None:
    sc = Scenario(samples=40, val_samples=10, epochs=2)
    for align in ("epochs", "samples", "steps"):
        comp = Comparison(sc, align=align)
        ens = Ensemble.batch_sizes(sc, align=align)
        assert [m.label for m in ens.members] == [r.label for r in comp.runs]
        for _ in range(12):
            assert comp.tick() == ens.tick()
            assert comp.target == ens.target
            for k, r in enumerate(comp.runs):
                assert np.array_equal(ens.params[k], r.sim.params)
                assert ens.step[k] == r.sim.step
        comp.tick_epoch()
        ens.tick_epoch()
        assert [r.sim.step for r in comp.runs] == list(ens.step)
        for _ in range(3):
            comp.back()
            ens.back()
        for k, r in enumerate(comp.runs):
            assert np.array_equal(ens.params[k], r.sim.params)
            assert ens.step[k] == r.sim.step


def test_back_and_reset_are_exact() -> None:
    sc = SMALL["mlp"].replace(epochs=10)
    ens = Ensemble.seeds(sc, 4)          # 7 batches of 6 per epoch, 70 steps in all
    for _ in range(50):
        ens.tick()
    assert list(ens.step) == [50] * 4
    after = ens.params.copy()
    for _ in range(5):
        ens.tick()
    for _ in range(5):
        ens.back()
    assert np.array_equal(ens.params, after)
    ens.reset()
    assert np.array_equal(ens.params, np.repeat(ens.initial_params[None], 4, axis=0))
    for _ in range(50):
        ens.tick()
    assert np.array_equal(ens.params, after)


def test_one_run_ensemble_is_the_lone_run() -> None:
    sc = SMALL["logistic"]
    ens = Ensemble.seeds(sc, 1)
    ens.run_to_end()
    sim = Simulation(sc)
    sim.run_to_end()
    assert np.array_equal(ens.params[0], sim.params)
    assert np.isnan(ens.spread())


def test_spread_is_the_trace_of_the_sample_covariance() -> None:
    params = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    # var of column 0: mean 2, ((−2)² + 0 + 2²)/2 = 4; column 1: mean 2, (1 + 1 + 4)/2 = 3
    ens = Ensemble.seeds(Scenario(samples=10, val_samples=0, epochs=1), 2)
    assert ens.spread(params) == pytest.approx(7.0)


@pytest.mark.parametrize("runs", [0, -1, MAX_RUNS + 1, 2.5, True])
def test_bad_number_of_runs_is_refused(runs) -> None:  # noqa: ANN001
    with pytest.raises(ScenarioError, match="runs"):
        Ensemble.seeds(Scenario(), runs)


def test_model_runs_methods_equal_single_run_methods() -> None:
    """Random shapes, every model, loss, activation: the stacked methods row by row."""
    rng = np.random.default_rng(3)
    for trial in range(120):
        name = ("linear", "logistic", "mlp")[trial % 3]
        task = "classification" if name == "logistic" or (name == "mlp" and trial % 2) else "regression"
        d = int(rng.integers(1, 4))
        m = make_model(name, d, task, hidden=int(rng.integers(1, 9)),
                       activation=("tanh", "relu", "sigmoid")[trial % 3 if name == "mlp" else 0])
        k, n = int(rng.integers(1, 5)), int(rng.integers(1, 140))
        big = n + int(rng.integers(0, 40))
        P = rng.standard_normal((k, m.n_params))
        X = rng.standard_normal((k, big, d))
        y = (rng.random((k, big)) < 0.5).astype(float) if task == "classification" else rng.standard_normal((k, big))
        a = int(rng.integers(0, big - n + 1))
        losses, grads = m.loss_and_grad_runs(P, X[:, a:a + n], y[:, a:a + n])
        n_first = int(rng.integers(0, big + 1))
        first, rest = m.split_loss_runs(P, X[0], y[0], n_first)
        for r in range(k):
            loss, grad = m.loss_and_grad(P[r], X[r, a:a + n], y[r, a:a + n])
            assert loss == losses[r] and np.array_equal(grad, grads[r])
            f, s = m.split_loss(P[r], X[0], y[0], n_first)
            assert np.array_equal([f, s], [first[r], rest[r]], equal_nan=True)


def test_back_is_exact_with_the_sparser_checkpoints_of_a_large_ensemble() -> None:
    """20 runs keep a checkpoint every 32·(20 // 8) = 64 iterations: stepping back replays
    from one; the result equals a fresh ensemble stepped straight there."""
    sc = SMALL["linear"].replace(epochs=40)
    ens = Ensemble.seeds(sc, 20)
    for _ in range(150):
        ens.tick()
    for _ in range(17):
        ens.back()
    fresh = Ensemble.seeds(sc, 20)
    for _ in range(133):
        fresh.tick()
    assert np.array_equal(ens.params, fresh.params)
    assert np.array_equal(ens.epoch_loss, fresh.epoch_loss)
    assert list(ens.step) == [133] * 20


@pytest.mark.parametrize("bias", [True, False])
def test_sample_major_linear_step_equals_the_lone_runs_step(bias: bool) -> None:
    """One feature, squared error: the sample-major loss and gradient equal each run's own
    loss_and_grad bit for bit, on both sides of 8 samples (below it the bias gradient is summed
    down the rows; NumPy sums 8 and more pairwise), for 1 to 100 runs and values of every size."""
    from engine.models import LinearModel
    m = LinearModel("linear", "mse", 1, bias=bias)
    assert m.runs_by_sample
    assert not make_model("linear", 2, "regression").runs_by_sample
    assert not make_model("logistic", 1, "classification").runs_by_sample
    rng = np.random.default_rng(8)
    for n in (1, 2, 5, 7, 8, 9, 13, 64, 200):
        for k in (1, 3, 100):
            P = rng.standard_normal((k, m.n_params)) * 10.0 ** rng.integers(-3, 4, (k, 1))
            X = rng.standard_normal((k, n + 6, 1)) * 10.0 ** rng.integers(-4, 5, (k, n + 6, 1))
            y = rng.standard_normal((k, n + 6)) * 10.0 ** rng.integers(-4, 5, (k, n + 6))
            Xs, ys = X[:, 3:3 + n], y[:, 3:3 + n]
            losses, grads = m.loss_and_grad_runs_by_sample(
                P, np.ascontiguousarray(Xs[:, :, 0].T), np.ascontiguousarray(ys.T), Xs[:, :, 0])
            for r in range(k):
                loss, grad = m.loss_and_grad(P[r], Xs[r], ys[r])
                assert loss == losses[r] and np.array_equal(grad, grads[r]), (n, k, r)


@pytest.mark.parametrize("choice", ["cut", "restart"])
@pytest.mark.parametrize("accumulate", [1, 2])
def test_members_equal_lone_runs_with_epoch_end_cut_and_restart(choice: str, accumulate: int) -> None:
    """The members are stepped by the lone run's own code (engine.runs), so an ensemble takes
    every epoch_end (before issue 25 its separate loop refused cut and restart). N = 47, B = 5:
    10 batches a pass, 4 steps an epoch: cut makes epochs of 4, 4, 2 batches (× accumulate),
    restart uses the first 4 of a fresh pass."""
    sc = Scenario(samples=47, val_samples=10, batch_size=5, steps_per_epoch=4, epochs=6, epoch_end=choice,
                  accumulate=accumulate)
    ens = Ensemble.seeds(sc, 3)
    assert_members_match_lone_runs(ens)
    lone = ens.member_simulation(2)
    lone.run_to_end()
    assert ens.counters(2) == lone.counters()


def test_a_member_is_diverging_exactly_when_its_lone_run_is() -> None:
    """lr 1.6 on the worked example climbs out of the bowl (SCIENCE.md §5: ηλ > 2): the member
    says "diverging" at the same step as its lone run, the other member never does."""
    sc = Scenario(epochs=2)
    ens = Ensemble.vary(sc, "lr", [0.05, 1.6])
    seen = set()
    lone = ens.member_simulation(1)
    while ens.tick():
        if lone.status in RUNNING:
            lone.step_update()
        assert ens.status[1] == lone.status
        seen.add(ens.status[1])
        assert ens.status[0] in ("ready", "finished")
    assert "diverging" in seen


# ------------------------------------------------------------------------------------------------
# live changes for all members (issue 11: `[ ] < >` apply to all K runs)


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


# ------------------------------------------------------------------------------------------------
# the loss band


def test_band_is_the_quantiles_of_the_members_at_every_tick_and_follows_back() -> None:
    sc = SMALL["linear"].replace(epochs=20, val_samples=10)
    ens = Ensemble.vary(sc, "lr", [0.01, 0.02, 0.05, 0.1, 10.0])   # lr 10 diverges
    seen: list[tuple[int, np.ndarray, np.ndarray]] = []
    while ens.tick():
        gone = np.array([s == "diverged" for s in ens.status])
        seen.append((int(ens.step[0]), np.where(gone, np.nan, ens.batch_loss),
                     np.where(gone, np.nan, ens.train_loss)))
    assert "diverged" in ens.status
    for q_index, name in ((1, "batch_loss"), (2, "train_loss")):
        x, values = ens.band(name, (0.1, 0.5, 0.9))
        assert values.shape == (3, len(x))
        expect_x = [s for s, *v in seen if np.isfinite(v[q_index - 1]).any()]
        if name == "train_loss":
            expect_x = [0] + expect_x                   # the start: every member at L(θ₀)
        assert list(x) == expect_x
        for s, *v in seen:
            vals = v[q_index - 1]
            finite = vals[np.isfinite(vals)]
            col = list(x).index(s)
            # np.percentile's default (linear) rule, by hand: position q·(n − 1) in the sorted values
            srt = np.sort(finite)
            for row, q in enumerate((0.1, 0.5, 0.9)):
                pos = q * (len(srt) - 1)
                lo, hi = int(math.floor(pos)), int(math.ceil(pos))
                expect = srt[lo] + (srt[hi] - srt[lo]) * (pos - lo)
                assert values[row, col] == pytest.approx(expect, rel=1e-12)
    n_before = len(ens.band("batch_loss")[0])
    for _ in range(5):
        ens.back()
    x, _ = ens.band("batch_loss")
    assert len(x) == n_before - 5 and x[-1] == ens.step[0]
    ens.reset()
    x, values = ens.band("train_loss")
    assert list(x) == [0] and np.allclose(values, ens.initial_train_loss)
    with pytest.raises(ScenarioError, match="quantity"):
        ens.band("loss")


def test_band_memory_is_bounded_by_decimation(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for 64 ticks: ticks 0..63 fill it, tick 64 keeps the even ones (stride 2),
    tick 128 the multiples of 4: after 200 ticks the record holds ticks 0, 4, ..., 200."""
    import engine.band as band_module

    monkeypatch.setattr(band_module, "BAND_POINTS", 2 * 64)
    monkeypatch.setattr(band_module, "BAND_EVAL_POINTS", 64)
    ens = Ensemble.seeds(SMALL["linear"].replace(epochs=30), 2)
    steps_at = [0]
    losses_at = [ens.train_loss]
    for _ in range(200):
        ens.tick()
        steps_at.append(int(ens.step[0]))
        losses_at.append(ens.train_loss)
    expect = [steps_at[t] for t in range(0, 201, 4)]
    x, _ = ens.band("train_loss")
    assert list(x) == expect
    x, _ = ens.band("batch_loss")
    assert list(x) == expect[1:]                       # no batch loss before the first step
    x, values = ens.band("train_loss", (0.0, 1.0))     # the min and max of the two runs
    for col, t in enumerate(range(0, 201, 4)):
        assert values[0, col] == pytest.approx(losses_at[t].min(), rel=1e-12)
        assert values[1, col] == pytest.approx(losses_at[t].max(), rel=1e-12)
    assert ens._band.batch.data["loss"].shape == (64, 2)
    assert ens._band.full.data["params"].shape == (64, 2, 2)


def test_the_band_of_lone_members_leaves_their_histories_as_a_lone_run_would() -> None:
    """Recording the band reads a lone member's batch loss at every tick without evaluating
    (and so recording) its full losses: its History equals a plain Simulation's."""
    from engine.history import SERIES

    sc = Scenario(samples=40, val_samples=10, epochs=3)
    ens = Ensemble.seeds(sc, 1, lone="always")
    plain = Simulation(sc)
    while ens.tick():
        plain.step_update()
    a, b = ens.simulation(0).history.decimated(1000), plain.history.decimated(1000)
    for name in SERIES:
        assert np.array_equal(a.series(name), b.series(name), equal_nan=True), name
    x, values = ens.band("batch_loss", (0.5,))
    assert len(x) == plain.step and values[0, -1] == plain.history.last("batch_loss")


def test_counters_of_each_member_equal_its_lone_runs_counters() -> None:
    """Ensemble.counters(k) is member k's lone run's counters, for vectorised members of
    different batch sizes (compare mode's three) after an epoch-aligned tick and a change of B."""
    sc = Scenario(epochs=3)
    ens = Ensemble.vary(sc, "batch_size", [200, 5, 1])
    lone = [ens.member_simulation(k) for k in range(3)]
    for _ in range(57):
        ens.tick()
    for k, sim in enumerate(lone):
        while sim.iteration < int(ens.iteration[k]):
            sim.step_iteration()
        assert ens.counters(k) == sim.counters()
    # hand-checked: B=5, 57 iterations: epoch 2 (40 batches in epoch 1), batch 17 of 40, 285 samples
    assert ens.counters(1).text() == "Epoch 2/3  Batch 17/40  Iteration 57  Step 57  Samples 285"
    with pytest.raises(ScenarioError, match="allowed: 0 to 2"):
        ens.counters(3)


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


def test_orders_drawn_ahead_leave_every_lone_generator_exact() -> None:
    """Reshuffled orders are drawn 8 passes ahead, so the group's generators run ahead of a run
    drawing one pass at a time. At the start, middle and end of a block the generator a member
    hands on (to a live change) is in the state of a generator that drew the member's passes one
    ``permutation`` at a time (computed here from the member's SeedSequence, independently of
    the engine) and of its lone run's; going back into a block that is past (its orders drawn
    again from its starting states) gives the exact state, and so does running on."""
    sc = SMALL["linear"].replace(epochs=30)           # 40 samples, B = 5: 8 iterations a pass
    ens = Ensemble.seeds(sc, 3)
    lone = [ens.member_simulation(k) for k in range(3)]
    group = ens.groups[0]

    def one_pass_at_a_time(k: int, passes: int) -> dict:
        gen = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=(k,)))
        for _ in range(passes):
            gen.permutation(40)
        return gen.bit_generator.state

    def check(iteration: int) -> None:
        for k, sim in enumerate(lone):
            sim.run_iterations(iteration - sim.iteration)
            assert int(ens.iteration[k]) == iteration
            assert np.array_equal(sim.params, ens.params[k])
            assert ens.member_generator(k).bit_generator.state == sim.rng.bit_generator.state
            if k:
                assert ens.member_generator(k).bit_generator.state == one_pass_at_a_time(k, -(-iteration // 8))

    for iteration in (1, 8, 9, 63, 64, 65, 100):      # passes 0, 1, 7, 8 (a new block), 12
        while int(ens.iteration[0]) < iteration:
            ens.tick()
        state = group.runs.state
        assert state.ahead_passes == 8 and state.ahead_first == (0 if iteration <= 64 else 8)
        check(iteration)
    # the group's own generator is ahead of the one it hands on
    assert group.runs.orders_.generators[1].bit_generator.state != ens.member_generator(1).bit_generator.state
    while int(ens.iteration[0]) < 150:                 # into the third block (passes 16 on)
        ens.tick()
    ens.goto_tick(101)                                 # checkpoint at 96: the second block again
    assert group.runs.state.ahead_first == 8
    for k in range(3):
        lone[k] = ens.member_simulation(k)
    check(101)
    ens.run_to_end()
    for k, sim in enumerate(lone):
        sim.run_to_end()
        assert np.array_equal(sim.params, ens.params[k])


def test_stopped_members_freeze_and_the_others_go_on_as_their_lone_runs() -> None:
    """Ensemble.stop (the lab's tuned rule drops an lr): the stopped members keep the counters
    and parameters they had, status "stopped"; the others end exactly as their lone runs."""
    sc = SMALL["logistic"].replace(epochs=6)
    ens = Ensemble.seeds(sc, 5, evaluate="read", band=False, record=False)
    ens.run_iterations(7)
    before = ens.params.copy(), ens.step.copy(), ens.samples_seen.copy()
    ens.stop([1, 3])
    ens.run_to_end()
    assert ens.status[1] == ens.status[3] == "stopped" and ens.done
    for k in (1, 3):
        assert np.array_equal(ens.params[k], before[0][k])
        assert ens.step[k] == before[1][k] == 7 and ens.samples_seen[k] == before[2][k]
    for k in (0, 2, 4):
        sim = Simulation(sc, sampling_stream=k) if k else Simulation(sc)
        sim.run_to_end()
        assert ens.status[k] == sim.status == "finished"
        assert np.array_equal(ens.params[k], sim.params) and ens.step[k] == sim.step
