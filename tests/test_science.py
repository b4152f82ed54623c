"""SCIENCE.md as tests: the worked numbers of §1 through the simulation, and the stationary
noise floor of constant-step SGD on least squares (§5)."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset


def test_worked_example_counts() -> None:
    sim = Simulation(Scenario())
    plan = sim.plan
    assert (plan.batches_per_pass, plan.steps_per_epoch_count, plan.total_steps) == (40, 40, 40_000)
    assert plan.algorithm == "Mini-batch GD"


@pytest.mark.parametrize(
    "preset, sizes",
    [("uneven-last-batch", [400, 400, 200]), ("drop-last", [32] * 6), ("full-batch", [200]), ("mini-batch-32", [32] * 8)],
)
def test_presets_cut_epochs_as_section_1_says(preset: str, sizes: list[int]) -> None:
    sim = Simulation(load_preset(preset))
    got: list[int] = []
    sim.on_step = lambda r: got.append(len(r.indices))
    sim.run_epoch()
    assert got == sizes


def _least_squares_setup(sampling: str, lr: float, epochs: int, seed: int = 0) -> tuple[Simulation, float, float]:
    """Run SGD on the line data; return the simulation, L* and the Lyapunov excess prediction."""
    sc = Scenario(samples=200, val_samples=0, noise=0.3, batch_size=5, sampling=sampling, lr=lr,
                  epochs=epochs, seed=seed, eval_every="1")  # every step's full loss
    sim = Simulation(sc, history_cap=epochs * 40 + 2)
    X = np.hstack([sim.dataset.X, np.ones((200, 1))])
    y = sim.dataset.y
    theta_star = np.linalg.lstsq(X, y, rcond=None)[0]
    r = X @ theta_star - y
    l_star = float(np.mean(r**2))
    # mbsim's MSE has no ½: Hessian H = 2XᵀX/N, per-sample gradients g_i = 2 r_i x_i at θ*
    H = 2 * X.T @ X / 200
    g = 2 * r[:, None] * X
    C = g.T @ g / 200
    c = 1 / 5  # with replacement: Cov[ĝ_B] = Σ/B
    A = np.eye(2) - lr * H
    # Σθ = A Σθ A + η² c C  ⇔  (I − A⊗A) vec Σθ = η² c vec C
    sigma = np.linalg.solve(np.eye(4) - np.kron(A, A), lr**2 * c * C.ravel()).reshape(2, 2)
    predicted = 0.5 * float(np.trace(H @ sigma))
    # the per-eigen-direction closed form of §5 gives the same number
    lam, V = np.linalg.eigh(H)
    ci = np.diag(V.T @ C @ V)
    assert predicted == pytest.approx(float(np.sum(lr * c * ci / (2 * (2 - lr * lam)))), rel=1e-9)
    sim.run_to_end()
    return sim, l_star, predicted


def _small_step_floor(sim: Simulation, lr: float, c: float) -> tuple[float, float]:
    """(ηc/4) tr C of §5 (C: the per-sample gradients' covariance at θ*, with MSE's 2) and the
    Hessian's largest eigenvalue, from the data alone."""
    X = np.hstack([sim.dataset.X, np.ones((len(sim.dataset.y), 1))])
    y = sim.dataset.y
    r = X @ np.linalg.lstsq(X, y, rcond=None)[0] - y
    g = 2 * r[:, None] * X
    lam_max = float(np.linalg.eigvalsh(2 * X.T @ X / len(y))[-1])
    return lr * c / 4 * float(np.trace(g.T @ g / len(y))), lam_max


def _mean_excess(sim: Simulation, l_star: float, burn_in: int) -> float:
    loss = sim.history.decimated(10**9).series("train_loss")
    return float(np.mean(loss[burn_in:]) - l_star)


def test_noise_floor_matches_the_lyapunov_prediction() -> None:
    sim, l_star, predicted = _least_squares_setup("replacement", lr=0.05, epochs=700)
    assert sim.history.exact()
    measured = _mean_excess(sim, l_star, burn_in=2000)
    assert measured == pytest.approx(predicted, rel=0.15)
    # and it is proportional to η/B: the small-η approximation (ηc/4) tr C is close too; per
    # eigen-direction ηc·c_i / (2(2 − ηλ_i)) lies between ηc·c_i/4 and that over (1 − ηλ_max/2)
    small, lam_max = _small_step_floor(sim, lr=0.05, c=1 / 5)
    assert small <= predicted <= small / (1 - 0.05 * lam_max / 2)
    assert predicted == pytest.approx(small, rel=0.06)


def test_noise_floor_scales_with_the_learning_rate() -> None:
    s1, l1, p1 = _least_squares_setup("replacement", lr=0.02, epochs=600)
    s2, l2, p2 = _least_squares_setup("replacement", lr=0.08, epochs=300)
    m1, m2 = _mean_excess(s1, l1, 4000), _mean_excess(s2, l2, 1000)
    assert p2 / p1 == pytest.approx(4.0, rel=0.1)
    assert m2 / m1 == pytest.approx(p2 / p1, rel=0.3)


def test_reshuffling_settles_lower_than_replacement_at_a_small_step() -> None:
    rr, l_star, _ = _least_squares_setup("reshuffle", lr=0.005, epochs=700)
    wr, _, predicted = _least_squares_setup("replacement", lr=0.005, epochs=700)
    burn = 8000
    excess_rr = _mean_excess(rr, l_star, burn)
    excess_wr = _mean_excess(wr, l_star, burn)
    assert excess_wr == pytest.approx(predicted, rel=0.25)
    assert excess_rr < 0.5 * excess_wr
