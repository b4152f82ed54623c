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

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .chunks import least_squares
from .pieces import scope as pieces_scope
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
    theta, gram, pieces = least_squares(X, y, bias=bias)
    if pieces == 1:               # small data: the one array, as always
        Xt = np.hstack([X, np.ones((n, 1))]) if bias else X
        H = 2.0 * (Xt.T @ Xt) / n
        r = Xt @ theta - y
        g = 2.0 * r[:, None] * Xt
        C = (g.T @ g) / n
    else:                         # in pieces of rows (chunks.least_squares): the same sums
        H = 2.0 * gram / n
        C = np.zeros_like(gram)
        rows = -(-n // pieces)
        with pieces_scope():
            for a in range(0, n, rows):
                Xc = X[a:a + rows]
                Xt = np.hstack([Xc, np.ones((Xc.shape[0], 1))]) if bias else Xc
                r = Xt @ theta - y[a:a + rows]
                g = 2.0 * r[:, None] * Xt
                C += g.T @ g
        C /= n
    c = noise_factor(n, batch_size, replacement)
    A = np.eye(Xt.shape[1]) - lr * H
    lam = float(np.max(np.linalg.eigvalsh(H)))
    stable = 0.0 < lr * lam < 2.0
    sigma = solve_discrete_lyapunov(A, lr * lr * c * C) if stable else np.full_like(H, np.inf)
    return NoiseFloor(theta, H, C, c, lr, sigma, stable)


class CloudReadings:
    """The noise cloud's readings of an :class:`~engine.ensemble.Ensemble` (mixed into it): the
    spread of the K parameter vectors, the predicted stationary state and why there is none,
    the full-batch GD path from the shared start. Reads the ensemble's public ``params``,
    ``model``, ``scenarios``, ``X``, ``y`` and ``initial_params``."""

    _floor_cache: dict
    _reference_cache: dict
    params: np.ndarray
    model: Any
    scenarios: list
    X: np.ndarray
    y: np.ndarray
    initial_params: np.ndarray

    # --- the cloud (SCIENCE.md §5) ------------------------------------------------------------
    def spread(self, params: np.ndarray | None = None) -> float:
        """tr Cov of the K parameter vectors: Σ_p var_p with divisor K − 1 (NaN for K = 1).

        Computed about the first run (variance does not change under a shift): K identical runs,
        as at step 0, have a spread of exactly 0, not the rounding of their mean."""
        p = self.params if params is None else params
        if p.shape[0] < 2:
            return math.nan
        return float(np.sum(np.var(p - p[:1], axis=0, ddof=1)))

    def noise_floor(self, member: int = 0) -> NoiseFloor | None:
        """SCIENCE.md §5's predicted stationary state for member ``member``'s learning rate and
        batch (B × accumulate; c = 1/B with ``replacement`` sampling, else the finite population
        factor); None unless the model is least squares (linear, mse)."""
        if self.model.name != "linear" or self.model.loss_name != "mse":
            return None
        sc = self.scenarios[member]
        key = (sc.lr, sc.batch_size * sc.accumulate, sc.sampling == "replacement")
        cache = self._floor_cache
        if key not in cache:
            cache[key] = least_squares_noise_floor(self.X, self.y, key[0], key[1], replacement=key[2],
                                                   bias=getattr(self.model, "bias", True))
        return cache[key]

    _CLOUD_SETTINGS = ("lr", "batch_size", "accumulate", "sampling", "optimizer", "momentum",
                       "weight_decay", "schedule")

    def prediction_note(self) -> str:
        """Why :meth:`predicted_spread` is None ("" when there is a prediction; a caveat for
        sampling without replacement, whose prediction uses the finite population factor)."""
        model = self.model
        if model.name != "linear" or model.loss_name != "mse":
            return (f"no prediction: the stationary spread is predicted for least squares (a linear "
                    f"model with mse loss); this is {model.name} with {model.loss_name}")
        sc = self.scenarios[0]
        for name in self._CLOUD_SETTINGS:
            values = {getattr(s, name) for s in self.scenarios}
            if len(values) > 1:
                return f"no prediction: the runs differ in {name} ({', '.join(sorted(map(str, values)))})"
        if sc.optimizer != "sgd" or (sc.momentum or 0) > 0 or (sc.weight_decay or 0) > 0:
            what = sc.optimizer if sc.optimizer != "sgd" else (
                "sgd with momentum" if (sc.momentum or 0) > 0 else "sgd with weight decay")
            return f"no prediction: it is for plain SGD (θ ← θ − η ĝ); these runs use {what}"
        if sc.schedule != "constant":
            return f"no prediction: it needs a constant learning rate; this one follows the {sc.schedule} schedule"
        if sc.sampling == "sequential":
            return "no prediction: sequential sampling gives every run the same batches, so the runs do not spread"
        nf = self.noise_floor(0)
        if nf is None or not nf.stable:
            lam = float(np.max(np.linalg.eigvalsh(nf.hessian))) if nf is not None else math.nan
            return (f"no prediction: lr × λ_max = {sc.lr * lam:.3g} is not between 0 and 2, so the "
                    "runs have no stationary state (they diverge)")
        if sc.sampling != "replacement":
            return (f"predicted for independent batches (factor (N−B)/(B(N−1)) without replacement); "
                    f"{sc.sampling} sampling makes an epoch's batches anti-correlated, so the cloud "
                    "sits lower: compare with replacement sampling")
        return ""

    def predicted_spread(self) -> NoiseFloor | None:
        """SCIENCE.md §5's predicted stationary state (:class:`NoiseFloor`; its ``spread`` is tr Σ_θ,
        to compare with :meth:`spread`) for the current lr, batch (B × accumulate) and sampling of
        member 0, when the prediction applies: least squares, plain constant-step SGD, every
        member with those settings, a stable step; else None and :meth:`prediction_note` says why."""
        note = self.prediction_note()
        if note.startswith("no prediction"):
            return None
        return self.noise_floor(0)

    def reference_path(self, max_steps: int = 2000) -> np.ndarray:
        """Full-batch GD from the shared start with member 0's current learning rate, one update
        per epoch, as ``Simulation.reference_path`` (which keeps the first lr): (k + 1, P),
        computed once per (lr, max_steps, epochs) and cached."""
        sc = self.scenarios[0]
        key = (sc.lr, int(max_steps), sc.epochs)
        cache = self._reference_cache
        if key not in cache:
            steps = min(int(max_steps), max(sc.epochs, 50))
            from .landscape import gd_path

            cache[key] = gd_path(self.model, self.X, self.y, self.initial_params, sc.lr, steps)
        return cache[key]

    def quantiles(self, values: np.ndarray, qs: Sequence[float] = (0.1, 0.5, 0.9)) -> np.ndarray:
        """Quantiles of a per-member array over the finite values (NaN if none)."""
        v = values[np.isfinite(values)]
        if v.size == 0:
            return np.full(len(qs), np.nan)
        return np.quantile(v, qs)
