"""The loss landscape over two parameters, and the full-batch GD reference path.

The grid holds the full-data loss L(θ) with all parameters but two held at their current
values; it is vectorised over the grid (one batched forward pass), so a 60×30 grid at N = 200
takes a few milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import Model


@dataclass(frozen=True)
class Grid:
    """Loss values on a grid: ``loss[r, c]`` at parameter i = xs[c], parameter j = ys[r]."""

    i: int
    j: int
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray


def loss_grid(model: Model, X: np.ndarray, y: np.ndarray, params: np.ndarray, i: int, j: int,
              xs: np.ndarray, ys: np.ndarray) -> Grid:
    """The mean loss over (X, y) on the grid xs × ys of parameters i and j (others from params)."""
    xx, yy = np.meshgrid(xs, ys)
    batch = np.repeat(params[None, :], xx.size, axis=0)
    batch[:, i] = xx.ravel()
    batch[:, j] = yy.ravel()
    with np.errstate(all="ignore"):
        values = model.losses_many(batch, X, y).reshape(xx.shape)
    return Grid(i, j, np.asarray(xs, float), np.asarray(ys, float), values)


def gd_path(model: Model, X: np.ndarray, y: np.ndarray, start: np.ndarray, lr: float, steps: int,
            tol: float = 1e-7, budget: float = 2e7) -> np.ndarray:
    """Full-batch gradient descent θ ← θ − lr·∇L(θ) from ``start``: (k + 1, P).

    Stops early when a step moves less than ``tol``·(1 + |θ|) (converged), when the loss stops
    being finite, or when ``budget`` sample-parameter products are spent (large data sets),
    so a picture is ready quickly.
    """
    steps = int(min(steps, max(20, budget // max(1, X.shape[0] * start.size))))
    path = [np.array(start, dtype=float)]
    theta = path[0]
    with np.errstate(all="ignore"):
        for _ in range(steps):
            _, g = model.loss_and_grad(theta, X, y)
            new = theta - lr * g
            if not np.all(np.isfinite(new)):
                break
            path.append(new)
            if float(np.max(np.abs(new - theta))) < tol * (1.0 + float(np.max(np.abs(theta)))):
                break
            theta = new
    return np.array(path)


def view_box(points: np.ndarray, i: int, j: int, margin: float = 0.25, min_span: float = 0.5
             ) -> tuple[tuple[float, float], tuple[float, float]]:
    """A box around the (i, j) coordinates of the given parameter points, with a margin."""
    a, b = points[:, i], points[:, j]
    a = a[np.isfinite(a)]
    b = b[np.isfinite(b)]
    out = []
    for v in (a, b):
        lo, hi = (float(v.min()), float(v.max())) if len(v) else (-1.0, 1.0)
        span = max(hi - lo, min_span)
        mid = 0.5 * (lo + hi)
        half = 0.5 * span * (1 + 2 * margin)
        out.append((mid - half, mid + half))
    return out[0], out[1]
