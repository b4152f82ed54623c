"""The ensemble (engine/ensemble.py): every member bit-identical to the same run as a lone
Simulation, step by step (np.array_equal, never allclose), for every model, optimizer, sampling,
epoch end, divergence and target; alignment as compare mode; rewinding; each member's counters
and generator; stopped members.

Expected values come from an independent computation: the lone :class:`Simulation`, which has
its own tests against hand computations and torch (tests/test_simulation.py, test_science.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mbsim.engine import Scenario
from mbsim.engine.compare import Comparison
from mbsim.engine.ensemble import MAX_RUNS, Ensemble, Member
from mbsim.engine.errors import ScenarioError
from mbsim.engine.models import make_model
from mbsim.engine.optimizers import OPTIMIZERS
from mbsim.engine.sampling import SAMPLINGS
from mbsim.engine.simulation import Simulation

from ensemble_helpers import RUNNING, SMALL, assert_members_match_lone_runs


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
    from mbsim.engine.models import LinearModel
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
