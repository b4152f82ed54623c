"""Full-data readings in bounded memory: the mean loss at many parameter vectors, in chunks.

A loss landscape asks for the mean loss L(θ_g) = (1/N) Σ_i ℓ_i(θ_g) at G parameter vectors
(3480 at 120×40). Computed at once that is a (G, N) array: 28 KB a sample, 27 GB at N = 10⁶.
:func:`mean_losses` computes the same numbers from pieces of at most :data:`CHUNK_ELEMENTS`
floats (times the model's working floats per sample, :attr:`Model.many_floats`), so its memory
does not grow with N or G.

Exact, bit for bit. A row's mean is NumPy's pairwise sum divided by N: for m ≥ 8 values
``add.reduce`` returns sum(first n₂) + sum(rest) with n₂ = ⌊m/2⌋ rounded down to a multiple
of 8, recursively, down to blocks of at most 128 (numpy/_core/src/umath/loops_utils.h.src,
``pairwise_sum``); each row of a 2-D array is summed alone, whatever the rows around it. So
the rows are split into groups freely, and the samples are split where that recursion splits
them: a piece's ``add.reduce`` is then the very sub-sum the whole row's would have formed, and
the pieces are added back in the order the recursion adds them. Each per-sample loss
ℓ_i(θ_g) is the model's own elementwise formula on the same inputs; only where a model's
forward pass is a BLAS matrix product over several features may the product of a piece of rows
round differently from the whole's (BLAS picks its kernel by the matrices' sizes), and then a
mean can differ in its last bit or two. One feature (an elementwise product) is bit for bit;
tests/test_memory_landscape.py checks both.

Small problems (G × N × floats within the bound) take the one-array path as before.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .pieces import check as pieces_check
from .pieces import scope as pieces_scope

#: The largest piece, in float64 numbers times the model's working floats per sample (~4 MB):
#: a piece's temporaries (the outputs, the bce's one temporary, the MLP's hidden layer) stay
#: within a few times this.
CHUNK_ELEMENTS = 1 << 19

#: NumPy's pairwise summation sums blocks of up to this many values directly.
_PAIRWISE_BLOCK = 128


def pairwise_split(m: int) -> int:
    """Where NumPy's pairwise sum of m > 128 values splits them: ⌊m/2⌋ rounded down to a
    multiple of 8 (the first part's length)."""
    half = m // 2
    return half - half % 8


def pairwise_sums(n: int, most: int, piece_sums: Any) -> np.ndarray:
    """Σ over n samples as NumPy's pairwise ``add.reduce`` forms it, from the sums of pieces:
    ``piece_sums(a, b)`` gives the (g,) ``add.reduce`` of samples [a, b) for every row; the
    pieces are cut and added back as the recursion does (see the module docstring)."""
    most = max(int(most), _PAIRWISE_BLOCK)

    def total(a: int, b: int) -> np.ndarray:
        m = b - a
        if m <= most:
            return piece_sums(a, b)
        h = pairwise_split(m)
        return total(a, a + h) + total(a + h, b)

    return total(0, n)


def mean_losses(model: Any, params_batch: np.ndarray, X: np.ndarray, y: np.ndarray,
                elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """(G,) mean loss L(θ_g) over (X, y) for each row of ``params_batch`` (G, P), from pieces
    of at most ``elements`` float64 numbers per working float of the model; the numbers of
    ``model.per_sample_losses_many(params_batch, X, y).mean(axis=1)``, bit for bit (see the
    module docstring)."""
    params_batch = np.asarray(params_batch, dtype=np.float64)
    G, n = params_batch.shape[0], int(y.shape[0])
    width = max(1, int(getattr(model, "many_floats", 1)))
    budget = max(1, int(elements) // width)            # values of (rows × samples) in a piece
    if G * n <= budget or n == 0:
        return model.per_sample_losses_many(params_batch, X, y).mean(axis=1)
    most = max(budget, _PAIRWISE_BLOCK)                # samples in a piece
    rows = max(1, budget // min(n, most))              # rows in a piece
    out = np.empty(G, dtype=np.float64)
    with pieces_scope():
        for start in range(0, G, rows):
            pb = params_batch[start:start + rows]

            def piece(a: int, b: int, pb: np.ndarray = pb) -> np.ndarray:
                pieces_check()           # given up (engine.pieces.stop_when): Cancelled
                ell = model.per_sample_losses_many(pb, X[a:b], y[a:b])
                return np.add.reduce(ell, axis=1)

            out[start:start + rows] = pairwise_sums(n, most, piece)
    out /= n
    return out


#: A batch's loss and gradient over more than this many samples (divided by the model's working
#: floats a sample) are summed from pieces of rows (:func:`batch_loss_and_grad`): a batch of
#: 10⁶ gathered whole was 16 MB of inputs and targets, and as much again of working arrays.
GRADIENT_ROWS = 1 << 16


def batch_loss_and_grad(model: Any, params: np.ndarray, X: np.ndarray, y: np.ndarray,
                        indices: np.ndarray | None = None,
                        rows: int = GRADIENT_ROWS) -> tuple[float, np.ndarray]:
    """(L, ∇L) of the mean loss at ``params`` over the samples ``indices`` of (X, y) (all of
    them when None): ``model.loss_and_grad`` itself, the numbers a step over that batch takes,
    where they fit one piece of ``rows`` samples (divided by :attr:`Model.many_floats`); else
    the pieces' own, gathered one piece at a time and weighted by their share n_c/n:
    L = Σ_c (n_c/n) L_c and ∇L = Σ_c (n_c/n) ∇L_c (the same sums in another order: a few
    units in the last place), so the batch's inputs are never gathered whole. A reading for the
    panels (the phase view's L_b and ĝ, the landscape's arrows, the lens's slopes, the noise
    readout's ĝ, the reference path); the step keeps its own arithmetic."""
    with np.errstate(all="ignore"):      # a diverged θ: ∞ or NaN is the reading
        return _batch_loss_and_grad(model, params, X, y, indices, rows)


def _batch_loss_and_grad(model: Any, params: np.ndarray, X: np.ndarray, y: np.ndarray,
                         indices: np.ndarray | None, rows: int) -> tuple[float, np.ndarray]:
    n = int(X.shape[0] if indices is None else len(indices))
    piece = max(64, int(rows) // max(1, int(getattr(model, "many_floats", 1))))

    def part(a: int, b: int) -> tuple[float, np.ndarray]:
        if indices is None:
            return model.loss_and_grad(params, X[a:b], y[a:b])
        return model.loss_and_grad_of(params, X, y, indices[a:b])      # gathered

    if n <= piece:
        loss, grad = part(0, n)
        return float(loss), grad
    loss, total = 0.0, np.zeros(int(model.n_params), dtype=np.float64)
    with pieces_scope():
        for a in range(0, n, piece):
            pieces_check()           # given up (engine.pieces.stop_when): Cancelled
            b = min(n, a + piece)
            part_loss, part_grad = part(a, b)
            share = (b - a) / n
            loss += float(part_loss) * share
            total += part_grad * share
    return loss, total


def mean_gradient(model: Any, params: np.ndarray, X: np.ndarray, y: np.ndarray,
                  indices: np.ndarray | None = None, rows: int = GRADIENT_ROWS) -> np.ndarray:
    """∇L alone of :func:`batch_loss_and_grad`."""
    return batch_loss_and_grad(model, params, X, y, indices, rows)[1]


def rows_per_piece(model: Any, n: int, elements: int = CHUNK_ELEMENTS) -> int:
    """How many parameter vectors a piece over all n samples takes: ``elements`` float64
    numbers per working float of the model (at least one row: a row's own n outputs are as
    large as the targets y)."""
    width = max(1, int(getattr(model, "many_floats", 1)))
    return max(1, int(elements) // max(1, n * width))


def by_rows(fn: Any, params: np.ndarray, rows: int) -> tuple[np.ndarray, ...]:
    """``fn(params)`` (a tuple of (K,) arrays, row k from params[k] alone) in groups of at most
    ``rows`` rows, put back together: the same numbers, since no row depends on another."""
    k = params.shape[0]
    if k <= rows:
        return fn(params)
    parts = [fn(params[a:a + rows]) for a in range(0, k, rows)]
    return tuple(np.concatenate(col) for col in zip(*parts))


#: Above this condition number of X̃ᵀX̃ (cond(X̃)² ≈ 1e8: the normal equations would keep only
#: half the digits, and a rank-deficient X̃ looks like this) the fit in pieces is a QR.
NORMAL_EQUATIONS_COND = 1e8


def least_squares(X: np.ndarray, y: np.ndarray, bias: bool = True,
                  elements: int = CHUNK_ELEMENTS) -> tuple[np.ndarray, np.ndarray, int]:
    """(θ*, X̃ᵀX̃, pieces) of the least-squares fit y ≈ X̃θ with X̃ = (X, 1) (or X without a bias).

    Where n × (d + 1) is within ``elements`` floats: ``np.linalg.lstsq`` on X̃ itself, as
    before (pieces = 1). Beyond it X̃ (16 MB at N = 10⁶, and lstsq's own copy and work) is never
    formed: X̃ᵀX̃ and X̃ᵀy are summed over pieces of rows and θ* solves the normal equations
    X̃ᵀX̃ θ = X̃ᵀy; the two paths agree to a relative cond(X̃)²·ε (≈ 1e-15 for the data sets
    mbsim draws). When X̃ᵀX̃ is ill-conditioned (above :data:`NORMAL_EQUATIONS_COND`; X̃ without
    full rank, e.g. a feature that is the same for every sample) the normal equations cannot be
    trusted (their null eigenvalue is rounding, far above lstsq's cutoff, so lstsq on them gives
    an arbitrary point of the valley): a second pass factors (X̃ y) = Q (R z; 0 ρ) piece by piece
    (a tall-skinny QR: the R so far stacked on the next piece and factored again, Q never formed)
    and θ* = lstsq(R, z) with lstsq's cutoff for X̃, ε·max(n, d + 1)·σ_max (R has X̃'s singular
    values): the minimum-norm solution, as lstsq on X̃ gives. tests/test_memory_readings.py
    checks both against extended-precision closed forms."""
    n, d = X.shape
    width = d + (1 if bias else 0)
    if n * width <= elements:
        A = np.hstack([X, np.ones((n, 1))]) if bias else X
        theta, *_ = np.linalg.lstsq(A, y, rcond=None)
        return theta.astype(float), A.T @ A, 1
    rows = max(1, int(elements) // width)
    gram = np.zeros((width, width))
    rhs = np.zeros(width)
    pieces = 0
    with pieces_scope():
        for a in range(0, n, rows):
            Xc, yc = X[a:a + rows], y[a:a + rows]
            A = np.hstack([Xc, np.ones((Xc.shape[0], 1))]) if bias else Xc
            gram += A.T @ A
            rhs += A.T @ yc
            pieces += 1
    eig = np.linalg.eigvalsh(gram)
    if eig[-1] > 0 and eig[0] > eig[-1] / NORMAL_EQUATIONS_COND:
        theta, *_ = np.linalg.lstsq(gram, rhs, rcond=None)
        return theta.astype(float), gram, pieces
    rows = max(1, int(elements) // (width + 1))
    R = np.zeros((0, width + 1))
    with pieces_scope():
        for a in range(0, n, rows):
            Xc, yc = X[a:a + rows], y[a:a + rows][:, None]
            A = np.hstack([Xc, np.ones((Xc.shape[0], 1)), yc]) if bias else np.hstack([Xc, yc])
            R = np.linalg.qr(np.vstack([R, A]), mode="r")
    theta, *_ = np.linalg.lstsq(R[:, :width], R[:, width], rcond=np.finfo(float).eps * max(n, width))
    return theta.astype(float), gram, pieces
