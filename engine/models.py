"""Models with hand-written, vectorised backpropagation (pure NumPy, float64).

Three models, each a function ``f(θ; x)`` of a flat parameter vector ``θ`` (shape ``(P,)``):

* ``linear``   f = x·w + b, loss ``mse``; allowed for regression and for 0/1 classification targets.
* ``logistic`` z = x·w + b (a logit), loss ``bce``; classification only.
* ``mlp``      one hidden layer: h = act(x W1ᵀ + b1), out = h W2ᵀ + b2 (a scalar); loss ``bce``
  for classification (out is a logit), ``mse`` for regression.

Flat parameter order (the order of ``params``, ``param_names``, gradients and traces):

* linear / logistic: the weights w_1 … w_d, then the bias b (no bias with ``bias=False``).
  Names: ``("w", "b")`` for one feature, ``("w1", …, "wd", "b")`` otherwise.
* mlp with H hidden units and d features: W1 row-major with shape (H, d) (like
  ``torch.nn.Linear(d, H).weight``), then b1 (H), then W2 (shape (1, H), like
  ``torch.nn.Linear(H, 1).weight``), then b2 (1). P = H·d + 2H + 1.
  Names: ``"W1[j,k]"`` (row j = hidden unit, column k = feature), ``"b1[j]"``, ``"W2[j]"``, ``"b2"``.

Losses (as PyTorch defines them, mean reduction over the n samples):

* ``mse``: ℓ_i = (f_i − y_i)², no ½ (``torch.nn.MSELoss``); ∂ℓ_i/∂f_i = 2(f_i − y_i).
* ``bce`` on logits (``torch.nn.BCEWithLogitsLoss``): ℓ_i = −[y_i log σ(z_i) + (1 − y_i) log(1 − σ(z_i))],
  evaluated in the overflow-free form ℓ_i = max(z_i, 0) − z_i y_i + log1p(exp(−|z_i|));
  ∂ℓ_i/∂z_i = σ(z_i) − y_i, with σ computed stably from e = exp(−|z|):
  σ(z) = 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0.

The mean loss is L(θ) = (1/n) Σ ℓ_i and its gradient is (1/n) Σ ∇ℓ_i (backpropagation by the
chain rule; see Goodfellow, Bengio, Courville, *Deep Learning*, §6.5). For the linear models
∇_w L = (2/n) Xᵀ(Xw + b − y) (mse) or (1/n) Xᵀ(σ(z) − y) (bce).

Initialisation: linear/logistic start at zeros. The mlp draws every weight and bias of a layer from
U(−1/√fan_in, 1/√fan_in) like ``torch.nn.Linear.reset_parameters`` (fan_in = d for layer 1, H for
layer 2), in the flat order W1, b1, W2, b2, from the ``np.random.Generator`` it is given.

Activations: tanh (derivative 1 − h²), relu (derivative 1 for a > 0 and 0 for a ≤ 0, so 0 at 0),
sigmoid (derivative h(1 − h)).

Many runs at once (``*_runs`` methods, used by :mod:`engine.ensemble`): the parameters of K runs
are a (K, P) array and each run's batch a (K, n, d) array. Row k of every result is
**bit-identical** to the single-run method on row k, because every operation is one of:

* elementwise arithmetic and ufuncs (+ − × ÷, exp, log1p, tanh, max) on C-contiguous arrays:
  the same operation on the same operands, whatever the shape;
* a product that the single run does with one BLAS call (``X @ w``, ``r @ r``, ``δ @ X``,
  ``Δᵀ @ X``) done as ``np.matmul`` on a stack: NumPy's matmul loops over the leading axis and
  makes, for each slice, the same BLAS call (gemv, dot or gemm, same sizes, same strides, same
  transpose flags) that the 2-D/1-D call makes — so the same kernel sums in the same order.
  A single gemm over all runs (``W Xᵀ``, as :meth:`Model.forward_many` does) would NOT do: it
  sums the d products of a row in another order than gemv (measured: differs in the last bit);
* a reduction along the last axis (``.sum(axis=1)``), which NumPy does per row with the same
  pairwise summation as the 1-D ``.sum()``; a reduction over the batch axis of (K, n, H) adds
  the rows in order, as the single run's ``.sum(axis=0)`` does;
* for one feature (d = 1), x·w is a single rounded product: gemv of one column returns
  1·(x·w) + 0, the same number as the elementwise product, which is much cheaper on a stack.

tests/test_ensemble.py checks this for every model, loss and activation with np.array_equal.
"""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from engine.errors import ScenarioError

from engine.names import ACTIVATIONS, MODELS  # noqa: E402  (the one list of names)
TASKS: tuple[str, ...] = ("regression", "classification")
HIDDEN_MIN = 1
HIDDEN_MAX = 256

# The batched mlp forward pass (losses_many) works in chunks of parameter vectors so that its
# (chunk, H, n) hidden activations stay below this many float64 numbers (~16 MB).
_MANY_CHUNK_ELEMENTS = 2_000_000


# --------------------------------------------------------------------------------------------
# Elementwise pieces
# --------------------------------------------------------------------------------------------


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1/(1 + exp(−z)), without overflow for any finite z.

    With e = exp(−|z|) ∈ (0, 1]: σ(z) = 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0.
    """
    e = np.exp(-np.abs(z))
    # max(e, [z ≥ 0]) is 1 where z ≥ 0 (as e ≤ 1) and e where z < 0: the numerator of both cases.
    num = np.maximum(e, z >= 0.0)
    e += 1.0
    num /= e
    return num


def mse_pointwise(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample squared error ℓ = (f − y)² (``torch.nn.MSELoss`` without the mean)."""
    r = f - y
    return r * r


def bce_pointwise(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy on a logit z (``torch.nn.BCEWithLogitsLoss``).

    ℓ = max(z, 0) − z·y + log1p(exp(−|z|)), which equals −[y log σ(z) + (1−y) log(1−σ(z))]
    and is finite for every finite z.
    """
    t = np.abs(z)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    t += np.maximum(z, 0.0)
    t -= z * y
    return t


def _pointwise_inplace(loss_name: str, f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The per-sample loss of ``loss_name``, overwriting the temporary output array ``f``.

    Same formulas as :func:`mse_pointwise` / :func:`bce_pointwise`, with fewer temporaries
    (used by the batched ``*_many`` methods on large (G, n) arrays).
    """
    if loss_name == "mse":
        f -= y
        return np.square(f, out=f)
    t = np.abs(f)
    np.negative(t, out=t)
    np.exp(t, out=t)
    np.log1p(t, out=t)
    t += np.maximum(f, 0.0)
    f *= y
    t -= f
    return t


def _bce_runs(z: np.ndarray, y_runs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(K,) mean bce on logits and (K, n) δ = (σ(z) − y)/n for K runs, the same operations as
    the single-run models' bce branch (stable: log1p(e^{−|z|}), σ from e^{−|z|})."""
    e = np.exp(-np.abs(z))
    loss = (np.maximum(z, 0.0) - z * y_runs + np.log1p(e)).sum(axis=1) / n
    delta = np.maximum(e, z >= 0.0)
    e += 1.0
    delta /= e
    delta -= y_runs
    delta *= 1.0 / n
    return loss, delta


def _dot_each(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(K,) a_k · b_k for two (K, n) arrays, one BLAS dot per row (as ``np.dot(a_k, b_k)``;
    ``np.vecdot`` where NumPy has it, 2.0 on, calls the same dot with less overhead)."""
    if _vecdot is not None:
        return _vecdot(a, b)
    return np.matmul(a[:, None, :], b[:, :, None])[:, 0, 0]


def _dot_rows(a: np.ndarray) -> np.ndarray:
    """(K,) a_k · a_k for the rows of a (K, n) array (as ``r @ r``)."""
    return _dot_each(a, a)


_vecdot = getattr(np, "vecdot", None)


def mse_dout(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂ℓ/∂f for ℓ = (f − y)²: 2(f − y)."""
    return 2.0 * (f - y)


def bce_dout(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∂ℓ/∂z for binary cross-entropy on a logit: σ(z) − y (stable σ)."""
    return sigmoid(z) - y


_POINTWISE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mse": mse_pointwise,
    "bce": bce_pointwise,
}


def _act_tanh(a: np.ndarray) -> np.ndarray:
    """tanh(a), computed in place (a is a temporary owned by the caller)."""
    return np.tanh(a, out=a)


def _act_relu(a: np.ndarray) -> np.ndarray:
    """max(a, 0), computed in place."""
    return np.maximum(a, 0.0, out=a)


def _act_sigmoid(a: np.ndarray) -> np.ndarray:
    """σ(a) (stable)."""
    return sigmoid(a)


def _dact_tanh(h: np.ndarray) -> np.ndarray:
    """tanh'(a) = 1 − tanh(a)² = 1 − h²."""
    return 1.0 - h * h


def _dact_relu(h: np.ndarray) -> np.ndarray:
    """relu'(a) = 1 if a > 0 else 0 (0 at a = 0); a > 0 exactly when h = relu(a) > 0."""
    return (h > 0.0).astype(np.float64)


def _dact_sigmoid(h: np.ndarray) -> np.ndarray:
    """σ'(a) = σ(a)(1 − σ(a)) = h(1 − h)."""
    return h * (1.0 - h)


_ACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": _act_tanh,
    "relu": _act_relu,
    "sigmoid": _act_sigmoid,
}
# Derivatives are written in terms of the activation's output h, so backprop needs no copy of a.
_DACT: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": _dact_tanh,
    "relu": _dact_relu,
    "sigmoid": _dact_sigmoid,
}


# --------------------------------------------------------------------------------------------
# The interface
# --------------------------------------------------------------------------------------------


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

        Used for loss landscapes (e.g. a 60×30 grid of parameter vectors).
        """
        return self.per_sample_losses_many(params_batch, X, y).mean(axis=1)

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


# --------------------------------------------------------------------------------------------
# Linear and logistic regression
# --------------------------------------------------------------------------------------------


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

    def forward(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """f = X·w + b, shape (n,)."""
        d = self.n_features
        out = X @ params[:d]
        if self.bias:
            out += params[d]
        return out

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
        z = X @ params[:d]
        if self.bias:
            z += params[d]
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
        """z = X·w + b for K runs: X is (K, n, d) or one shared (n, d); result (K, n).

        One feature: the elementwise product (exact, see the module note); else a stacked
        matmul, one gemv per run as in :meth:`forward`.
        """
        d = self.n_features
        if d == 1:
            x = X[..., 0]
            z = x * params_runs[:, 0:1]
        else:
            z = np.matmul(X, params_runs[:, :d, None])[:, :, 0]
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
            loss, delta = _bce_runs(z, y_runs, n)
        else:
            z -= y_runs
            loss = _dot_rows(z) / n
            z *= 2.0 / n
            delta = z
        if d == 1:
            grad[:, 0] = _dot_each(delta, X_runs[..., 0])
        else:
            np.matmul(delta[:, None, :], X_runs, out=grad[:, None, :d])
        if self.bias:
            np.add.reduce(delta, axis=1, out=grad[:, d])
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


# --------------------------------------------------------------------------------------------
# One-hidden-layer perceptron
# --------------------------------------------------------------------------------------------


class MLPModel(Model):
    """One hidden layer: a = X W1ᵀ + b1, h = act(a), out = h W2ᵀ + b2.

    Backward pass for δ_i = ∂ℓ_i/∂out_i (2(out − y) for mse, σ(out) − y for bce):
    ∂ℓ_i/∂b2 = δ_i, ∂ℓ_i/∂W2 = δ_i h_i, ∂ℓ_i/∂a_i = δ_i W2 ⊙ act'(a_i) =: Δ_i,
    ∂ℓ_i/∂b1 = Δ_i, ∂ℓ_i/∂W1 = Δ_i x_iᵀ (an outer product, H × d).
    """

    def __init__(self, loss_name: str, n_features: int, hidden: int, activation: str) -> None:
        self.name = "mlp"
        self.loss_name = loss_name
        self.n_features = n_features
        self.hidden = hidden
        self.activation = activation
        H, d = hidden, n_features
        self.n_params = H * d + 2 * H + 1
        # Offsets of the blocks in the flat vector: W1 | b1 | W2 | b2.
        self._w1_end = H * d
        self._b1_end = H * d + H
        self._w2_end = H * d + 2 * H
        self.param_names = (
            tuple(f"W1[{j},{k}]" for j in range(H) for k in range(d))
            + tuple(f"b1[{j}]" for j in range(H))
            + tuple(f"W2[{j}]" for j in range(H))
            + ("b2",)
        )
        self._act = _ACT[activation]
        self._dact = _DACT[activation]
        self._is_bce = loss_name == "bce"

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Like ``torch.nn.Linear``: each weight and bias of a layer ~ U(−1/√fan_in, 1/√fan_in);
        drawn in the flat order W1, b1 (fan_in = d), W2, b2 (fan_in = H)."""
        H, d = self.hidden, self.n_features
        k1 = 1.0 / np.sqrt(d)
        k2 = 1.0 / np.sqrt(H)
        return np.concatenate(
            [
                rng.uniform(-k1, k1, size=H * d),
                rng.uniform(-k1, k1, size=H),
                rng.uniform(-k2, k2, size=H),
                rng.uniform(-k2, k2, size=1),
            ]
        ).astype(np.float64, copy=False)

    def unpack(
        self, params: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Views (W1 (H, d), b1 (H,), W2 (H,), b2) into the flat vector (no copies)."""
        W1 = params[: self._w1_end].reshape(self.hidden, self.n_features)
        return W1, params[self._w1_end : self._b1_end], params[self._b1_end : self._w2_end], params[-1]

    def _hidden(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """h = act(X W1ᵀ + b1), shape (n, H)."""
        a = X @ params[: self._w1_end].reshape(self.hidden, self.n_features).T
        a += params[self._w1_end : self._b1_end]
        return self._act(a)

    def forward(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """out = h W2ᵀ + b2, shape (n,)."""
        h = self._hidden(params, X)
        out = h @ params[self._b1_end : self._w2_end]
        out += params[-1]
        return out

    def forward_many(self, params_batch: np.ndarray, X: np.ndarray) -> np.ndarray:
        """(G, n) outputs for G parameter vectors, in chunks of G that bound the memory.

        For a chunk of g vectors, A = W1 stacked to (g·H, d) times Xᵀ gives all hidden
        pre-activations (g, H, n) in one matrix product.
        """
        H, d = self.hidden, self.n_features
        G = params_batch.shape[0]
        n = X.shape[0]
        out = np.empty((G, n), dtype=np.float64)
        chunk = max(1, _MANY_CHUNK_ELEMENTS // max(1, H * n))
        XT = np.ascontiguousarray(X.T)
        for start in range(0, G, chunk):
            pb = params_batch[start : start + chunk]
            g = pb.shape[0]
            a = (pb[:, : self._w1_end].reshape(g * H, d) @ XT).reshape(g, H, n)
            a += pb[:, self._w1_end : self._b1_end, None]
            h = self._act(a)
            res = np.matmul(pb[:, None, self._b1_end : self._w2_end], h)[:, 0, :]
            res += pb[:, -1:]
            out[start : start + g] = res
        return out

    def _backward_delta(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray
    ]:
        """Forward pass, then δ (n,) = ∂ℓ/∂out, h (n, H) and Δ (n, H) = ∂ℓ/∂a."""
        h = self._hidden(params, X)
        W2 = params[self._b1_end : self._w2_end]
        out = h @ W2
        out += params[-1]
        delta = bce_dout(out, y) if self._is_bce else mse_dout(out, y)
        dA = np.multiply.outer(delta, W2)
        dA *= self._dact(h)
        return delta, h, dA

    def per_sample_grads(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row i: [Δ_i x_iᵀ (row-major), Δ_i, δ_i h_i, δ_i]."""
        H, d = self.hidden, self.n_features
        n = X.shape[0]
        delta, h, dA = self._backward_delta(params, X, y)
        grads = np.empty((n, self.n_params), dtype=np.float64)
        grads[:, : self._w1_end] = (dA[:, :, None] * X[:, None, :]).reshape(n, H * d)
        grads[:, self._w1_end : self._b1_end] = dA
        np.multiply(delta[:, None], h, out=grads[:, self._b1_end : self._w2_end])
        grads[:, -1] = delta
        return grads

    def batch_grad(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∇W1 = Δᵀ X / n, ∇b1 = Σ Δ / n, ∇W2 = δᵀ h / n, ∇b2 = Σ δ / n."""
        n = X.shape[0]
        delta, h, dA = self._backward_delta(params, X, y)
        grad = np.empty(self.n_params, dtype=np.float64)
        grad[: self._w1_end] = (dA.T @ X).ravel()
        grad[self._w1_end : self._b1_end] = dA.sum(axis=0)
        grad[self._b1_end : self._w2_end] = delta @ h
        grad[-1] = delta.sum()
        grad /= n
        return grad

    def loss_and_grad(
        self, params: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient in one forward + backward pass (see the class docstring)."""
        n = X.shape[0]
        inv_n = 1.0 / n
        w1_end, b1_end, w2_end = self._w1_end, self._b1_end, self._w2_end
        a = X @ params[:w1_end].reshape(self.hidden, self.n_features).T
        a += params[w1_end:b1_end]
        h = self._act(a)
        W2 = params[b1_end:w2_end]
        z = h @ W2
        z += params[-1]
        if self._is_bce:
            e = np.exp(-np.abs(z))
            loss = float((np.maximum(z, 0.0) - z * y + np.log1p(e)).sum()) / n
            delta = np.maximum(e, z >= 0.0)  # numerator of the stable σ(z), see sigmoid()
            e += 1.0
            delta /= e
            delta -= y
            delta *= inv_n
        else:
            z -= y
            loss = float(z @ z) * inv_n
            z *= 2.0 * inv_n
            delta = z
        dA = np.multiply.outer(delta, W2)
        dA *= self._dact(h)
        grad = np.empty(self.n_params, dtype=np.float64)
        grad[:w1_end] = (dA.T @ X).ravel()
        grad[w1_end:b1_end] = dA.sum(axis=0)
        grad[b1_end:w2_end] = delta @ h
        grad[-1] = delta.sum()
        return loss, grad


    def _hidden_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        """h = act(X W1ᵀ + b1) for K runs: X (K, n, d) or shared (n, d) → (K, n, H).
        One gemm per run (stacked matmul) with W1ᵀ as the same transposed view as :meth:`_hidden`."""
        k = params_runs.shape[0]
        W1 = params_runs[:, : self._w1_end].reshape(k, self.hidden, self.n_features)
        a = np.matmul(X, W1.transpose(0, 2, 1))
        a += params_runs[:, None, self._w1_end : self._b1_end]
        return self._act(a)

    def output_bound_runs(self, params_runs: np.ndarray, x_absmax: np.ndarray) -> np.ndarray:
        """|out| ≤ Σ_j |W2_j| max|h_j| + |b2| with max|h_j| = 1 (tanh, sigmoid) or the bound
        A_j = Σ_k |W1_jk| max|x_k| + |b1_j| of the pre-activation (relu); A_j is also required
        to stay below 1e300 (a finite pre-activation)."""
        k = params_runs.shape[0]
        with np.errstate(all="ignore"):
            W1 = np.abs(params_runs[:, : self._w1_end].reshape(k, self.hidden, self.n_features))
            a = W1 @ x_absmax + np.abs(params_runs[:, self._w1_end : self._b1_end])
            h = a if self.activation == "relu" else np.ones_like(a)
            r = np.sum(np.abs(params_runs[:, self._b1_end : self._w2_end]) * h, axis=1)
            r = r + np.abs(params_runs[:, -1])
            r = np.where(np.max(a, axis=1) < 1e300, r, np.inf)
        return r

    def _forward_shared_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        h = self._hidden_runs(params_runs, X)
        out = np.matmul(h, params_runs[:, self._b1_end : self._w2_end, None])[:, :, 0]
        out += params_runs[:, -1:]
        return out

    def loss_and_grad_runs(
        self, params_runs: np.ndarray, X_runs: np.ndarray, y_runs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad` for K runs, the same formulas step for step (see there)."""
        k, n = y_runs.shape
        inv_n = 1.0 / n
        w1_end, b1_end, w2_end = self._w1_end, self._b1_end, self._w2_end
        h = self._hidden_runs(params_runs, X_runs)
        W2 = params_runs[:, b1_end:w2_end]
        z = np.matmul(h, W2[:, :, None])[:, :, 0]
        z += params_runs[:, -1:]
        if self._is_bce:
            loss, delta = _bce_runs(z, y_runs, n)
        else:
            z -= y_runs
            loss = _dot_rows(z) * inv_n
            z *= 2.0 * inv_n
            delta = z
        dA = delta[:, :, None] * W2[:, None, :]
        dA *= self._dact(h)
        grad = np.empty((k, self.n_params), dtype=np.float64)
        grad[:, :w1_end] = np.matmul(dA.transpose(0, 2, 1), X_runs).reshape(k, w1_end)
        grad[:, w1_end:b1_end] = dA.sum(axis=1)
        grad[:, b1_end:w2_end] = np.matmul(delta[:, None, :], h)[:, 0, :]
        grad[:, -1] = delta.sum(axis=1)
        return loss, grad


# --------------------------------------------------------------------------------------------
# Factory
# --------------------------------------------------------------------------------------------


def _closest(value: str, allowed: tuple[str, ...]) -> str:
    """' Did you mean ...?' for the closest allowed name, or ''."""
    match = difflib.get_close_matches(value, allowed, n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def make_model(
    name: str,
    n_features: int,
    task: str,
    *,
    hidden: int = 8,
    activation: str = "tanh",
    bias: bool = True,
    dataset: str | None = None,
) -> Model:
    """Build a model for ``n_features`` inputs and a ``task`` ("regression"/"classification").

    * ``linear``: f = x·w + b with mse (both tasks; on 0/1 targets it is a least-squares
      classifier).
    * ``logistic``: z = x·w + b with bce; classification only.
    * ``mlp``: one hidden layer of ``hidden`` units (1..256) with ``activation``
      (tanh, relu, sigmoid); bce for classification, mse for regression.
    * ``bias=False`` drops b from linear/logistic (e.g. the one-parameter model y = w·x).
    * ``dataset`` (optional) is only used to name the dataset in error messages.

    Raises :class:`ScenarioError` naming the setting and what is allowed.
    """
    if not isinstance(name, str) or name not in MODELS:
        hint = _closest(name, MODELS) if isinstance(name, str) else ""
        raise ScenarioError("model", name, f"unknown model; allowed: {', '.join(MODELS)}{hint}")
    if task not in TASKS:
        raise ScenarioError("task", task, f"unknown task; allowed: {', '.join(TASKS)}")
    if not _is_int(n_features) or n_features < 1:
        raise ScenarioError("n_features", n_features, "a model needs at least 1 input feature")
    n_features = int(n_features)
    if not _is_int(hidden) or not HIDDEN_MIN <= hidden <= HIDDEN_MAX:
        raise ScenarioError(
            "hidden",
            hidden,
            f"the number of hidden units must be a whole number from {HIDDEN_MIN} to {HIDDEN_MAX}",
        )
    hidden = int(hidden)
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        hint = _closest(activation, ACTIVATIONS) if isinstance(activation, str) else ""
        raise ScenarioError(
            "activation", activation, f"unknown activation; allowed: {', '.join(ACTIVATIONS)}{hint}"
        )
    if not isinstance(bias, (bool, np.bool_)):
        raise ScenarioError("bias", bias, "must be true or false")

    if name == "linear":
        return LinearModel("linear", "mse", n_features, bias=bool(bias))
    if name == "logistic":
        if task != "classification":
            where = f"the dataset {dataset!r}" if dataset else "the dataset"
            raise ScenarioError(
                "model",
                "logistic",
                f"needs 0/1 targets; {where} is a regression task; use linear or mlp",
            )
        return LogisticModel(n_features, bias=bool(bias))
    if not bias:
        raise ScenarioError(
            "bias", False, "the mlp always has biases; bias=false applies to linear and logistic"
        )
    return MLPModel("bce" if task == "classification" else "mse", n_features, hidden, activation)
