"""The noise cloud (SCIENCE.md §5): the Lyapunov prediction of the stationary spread of SGD on
least squares, checked against hand values, a brute-force iteration, SCIENCE's per-direction
formula, and a measured cloud of 100 runs of the worked example."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario
from mbsim.engine.cloud import least_squares_noise_floor, noise_factor, solve_discrete_lyapunov
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.simulation import Simulation


def test_lyapunov_diagonal_by_hand() -> None:
    # Σ = AΣA + Q with A = diag(0.5, 0.9), Q = I: Σ_ii = 1 / (1 − a_i²) = 1/0.75, 1/0.19
    sigma = solve_discrete_lyapunov(np.diag([0.5, 0.9]), np.eye(2))
    assert sigma == pytest.approx(np.diag([1 / 0.75, 1 / 0.19]))


def test_lyapunov_equals_brute_force_iteration() -> None:
    rng = np.random.default_rng(5)
    for p in (1, 2, 4):
        A = rng.standard_normal((p, p))
        A *= 0.9 / np.max(np.abs(np.linalg.eigvals(A)))      # spectral radius 0.9, not symmetric
        L = rng.standard_normal((p, p))
        Q = L @ L.T
        sigma = np.zeros((p, p))
        for _ in range(2000):                                 # 0.9^4000 ≈ 0: converged
            sigma = A @ sigma @ A.T + Q
        assert solve_discrete_lyapunov(A, Q) == pytest.approx(sigma, rel=1e-9, abs=1e-12)


def test_noise_factor_with_and_without_replacement() -> None:
    assert noise_factor(200, 5, True) == 1 / 5
    assert noise_factor(200, 5, False) == pytest.approx(195 / (5 * 199))
    assert noise_factor(200, 200, False) == 0.0


def test_excess_loss_matches_science_per_direction_formula() -> None:
    """½ tr(HΣ_θ) = Σ_i η c c_i / (2(2 − ηλ_i)) with (λ_i, c_i) the eigenvalues of H and the
    diagonal of C in H's eigenbasis (SCIENCE.md §5)."""
    sc = Scenario()
    ens = Ensemble.seeds(sc, 1)
    lr, b = 0.05, 5
    nf = least_squares_noise_floor(ens.X, ens.y, lr, b, replacement=True)
    lam, V = np.linalg.eigh(nf.hessian)
    ci = np.diag(V.T @ nf.noise_cov @ V)
    expected = np.sum(lr * (1 / b) * ci / (2 * (2 - lr * lam)))
    assert nf.excess_loss == pytest.approx(expected, rel=1e-10)
    # H = 2 X̃ᵀX̃/N with the bias column; θ* is where the mean gradient vanishes
    Xt = np.hstack([ens.X, np.ones((len(ens.y), 1))])
    assert nf.hessian == pytest.approx(2 * Xt.T @ Xt / len(ens.y))
    assert 2 * Xt.T @ (Xt @ nf.theta_star - ens.y) / len(ens.y) == pytest.approx(np.zeros(2), abs=1e-12)


def test_unstable_step_has_no_stationary_state() -> None:
    ens = Ensemble.seeds(Scenario(), 1)
    nf = least_squares_noise_floor(ens.X, ens.y, 5.0, 5)
    assert not nf.stable and nf.spread == np.inf


def measured_spread(batch_size: int, burn_in: int = 300, ticks: int = 1200) -> tuple[float, float]:
    """(time-averaged tr Cov of 100 runs after a burn-in, Lyapunov tr Σ_θ) for the worked
    example at lr 0.05 with replacement sampling."""
    sc = Scenario(sampling="replacement", batch_size=batch_size, lr=0.05, epochs=100)
    ens = Ensemble.seeds(sc, 100)
    for _ in range(burn_in):
        ens.tick()
    spreads = []
    for _ in range(ticks):
        ens.tick()
        spreads.append(ens.spread())
    nf = ens.noise_floor()
    assert nf.spread == least_squares_noise_floor(ens.X, ens.y, 0.05, batch_size, replacement=True).spread
    return float(np.mean(spreads)), nf.spread


def test_cloud_of_100_seeds_matches_lyapunov_and_halves_when_b_doubles() -> None:
    """Measured with these settings (this branch): B=5 tr Cov 1.794e-3 vs predicted 1.774e-3
    (+1.1 %); B=10 9.045e-4 vs 8.872e-4 (+2.0 %); measured ratio B=10/B=5 = 0.504."""
    m5, p5 = measured_spread(5)
    m10, p10 = measured_spread(10)
    assert abs(m5 / p5 - 1) < 0.15
    assert abs(m10 / p10 - 1) < 0.15
    assert 0.4 < m10 / m5 < 0.6
    assert p10 / p5 == pytest.approx(0.5)     # c = 1/B: Σ_θ is linear in c


def test_predicted_spread_is_the_lyapunov_floor_of_the_settings_in_force() -> None:
    sc = Scenario(sampling="replacement", lr=0.05, batch_size=5, epochs=3)
    ens = Ensemble.seeds(sc, 4)
    nf = ens.predicted_spread()
    assert ens.prediction_note() == ""
    assert nf.spread == least_squares_noise_floor(ens.X, ens.y, 0.05, 5, replacement=True).spread
    ens.tick()
    ens.apply_changes(batch_size=10)          # a live change: the prediction follows it
    assert ens.predicted_spread().spread == pytest.approx(nf.spread / 2, rel=1e-12)   # c = 1/B
    ens.apply_changes(sampling="reshuffle")
    fpc = least_squares_noise_floor(ens.X, ens.y, 0.05, 10, replacement=False)
    assert ens.predicted_spread().factor == pytest.approx((200 - 10) / (10 * 199))
    assert ens.predicted_spread().spread == fpc.spread
    assert "anti-correlated" in ens.prediction_note()


@pytest.mark.parametrize(("scenario", "words"), [
    (Scenario(dataset="blobs", model="logistic", epochs=1), "least squares"),
    (Scenario(optimizer="adam", epochs=1), "plain SGD"),
    (Scenario(momentum=0.9, epochs=1), "momentum"),
    (Scenario(schedule="cosine", epochs=1), "cosine"),
    (Scenario(sampling="sequential", epochs=1), "same batches"),
    (Scenario(lr=5.0, epochs=1), "stationary"),
])
def test_no_prediction_says_why(scenario: Scenario, words: str) -> None:
    ens = Ensemble.seeds(scenario, 2)
    assert ens.predicted_spread() is None
    assert words in ens.prediction_note()


def test_no_prediction_for_members_with_different_settings() -> None:
    ens = Ensemble.vary(Scenario(epochs=1), "lr", [0.05, 0.1])
    assert ens.predicted_spread() is None and "differ in lr" in ens.prediction_note()


def test_reference_path_is_full_batch_gd_from_the_start_and_follows_an_lr_change() -> None:
    sc = Scenario(epochs=60)
    ens = Ensemble.seeds(sc, 3)
    sim = Simulation(sc)
    assert np.array_equal(ens.reference_path(), sim.reference_path())
    assert ens.reference_path() is ens.reference_path()        # cached
    ens.tick()
    ens.apply_changes(lr=0.1)
    # an independent loop: θ ← θ − 0.1 · (2/N) X̃ᵀ(X̃θ − y) from the start, 60 updates
    Xt = np.hstack([ens.X, np.ones((len(ens.y), 1))])
    theta = ens.initial_params.copy()
    path = [theta]
    for _ in range(60):
        theta = theta - 0.1 * (2 / len(ens.y)) * Xt.T @ (Xt @ theta - ens.y)
        path.append(theta)
    got = ens.reference_path()
    assert got[0] == pytest.approx(path[0]) and got[-1] == pytest.approx(path[len(got) - 1], rel=1e-9)
    assert len(got) <= 61


def test_the_spread_of_identical_runs_is_exactly_zero_and_otherwise_the_sample_variance() -> None:
    """Runs that all start at θ₀ (the cloud at step 0) have tr Cov = 0 exactly: not the rounding
    of a mean of 100 equal numbers (1e-29 was shown). Otherwise the sum of the per-parameter
    sample variances with divisor K − 1, checked here against the definition in exact fractions."""
    from fractions import Fraction

    from mbsim.engine import load_preset

    ens = Ensemble.seeds(load_preset("xor-mlp"), 100)  # the cloud of the xor-mlp preset, step 0
    assert np.all(ens.params == ens.params[0]) and ens.spread() == 0.0
    theta0 = np.array([0.1, 0.7, -0.3, 1e-3 + 1.0 / 3.0])
    assert ens.spread(np.tile(theta0, (100, 1))) == 0.0
    rng = np.random.default_rng(7)
    p = rng.normal(size=(5, 3)) * 1e-3 + 123.456
    exact = Fraction(0)
    for col in p.T:
        xs = [Fraction(float(v)) for v in col]
        mean = sum(xs) / len(xs)
        exact += sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)
    assert abs(ens.spread(p) - float(exact)) <= 1e-12 * float(exact)
