"""The noise cloud's predicted size: the stationary covariance of constant-step SGD on least
squares (SCIENCE.md §5; Mandt, Hoffman, Blei 2017; Liu, Ziyin, Ueda 2021).

Near the minimiser θ*, one SGD step on a quadratic loss is θ ← θ − η(H(θ − θ*) + ξ) with batch
noise ξ of covariance c·C, so the covariance of θ over independent runs settles where

    Σ_θ = (I − ηH) Σ_θ (I − ηH)ᵀ + η² c C                        (a discrete Lyapunov equation)

With mbsim's MSE (mean of squared errors, no ½; SCIENCE.md §5) on inputs x̃_i = (x_i, 1) (the
bias column, when the model has a bias): H = 2 X̃ᵀX̃ / N, θ* the least-squares solution,
r_i = x̃_iᵀθ* − y_i, per-sample gradients g_i = 2 r_i x̃_i (their mean is 0 at θ*), and
C = (1/N) Σ g_i g_iᵀ. The noise factor c is 1/B with replacement and (N − B)/(B(N − 1))
without (the finite population correction, SCIENCE.md §3). Stable only for 0 < ηλ_max < 2.
The prediction is for independent batches; reshuffled epochs are anti-correlated and sit lower,
so compare it with ``replacement`` sampling.

Pure NumPy (no SciPy): :func:`solve_discrete_lyapunov` uses the vectorised form
vec Σ = (I − A ⊗ A)⁻¹ vec Q.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .noise import fpc_factor


def solve_discrete_lyapunov(A: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """Σ with Σ = A Σ Aᵀ + Q, from vec(A Σ Aᵀ) = (A ⊗ A) vec Σ (row-major vec), so
    vec Σ = (I − A ⊗ A)⁻¹ vec Q. Needs every |eigenvalue of A| < 1 (else no stationary state:
    ``numpy.linalg.LinAlgError`` or a meaningless answer; check :attr:`NoiseFloor.stable`)."""
    A = np.asarray(A, dtype=float)
    Q = np.asarray(Q, dtype=float)
    p = A.shape[0]
    M = np.eye(p * p) - np.kron(A, A)
    sigma = np.linalg.solve(M, Q.reshape(p * p)).reshape(p, p)
    return 0.5 * (sigma + sigma.T)


def noise_factor(n_samples: int, batch_size: int, replacement: bool) -> float:
    """c: 1/B with replacement, (N − B)/(B(N − 1)) without (SCIENCE.md §3)."""
    return 1.0 / batch_size if replacement else fpc_factor(n_samples, batch_size)


@dataclass(frozen=True)
class NoiseFloor:
    """The predicted stationary state of constant-step SGD on least squares (mbsim's MSE)."""

    theta_star: np.ndarray   # the minimiser θ* (weights, then bias)
    hessian: np.ndarray      # H = 2 X̃ᵀX̃ / N
    noise_cov: np.ndarray    # C = (1/N) Σ g_i g_iᵀ at θ*, g_i = 2 r_i x̃_i
    factor: float            # c
    lr: float                # η
    sigma_theta: np.ndarray  # Σ_θ, the stationary covariance of the parameters
    stable: bool             # 0 < ηλ_max(H) < 2

    @property
    def spread(self) -> float:
        """tr Σ_θ: the predicted tr Cov of a cloud of runs (compare :meth:`Ensemble.spread`)."""
        return float(np.trace(self.sigma_theta))

    @property
    def excess_loss(self) -> float:
        """E[L] − L* = ½ tr(H Σ_θ)."""
        return 0.5 * float(np.trace(self.hessian @ self.sigma_theta))


def least_squares_noise_floor(X: np.ndarray, y: np.ndarray, lr: float, batch_size: int, *,
                              replacement: bool = True, bias: bool = True) -> NoiseFloor:
    """The stationary covariance Σ_θ of SGD with step η = ``lr`` and batches of ``batch_size``
    on the mean squared error of a linear model (see the module docstring for the formulas)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n = X.shape[0]
    Xt = np.hstack([X, np.ones((n, 1))]) if bias else X
    H = 2.0 * (Xt.T @ Xt) / n
    theta, *_ = np.linalg.lstsq(Xt, y, rcond=None)
    r = Xt @ theta - y
    g = 2.0 * r[:, None] * Xt
    C = (g.T @ g) / n
    c = noise_factor(n, batch_size, replacement)
    A = np.eye(Xt.shape[1]) - lr * H
    lam = float(np.max(np.linalg.eigvalsh(H)))
    stable = 0.0 < lr * lam < 2.0
    sigma = solve_discrete_lyapunov(A, lr * lr * c * C) if stable else np.full_like(H, np.inf)
    return NoiseFloor(theta, H, C, c, lr, sigma, stable)
