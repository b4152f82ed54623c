"""Tests for engine.models: gradients against central finite differences, losses against
hand-computed numbers, the documented flat parameter order against hand-written forward passes."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbsim.engine import models
from mbsim.engine.errors import ScenarioError
from mbsim.engine.models import ACTIVATIONS, MODELS, Model, make_model

H_FD = 1e-6


@dataclass(frozen=True)
class Case:
    label: str
    name: str
    d: int
    task: str
    hidden: int = 4
    activation: str = "tanh"
    bias: bool = True


CASES = [
    Case("linear", "linear", 2, "regression"),
    Case("linear-nobias", "linear", 1, "regression", bias=False),
    Case("linear-on-01", "linear", 3, "classification"),
    Case("logistic", "logistic", 2, "classification"),
    Case("logistic-nobias", "logistic", 2, "classification", bias=False),
    *[Case(f"mlp-{a}", "mlp", 2, "classification", activation=a) for a in ACTIVATIONS],
    *[Case(f"mlp-reg-{a}", "mlp", 3, "regression", hidden=5, activation=a) for a in ACTIVATIONS],
]


def build(case: Case) -> Model:
    return make_model(
        case.name, case.d, case.task, hidden=case.hidden, activation=case.activation, bias=case.bias
    )


def problem(case: Case, n: int = 7, seed: int = 0) -> tuple[Model, np.ndarray, np.ndarray, np.ndarray]:
    """A model, random params (not the init, so linear models are not at zero), X and y."""
    rng = np.random.default_rng(seed)
    model = build(case)
    X = rng.normal(size=(n, case.d))
    if case.task == "classification":
        y = np.array([0.0, 1.0] * n)[:n]
        rng.shuffle(y)
    else:
        y = rng.normal(size=n)
    params = rng.normal(scale=0.8, size=model.n_params)
    if case.activation == "relu" and case.name == "mlp":
        # Finite differences are only meaningful away from relu's kink at 0.
        W1 = params[: case.hidden * case.d].reshape(case.hidden, case.d)
        b1 = params[case.hidden * case.d : case.hidden * case.d + case.hidden]
        assert np.min(np.abs(X @ W1.T + b1)) > 1e-4
    return model, params, X, y


def fd_per_sample(model: Model, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, P) central differences of per_sample_loss, one parameter at a time."""
    out = np.empty((X.shape[0], params.size))
    for k in range(params.size):
        e = np.zeros_like(params)
        e[k] = H_FD
        out[:, k] = (
            model.per_sample_loss(params + e, X, y) - model.per_sample_loss(params - e, X, y)
        ) / (2 * H_FD)
    return out


def fd_mean(model: Model, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(P,) central differences of loss()."""
    out = np.empty(params.size)
    for k in range(params.size):
        e = np.zeros_like(params)
        e[k] = H_FD
        out[k] = (model.loss(params + e, X, y) - model.loss(params - e, X, y)) / (2 * H_FD)
    return out


ids = [c.label for c in CASES]


# --------------------------------------------------------------------------------------------
# Gradients
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_per_sample_grads_match_finite_differences(case: Case) -> None:
    model, params, X, y = problem(case)
    grads = model.per_sample_grads(params, X, y)
    assert grads.shape == (X.shape[0], model.n_params)
    assert grads.dtype == np.float64
    np.testing.assert_allclose(grads, fd_per_sample(model, params, X, y), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_batch_grad_is_mean_of_per_sample_grads_and_matches_fd(case: Case) -> None:
    model, params, X, y = problem(case, seed=1)
    g = model.batch_grad(params, X, y)
    assert g.shape == (model.n_params,)
    np.testing.assert_allclose(g, model.per_sample_grads(params, X, y).mean(axis=0), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, fd_mean(model, params, X, y), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_loss_and_grad_agrees_with_loss_and_batch_grad(case: Case) -> None:
    model, params, X, y = problem(case, seed=2)
    loss, g = model.loss_and_grad(params, X, y)
    assert isinstance(loss, float)
    assert loss == pytest.approx(model.loss(params, X, y), rel=1e-13)
    np.testing.assert_allclose(g, model.batch_grad(params, X, y), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g, fd_mean(model, params, X, y), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_loss_is_mean_of_per_sample_loss_and_predict_is_consistent(case: Case) -> None:
    model, params, X, y = problem(case, seed=3)
    per = model.per_sample_loss(params, X, y)
    assert per.shape == (X.shape[0],)
    assert model.loss(params, X, y) == pytest.approx(float(np.sum(per)) / X.shape[0], rel=1e-14)
    z = model.forward(params, X)
    if model.loss_name == "bce":
        p = np.array([1.0 / (1.0 + math.exp(-v)) for v in z])
        np.testing.assert_allclose(model.predict(params, X), p, rtol=1e-14)
        expected = [-(t * math.log(q) + (1 - t) * math.log(1 - q)) for t, q in zip(y, p)]
        np.testing.assert_allclose(per, expected, rtol=1e-10)
    else:
        np.testing.assert_array_equal(model.predict(params, X), z)
        np.testing.assert_allclose(per, [(a - b) ** 2 for a, b in zip(z, y)], rtol=1e-14)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_losses_many_matches_a_loop(case: Case) -> None:
    model, params, X, y = problem(case, seed=4)
    rng = np.random.default_rng(5)
    batch = params + rng.normal(scale=0.5, size=(6, model.n_params))
    many = model.losses_many(batch, X, y)
    assert many.shape == (6,)
    np.testing.assert_allclose(many, [model.loss(p, X, y) for p in batch], rtol=1e-12)
    per_many = model.per_sample_losses_many(batch, X, y)
    assert per_many.shape == (6, X.shape[0])
    np.testing.assert_allclose(
        per_many, np.stack([model.per_sample_loss(p, X, y) for p in batch]), rtol=1e-12, atol=1e-15
    )


def test_mlp_losses_many_in_chunks_matches_a_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.mlp, "_MANY_CHUNK_ELEMENTS", 50)  # forces chunks of 1–2 vectors
    model, params, X, y = problem(Case("mlp", "mlp", 2, "classification"), n=9)
    batch = params + np.random.default_rng(6).normal(size=(11, model.n_params))
    np.testing.assert_allclose(
        model.losses_many(batch, X, y), [model.loss(p, X, y) for p in batch], rtol=1e-12
    )


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_methods_do_not_modify_their_inputs(case: Case) -> None:
    model, params, X, y = problem(case, seed=7)
    batch = np.stack([params, params * 0.5])
    for a in (params, X, y, batch):
        a.flags.writeable = False  # any in-place write would raise
    model.forward(params, X)
    model.predict(params, X)
    model.per_sample_loss(params, X, y)
    model.loss(params, X, y)
    model.per_sample_grads(params, X, y)
    model.batch_grad(params, X, y)
    model.loss_and_grad(params, X, y)
    model.losses_many(batch, X, y)
    model.per_sample_losses_many(batch, X, y)
    model.accuracy(params, X, y)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 6),
    d=st.integers(1, 3),
    hidden=st.integers(1, 5),
    activation=st.sampled_from(["tanh", "sigmoid"]),
    task=st.sampled_from(["regression", "classification"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_mlp_gradients_match_fd_for_any_shape(
    n: int, d: int, hidden: int, activation: str, task: str, seed: int
) -> None:
    model = make_model("mlp", d, task, hidden=hidden, activation=activation)
    rng = np.random.default_rng(seed)
    params = model.init_params(rng) * 2
    X = rng.normal(size=(n, d))
    y = rng.integers(0, 2, size=n).astype(float) if task == "classification" else rng.normal(size=n)
    np.testing.assert_allclose(
        model.per_sample_grads(params, X, y), fd_per_sample(model, params, X, y), rtol=1e-6, atol=1e-8
    )
    np.testing.assert_allclose(model.loss_and_grad(params, X, y)[1], fd_mean(model, params, X, y), rtol=1e-6, atol=1e-8)


def test_relu_derivative_at_zero_is_zero() -> None:
    model = make_model("mlp", 2, "regression", hidden=2, activation="relu")
    params = np.zeros(model.n_params)
    params[6:8] = [1.5, -2.0]  # W2; W1 = 0 and b1 = 0, so every pre-activation is exactly 0
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    y = np.array([1.0, -1.0])
    g = model.per_sample_grads(params, X, y)
    np.testing.assert_array_equal(g[:, :6], 0.0)  # W1 and b1 see relu'(0) = 0
    # W2 sees h = 0, b2 sees 2(f − y) with f = 0: (−2, 2).
    np.testing.assert_array_equal(g[:, 6:8], 0.0)
    np.testing.assert_array_equal(g[:, 8], [-2.0, 2.0])


# --------------------------------------------------------------------------------------------
# Parameter layout and forward passes by hand
# --------------------------------------------------------------------------------------------


def test_linear_param_names_and_order() -> None:
    assert make_model("linear", 1, "regression").param_names == ("w", "b")
    assert make_model("linear", 2, "regression").param_names == ("w1", "w2", "b")
    m = make_model("linear", 1, "regression", bias=False)
    assert (m.param_names, m.n_params) == (("w",), 1)
    m = make_model("logistic", 3, "classification")
    assert (m.param_names, m.n_params) == (("w1", "w2", "w3", "b"), 4)
    m = make_model("linear", 2, "regression")
    # weights first, then the bias: 2·1 + (−3)·2 + 0.5 = −3.5
    assert m.forward(np.array([2.0, -3.0, 0.5]), np.array([[1.0, 2.0]]))[0] == -3.5
    m = make_model("linear", 1, "regression", bias=False)
    assert m.forward(np.array([-0.5]), np.array([[2.0]]))[0] == -1.0


def test_mlp_param_names_and_count() -> None:
    m = make_model("mlp", 2, "classification", hidden=3)
    assert m.n_params == 3 * 2 + 3 + 3 + 1 == len(m.param_names)
    assert m.param_names == (
        "W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "W1[2,0]", "W1[2,1]",
        "b1[0]", "b1[1]", "b1[2]",
        "W2[0]", "W2[1]", "W2[2]",
        "b2",
    )  # fmt: skip
    assert (m.name, m.loss_name) == ("mlp", "bce")
    assert make_model("mlp", 2, "regression").loss_name == "mse"
    assert make_model("linear", 2, "classification").loss_name == "mse"
    assert make_model("logistic", 2, "classification").loss_name == "bce"


def test_mlp_forward_by_hand_relu() -> None:
    m = make_model("mlp", 2, "regression", hidden=2, activation="relu")
    # W1 = [[1, 2], [3, 4]] row-major, b1 = (0.5, −0.5), W2 = (1, −1), b2 = 0.25
    params = np.array([1.0, 2.0, 3.0, 4.0, 0.5, -0.5, 1.0, -1.0, 0.25])
    # x = (0.1, 0.2): a = (0.1 + 0.4 + 0.5, 0.3 + 0.8 − 0.5) = (1.0, 0.6); out = 1.0 − 0.6 + 0.25
    out = m.forward(params, np.array([[0.1, 0.2]]))
    assert out[0] == pytest.approx(0.65, abs=1e-15)
    # x = (−1, 0): a = (−0.5, −3.5) → h = 0 → out = b2
    assert m.forward(params, np.array([[-1.0, 0.0]]))[0] == 0.25


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_forward_matches_scalar_loops(activation: str) -> None:
    act = {
        "tanh": math.tanh,
        "relu": lambda a: max(a, 0.0),
        "sigmoid": lambda a: 1.0 / (1.0 + math.exp(-a)),
    }[activation]
    H, d = 3, 2
    m = make_model("mlp", d, "classification", hidden=H, activation=activation)
    rng = np.random.default_rng(11)
    params = rng.normal(size=m.n_params)
    X = rng.normal(size=(4, d))
    W1 = params[: H * d]
    b1 = params[H * d : H * d + H]
    W2 = params[H * d + H : H * d + 2 * H]
    b2 = params[-1]
    expected = []
    for x in X:
        hid = [act(sum(W1[j * d + k] * x[k] for k in range(d)) + b1[j]) for j in range(H)]
        expected.append(sum(W2[j] * hid[j] for j in range(H)) + b2)
    np.testing.assert_allclose(m.forward(params, X), expected, rtol=1e-13)
    np.testing.assert_allclose(
        m.forward_many(np.stack([params, params]), X), [expected, expected], rtol=1e-13
    )


def test_init_params() -> None:
    assert np.array_equal(make_model("linear", 3, "regression").init_params(np.random.default_rng(0)), np.zeros(4))
    assert np.array_equal(make_model("logistic", 2, "classification").init_params(np.random.default_rng(0)), np.zeros(3))
    H, d = 64, 4
    m = make_model("mlp", d, "classification", hidden=H)
    p = m.init_params(np.random.default_rng(3))
    assert p.shape == (m.n_params,) and p.dtype == np.float64
    first, second = p[: H * d + H], p[H * d + H :]
    k1, k2 = 1 / math.sqrt(d), 1 / math.sqrt(H)
    assert np.all(np.abs(first) <= k1) and np.all(np.abs(second) <= k2)
    assert np.max(np.abs(first)) > 0.9 * k1 and np.max(np.abs(second[:-1])) > 0.8 * k2
    assert np.array_equal(p, m.init_params(np.random.default_rng(3)))
    assert not np.array_equal(p, m.init_params(np.random.default_rng(4)))


# --------------------------------------------------------------------------------------------
# Loss definitions against hand-computed numbers
# --------------------------------------------------------------------------------------------


def test_mse_by_hand() -> None:
    m = make_model("linear", 1, "regression")
    params = np.array([1.0, 0.0])  # f = x, so predictions (1, 2)
    X = np.array([[1.0], [2.0]])
    y = np.array([0.0, 4.0])
    np.testing.assert_array_equal(m.per_sample_loss(params, X, y), [1.0, 4.0])
    assert m.loss(params, X, y) == 2.5  # (1 + 4)/2: no ½
    # dL/dw = mean(2(f − y)x) = (2·1·1 + 2·(−2)·2)/2 = −3; dL/db = (2 − 4)/2 = −1
    loss, g = m.loss_and_grad(params, X, y)
    assert loss == 2.5
    np.testing.assert_allclose(g, [-3.0, -1.0], rtol=1e-15)
    np.testing.assert_allclose(m.per_sample_grads(params, X, y), [[2.0, 2.0], [-8.0, -4.0]], rtol=1e-15)
    assert m.accuracy(params, X, y) is None


def test_bce_at_logit_zero_is_log2() -> None:
    m = make_model("logistic", 1, "classification")
    params = np.zeros(2)
    X = np.array([[3.0], [-1.0]])
    y = np.array([1.0, 0.0])
    np.testing.assert_allclose(m.per_sample_loss(params, X, y), [math.log(2)] * 2, rtol=1e-15)
    loss, g = m.loss_and_grad(params, X, y)
    assert loss == pytest.approx(math.log(2), rel=1e-15)
    # dℓ/dz = σ(0) − y = (−0.5, 0.5); dL/dw = mean(−0.5·3, 0.5·(−1)) = −1; dL/db = 0
    np.testing.assert_allclose(g, [-1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(m.predict(params, X), [0.5, 0.5])


def test_bce_moderate_logits_against_math() -> None:
    m = make_model("logistic", 1, "classification", bias=False)
    X = np.array([[30.0], [-30.0], [2.0], [-0.5]])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    per = m.per_sample_loss(np.array([1.0]), X, y)
    expected = [math.log1p(math.exp(30)), math.log1p(math.exp(30)), math.log1p(math.exp(-2)), math.log1p(math.exp(-0.5))]
    np.testing.assert_allclose(per, expected, rtol=1e-14)


def test_bce_stable_at_huge_logits() -> None:
    m = make_model("logistic", 1, "classification", bias=False)
    params = np.array([1000.0])
    X = np.array([[1.0], [1.0], [-1.0], [-1.0]])  # logits 1000, 1000, −1000, −1000
    y = np.array([1.0, 0.0, 1.0, 0.0])
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        per = m.per_sample_loss(params, X, y)
        loss, g = m.loss_and_grad(params, X, y)
        psg = m.per_sample_grads(params, X, y)
        prob = m.predict(params, X)
        many = m.losses_many(np.array([[1000.0], [-1000.0]]), X, y)
    # right side with certainty: 0; wrong side: |z| = 1000
    np.testing.assert_array_equal(per, [0.0, 1000.0, 1000.0, 0.0])
    assert loss == 500.0
    np.testing.assert_array_equal(prob, [1.0, 1.0, 0.0, 0.0])
    # dℓ/dz = σ(z) − y = (0, 1, −1, 0); dℓ/dw = (σ(z) − y)·x
    np.testing.assert_array_equal(psg[:, 0], [0.0, 1.0, 1.0, 0.0])
    assert g[0] == 0.5
    np.testing.assert_array_equal(many, [500.0, 500.0])
    mlp = make_model("mlp", 1, "classification", hidden=1)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        # h = tanh(0·x + 0) = 0, out = b2 = ±1000
        for b2, want in ((1000.0, [0.0, 1000.0]), (-1000.0, [1000.0, 0.0])):
            p = np.array([0.0, 0.0, 0.0, b2])
            l, _ = mlp.loss_and_grad(p, X[:2], y[:2])
            np.testing.assert_array_equal(mlp.per_sample_loss(p, X[:2], y[:2]), want)
            assert l == 500.0


def test_accuracy_by_hand() -> None:
    m = make_model("logistic", 1, "classification", bias=False)
    X = np.array([[2.0], [-1.0], [0.5], [-3.0], [0.0]])  # logits = x with w = 1
    y = np.array([1.0, 1.0, 0.0, 0.0, 1.0])  # right, wrong, wrong, right, wrong (z = 0 → class 0)
    assert m.accuracy(np.array([1.0]), X, y) == pytest.approx(2 / 5)


def test_three_losses_gradient_is_zero_at_minus_half() -> None:
    # Σ2(wx − y)x/3 = (2/3)(w·5.25 + 2.625) = 0 at w = −0.5
    m = make_model("linear", 1, "regression", bias=False)
    X = np.array([[1.0], [0.5], [2.0]])
    y = np.array([-2.0, 1.0, -0.5625])
    loss, g = m.loss_and_grad(np.array([-0.5]), X, y)
    assert g[0] == pytest.approx(0.0, abs=1e-15)
    # losses at w = −0.5: (1.5², 1.25², 0.4375²) / 3
    assert loss == pytest.approx((1.5**2 + 1.25**2 + 0.4375**2) / 3, rel=1e-15)
    signs = np.sign(m.per_sample_grads(np.array([-0.5]), X, y)[:, 0])
    assert set(signs) == {-1.0, 1.0}


# --------------------------------------------------------------------------------------------
# make_model validation
# --------------------------------------------------------------------------------------------


def test_model_registry() -> None:
    assert MODELS == ("linear", "logistic", "mlp")
    assert ACTIVATIONS == ("tanh", "relu", "sigmoid")
    for name in MODELS:
        assert make_model(name, 2, "classification").name == name


def test_unknown_model() -> None:
    with pytest.raises(ScenarioError) as err:
        make_model("logistc", 2, "classification")
    assert err.value.setting == "model"
    msg = str(err.value)
    assert "linear, logistic, mlp" in msg and "did you mean 'logistic'" in msg


def test_logistic_needs_classification() -> None:
    with pytest.raises(ScenarioError) as err:
        make_model("logistic", 1, "regression", dataset="line")
    assert err.value.setting == "model" and err.value.value == "logistic"
    msg = str(err.value)
    assert "0/1 targets" in msg and "'line'" in msg and "regression" in msg and "linear or mlp" in msg


@pytest.mark.parametrize("hidden", [0, 257, -3, 2.5, "8", True])
def test_bad_hidden(hidden: object) -> None:
    with pytest.raises(ScenarioError) as err:
        make_model("mlp", 2, "classification", hidden=hidden)  # type: ignore[arg-type]
    assert err.value.setting == "hidden" and "1 to 256" in str(err.value)


def test_hidden_bounds_are_inclusive() -> None:
    assert make_model("mlp", 2, "regression", hidden=1).n_params == 2 + 1 + 1 + 1
    assert make_model("mlp", 1, "regression", hidden=256).n_params == 256 * 3 + 1


def test_bad_activation() -> None:
    with pytest.raises(ScenarioError) as err:
        make_model("mlp", 2, "classification", activation="tahn")
    assert err.value.setting == "activation"
    assert "tanh, relu, sigmoid" in str(err.value) and "did you mean 'tanh'" in str(err.value)


def test_mlp_without_bias_and_bad_task() -> None:
    with pytest.raises(ScenarioError) as err:
        make_model("mlp", 2, "classification", bias=False)
    assert err.value.setting == "bias"
    with pytest.raises(ScenarioError) as err:
        make_model("linear", 2, "ranking")
    assert err.value.setting == "task" and "regression, classification" in str(err.value)
    with pytest.raises(ScenarioError) as err:
        make_model("linear", 0, "regression")
    assert err.value.setting == "n_features"


@pytest.mark.parametrize("name,task", [("linear", "regression"), ("logistic", "classification"),
                                       ("mlp", "regression"), ("mlp", "classification")])
def test_finite_loss_radius_is_the_largest_power_of_two_that_passes(name: str, task: str) -> None:
    """The bisection finds what walking up the powers of two one by one finds."""
    model = make_model(name, 2, task, hidden=4)
    x_absmax, y_absmax, n = np.array([3.0, 0.5]), 2.0, 200

    def ok(m: float) -> bool:
        return bool(model.surely_finite_loss_runs(np.full((1, model.n_params), m), x_absmax, y_absmax, n)[0])

    m = 1.0
    while m < 1e300 and ok(m * 2.0):
        m *= 2.0
    assert model.finite_loss_radius(x_absmax, y_absmax, n) == m
    assert ok(m) and not ok(2.0 * m)


@pytest.mark.parametrize("sum_delta", [False, True])
def test_bce_runs_is_the_lone_runs_bce_row_by_row(sum_delta: bool) -> None:
    """K runs' bce (engine.models.elementwise._bce_runs: σ's numerator as max(e, sign z), the
    loss terms and δ summed in one reduction) gives, row by row, the numbers of the lone run's
    bce branch (LinearModel.loss_and_grad: max(e, [z ≥ 0]), ``.sum()`` of each), signed zeros
    and infinities included, for batches of 1 to 40 samples."""
    from mbsim.engine.models.elementwise import _bce_runs

    rng = np.random.default_rng(11)
    with np.errstate(all="ignore"):
        for trial in range(300):
            k, n = int(rng.integers(1, 6)), int(rng.integers(1, 41))
            z = rng.normal(size=(k, n)) * 10.0 ** rng.uniform(-5, 3, size=(k, n))
            u = rng.random((k, n))
            z[u < 0.05], z[(u >= 0.05) & (u < 0.1)] = 0.0, -0.0
            z[(u >= 0.1) & (u < 0.12)], z[(u >= 0.12) & (u < 0.14)] = np.inf, -np.inf
            y = (rng.random((k, n)) < 0.5) * 1.0
            loss, delta, total = _bce_runs(z.copy(), y, n, sum_delta)
            assert (total is not None) == sum_delta
            for r in range(k):
                zr = z[r].copy()
                e = np.exp(-np.abs(zr))
                lone_loss = float((np.maximum(zr, 0.0) - zr * y[r] + np.log1p(e)).sum()) / n
                d = np.maximum(e, zr >= 0.0)
                e += 1.0
                d /= e
                d -= y[r]
                d *= 1.0 / n
                assert loss[r] == lone_loss or (math.isnan(loss[r]) and math.isnan(lone_loss)), trial
                assert np.array_equal(delta[r], d) and np.array_equal(np.signbit(delta[r]), np.signbit(d)), trial
                if sum_delta:
                    assert total[r] == np.add.reduce(d) or (math.isnan(total[r]) and math.isnan(np.add.reduce(d)))


@pytest.mark.parametrize("loss_name", ["mse", "bce"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_step_with_a_ones_column_gives_the_plain_steps_numbers(loss_name: str, activation: str) -> None:
    """The MLP's training step on inputs ending in a column of ones (how engine/batches.py hands
    them over: [X 1] [W1ᵀ; b1] in one gemm) gives exactly the numbers of the step on X (X W1ᵀ,
    then + b1), for one run and row by row for K runs, batches of 1 sample included; a model with
    one feature or one hidden unit (gemv, not gemm) takes no column of ones."""
    from mbsim.engine.models.mlp import MLPModel

    assert not MLPModel(loss_name, 1, 8, activation).ones_column
    assert not MLPModel(loss_name, 3, 1, activation).ones_column
    rng = np.random.default_rng(5)
    for d, hidden in [(2, 8), (3, 5), (2, 2), (5, 16)]:
        m = MLPModel(loss_name, d, hidden, activation)
        assert m.ones_column
        for n in [1, 2, 3, 7, 10, 33]:
            k = 3
            P = rng.normal(size=(k, m.n_params)) * rng.choice([0.3, 1.0, 3.0])
            X = rng.normal(size=(k, n, d)) * rng.choice([0.1, 1.0, 5.0])
            y = (rng.random((k, n)) < 0.5) * 1.0
            X1 = np.concatenate([X, np.ones((k, n, 1))], axis=2)
            loss_k, grad_k = m.loss_and_grad_runs(P, X1, y)
            for r in range(k):
                loss, grad = m.loss_and_grad(P[r], X[r], y[r])
                loss1, grad1 = m.loss_and_grad(P[r], X1[r], y[r])
                assert loss1 == loss and np.array_equal(grad1, grad), (d, hidden, n)
                assert loss_k[r] == loss and np.array_equal(grad_k[r], grad), (d, hidden, n)


def test_bce_in_pieces_gives_the_whole_arrays_numbers():
    """A large bce_pointwise is computed a piece of samples at a time (issue 24: a full-data
    evaluation at N = 10⁶ held three whole-array temporaries): every element as the one-array
    formula gives it, bit for bit, for (n,) and (K, n), with ±0, ±inf, NaN, huge and tiny logits
    and pieces that do not divide n."""
    from mbsim.engine.models import elementwise as ew

    rng = np.random.default_rng(24)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324, 710.0, -745.0])
    for shape in [(ew.BCE_WHOLE_ELEMENTS + 12_345,), (3, 61_001), (40, 4_099)]:
        z = rng.normal(scale=20.0, size=shape)
        z.reshape(-1)[rng.choice(z.size, 200, replace=False)] = rng.choice(special, 200)
        y = (rng.random(shape[-1]) < 0.4).astype(float)
        assert z.size > ew.BCE_WHOLE_ELEMENTS
        with np.errstate(invalid="ignore", over="ignore"):   # ±inf and NaN logits on purpose
            got, want = ew.bce_pointwise(z, y), ew._bce_whole(z, y)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
        # and the formula itself, element by element in Python floats, on a few samples
        flat_z, flat_got = z.reshape(-1), got.reshape(-1)
        for i in rng.choice(z.size, 50, replace=False):
            zi, yi = float(flat_z[i]), float(y[i % shape[-1]])
            if np.isfinite(zi):
                # (summed in another order: rounding up to a few ulps of the largest term, |z|)
                assert flat_got[i] == pytest.approx(max(zi, 0.0) - zi * yi + np.log1p(np.exp(-abs(zi))),
                                                    rel=1e-14, abs=4e-16 * max(1.0, abs(zi)))


def test_bce_in_pieces_keeps_the_one_arrays_type() -> None:
    """float32 logits give float32 losses in pieces as in one array (the pieces' output array
    was float64 against a float64 y)."""
    from mbsim.engine.models import elementwise as ew

    z = np.random.default_rng(3).normal(size=ew.BCE_WHOLE_ELEMENTS + 5).astype(np.float32)
    y = (z > 0.3).astype(np.float64)
    got, want = ew.bce_pointwise(z, y), ew._bce_whole(z, y)
    assert got.dtype == want.dtype == np.float32 and np.array_equal(got, want)
