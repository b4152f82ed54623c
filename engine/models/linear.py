"""Linear and logistic regression: f = x·w + b with mse, or the logit z = x·w + b with bce."""

from __future__ import annotations

import numpy as np

from .base import Model
from .elementwise import _bce_runs, _dot_each, _dot_rows, bce_dout, mse_dout

#: Up to this many features x·w is the sum of the d products in order (x₁w₁ + x₂w₂ + …), for one
#: run and for K runs alike; more features: one BLAS call per run (gemv).
ELEMENTWISE_FEATURES = 4


class LinearModel(Model):
    """f = X·w + b: ``linear`` (mse) or ``logistic`` (bce on the logit z = X·w + b).

    Parameters: w_1 … w_d, then b (if ``bias``). Gradient of the mean loss:
    ∇_w L = (1/n) Xᵀ δ and ∂L/∂b = (1/n) Σ δ_i with δ_i = ∂ℓ_i/∂f_i
    (2(f_i − y_i) for mse, σ(z_i) − y_i for bce).
    """

    def __init__(self, name: str, loss_name: str, n_features: int, bias: bool = True) -> None:
        self.name = name
        self.loss_name = loss_name
        self.n_features = n_features
        self.bias = bias
        self.n_params = n_features + (1 if bias else 0)
        if n_features == 1:
            weights: tuple[str, ...] = ("w",)
        else:
            weights = tuple(f"w{k + 1}" for k in range(n_features))
        self.param_names = weights + (("b",) if bias else ())
        self._is_bce = loss_name == "bce"

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Zeros (P,): the usual starting point for linear and logistic regression."""
        return np.zeros(self.n_params, dtype=np.float64)

    def _linear(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """x·w + b for each row of X (n, d): the d products summed in order for few features
        (:data:`ELEMENTWISE_FEATURES`; one feature: the product itself, as gemv gives it), else
        gemv. :meth:`_linear_runs` makes the same operations for K runs."""
        d = self.n_features
        if d <= ELEMENTWISE_FEATURES:
            z = X[:, 0] * params[0]
            for k in range(1, d):
                z += X[:, k] * params[k]
        else:
            z = X @ params[:d]
        if self.bias:
            z += params[d]
        return z

    def forward(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """f = X·w + b, shape (n,)."""
        return self._linear(params, X)

    def forward_many(self, params_batch: np.ndarray, X: np.ndarray) -> np.ndarray:
        """F[g, i] = x_i·w_g + b_g, shape (G, n), as one matrix product W Xᵀ."""
        d = self.n_features
        out = params_batch[:, :d] @ X.T
        if self.bias:
            out += params_batch[:, d : d + 1]
        return out

    def _dout(self, f: np.ndarray, y: np.ndarray) -> np.ndarray:
        return bce_dout(f, y) if self._is_bce else mse_dout(f, y)

    def per_sample_grads(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row i: ∇_w ℓ_i = δ_i x_i and ∂ℓ_i/∂b = δ_i."""
        d = self.n_features
        delta = self._dout(self.forward(params, X), y)
        grads = np.empty((X.shape[0], self.n_params), dtype=np.float64)
        np.multiply(delta[:, None], X, out=grads[:, :d])
        if self.bias:
            grads[:, d] = delta
        return grads

    def batch_grad(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∇_w L = Xᵀδ / n, ∂L/∂b = Σδ / n."""
        d = self.n_features
        delta = self._dout(self.forward(params, X), y)
        delta /= X.shape[0]
        grad = np.empty(self.n_params, dtype=np.float64)
        grad[:d] = delta @ X
        if self.bias:
            grad[d] = delta.sum()
        return grad

    def loss_and_grad(
        self, params: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Mean loss and gradient in one pass.

        mse: r = Xw + b − y, L = r·r / n, ∇_w L = (2/n) Xᵀr, ∂L/∂b = (2/n) Σ r.
        bce: e = exp(−|z|), L = mean(max(z,0) − z y + log1p(e)), δ = σ(z) − y,
        ∇_w L = Xᵀδ / n, ∂L/∂b = Σδ / n.
        """
        d = self.n_features
        n = X.shape[0]
        if d == 1:               # the product itself (the hot path of the worked example)
            z = X[:, 0] * params[0]
            if self.bias:
                z += params[1]
        else:
            z = self._linear(params, X)
        grad = np.empty(self.n_params, dtype=np.float64)
        if self._is_bce:
            e = np.exp(-np.abs(z))
            loss = float((np.maximum(z, 0.0) - z * y + np.log1p(e)).sum()) / n
            delta = np.maximum(e, z >= 0.0)  # numerator of the stable σ(z), see sigmoid()
            e += 1.0
            delta /= e
            delta -= y
            delta *= 1.0 / n
        else:
            z -= y  # z now holds the residual r
            loss = float(z @ z) / n
            z *= 2.0 / n
            delta = z
        np.dot(delta, X, out=grad[:d])
        if self.bias:
            grad[d] = np.add.reduce(delta)
        return loss, grad


    def _linear_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        """z = X·w + b for K runs: X is (K, n, d) or one shared (n, d); result (K, n), row k the
        same operations as :meth:`_linear` on run k (the products in order for few features,
        else a stacked matmul: one gemv per run)."""
        d = self.n_features
        if d <= ELEMENTWISE_FEATURES:
            z = X[..., 0] * params_runs[:, 0:1]
            for k in range(1, d):
                z += X[..., k] * params_runs[:, k:k + 1]
        else:
            z = np.matmul(X, params_runs[:, :d, None])[..., 0]
        if self.bias:
            z += params_runs[:, d : d + 1]
        return z

    def _forward_shared_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self._linear_runs(params_runs, X)

    def output_bound_runs(self, params_runs: np.ndarray, x_absmax: np.ndarray) -> np.ndarray:
        """|x·w + b| ≤ Σ_k |w_k| max|x_k| + |b|."""
        d = self.n_features
        with np.errstate(all="ignore"):
            r = np.abs(params_runs[:, :d]) @ x_absmax
            if self.bias:
                r = r + np.abs(params_runs[:, d])
        return r

    def loss_and_grad_runs(
        self, params_runs: np.ndarray, X_runs: np.ndarray, y_runs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad` for K runs, the same formulas step for step (see there)."""
        d = self.n_features
        k, n = y_runs.shape
        z = self._linear_runs(params_runs, X_runs)
        grad = np.empty((k, self.n_params), dtype=np.float64)
        if self._is_bce:
            loss, delta, delta_sum = _bce_runs(z, y_runs, n, self.bias)
        else:
            z -= y_runs
            loss = _dot_rows(z) / n
            z *= 2.0 / n
            delta, delta_sum = z, None
        if d == 1:
            grad[:, 0] = _dot_each(delta, X_runs[..., 0])
        else:
            np.matmul(delta[:, None, :], X_runs, out=grad[:, None, :d])
        if self.bias:
            if delta_sum is None:
                np.add.reduce(delta, axis=1, out=grad[:, d])
            else:
                grad[:, d] = delta_sum
        return loss, grad

    @property
    def runs_by_sample(self) -> bool:
        """True where :meth:`loss_and_grad_runs_by_sample` applies: one feature, squared error."""
        return self.n_features == 1 and not self._is_bce

    def loss_and_grad_runs_by_sample(
        self, params_runs: np.ndarray, x_by_sample: np.ndarray, y_by_sample: np.ndarray,
        x_runs: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad_runs` for one feature and squared error, the batch's x given
        run-major (``x_runs``: (K, n)) and x, y sample-major (``x_by_sample``, ``y_by_sample``:
        (n, K), sample i of run k at [i, k]).

        The same operations on the same numbers: r = x·w + b − y elementwise, run along the K
        runs (faster for a small batch); then r is copied run-major so that L = r·r / n and
        ∇_w L = (2/n) r·x are each the lone run's BLAS dot. ∂L/∂b = (2/n) Σ r: for n < 8 a sum
        down the n rows, in order, which is the order np.add.reduce takes for fewer than 8
        values (its pairwise summation starts at 8); else the run-major reduce.
        """
        n, k = y_by_sample.shape
        rs = x_by_sample * params_runs[:, 0]
        if self.bias:
            rs += params_runs[:, 1]
        rs -= y_by_sample
        r = rs.T.copy()          # run-major (a copy: rs is scaled again below)
        loss = _dot_rows(r) / n
        scale = 2.0 / n
        r *= scale
        grad = np.empty((k, self.n_params), dtype=np.float64)
        grad[:, 0] = _dot_each(r, x_runs)
        if self.bias:
            if n < 8:
                rs *= scale
                np.add.reduce(rs, axis=0, out=grad[:, 1])
            else:
                np.add.reduce(r, axis=1, out=grad[:, 1])
        return loss, grad


class LogisticModel(LinearModel):
    """Logistic regression: logit z = x·w + b, loss bce, predict gives σ(z)."""

    def __init__(self, n_features: int, bias: bool = True) -> None:
        super().__init__("logistic", "bce", n_features, bias=bias)

