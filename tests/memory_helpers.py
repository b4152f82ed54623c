"""Shared by the memory tests: sample data for a model, and the peak bytes a call allocates."""

from __future__ import annotations

import tracemalloc
from typing import Callable

import numpy as np


def sample_data(model, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:  # noqa: ANN001
    """(X, y, rng): n standard normal samples for ``model``'s features; y a fair coin for a bce
    model, else 0.7 Σx + noise; the generator, to draw more from the same seed."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, model.n_features))
    if model.loss_name == "bce":
        y = (rng.random(n) < 0.5).astype(float)
    else:
        y = X.sum(axis=1) * 0.7 + 0.3 * rng.standard_normal(n)
    return X, y, rng


def traced_peak(fn: Callable[[], object]) -> tuple[int, object]:
    """(peak bytes allocated while ``fn()`` runs, above what was allocated before; its result):
    tracemalloc counts NumPy's allocations."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        return tracemalloc.get_traced_memory()[1] - base, result
    finally:
        tracemalloc.stop()
