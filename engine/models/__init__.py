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
  pairwise summation as the 1-D ``.sum()``.

A linear model with few features (d ≤ :data:`engine.models.linear.ELEMENTWISE_FEATURES`) computes
x·w as the sum of the d products in order, x₁w₁ + x₂w₂ + … (one feature: the single product
gemv also returns), in the one-run and the K-run methods alike: on a stack of many small
batches the products are much cheaper than one BLAS call per run. The MLP's backward pass
writes ∂L/∂W1 as W2 ⊙ (Dᵀ X) and ∂L/∂b1 as W2 ⊙ (1ᵀ D) with D = act′ ⊙ δ (one product less per
sample than forming Δ = δ W2 ⊙ act′ first, and a BLAS call where a sum down the batch was).

tests/test_ensemble.py checks this for every model, loss and activation with np.array_equal.

The package: :mod:`.elementwise` (losses, activations, σ, the row dots), :mod:`.base` (what
every model shares), :mod:`.linear` (linear and logistic regression), :mod:`.mlp`; this module
builds a model by name (:func:`make_model`).
"""


from __future__ import annotations

import difflib

import numpy as np

from mbsim.engine.errors import ScenarioError
from mbsim.engine.names import ACTIVATIONS, MODELS  # noqa: F401  (the one list of names)

from .base import Model
from .elementwise import (bce_dout, bce_pointwise, mse_dout, mse_pointwise, sigmoid)  # noqa: F401
from .linear import LinearModel, LogisticModel
from .mlp import MLPModel

TASKS: tuple[str, ...] = ("regression", "classification")
HIDDEN_MIN = 1
HIDDEN_MAX = 256

__all__ = ["ACTIVATIONS", "MODELS", "TASKS", "HIDDEN_MIN", "HIDDEN_MAX", "Model", "LinearModel",
           "LogisticModel", "MLPModel", "make_model", "sigmoid", "mse_pointwise", "bce_pointwise",
           "mse_dout", "bce_dout"]



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
