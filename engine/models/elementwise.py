"""The elementwise pieces of the models: the per-sample losses and their derivatives, the stable
sigmoid, the activations (written in place on temporaries the caller owns) and their
derivatives in terms of the activation's output, and the per-row dot products of K runs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np



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


#: bce_pointwise works on arrays above this many elements a piece of the samples at a time (each
#: piece's temporaries ≤ 128 KiB, reused from the heap), not with three whole-array temporaries:
#: a full-data evaluation at N = 10⁶ with a validation set held ~40 MB at once (issue 24)
BCE_WHOLE_ELEMENTS = 1 << 17
BCE_PIECE_ELEMENTS = 1 << 14


def bce_pointwise(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample binary cross-entropy on a logit z (``torch.nn.BCEWithLogitsLoss``).

    ℓ = max(z, 0) − z·y + log1p(exp(−|z|)), which equals −[y log σ(z) + (1−y) log(1−σ(z))]
    and is finite for every finite z. ``z`` is (n,) or (K, n) against ``y`` (n,). Every element
    is computed alone, so a large array is done in pieces of samples into the result: the same
    numbers (tests/test_models.py), in bounded memory.
    """
    if z.size <= BCE_WHOLE_ELEMENTS or z.ndim not in (1, 2) or y.shape != z.shape[-1:]:
        return _bce_whole(z, y)
    n = z.shape[-1]
    step = max(1, BCE_PIECE_ELEMENTS // max(1, z.size // n))
    first = _bce_whole(z[..., :step], y[:step])
    out = np.empty(z.shape, dtype=first.dtype)       # the type the one-array formula gives
    out[..., :step] = first
    for a in range(step, n, step):
        out[..., a:a + step] = _bce_whole(z[..., a:a + step], y[a:a + step])
    return out


def _bce_whole(z: np.ndarray, y: np.ndarray) -> np.ndarray:
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


def _bce_runs(z: np.ndarray, y_runs: np.ndarray, n: int,
              sum_delta: bool = False, of: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(K,) mean bce on logits, (K, n) δ = (σ(z) − y)/n for K runs and, with ``sum_delta``, (K,)
    Σ_i δ_i (the output bias's gradient; else None): the values of the single-run models' bce
    branch (stable: log1p(e^{−|z|}), σ from e^{−|z|}), bit for bit, in fewer NumPy calls.

    * σ's numerator max(e, [z ≥ 0]) is taken as max(e, sign z): the same number for every z
      (z > 0: 1; z < 0: e, as e > 0 ≥ −1; z = ±0: e = 1; NaN: NaN), without the bool → float
      cast (tests/test_models.py checks it on special values).
    * With ``sum_delta`` and n ≥ 2, the loss terms and δ are the two halves of one (2, K, n)
      array, and one reduction sums its 2K rows: each row summed alone, pairwise, as the lone
      run's ``.sum()`` of its n values (a reduction's cost is per row, not per call).
    * ``of``: z holds n samples of a batch of ``of`` (a step in pieces): δ is scaled by 1/of,
      and the loss terms' (K,) sums are returned, for the caller to add up and divide."""
    k = z.shape[0]
    scale = n if of is None else of
    both = np.empty((2, k, n)) if sum_delta and n > 1 else None
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    terms = np.maximum(z, 0.0, out=None if both is None else both[0])
    terms -= z * y_runs
    terms += np.log1p(e)
    delta = np.sign(z, out=None if both is None else both[1])
    np.maximum(e, delta, out=delta)
    e += 1.0
    delta /= e
    delta -= y_runs
    delta *= 1.0 / scale
    if both is None:
        total = np.add.reduce(terms, axis=1)
        return (total / n if of is None else total), delta, (np.add.reduce(delta, axis=1) if sum_delta else None)
    sums = np.add.reduce(both, axis=2)
    return (sums[0] / n if of is None else sums[0]), delta, sums[1]


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

