"""What every model shares: the abstract methods each model writes (forward, gradients, the
training step's loss and gradient for one run and for K runs) and the readings built on them
(predictions, per-sample and mean losses, one-pass evaluation, accuracies, loss landscapes)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np

from ..chunks import mean_losses
from .elementwise import _POINTWISE, _dot_rows, _pointwise_inplace, bce_pointwise, sigmoid



class Model(ABC):
    """A differentiable model with its loss; parameters are one flat float64 vector (P,).

    Inputs: ``X`` is (n, d) float64, ``y`` is (n,) float64 (0.0/1.0 for ``bce``).
    No method validates shapes (they are on the training hot path); the caller passes arrays
    shaped as documented.
    """

    name: str
    loss_name: str
    n_features: int
    n_params: int
    param_names: tuple[str, ...]
    #: Working float64 numbers per sample and parameter vector of :meth:`forward_many` (sizes
    #: the pieces of :func:`engine.chunks.mean_losses`): the output; the MLP adds its hidden layer.
    many_floats: int = 1
    #: True when the training step (:meth:`loss_and_grad`, :meth:`loss_and_grad_runs`) takes its
    #: inputs with a trailing column of ones, (n, d + 1), as well as (n, d): the MLP's bias b1
    #: then rides in its first matrix product (engine/models/mlp.py). engine/batches.py puts
    #: each pass's data in that form for one run and for K runs alike.
    ones_column: bool = False

    # --- per model ---------------------------------------------------------------------------

    @abstractmethod
    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Initial parameters (P,) float64, drawn from ``rng`` where random."""

    @abstractmethod
    def forward(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Raw output (n,): the prediction f (mse) or the logit z (bce)."""

    @abstractmethod
    def forward_many(self, params_batch: np.ndarray, X: np.ndarray) -> np.ndarray:
        """Raw outputs (G, n) for G parameter vectors ``params_batch`` (G, P), vectorised over G."""

    @abstractmethod
    def per_sample_grads(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(n, P): row i is ∇_θ ℓ_i, all rows in one vectorised backward pass."""

    @abstractmethod
    def batch_grad(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(P,) gradient of the mean loss (1/n) Σ ℓ_i, computed directly (matrix products)."""

    @abstractmethod
    def loss_and_grad(
        self, params: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient in one forward + backward pass (the training hot path)."""

    @abstractmethod
    def loss_and_grad_runs(
        self, params_runs: np.ndarray, X_runs: np.ndarray, y_runs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad` for K runs at once: parameters (K, P), each run's batch
        (K, n, d) and targets (K, n) → losses (K,) and gradients (K, P).

        Row k is bit-identical to ``loss_and_grad(params_runs[k], X_runs[k], y_runs[k])`` (see
        the module's note on stacked products).
        """

    def loss_and_grad_of(self, params: np.ndarray, X: np.ndarray, y: np.ndarray,
                         indices: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`loss_and_grad` of the samples ``indices`` of (X, y), gathered (a step whose batch
        is not kept in pass order: engine.batches). A model that goes over a large batch in
        pieces may gather it a piece at a time, with the same numbers."""
        return self.loss_and_grad(params, np.take(X, indices, axis=0), np.take(y, indices))

    def loss_and_grad_runs_of(self, params_runs: np.ndarray, X: np.ndarray, y: np.ndarray,
                              indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad_runs` of each run's samples ``indices`` ((K, n)) of (X, y),
        gathered (as :meth:`loss_and_grad_of`)."""
        return self.loss_and_grad_runs(params_runs, np.take(X, indices, axis=0), np.take(y, indices))

    # --- shared ------------------------------------------------------------------------------

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """(n,) prediction f (mse) or probability σ(z) of class 1 (bce)."""
        out = self.forward(params, X)
        return sigmoid(out) if self.loss_name == "bce" else out

    def per_sample_loss(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(n,) per-sample losses ℓ_i: (f_i − y_i)² (mse) or the stable BCE on logits (bce)."""
        return _POINTWISE[self.loss_name](self.forward(params, X), y)

    def loss(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        """Mean loss L(θ) = (1/n) Σ ℓ_i (a forward pass only; no gradients).

        Called after every step on the whole training set, so it avoids ``np.mean``'s overhead:
        for mse the residual's dot product with itself, r·r / n.
        """
        n = y.shape[0]
        if n == 0:
            return float("nan")
        f = self.forward(params, X)
        if self.loss_name == "mse":
            f -= y
            return float(f @ f) / n
        return float(np.add.reduce(bce_pointwise(f, y))) / n

    def split_loss(self, params: np.ndarray, X: np.ndarray, y: np.ndarray, n_first: int) -> tuple[float, float]:
        """Mean losses of rows [:n_first] and [n_first:] from one forward pass (train and
        validation stacked), as :meth:`loss` would give each; NaN for an empty part."""
        f = self.forward(params, X)
        n_rest = y.shape[0] - n_first
        if self.loss_name == "mse":
            f -= y
            a, b = f[:n_first], f[n_first:]
            first = float(a @ a) / n_first if n_first else float("nan")
            rest = float(b @ b) / n_rest if n_rest else float("nan")
            return first, rest
        ell = bce_pointwise(f, y)
        first = float(np.add.reduce(ell[:n_first])) / n_first if n_first else float("nan")
        rest = float(np.add.reduce(ell[n_first:])) / n_rest if n_rest else float("nan")
        return first, rest

    def _forward_shared_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        """(K, n) raw outputs of K runs on one shared X, row k bit-identical to
        ``forward(params_runs[k], X)``."""
        raise NotImplementedError

    def output_bound_runs(self, params_runs: np.ndarray, x_absmax: np.ndarray) -> np.ndarray:
        """(K,) an upper bound of |raw output| over every input with |x_k| ≤ x_absmax[k]
        (inf or NaN when the parameters are not finite)."""
        raise NotImplementedError

    def surely_finite_loss_runs(self, params_runs: np.ndarray, x_absmax: np.ndarray,
                                y_absmax: float, n: int) -> np.ndarray:
        """(K,) True where the mean loss over n samples with |x| ≤ x_absmax, |y| ≤ y_absmax is
        certainly finite, from a bound on the outputs (no forward pass): every per-sample
        loss is at most (R + |y|)² (mse) or 2R + log 2 (bce) for |output| ≤ R, and the sum of n
        of them stays below 1e300, far from overflow (1.8e308) whatever the rounding. False
        means "not sure" (the caller then evaluates the loss)."""
        r = self.output_bound_runs(params_runs, x_absmax)
        with np.errstate(all="ignore"):
            if self.loss_name == "mse":
                worst = (r + y_absmax) ** 2
            else:
                worst = 2.0 * r + 1.0
            return worst * n < 1e300

    def finite_loss_radius(self, x_absmax: np.ndarray, y_absmax: float, n: int) -> float:
        """The largest power of two m such that every parameter vector with max|θ_p| ≤ m
        passes :meth:`surely_finite_loss_runs`: the bound is monotone in each |θ_p|, so the
        vector with every entry m is the worst case. One comparison of max|θ| with it clears
        all K runs at once."""
        def ok(m: float) -> bool:
            return bool(self.surely_finite_loss_runs(np.full((1, self.n_params), m), x_absmax, y_absmax, n)[0])

        if not ok(1.0):
            return 0.0
        # the largest e with ok(2^e), 2^e < 2e300, by bisection (ok is monotone in e)
        low, high = 0, 998           # ok(2^low) holds; 2^998 > 2e300 is past the search
        while high - low > 1:
            mid = (low + high) // 2
            if ok(math.ldexp(1.0, mid)):
                low = mid
            else:
                high = mid
        return math.ldexp(1.0, low)

    def split_loss_runs(
        self, params_runs: np.ndarray, X: np.ndarray, y: np.ndarray, n_first: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`split_loss` for K parameter vectors (K, P) on one shared data set: two (K,)
        arrays, row k bit-identical to ``split_loss(params_runs[k], X, y, n_first)``."""
        f = self._forward_shared_runs(params_runs, X)
        k = f.shape[0]
        n_rest = y.shape[0] - n_first
        if self.loss_name == "mse":
            f -= y
            first = _dot_rows(f[:, :n_first]) / n_first if n_first else np.full(k, np.nan)
            rest = _dot_rows(f[:, n_first:]) / n_rest if n_rest else np.full(k, np.nan)
            return first, rest
        ell = bce_pointwise(f, y)
        first = np.add.reduce(ell[:, :n_first], axis=1) / n_first if n_first else np.full(k, np.nan)
        rest = np.add.reduce(ell[:, n_first:], axis=1) / n_rest if n_rest else np.full(k, np.nan)
        return first, rest

    def evaluate(self, params: np.ndarray, X: np.ndarray, y: np.ndarray, n_first: int
                 ) -> tuple[float, float, float, float]:
        """(train loss, validation loss, train accuracy, validation accuracy) from ONE forward
        pass over rows [:n_first] (training) and [n_first:] (validation) stacked.

        The losses are :meth:`split_loss`'s; the accuracies are :meth:`accuracy`'s (class 1 when
        the logit z > 0), NaN for mse models or an empty part.
        """
        f = self.forward(params, X)
        n_rest = y.shape[0] - n_first
        nan = float("nan")
        if self.loss_name == "mse":
            f -= y
            a, b = f[:n_first], f[n_first:]
            first = float(a @ a) / n_first if n_first else nan
            rest = float(b @ b) / n_rest if n_rest else nan
            return first, rest, nan, nan
        hit = (f > 0.0) == (y > 0.5)
        acc = float(np.count_nonzero(hit[:n_first])) / n_first if n_first else nan
        vacc = float(np.count_nonzero(hit[n_first:])) / n_rest if n_rest else nan
        ell = bce_pointwise(f, y)
        first = float(np.add.reduce(ell[:n_first])) / n_first if n_first else nan
        rest = float(np.add.reduce(ell[n_first:])) / n_rest if n_rest else nan
        return first, rest, acc, vacc

    def evaluate_runs(self, params_runs: np.ndarray, X: np.ndarray, y: np.ndarray, n_first: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`evaluate` for K parameter vectors (K, P) on one shared data set: four (K,)
        arrays, row k bit-identical to ``evaluate(params_runs[k], X, y, n_first)``."""
        f = self._forward_shared_runs(params_runs, X)
        k = f.shape[0]
        n_rest = y.shape[0] - n_first
        nan = np.full(k, np.nan)
        if self.loss_name == "mse":
            f -= y
            first = _dot_rows(f[:, :n_first]) / n_first if n_first else nan
            rest = _dot_rows(f[:, n_first:]) / n_rest if n_rest else nan.copy()
            return first, rest, nan.copy(), nan.copy()
        hit = (f > 0.0) == (y > 0.5)
        acc = np.count_nonzero(hit[:, :n_first], axis=1) / n_first if n_first else nan.copy()
        vacc = np.count_nonzero(hit[:, n_first:], axis=1) / n_rest if n_rest else nan.copy()
        ell = bce_pointwise(f, y)
        first = np.add.reduce(ell[:, :n_first], axis=1) / n_first if n_first else nan.copy()
        rest = np.add.reduce(ell[:, n_first:], axis=1) / n_rest if n_rest else nan.copy()
        return first, rest, acc, vacc

    def per_sample_losses_many(
        self, params_batch: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> np.ndarray:
        """(G, n) per-sample losses ℓ_i(θ_g) for G parameter vectors (G, P)."""
        return _pointwise_inplace(self.loss_name, self.forward_many(params_batch, X), y)

    def losses_many(self, params_batch: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """(G,) mean loss L(θ_g) for each of G parameter vectors (G, P), vectorised over G.

        Used for loss landscapes (e.g. a 120×80 grid of parameter vectors): in pieces of
        bounded size whatever G and N, the numbers of ``per_sample_losses_many(...).mean(axis=1)``
        bit for bit (:func:`engine.chunks.mean_losses`).
        """
        return mean_losses(self, params_batch, X, y)

    def accuracy(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float | None:
        """Fraction of samples classified correctly, predicting class 1 when the logit z > 0
        (σ(z) > ½, as scikit-learn's LogisticRegression.predict); ``None`` for mse models."""
        if self.loss_name != "bce":
            return None
        if len(y) == 0:
            return None
        z = self.forward(params, X)
        return float(np.mean((z > 0.0) == (y > 0.5)))

    def accuracy_runs(self, params_runs: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
        """:meth:`accuracy` for K parameter vectors (K, P): (K,) fractions, or None for mse."""
        if self.loss_name != "bce" or len(y) == 0:
            return None
        z = self._forward_shared_runs(params_runs, X)
        return np.mean((z > 0.0) == (y > 0.5), axis=1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, loss={self.loss_name!r}, "
            f"n_features={self.n_features}, n_params={self.n_params})"
        )

