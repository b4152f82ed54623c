"""The one-dimensional lens: the loss along one line through the current parameters.

For a one-parameter model the line is the parameter axis itself (the seeds' picture of f1, f2,
f3 and their average); otherwise it is the direction of the full gradient, d = −G/|G|. Along
θ(t) = θ + t·d it gives every shown sample's own loss ℓ_i(θ(t)), their mean over *all* samples
L(θ(t)), and the slopes with which the current batch and the full data pull: the directional
derivatives ĝ·d and G·d (a step goes the way of minus the slope).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .chunks import mean_gradient
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
    shown_in_batch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (k,)

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
    batch = np.asarray(batch)
    with np.errstate(all="ignore"):
        G = mean_gradient(model, params, X, y)             # in pieces over large N
        if p == 1:
            d = np.ones(1)
            label = model.param_names[0]
        else:
            norm = float(np.linalg.norm(G))
            d = -G / norm if norm > 0 else np.eye(p)[0]
            label = "along −G (steepest descent)"
        shown, in_batch = _choose_samples(n, batch, max_curves)
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
        ghat = mean_gradient(model, params, X, y, batch) if len(batch) else np.full(p, np.nan)
    origin = float(params[0]) if p == 1 else 0.0
    xs = ts + origin
    at, low = _refined_minimum(xs, mean)
    return Lens(
        xs=xs, per_sample=per_sample, shown=shown, mean=mean, n_samples=n, position=origin,
        direction=d, axis_is_parameter=p == 1, label=label, batch=batch,
        batch_slope=float(ghat @ d), full_slope=float(G @ d), minimum=at, minimum_loss=low,
        shown_in_batch=in_batch,
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


#: Up to this many samples a batch is sorted to find its members among the shown ones; a larger
#: one (Batch GD: the whole data) is marked in a table of N flags instead, read a piece at a time.
SORTED_BATCH = 1 << 16


def _choose_samples(n: int, batch: np.ndarray, max_curves: int) -> tuple[np.ndarray, np.ndarray]:
    """(the samples whose curves are drawn, which of them are in the batch): all samples when
    few; else (up to half of them) the batch's lowest indices plus evenly spaced others."""
    if len(batch) > SORTED_BATCH:
        member = np.zeros(n, dtype=bool)
        member[batch] = True
        if n <= max_curves:
            shown = np.arange(n)
        else:
            shown = _with_spaced(n, _first_members(member, max_curves // 2), max_curves)
        return shown, member[shown]
    if n <= max_curves:
        shown = np.arange(n)
    else:
        shown = _with_spaced(n, np.unique(batch.astype(np.int64))[: max_curves // 2], max_curves)
    return shown, np.isin(shown, batch)


def _with_spaced(n: int, from_batch: np.ndarray, max_curves: int) -> np.ndarray:
    """``from_batch`` and evenly spaced others, as many as make ``max_curves`` (fewer where
    they coincide), ascending."""
    return np.union1d(from_batch, np.linspace(0, n - 1, max_curves - len(from_batch)).astype(np.int64))


def _first_members(member: np.ndarray, k: int, piece: int = SORTED_BATCH) -> np.ndarray:
    """The k lowest indices i with ``member[i]``, ascending (``np.unique(batch)[:k]``), found a
    piece of the table at a time."""
    found: list[np.ndarray] = []
    count = 0
    for a in range(0, member.shape[0], piece):
        hits = np.flatnonzero(member[a:a + piece])[: k - count] + a
        found.append(hits)
        count += len(hits)
        if count >= k:
            break
    return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)


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
