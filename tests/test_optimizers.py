"""Optimizers and learning-rate schedules against hand-worked steps (SCIENCE.md §6).

Every expected value below is worked out from the update equations by hand and written as
literal numbers (or literal arithmetic); none is computed by calling the code under test.
Common example: θ_0 = (1, −2), γ = 0.1 and the gradient sequence
g_1 = (0.5, −1), g_2 = (0.25, 0.5), g_3 = (−1, 2) (fixed, independent of θ).
An optional test compares with torch.optim when torch is installed.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbsim.engine.errors import ScenarioError
from mbsim.engine.optimizers import OPTIMIZERS, Optimizer, make_optimizer
from mbsim.engine.schedules import SCHEDULES, make_schedule

THETA0 = np.array([1.0, -2.0])
GRADS = [np.array([0.5, -1.0]), np.array([0.25, 0.5]), np.array([-1.0, 2.0])]
LR = 0.1
RTOL = 1e-12


def run(opt: Optimizer, steps: int, lr: float = LR) -> list[np.ndarray]:
    """Parameters after each of the first ``steps`` updates on the common example."""
    params, state = THETA0.copy(), opt.init(THETA0)
    out = []
    for g in GRADS[:steps]:
        params, state = opt.update(g, state, params, lr)
        out.append(params)
    return out


def check(got: list[np.ndarray], expected: list[list[float]]) -> None:
    assert len(got) == len(expected)
    for k, (a, b) in enumerate(zip(got, expected), start=1):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=0, err_msg=f"step {k}")


# --------------------------------------------------------------------------- SGD family
def test_sgd_plain_by_hand() -> None:
    # θ_t = θ_{t−1} − 0.1 g_t
    check(run(make_optimizer("sgd"), 3), [[0.95, -1.9], [0.925, -1.95], [1.025, -2.15]])


def test_sgd_weight_decay_is_added_to_the_gradient() -> None:
    # g_1 + 0.1θ_0 = (0.6, −1.2) → θ_1 = (0.94, −1.88)
    # g_2 + 0.1θ_1 = (0.25 + 0.094, 0.5 − 0.188) = (0.344, 0.312) → θ_2 = (0.9056, −1.9112)
    check(run(make_optimizer("sgd", weight_decay=0.1), 2), [[0.94, -1.88], [0.9056, -1.9112]])


def test_momentum_by_hand() -> None:
    # b_1 = g_1 = (0.5, −1)                        θ_1 = (0.95, −1.9)
    # b_2 = 0.9 b_1 + g_2 = (0.7, −0.4)            θ_2 = (0.88, −1.86)
    # b_3 = 0.9 b_2 + g_3 = (−0.37, 1.64)          θ_3 = (0.917, −2.024)
    expected = [[0.95, -1.9], [0.88, -1.86], [0.917, -2.024]]
    check(run(make_optimizer("momentum"), 3), expected)
    # "sgd" with a momentum is torch SGD with that momentum: the same updates
    check(run(make_optimizer("sgd", momentum=0.9), 3), expected)


def test_momentum_first_step_is_not_dampened() -> None:
    # dampening τ = 0.5: b_1 = g_1 (no dampening), b_2 = 0.9 b_1 + 0.5 g_2 = (0.575, −0.65)
    opt = Optimizer("sgd", momentum=0.9, dampening=0.5)
    check(run(opt, 2), [[0.95, -1.9], [0.95 - 0.0575, -1.9 + 0.065]])


def test_nesterov_by_hand() -> None:
    # b_1 = g_1; step direction g_1 + 0.9 b_1 = (0.95, −1.9)        θ_1 = (0.905, −1.81)
    # b_2 = (0.7, −0.4); g_2 + 0.9 b_2 = (0.25 + 0.63, 0.5 − 0.36) = (0.88, 0.14)
    #                                                            θ_2 = (0.817, −1.824)
    check(run(make_optimizer("nesterov"), 2), [[0.905, -1.81], [0.817, -1.824]])


# ------------------------------------------------------------------------------ RMSprop
def test_rmsprop_by_hand() -> None:
    # γ = 0.05 here (with γ = 0.1 the first step lands θ_1[0] ≈ 0, where rtol means nothing)
    # v_1 = 0.01 g_1² = (0.0025, 0.01), √v_1 = (0.05, 0.1): first step ≈ 10γ·sign(g) = ±0.5
    t1 = [1.0 - 0.05 * 0.5 / (0.05 + 1e-8), -2.0 + 0.05 * 1.0 / (0.1 + 1e-8)]
    # v_2 = 0.99 v_1 + 0.01 g_2² = (0.002475 + 0.000625, 0.0099 + 0.0025) = (0.0031, 0.0124)
    t2 = [
        t1[0] - 0.05 * 0.25 / (math.sqrt(0.0031) + 1e-8),
        t1[1] - 0.05 * 0.5 / (math.sqrt(0.0124) + 1e-8),
    ]
    got = run(make_optimizer("rmsprop"), 2, lr=0.05)
    check(got, [t1, t2])
    np.testing.assert_allclose(THETA0 - got[0], [0.5, -0.5], rtol=1e-6)  # ≈ 10γ per coordinate


# ------------------------------------------------------------------------------ Adagrad
def test_adagrad_by_hand() -> None:
    # s_1 = g_1² = (0.25, 1); s_2 = (0.3125, 1.25); ε = 1e-10
    t1 = [1.0 - 0.1 * 0.5 / (0.5 + 1e-10), -2.0 + 0.1 * 1.0 / (1.0 + 1e-10)]
    t2 = [
        t1[0] - 0.1 * 0.25 / (math.sqrt(0.3125) + 1e-10),
        t1[1] - 0.1 * 0.5 / (math.sqrt(1.25) + 1e-10),
    ]
    check(run(make_optimizer("adagrad"), 2), [t1, t2])


def test_adagrad_lr_decay_and_initial_accumulator_by_hand() -> None:
    # s_0 = 0.75; η = 0.5: γ̃_1 = 0.1, γ̃_2 = 0.1/1.5, γ̃_3 = 0.1/2 = 0.05
    # s_1 = (1, 1.75), s_2 = (1.0625, 2), s_3 = (2.0625, 6)
    opt = Optimizer("adagrad", lr_decay=0.5, initial_accumulator=0.75)
    t1 = [1.0 - 0.1 * 0.5 / (1.0 + 1e-10), -2.0 + 0.1 * 1.0 / (math.sqrt(1.75) + 1e-10)]
    t2 = [
        t1[0] - (0.1 / 1.5) * 0.25 / (math.sqrt(1.0625) + 1e-10),
        t1[1] - (0.1 / 1.5) * 0.5 / (math.sqrt(2.0) + 1e-10),
    ]
    t3 = [
        t2[0] + 0.05 * 1.0 / (math.sqrt(2.0625) + 1e-10),
        t2[1] - 0.05 * 2.0 / (math.sqrt(6.0) + 1e-10),
    ]
    check(run(opt, 3), [t1, t2, t3])
    assert opt.init(THETA0)["sum"].tolist() == [0.75, 0.75]


# ---------------------------------------------------------------------------- Adam(W)
# Adam with g_1, g_2 (no weight decay):
#   m_1 = 0.1 g_1, v_1 = 0.001 g_1²  → m̂_1 = g_1, v̂_1 = g_1²: θ_1 = θ_0 − 0.1 g_1/(|g_1| + ε)
#   m_2 = 0.9 m_1 + 0.1 g_2 = (0.045 + 0.025, −0.09 + 0.05) = (0.07, −0.04)
#   v_2 = 0.999 v_1 + 0.001 g_2² = (0.00024975 + 0.0000625, 0.000999 + 0.00025)
#       = (0.00031225, 0.001249);  1 − 0.9² = 0.19;  1 − 0.999² = 0.001999
ADAM_STEP2 = [
    0.1 * (0.07 / 0.19) / (math.sqrt(0.00031225 / 0.001999) + 1e-8),
    0.1 * (-0.04 / 0.19) / (math.sqrt(0.001249 / 0.001999) + 1e-8),
]


def test_adam_by_hand() -> None:
    t1 = [1.0 - 0.1 * 0.5 / (0.5 + 1e-8), -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)]
    t2 = [t1[0] - ADAM_STEP2[0], t1[1] - ADAM_STEP2[1]]
    check(run(make_optimizer("adam"), 2), [t1, t2])
    # without weight decay AdamW is Adam
    check(run(make_optimizer("adamw"), 2), [t1, t2])


def test_adamw_decays_the_weights_first() -> None:
    # θ ← θ_0 (1 − 0.1·0.1) = (0.99, −1.98), then the plain Adam step (g is not changed)
    t1 = [0.99 - 0.1 * 0.5 / (0.5 + 1e-8), -1.98 + 0.1 * 1.0 / (1.0 + 1e-8)]
    t2 = [0.99 * t1[0] - ADAM_STEP2[0], 0.99 * t1[1] - ADAM_STEP2[1]]
    check(run(make_optimizer("adamw", weight_decay=0.1), 2), [t1, t2])


def test_adam_weight_decay_is_coupled() -> None:
    # g_1 + 0.1θ_0 = (0.6, −1.2): the first Adam step only sees sign(g), so ≈ θ_0 − 0.1 sign
    t1 = [1.0 - 0.1 * 0.6 / (0.6 + 1e-8), -2.0 + 0.1 * 1.2 / (1.2 + 1e-8)]
    # g_2 + 0.1θ_1 = (0.25 + 0.1 t1[0], 0.5 + 0.1 t1[1]) =: h
    h = [0.25 + 0.1 * t1[0], 0.5 + 0.1 * t1[1]]
    m2 = [0.9 * 0.1 * 0.6 + 0.1 * h[0], 0.9 * 0.1 * -1.2 + 0.1 * h[1]]
    v2 = [0.999 * 0.001 * 0.36 + 0.001 * h[0] ** 2, 0.999 * 0.001 * 1.44 + 0.001 * h[1] ** 2]
    t2 = [t1[i] - 0.1 * (m2[i] / 0.19) / (math.sqrt(v2[i] / 0.001999) + 1e-8) for i in range(2)]
    got = run(make_optimizer("adam", weight_decay=0.1), 2)
    check(got, [t1, t2])
    # coupled (Adam + L2) and decoupled (AdamW) weight decay give different parameters
    adamw = run(make_optimizer("adamw", weight_decay=0.1), 2)
    assert abs(got[0][0] - adamw[0][0]) > 0.009  # ≈ 0.9 versus ≈ 0.89


# ------------------------------------------------------------------------ state, purity
def test_state_counts_steps_and_uses_torch_names() -> None:
    names = {
        "sgd": {"t"},
        "momentum": {"t", "momentum_buffer"},
        "nesterov": {"t", "momentum_buffer"},
        "rmsprop": {"t", "square_avg"},
        "adagrad": {"t", "sum"},
        "adam": {"t", "exp_avg", "exp_avg_sq"},
        "adamw": {"t", "exp_avg", "exp_avg_sq"},
    }
    for name in OPTIMIZERS:
        opt = make_optimizer(name)
        params, state = THETA0.copy(), opt.init(THETA0)
        assert set(state) == names[name] and state["t"] == 0
        for k, g in enumerate(GRADS, start=1):
            params, state = opt.update(g, state, params, LR)
            assert state["t"] == k


def _snapshot(state: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


ALL_CONFIGS = [make_optimizer(n) for n in OPTIMIZERS] + [
    make_optimizer(n, weight_decay=0.05) for n in OPTIMIZERS
] + [Optimizer("sgd", momentum=0.5, dampening=0.2), Optimizer("adagrad", lr_decay=0.1, initial_accumulator=0.1)]


@pytest.mark.parametrize("opt", ALL_CONFIGS, ids=lambda o: o.describe())
def test_update_is_pure(opt: Optimizer) -> None:
    params, state = THETA0.copy(), opt.init(THETA0)
    for g in GRADS:
        grad = g.copy()
        before = (grad.copy(), params.copy(), _snapshot(state))
        new_p, new_s = opt.update(grad, state, params, LR)
        assert np.array_equal(grad, before[0]) and np.array_equal(params, before[1])
        assert _same_state(state, before[2])
        again_p, again_s = opt.update(grad, state, params, LR)
        assert np.array_equal(new_p, again_p) and _same_state(new_s, again_s)
        assert new_s is not state and new_p is not params
        # the new state must not alias the caller's arrays (e.g. b_1 = g_1 must be a copy)
        kept = _snapshot(new_s)
        grad *= 100.0
        params *= 100.0
        assert _same_state(new_s, kept)
        params, state = new_p, new_s


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(OPTIMIZERS),
    values=st.lists(st.floats(-10, 10), min_size=6, max_size=6),
    lr=st.floats(1e-4, 1.0),
)
def test_stepping_back_replays_identically(name: str, values: list[float], lr: float) -> None:
    """Keeping old states (step-back) and replaying from one gives the same trajectory."""
    opt = make_optimizer(name, weight_decay=0.01)
    params = np.array(values[:2])
    grads = [np.array(values[2:4]), np.array(values[4:6]), np.array(values[2:4])]
    history = [(params, opt.init(params))]
    for g in grads:
        history.append(opt.update(g, history[-1][1], history[-1][0], lr))
    p, s = history[1]
    for g in grads[1:]:
        p, s = opt.update(g, s, p, lr)
    assert np.array_equal(p, history[-1][0]) and _same_state(s, history[-1][1])


def test_optimizer_is_plain_data() -> None:
    opt = make_optimizer("nesterov", momentum=0.8, weight_decay=0.01)
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert clone == opt
        check(run(clone, 2), [list(p) for p in run(opt, 2)])
    assert Optimizer("momentum") == make_optimizer("momentum")  # per-name defaults resolved
    assert make_optimizer("adagrad").eps == 1e-10 and make_optimizer("adam").eps == 1e-8
    assert make_optimizer("ADAM").name == "adam"


def test_describe() -> None:
    assert make_optimizer("sgd").describe() == "SGD"
    assert make_optimizer("momentum").describe() == "SGD momentum 0.9"
    assert make_optimizer("sgd", momentum=0.5).describe() == "SGD momentum 0.5"
    assert make_optimizer("nesterov").describe() == "Nesterov 0.9"
    assert make_optimizer("rmsprop").describe() == "RMSprop"
    assert make_optimizer("adagrad").describe() == "Adagrad"
    assert make_optimizer("adam").describe() == "Adam"
    assert make_optimizer("adamw", weight_decay=0.01).describe() == "AdamW wd 0.01"
    assert make_optimizer("sgd", weight_decay=5e-4).describe() == "SGD wd 0.0005"


# ---------------------------------------------------------------------------- validation
def test_unknown_optimizer_suggests_the_closest() -> None:
    with pytest.raises(ScenarioError) as err:
        make_optimizer("adma")
    assert err.value.setting == "optimizer" and err.value.value == "adma"
    assert "did you mean 'adam'?" in str(err.value)
    assert "sgd, momentum, nesterov, rmsprop, adagrad, adam, adamw" in str(err.value)
    assert err.value.as_option().startswith("--optimizer 'adma': ")
    with pytest.raises(ScenarioError, match="did you mean 'nesterov'"):
        make_optimizer("nesterow")


@pytest.mark.parametrize("bad", [1.0, 1.5, -0.1, float("nan"), float("inf"), "0.9", True])
def test_momentum_out_of_range_rejected(bad: object) -> None:
    with pytest.raises(ScenarioError) as err:
        make_optimizer("momentum", momentum=bad)  # type: ignore[arg-type]
    assert err.value.setting == "momentum" and "[0, 1)" in str(err.value)


def test_momentum_rules() -> None:
    assert str(pytest.raises(ScenarioError, make_optimizer, "momentum", momentum=1.0).value) == (
        "momentum 1: must be in [0, 1)"
    )
    with pytest.raises(ScenarioError, match="nesterov needs a momentum in"):
        make_optimizer("nesterov", momentum=0.0)
    with pytest.raises(ScenarioError, match="only sgd, momentum and nesterov"):
        make_optimizer("adam", momentum=0.9)
    assert make_optimizer("adam", momentum=0.0).momentum == 0.0


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), None])
def test_weight_decay_must_be_finite_and_nonnegative(bad: object) -> None:
    with pytest.raises(ScenarioError) as err:
        make_optimizer("adamw", weight_decay=bad)  # type: ignore[arg-type]
    assert err.value.setting == "weight_decay" and ">= 0" in str(err.value)


# ----------------------------------------------------------------------------- schedules
def test_constant_schedule() -> None:
    lr = make_schedule("constant", 0.1, 100)
    assert [lr(1), lr(50), lr(10_000)] == [0.1, 0.1, 0.1]


def test_step_schedule_counts_steps() -> None:
    # 0.1 · 0.5^⌊(t−1)/3⌋: steps 1–3 at 0.1, 4–6 at 0.05, 7 at 0.025
    lr = make_schedule("step", 0.1, 100, decay_steps=3, decay_rate=0.5)
    got = [lr(t) for t in range(1, 8)]
    np.testing.assert_allclose(got, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025], rtol=RTOL)


def test_cosine_schedule() -> None:
    # ½(1 + cos(π(t−1)/4)) for t = 1..5: 1, ½ + √2/4, ½, ½ − √2/4, 0
    lr = make_schedule("cosine", 1.0, 4)
    got = [lr(t) for t in range(1, 6)]
    r = math.sqrt(2) / 4
    np.testing.assert_allclose(got, [1.0, 0.5 + r, 0.5, 0.5 - r, 0.0], rtol=RTOL, atol=1e-15)


def test_warmup_schedule() -> None:
    lr = make_schedule("warmup", 0.2, 100, warmup_steps=4)
    got = [lr(t) for t in (1, 2, 3, 4, 5, 100)]
    np.testing.assert_allclose(got, [0.05, 0.1, 0.15, 0.2, 0.2, 0.2], rtol=RTOL)


def test_schedules_depend_only_on_the_step_index() -> None:
    for name in SCHEDULES:
        lr = make_schedule(name, 0.1, 50, decay_steps=7, warmup_steps=5)
        forward = [lr(t) for t in range(1, 60)]
        backward = [lr(t) for t in range(59, 0, -1)][::-1]
        assert forward == backward  # no hidden counter: stepping back replays the same rates


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 0, 0.0, -0.1, "0.1", None])
def test_bad_learning_rate_rejected(bad: object) -> None:
    with pytest.raises(ScenarioError) as err:
        make_schedule("constant", bad, 10)  # type: ignore[arg-type]
    assert err.value.setting == "lr" and str(err.value).endswith("must be a finite number > 0")


def test_schedule_validation() -> None:
    with pytest.raises(ScenarioError, match="did you mean 'cosine'"):
        make_schedule("cosin", 0.1, 10)
    for kwargs, setting in [
        ({"decay_steps": 0}, "decay_steps"),
        ({"warmup_steps": 0}, "warmup_steps"),
        ({"warmup_steps": 2.5}, "warmup_steps"),
        ({"decay_rate": 0.0}, "decay_rate"),
        ({"decay_rate": 1.5}, "decay_rate"),
        ({"decay_rate": float("nan")}, "decay_rate"),
    ]:
        with pytest.raises(ScenarioError) as err:
            make_schedule("step", 0.1, 10, **kwargs)  # type: ignore[arg-type]
        assert err.value.setting == setting
    with pytest.raises(ScenarioError) as err:
        make_schedule("cosine", 0.1, 0)
    assert err.value.setting == "total_steps"
    assert make_schedule("step", 0.1, 10, decay_rate=1.0)(100) == 0.1


# ------------------------------------------------------------------ optional: torch itself
HAVE_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed (optional cross-check)")
@pytest.mark.parametrize("opt", ALL_CONFIGS, ids=lambda o: o.describe())
def test_matches_torch_optim(opt: Optimizer) -> None:
    import torch

    rng = np.random.default_rng(7)
    x0 = rng.normal(size=3)
    p = torch.tensor(x0.copy(), dtype=torch.float64, requires_grad=True)
    wd = opt.weight_decay
    if opt.name in ("sgd", "momentum", "nesterov"):
        t_opt = torch.optim.SGD([p], lr=LR, momentum=opt.momentum, dampening=opt.dampening,
                                nesterov=opt.name == "nesterov", weight_decay=wd)
    elif opt.name == "rmsprop":
        t_opt = torch.optim.RMSprop([p], lr=LR, alpha=opt.alpha, eps=opt.eps, weight_decay=wd)
    elif opt.name == "adagrad":
        t_opt = torch.optim.Adagrad([p], lr=LR, lr_decay=opt.lr_decay, eps=opt.eps, weight_decay=wd,
                                    initial_accumulator_value=opt.initial_accumulator)
    else:
        cls = torch.optim.Adam if opt.name == "adam" else torch.optim.AdamW
        t_opt = cls([p], lr=LR, betas=opt.betas, eps=opt.eps, weight_decay=wd)
    params, state = x0.copy(), opt.init(x0)
    for k in range(20):
        g = rng.normal(size=3)
        lr = LR * 0.9**k  # a changing lr, as a schedule gives
        for group in t_opt.param_groups:
            group["lr"] = lr
        p.grad = torch.tensor(g.copy(), dtype=torch.float64)
        t_opt.step()
        params, state = opt.update(g, state, params, lr)
        np.testing.assert_allclose(params, p.detach().numpy(), rtol=0, atol=1e-12, err_msg=f"step {k + 1}")


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed (optional cross-check)")
def test_schedules_match_torch_lr_schedulers() -> None:
    import torch
    from torch.optim import lr_scheduler

    def torch_rates(make: object, steps: int) -> list[float]:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make(opt)  # type: ignore[operator]
        rates = []
        for _ in range(steps):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return rates

    n = 40
    pairs = [
        (make_schedule("step", 0.1, n, decay_steps=7, decay_rate=0.5),
         lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5)),
        (make_schedule("cosine", 0.1, n), lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=n)),
        (make_schedule("warmup", 0.1, n, warmup_steps=10),
         lambda o: lr_scheduler.LinearLR(o, start_factor=1 / 10, end_factor=1.0, total_iters=9)),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose([ours(t) for t in range(1, n + 1)], torch_rates(theirs, n), rtol=0, atol=1e-12)
