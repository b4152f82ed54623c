"""Gradient noise at fixed parameters (SCIENCE.md §3), computed on demand.

Per-sample gradients g_i (i = 1..N), full gradient G = (1/N) Σ g_i, population covariance
Σ = (1/N) Σ (g_i − G)(g_i − G)ᵀ. For a batch of B samples drawn without replacement
Cov[ĝ_B] = (N − B)/(B(N − 1)) · Σ (finite population correction); with replacement Σ/B.
Simple noise scale B_simple = tr Σ / |G|² (McCandlish, Kaplan, Amodei et al. 2018).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .models.elementwise import _dot_rows
from .chunks import mean_gradient
from .pieces import scope as pieces_scope


@dataclass(frozen=True)
class NoiseReport:
    """The noise readout at one point θ for batch size B."""

    n_samples: int
    batch_size: int
    full_grad: np.ndarray          # G
    batch_grad: np.ndarray | None  # ĝ of the current batch (None if no batch given)
    grad_norm: float               # |G|
    batch_grad_norm: float         # |ĝ| (NaN without a batch)
    cosine: float                  # cos(ĝ, G) (NaN without a batch or when a norm is 0)
    trace_sigma: float             # tr Σ (per-sample, divisor N)
    trace_cov: float               # tr Cov[ĝ_B] without replacement (finite population correction)
    trace_cov_replacement: float   # tr Cov[ĝ_B] with replacement = tr Σ / B
    b_simple: float                # tr Σ / |G|² (inf when G = 0)
    expected_sq_norm: float        # E|ĝ_B|² = |G|² + tr Cov[ĝ_B]


def fpc_factor(n_samples: int, batch_size: int) -> float:
    """(N − B)/(B(N − 1)): the variance factor of a batch mean drawn without replacement."""
    if n_samples <= 1:
        return 0.0
    return (n_samples - batch_size) / (batch_size * (n_samples - 1))


def population_covariance(sample_grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G, Σ) from per-sample gradients of shape (N, P): mean and covariance with divisor N."""
    G = sample_grads.mean(axis=0)
    d = sample_grads - G
    return G, d.T @ d / sample_grads.shape[0]


def noise_report(sample_grads: np.ndarray, batch_size: int, batch: np.ndarray | None = None) -> NoiseReport:
    """Everything of SCIENCE.md §3 from the N×P per-sample gradients at one θ.

    ``batch`` holds the indices of the current batch (its gradient ĝ is their mean).
    """
    n = sample_grads.shape[0]
    G = sample_grads.mean(axis=0)
    d = sample_grads - G
    trace_sigma = float(np.einsum("ij,ij->", d, d) / n)
    ghat = sample_grads[batch].mean(axis=0) if batch is not None and len(batch) else None
    return _report(n, batch_size, G, trace_sigma, ghat)


def _report(n: int, batch_size: int, G: np.ndarray, trace_sigma: float, ghat: np.ndarray | None) -> NoiseReport:
    """The readout from G, tr Σ and ĝ (None: no batch)."""
    g2 = float(G @ G)
    trace_cov = fpc_factor(n, batch_size) * trace_sigma
    gnorm_b = cos = math.nan
    if ghat is not None:
        gnorm_b = float(np.linalg.norm(ghat))
        denom = gnorm_b * math.sqrt(g2)
        cos = float(ghat @ G / denom) if denom > 0 else math.nan
    return NoiseReport(
        n_samples=n, batch_size=batch_size, full_grad=G, batch_grad=ghat, grad_norm=math.sqrt(g2),
        batch_grad_norm=gnorm_b, cosine=cos, trace_sigma=trace_sigma, trace_cov=trace_cov,
        trace_cov_replacement=trace_sigma / batch_size,
        b_simple=trace_sigma / g2 if g2 > 0 else math.inf, expected_sq_norm=g2 + trace_cov,
    )


#: The per-sample gradients are formed in pieces of at most this many numbers (N × P at
#: N = 10⁶ was 16 MB for a line, 264 MB for xor-mlp's 33 parameters, and twice that at once).
NOISE_CHUNK = 1 << 19


def model_noise_report(model, params: np.ndarray, X: np.ndarray, y: np.ndarray,  # noqa: ANN001
                       batch_size: int, batch: np.ndarray | None = None,
                       elements: int = NOISE_CHUNK) -> NoiseReport:
    """:func:`noise_report` of ``model``'s per-sample gradients at ``params`` over (X, y), in
    bounded memory: where N × P is within ``elements`` the one array as before (the same
    numbers); else the gradients of pieces of rows, one piece at a time:

    G = (1/N) Σ_c s_c with s_c = Σ_{i∈c} g_i, and, with the piece means m_c = s_c/n_c and
    M_c = Σ_{i∈c} |g_i − m_c|², N tr Σ = Σ_c (M_c + n_c |m_c − G|²) (the sum of squares split
    around each piece's own mean: exact algebra, and as stable as the one-array form). The
    sums are added in another order than the one array's, so the figures agree to a few units
    in the last place (relative 1e-12, tests/test_memory_readings.py), not bit for bit; ĝ is
    the mean of the batch's own rows, as before, and for a batch larger than a piece the
    share-weighted mean of its pieces' gradients (:func:`engine.chunks.mean_gradient`).
    """
    n, p = int(X.shape[0]), int(model.n_params)
    rows = max(1, int(elements) // max(1, p))
    if n <= rows:
        return noise_report(model.per_sample_grads(params, X, y), batch_size, batch)
    sums, means, m2s, counts = [], [], [], []
    with pieces_scope():
        for a in range(0, n, rows):
            g = model.per_sample_grads(params, X[a:a + rows], y[a:a + rows])
            s = np.add.reduce(g, axis=0)
            m = s / g.shape[0]
            g -= m
            sums.append(s)
            means.append(m)
            m2s.append(float(np.einsum("ij,ij->", g, g)))
            counts.append(g.shape[0])
            del g
    G = np.add.reduce(np.array(sums), axis=0) / n
    total = 0.0
    for m, m2, c in zip(means, m2s, counts):
        e = m - G
        total += m2 + c * float(e @ e)
    ghat = None
    if batch is not None and len(batch):
        if len(batch) <= rows:
            ghat = model.per_sample_grads(params, X[batch], y[batch]).mean(axis=0)
        else:                      # a batch as large as the data (Batch GD): in pieces too
            ghat = mean_gradient(model, params, X, y, batch)
    return _report(n, batch_size, G, total / n, ghat)


@dataclass(frozen=True)
class TwoBatchEstimate:
    """The two-batch estimator of McCandlish et al. 2018, App. A, next to nothing exact."""

    small: int
    big: int
    grad_sq_est: float   # mean over pairs of (B|G_B|² − b|G_b|²)/(B − b)
    trace_est: float     # mean over pairs of (|G_b|² − |G_B|²)/(1/b − 1/B)
    b_simple_est: float  # ratio of the averages
    pairs: int


def two_batch_estimate(batch_grads: np.ndarray, batch_sizes: np.ndarray) -> TwoBatchEstimate | None:
    """Estimate |G|², tr Σ and B_simple from the gradients of consecutive batches of one epoch.

    Each pair of consecutive batches of size b gives |G_b|² (the first) and the gradient of their
    union (size B = 2b, the size-weighted mean) for |G_B|²; SCIENCE.md §3:
    |G|²_est = (B|G_B|² − b|G_b|²)/(B − b), S_est = (|G_b|² − |G_B|²)/(1/b − 1/B),
    B_simple ≈ mean(S_est)/mean(|G|²_est). Pairs need equal sizes; returns None without any.
    """
    sizes = np.asarray(batch_sizes)
    if not len(sizes):
        return None
    b = int(sizes[0])
    # the pairs (k, k + 1), k even, of two batches of size b, all at once: every number is the
    # one the pair gives alone (elementwise, and one dot per row as gb @ gb)
    m = (len(sizes) // 2) * 2
    pairs = np.flatnonzero((sizes[0:m:2] == b) & (sizes[1:m:2] == b))
    if not len(pairs):
        return None
    big = 2 * b
    first = batch_grads[2 * pairs]
    gB = 0.5 * (first + batch_grads[2 * pairs + 1])
    nb, nB = _row_dots(first), _row_dots(gB)
    g2_est = (big * nB - b * nb) / (big - b)
    s_est = (nb - nB) / (1.0 / b - 1.0 / big)
    mg, ms = float(np.mean(g2_est)), float(np.mean(s_est))
    return TwoBatchEstimate(b, 2 * b, mg, ms, ms / mg if mg > 0 else math.inf, len(pairs))


def _row_dots(a: np.ndarray) -> np.ndarray:
    """(R,) a_r · a_r for the rows of a (R, P) array, each the dot ``a_r @ a_r`` makes."""
    return _dot_rows(np.ascontiguousarray(a))
