"""The target checked after every step at the cost of the batch (engine/target.py, issue 24).

The bounds are checked against evaluated losses (a lower bound must never be above the loss);
the stops against lone runs that evaluate their loss after every step (``eval_every = 1``), the
definition the lab's counts rest on.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, load_preset
from mbsim.engine.ensemble import Ensemble, Member
from mbsim.engine.models import make_model
from mbsim.engine.simulation import Simulation
from mbsim.engine.target import bound_data, cleared, loss_floor

MODELS = [
    ("linear", "regression", {}),
    ("linear", "regression", {"bias": False}),
    ("logistic", "classification", {}),
    ("mlp", "classification", {"activation": "tanh"}),
    ("mlp", "classification", {"activation": "relu"}),
    ("mlp", "regression", {"activation": "sigmoid"}),
    ("mlp", "regression", {"activation": "relu"}),
]


@pytest.mark.parametrize("name,task,kw", MODELS, ids=[f"{m}-{t}-{kw}" for m, t, kw in MODELS])
def test_the_bound_is_never_above_the_loss(name: str, task: str, kw: dict) -> None:
    rng = np.random.default_rng(11)
    for trial in range(40):
        d = int(rng.integers(1, 5))
        model = make_model(name, d, task, hidden=int(rng.integers(1, 7)), **kw)
        n = int(rng.integers(5, 300))
        X = rng.standard_normal((n, d)) * rng.choice([0.1, 1.0, 5.0])
        y = (rng.random(n) < 0.4).astype(float) if task == "classification" else rng.standard_normal(n) * 3
        data = bound_data(model, X)
        k = 6
        anchor = rng.standard_normal((k, model.n_params)) * rng.choice([0.1, 1.0, 3.0])
        anchor_loss = model.evaluate_runs(anchor, X, y, n)[0]
        scale = 10.0 ** rng.uniform(-6, 1, size=(k, 1))
        params = anchor + rng.standard_normal((k, model.n_params)) * scale
        loss = model.evaluate_runs(params, X, y, n)[0]
        floor = loss_floor(model, data, anchor, anchor_loss, params)
        assert np.all(floor <= loss), (trial, floor - loss)
        assert np.all(loss_floor(model, data, anchor, anchor_loss, anchor) <= anchor_loss)
        # the bound is useful: a tiny step from the anchor clears a target well below the loss
        near = anchor + 1e-9
        assert cleared(loss_floor(model, data, anchor, anchor_loss, near), anchor_loss * 0.5).all()


CASES = {
    "linear": Scenario(samples=60, val_samples=10, epochs=40, batch_size=3, target_loss=0.12),
    "logistic": Scenario(dataset="blobs", samples=80, val_samples=0, batch_size=4, lr=0.3, epochs=30,
                         target_loss=0.32),
    "mlp": load_preset("xor-mlp").replace(samples=80, val_samples=10, batch_size=5, epochs=40, hidden=4,
                                          target_loss=0.55),
    "mlp-mse-relu": Scenario(dataset="plane", model="mlp", activation="relu", hidden=4, samples=50,
                             val_samples=0, batch_size=2, epochs=30, lr=0.05, target_loss=0.12),
}


#: The share of the steps at most evaluated: the convex models' bound (the tangent at the anchor)
#: clears most steps; the MLP's (a Lipschitz bound over the whole segment) fewer
SHARE = {"linear": 0.5, "logistic": 0.5, "mlp": 0.9, "mlp-mse-relu": 0.9}


@pytest.mark.parametrize("case", list(CASES))
def test_every_step_targets_stop_where_every_step_evaluation_does(case: str) -> None:
    """Members with exact targets stop at the step (and with the parameters) of lone runs that
    evaluate after every step, while evaluating fewer losses than steps."""
    sc = CASES[case]
    members = [Member(f"s{k}", {"lr": sc.lr * f}, k) for k in range(3) for f in (0.5, 1.0)]
    ens = Ensemble(sc, members, evaluate="read", band=False, exact_target=True)
    ens.run_to_end()
    steps = 0
    reached = 0
    for k, m in enumerate(members):
        lone = Simulation(sc.replace(eval_every="1", **m.changes), sampling_stream=m.stream)
        lone.run_to_end()
        assert ens.status[k] == lone.status, (k, ens.status[k], lone.status)
        assert ens.step[k] == lone.step and np.array_equal(ens.params[k], lone.params)
        steps += lone.step
        reached += lone.status == "target reached"
    assert reached >= 2                                     # the test reaches targets
    evaluations = sum(g.runs.state.target_evaluations for g in ens.groups)
    assert evaluations < SHARE[case] * steps, (evaluations, steps)


def test_a_loss_that_dips_below_the_target_between_eval_points_is_caught() -> None:
    """A noisy run whose loss crosses the target between two eval points of eval_every = 20 and is
    back above at the next: the every-step check stops at the first crossing, as eval_every = 1
    does, where a check at eval points would stop later (or never)."""
    base = Scenario(samples=100, val_samples=0, batch_size=1, lr=0.2, noise=0.6, epochs=20)
    for seed in range(40):
        every = Simulation(base.replace(seed=seed))
        losses = []
        while every.step_update() and every.step < 400:
            losses.append(every.train_loss)
        target = min(losses[30:]) * 1.0000001
        first = next(s for s, v in enumerate(losses, start=1) if v <= target)
        if first % 20 == 0 or losses[(first // 20 + 1) * 20 - 1] <= target:
            continue                                        # not a dip between eval points
        sc = base.replace(seed=seed, target_loss=target)
        at_points = Simulation(sc)
        at_points.run_to_end()
        ens = Ensemble(sc, [Member("run")], evaluate="read", band=False, exact_target=True)
        ens.run_to_end()
        assert ens.status[0] == "target reached" and ens.step[0] == first
        assert at_points.step != first
        return
    pytest.fail("no seed gave a dip between eval points")


@pytest.mark.parametrize("name,task", [("linear", "regression"), ("logistic", "classification")])
def test_the_convex_bound_with_the_anchor_gradient_is_never_above_the_loss(name: str, task: str) -> None:
    rng = np.random.default_rng(5)
    for trial in range(40):
        d = int(rng.integers(1, 5))
        model = make_model(name, d, task)
        n = int(rng.integers(5, 300))
        X = rng.standard_normal((n, d)) * rng.choice([0.1, 1.0, 5.0])
        y = (rng.random(n) < 0.4).astype(float) if task == "classification" else rng.standard_normal(n) * 3
        data = bound_data(model, X)
        k = 6
        anchor = rng.standard_normal((k, model.n_params))
        loss = model.evaluate_runs(anchor, X, y, n)[0]
        grad = np.stack([model.batch_grad(a, X, y) for a in anchor])
        params = anchor + rng.standard_normal((k, model.n_params)) * 10.0 ** rng.uniform(-8, 0, size=(k, 1))
        floor = loss_floor(model, data, anchor, loss, params, grad)
        assert np.all(floor <= model.evaluate_runs(params, X, y, n)[0])
        # tighter than the Lipschitz bound alone for small steps
        assert np.all(floor >= loss_floor(model, data, anchor, loss, params))


def test_the_quadratic_bound_of_least_squares_is_the_loss_less_a_margin() -> None:
    """Linear regression's loss is exactly quadratic: the bound is within a relative 1e-8 of the
    evaluated loss however far the parameters move, so a run far above its target is cleared
    whatever its step size (the lab's large learning rates)."""
    rng = np.random.default_rng(2)
    model = make_model("linear", 3, "regression")
    X = rng.standard_normal((500, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.standard_normal(500)
    data = bound_data(model, X)
    anchor = rng.standard_normal((5, 4))
    loss = model.evaluate_runs(anchor, X, y, 500)[0]
    grad = np.stack([model.batch_grad(a, X, y) for a in anchor])
    params = anchor + rng.standard_normal((5, 4)) * 3.0
    true = model.evaluate_runs(params, X, y, 500)[0]
    floor = loss_floor(model, data, anchor, loss, params, grad)
    assert np.all(floor <= true) and np.all(floor >= true * (1 - 1e-8))


@pytest.mark.parametrize("piece", [1000, 1 << 12])
def test_logistic_evaluation_in_pieces_gives_the_one_arrays_numbers(piece: int, monkeypatch) -> None:
    """Over many samples a logistic regression's evaluation goes a piece of samples at a time
    (issue 24: ~20 MB of N-long temporaries per evaluation at N = 10⁶): the training and
    validation losses and accuracies of K runs, bit for bit those of ``model.evaluate_runs`` on
    the whole arrays, for splits and sizes that fall on no piece's edge, extreme logits too."""
    from mbsim.engine import target

    monkeypatch.setattr(target, "EVAL_PIECE", piece)
    rng = np.random.default_rng(25)
    for trial in range(12):
        d = int(rng.integers(1, 5))
        model = make_model("logistic", d, "classification", bias=bool(trial % 5))
        n_all = int(rng.integers(piece + 1, 12 * piece))
        n = int(rng.integers(1, n_all + 1)) if trial % 4 else n_all     # some without validation
        X = rng.normal(size=(n_all, d)) * (50.0 if trial % 3 == 0 else 1.0)
        y = (rng.random(n_all) < 0.4).astype(float)
        k = int(rng.choice([1, 3, 7]))
        params = rng.normal(size=(k, model.n_params))
        with np.errstate(all="ignore"):
            want = model.evaluate_runs(params, X, y, n)
            got = target.evaluate_runs(model, params, X, y, n)
        for w, g in zip(want, got):
            assert g.shape == w.shape and np.array_equal(g, w, equal_nan=True), (trial, d, n_all, n, k)
