"""Gradient noise (SCIENCE.md §3): exact formulas against Monte Carlo and identities."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.noise import fpc_factor, noise_report, two_batch_estimate


@pytest.fixture(scope="module")
def grads() -> np.ndarray:
    sim = Simulation(Scenario(samples=60, val_samples=0))
    sim.run_iterations(5)
    return sim.model.per_sample_grads(sim.params, sim.dataset.X, sim.dataset.y)


def test_fpc_factor_ends() -> None:
    assert fpc_factor(200, 1) == 1.0
    assert fpc_factor(200, 200) == 0.0
    assert fpc_factor(10, 3) == pytest.approx(7 / 27)


def test_exact_variance_matches_monte_carlo_without_replacement(grads: np.ndarray) -> None:
    n, b = grads.shape[0], 7
    rep = noise_report(grads, b)
    rng = np.random.default_rng(1)
    G = grads.mean(axis=0)
    draws = 40_000
    sq = np.empty(draws)
    for k in range(draws):
        idx = rng.choice(n, size=b, replace=False)
        d = grads[idx].mean(axis=0) - G
        sq[k] = d @ d
    assert sq.mean() == pytest.approx(rep.trace_cov, rel=0.05)
    # E|ĝ|² = |G|² + tr Cov
    assert rep.expected_sq_norm == pytest.approx(G @ G + rep.trace_cov, rel=1e-12)


def test_exact_variance_matches_monte_carlo_with_replacement(grads: np.ndarray) -> None:
    n, b = grads.shape[0], 7
    rep = noise_report(grads, b)
    rng = np.random.default_rng(2)
    G = grads.mean(axis=0)
    idx = rng.integers(0, n, size=(40_000, b))
    d = grads[idx].mean(axis=1) - G
    assert np.mean(np.sum(d * d, axis=1)) == pytest.approx(rep.trace_cov_replacement, rel=0.05)


def test_full_batch_has_no_noise_and_b1_has_the_population_variance(grads: np.ndarray) -> None:
    n = grads.shape[0]
    assert noise_report(grads, n).trace_cov == 0.0
    rep1 = noise_report(grads, 1)
    G = grads.mean(axis=0)
    by_hand = np.mean(np.sum((grads - G) ** 2, axis=1))
    assert rep1.trace_cov == pytest.approx(by_hand, rel=1e-12)
    assert rep1.trace_sigma == pytest.approx(by_hand, rel=1e-12)
    assert rep1.b_simple == pytest.approx(by_hand / (G @ G), rel=1e-12)


def test_epoch_sum_identity(grads: np.ndarray) -> None:
    """Batches of one reshuffled epoch at a fixed θ sum to exactly (N/B)·G."""
    n, b = grads.shape[0], 6
    order = np.random.default_rng(3).permutation(n)
    total = sum(grads[order[k : k + b]].mean(axis=0) for k in range(0, n, b))
    assert np.allclose(total, (n // b) * grads.mean(axis=0), rtol=1e-12, atol=1e-13)


def test_batch_gradient_and_cosine(grads: np.ndarray) -> None:
    batch = np.array([0, 5, 9])
    rep = noise_report(grads, 3, batch)
    ghat = grads[batch].mean(axis=0)
    G = grads.mean(axis=0)
    assert np.allclose(rep.batch_grad, ghat)
    assert rep.cosine == pytest.approx(ghat @ G / np.linalg.norm(ghat) / np.linalg.norm(G), rel=1e-12)
    assert -1.0 <= rep.cosine <= 1.0


def test_two_batch_estimate_is_close_to_the_exact_noise_scale(grads: np.ndarray) -> None:
    n, b = grads.shape[0], 3
    rng = np.random.default_rng(4)
    batch_grads, sizes = [], []
    for _ in range(3000):
        order = rng.permutation(n)
        for k in range(0, n, b):
            batch_grads.append(grads[order[k : k + b]].mean(axis=0))
            sizes.append(b)
    est = two_batch_estimate(np.array(batch_grads), np.array(sizes))
    assert est is not None and est.small == 3 and est.big == 6
    exact = noise_report(grads, b)
    # the estimator assumes independent (replacement-like) draws; pairs drawn without
    # replacement from N = 60 shrink S by about (N − b)/(N − 1) — allow for it
    assert est.grad_sq_est == pytest.approx(exact.grad_norm**2, rel=0.1)
    assert est.trace_est == pytest.approx(exact.trace_sigma, rel=0.15)


def test_simulation_noise_uses_the_current_batch() -> None:
    sim = Simulation(Scenario(samples=40, val_samples=0))
    sim.step_phase()
    rep = sim.noise()
    idx = sim.current_batch()
    assert len(idx) == 5
    g = sim.model.per_sample_grads(sim.params, sim.dataset.X, sim.dataset.y)
    assert np.allclose(rep.batch_grad, g[idx].mean(axis=0))
    assert np.allclose(rep.full_grad, sim.full_gradient())


def test_two_batch_estimate_is_the_pairs_formula_pair_by_pair() -> None:
    """Every pair of consecutive batches of the first batch's size b, taken pair by pair with
    SCIENCE.md §3's formulas (a pair with another size left out), averaged: the estimate."""
    rng = np.random.default_rng(9)
    for trial in range(200):
        m, p, b = int(rng.integers(0, 25)), int(rng.integers(1, 6)), int(rng.integers(1, 5))
        grads = rng.standard_normal((m, p)) * 10.0 ** rng.integers(-3, 4)
        sizes = np.full(m, b)
        if trial % 3 == 0 and m > 2:
            sizes[int(rng.integers(1, m))] = b + 1
        g2, s = [], []
        for k in range(0, m - 1, 2):
            if sizes[k] == b and sizes[k + 1] == b:
                small = sum(float(v) * float(v) for v in grads[k])
                union = [0.5 * (float(u) + float(v)) for u, v in zip(grads[k], grads[k + 1])]
                large = sum(v * v for v in union)
                g2.append((2 * b * large - b * small) / b)
                s.append((small - large) / (1.0 / b - 1.0 / (2 * b)))
        est = two_batch_estimate(grads, sizes)
        if not g2:
            assert est is None
            continue
        assert est is not None and est.pairs == len(g2) and (est.small, est.big) == (b, 2 * b)
        assert est.grad_sq_est == pytest.approx(sum(g2) / len(g2), rel=1e-9, abs=1e-12)
        assert est.trace_est == pytest.approx(sum(s) / len(s), rel=1e-9, abs=1e-12)
