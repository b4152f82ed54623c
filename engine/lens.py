"""The one-dimensional lens: the loss along one line through the current parameters.

For a one-parameter model the line is the parameter axis itself (the seeds' picture of f1, f2,
f3 and their average); otherwise it is the direction of the full gradient, d = −G/|G|. Along
θ(t) = θ + t·d it gives every shown sample's own loss ℓ_i(θ(t)), their mean over *all* samples
L(θ(t)), and the slopes with which the current batch and the full data pull: the directional
derivatives ĝ·d and G·d (a step goes the way of minus the slope).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models import Model


@dataclass(frozen=True)
class Lens:
    """What the lens draws. ``xs`` are positions along the line (parameter values when
    ``axis_is_parameter``, else offsets t from the current point)."""

    xs: np.ndarray                 # (T,)
    per_sample: np.ndarray         # (k, T): ℓ_i along the line for the shown samples
    shown: np.ndarray              # (k,) their indices
    mean: np.ndarray               # (T,) L along the line, the mean over all N samples
    n_samples: int                 # N
    position: float                # where the current θ sits on xs
    direction: np.ndarray          # (P,) unit direction of the line
    axis_is_parameter: bool
    label: str                     # e.g. "w" or "along −G"
    batch: np.ndarray              # indices of the current batch
    batch_slope: float             # d/dt of the batch loss at the current point (ĝ·d)
    full_slope: float              # d/dt of the full loss at the current point (G·d)
    minimum: float = float("nan")  # where the mean is lowest on xs (parabola-refined)
    minimum_loss: float = float("nan")

    @property
    def sampled(self) -> bool:
        """True when only some of the samples' curves are shown."""
        return len(self.shown) < self.n_samples


def lens(model: Model, X: np.ndarray, y: np.ndarray, params: np.ndarray, batch: np.ndarray,
         points: int = 81, max_curves: int = 40, span: float | None = None,
         window: tuple[float, float] | None = None) -> Lens:
    """Compute the lens at ``params`` for the current ``batch`` (indices into X, y).

    ``window`` fixes the range of ``xs`` (parameter values for a one-parameter model, offsets
    t otherwise), so a picture can stay put while the point moves; else it is centred on the
    current point, ``span`` (or :func:`_default_span`) either side.
    """
    n, p = X.shape[0], params.size
    with np.errstate(all="ignore"):
        G = model.batch_grad(params, X, y)
        if p == 1:
            d = np.ones(1)
            label = model.param_names[0]
        else:
            norm = float(np.linalg.norm(G))
            d = -G / norm if norm > 0 else np.eye(p)[0]
            label = "along −G (steepest descent)"
        shown = _choose_samples(n, batch, max_curves)
        origin0 = float(params[0]) if p == 1 else 0.0
        if window is not None:
            ts = np.linspace(float(window[0]), float(window[1]), points) - origin0
        else:
            if span is None:
                span = _default_span(model, X, y, params, d, shown)
            ts = np.linspace(-span, span, points)
        thetas = params[None, :] + ts[:, None] * d[None, :]
        mean = model.losses_many(thetas, X, y)                        # (T,), in bounded pieces
        per_sample = model.per_sample_losses_many(thetas, X[shown], y[shown]).T   # (k, T)
        ghat = model.batch_grad(params, X[batch], y[batch]) if len(batch) else np.full(p, np.nan)
    origin = float(params[0]) if p == 1 else 0.0
    xs = ts + origin
    at, low = _refined_minimum(xs, mean)
    return Lens(
        xs=xs, per_sample=per_sample, shown=shown, mean=mean, n_samples=n, position=origin,
        direction=d, axis_is_parameter=p == 1, label=label, batch=np.asarray(batch),
        batch_slope=float(ghat @ d), full_slope=float(G @ d), minimum=at, minimum_loss=low,
    )


def _refined_minimum(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float]:
    """The lowest point of the curve: the parabola through the lowest sample and its two
    neighbours (exact when the curve is quadratic, as the MSE of a linear model along a line
    is); the end point when the lowest sample is at an end (the minimum lies beyond)."""
    ok = np.isfinite(ys)
    if ok.sum() < 1:
        return float("nan"), float("nan")
    k = int(np.argmin(np.where(ok, ys, np.inf)))
    if 0 < k < len(xs) - 1 and ok[k - 1] and ok[k + 1]:
        x0, x1, x2 = xs[k - 1], xs[k], xs[k + 1]
        y0, y1, y2 = ys[k - 1], ys[k], ys[k + 1]
        denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
        a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
        b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / denom
        c = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / denom
        if a > 0:
            xm = -b / (2 * a)
            if x0 <= xm <= x2:
                return float(xm), float(c - b * b / (4 * a))
    return float(xs[k]), float(ys[k])


def _choose_samples(n: int, batch: np.ndarray, max_curves: int) -> np.ndarray:
    """All samples when few; else (up to half of) the current batch plus evenly spaced others."""
    if n <= max_curves:
        return np.arange(n)
    from_batch = np.unique(np.asarray(batch, dtype=np.int64))[: max_curves // 2]
    spaced = np.linspace(0, n - 1, max_curves - len(from_batch)).astype(np.int64)
    return np.union1d(from_batch, spaced)


def _default_span(model: Model, X: np.ndarray, y: np.ndarray, params: np.ndarray, d: np.ndarray,
                  shown: np.ndarray) -> float:
    """Half-width of the line: enough to show the shown samples' own minima along it.

    Each sample's minimum along the line is estimated by one Newton step from finite
    differences, t_i* = −ℓ_i'(0)/ℓ_i''(0); the span covers the 90th percentile of |t_i*| and
    the mean loss's own minimum, with a margin, clipped to [0.5, 20].
    """
    h = 1e-3 * (1.0 + float(np.linalg.norm(params)))
    thetas = params[None, :] + np.array([-h, 0.0, h])[:, None] * d[None, :]
    ell = model.per_sample_losses_many(thetas, X[shown], y[shown])  # (3, k)
    slope = (ell[2] - ell[0]) / (2 * h)
    curve = (ell[2] - 2 * ell[1] + ell[0]) / (h * h)
    with np.errstate(all="ignore"):
        t_i = np.where(curve > 1e-12, -slope / curve, np.nan)
        t_mean = -slope.mean() / curve.mean() if curve.mean() > 1e-12 else np.nan
    candidates = np.abs(t_i[np.isfinite(t_i)])
    reach = float(np.percentile(candidates, 90)) if len(candidates) else 1.0
    if np.isfinite(t_mean):
        reach = max(reach, abs(float(t_mean)))
    return float(np.clip(1.25 * reach, 0.5, 20.0))
