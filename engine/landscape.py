"""The loss landscape over a plane in parameter space, and the full-batch GD reference path.

The grid holds the full-data loss L(θ) on a plane θ(a, b) = o + a·u + b·v; it is vectorised over
the grid (one batched forward pass), so a 60×30 grid at N = 200 takes a few milliseconds.

* Two parameters i, j (:func:`axes_plane`): u, v are the coordinate axes, a and b are the values
  of θ_i and θ_j themselves, the other parameters held at given values.
* More than two parameters (:func:`path_plane`): a slice through three points that matter — the
  start θ₀, the current point θ_now and the end of full-batch GD θ_GD (the minimum it finds) —
  as in Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets", who slice along
  directions taken from the trajectory (they use its principal directions; three points of the
  path make the current point lie *exactly* in the plane, so the loss drawn under it is its
  true loss). Other points of the path are drawn at their orthogonal projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .chunks import CHUNK_ELEMENTS, least_squares, mean_gradient
from .models import LinearModel, Model


@dataclass(frozen=True)
class Grid:
    """Loss values on a grid: ``loss[r, c]`` at parameter i = xs[c], parameter j = ys[r]
    (or, with a ``plane``, at θ = plane.lift(xs[c], ys[r]))."""

    i: int
    j: int
    xs: np.ndarray
    ys: np.ndarray
    loss: np.ndarray
    plane: "Plane | None" = None


@dataclass(frozen=True)
class Plane:
    """A plane θ(a, b) = origin + a·u + b·v in parameter space (u, v orthonormal).

    ``kind`` is "axes" (u, v coordinate axes: a = θ_i, b = θ_j) or "path" (through θ₀, θ_now and
    θ_GD, :func:`path_plane`); ``title`` says which, for the panel.
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    kind: str
    title: str
    x_label: str
    y_label: str

    def coords(self, points: np.ndarray) -> np.ndarray:
        """(k, 2) plane coordinates (a, b) of parameter points (k, P): the orthogonal projection."""
        d = np.atleast_2d(np.asarray(points, float)) - self.origin
        with np.errstate(all="ignore"):
            return np.stack([d @ self.u, d @ self.v], axis=1)

    def lift(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """The parameter points (k, P) at plane coordinates a, b (arrays of k)."""
        a = np.asarray(a, float).reshape(-1, 1)
        b = np.asarray(b, float).reshape(-1, 1)
        return self.origin[None, :] + a * self.u[None, :] + b * self.v[None, :]

    def distance(self, points: np.ndarray) -> np.ndarray:
        """How far each point (k, P) lies from the plane (0 for points in it)."""
        pts = np.atleast_2d(np.asarray(points, float))
        ab = self.coords(pts)
        return np.linalg.norm(pts - self.lift(ab[:, 0], ab[:, 1]), axis=1)

    def project_vector(self, vec: np.ndarray) -> np.ndarray:
        """(2,) components of a direction (P,) (a gradient, a velocity) along u and v."""
        vec = np.asarray(vec, float)
        return np.array([float(vec @ self.u), float(vec @ self.v)])


def axes_plane(held: np.ndarray, i: int, j: int, names: tuple[str, ...] | None = None) -> Plane:
    """The plane of parameters i and j, the others held at ``held``: coordinates are θ_i, θ_j."""
    p = len(held)
    origin = np.array(held, dtype=float)
    origin[[i, j]] = 0.0
    u, v = np.zeros(p), np.zeros(p)
    u[i], v[j] = 1.0, 1.0
    ni, nj = (names[i], names[j]) if names else (f"θ{i}", f"θ{j}")
    return Plane(origin, u, v, "axes", f"Loss over {ni}, {nj}", ni, nj)


def path_plane(start: np.ndarray, now: np.ndarray, anchor: np.ndarray,
               fallbacks: tuple[np.ndarray, ...] = ()) -> Plane:
    """The plane through ``anchor`` (the end of full-batch GD, θ_GD), ``start`` (θ₀) and ``now``.

    origin = θ_GD, u = (θ₀ − θ_GD)/|θ₀ − θ_GD|, v = the part of θ_now − θ_GD orthogonal to u,
    normalised (Gram–Schmidt), so all three points lie in the plane exactly: θ₀ at (|θ₀ − θ_GD|, 0),
    θ_GD at (0, 0) and θ_now at b ≥ 0. When θ_now is (nearly) on the line θ₀–θ_GD (at the start,
    say) v comes from the first of ``fallbacks`` (e.g. other points of the path, minus θ_GD, or
    the gradient) with a part orthogonal to u, then from the coordinate axes.
    """
    start, now, anchor = (np.asarray(x, float) for x in (start, now, anchor))
    p = len(anchor)
    scale = max(float(np.linalg.norm(start - anchor)), float(np.linalg.norm(now - anchor)), 1e-12)
    u = _unit_orthogonal(start - anchor, [], scale)
    if u is None:
        u = _unit_orthogonal(now - anchor, [], scale)
    if u is None:
        u = np.eye(p)[0]
    v = None
    for cand in (now - anchor, *fallbacks, *np.eye(p)):
        v = _unit_orthogonal(np.asarray(cand, float), [u], scale)
        if v is not None:
            break
    assert v is not None
    if float((now - anchor) @ v) < 0:
        v = -v
    return Plane(anchor, u, v, "path", "Loss on the plane through start, now and GD's end",
                 "start−GD", "now⊥")


def _unit_orthogonal(vec: np.ndarray, basis: list[np.ndarray], scale: float) -> np.ndarray | None:
    """vec minus its parts along ``basis`` (orthonormal), normalised; None if (nearly) nothing
    is left: less than 10⁻⁶ of |vec|, or |vec| below 10⁻¹⁰ of the plane's ``scale``."""
    if not np.all(np.isfinite(vec)):
        return None
    w = np.array(vec, dtype=float)
    for _ in range(2):                   # twice: one Gram–Schmidt pass loses orthogonality
        for b in basis:
            w = w - (w @ b) * b
    n = float(np.linalg.norm(w))
    length = float(np.linalg.norm(vec))
    if n == 0 or n < 1e-6 * length or length < 1e-10 * scale:
        return None
    return w / n


def plane_grid(model: Model, X: np.ndarray, y: np.ndarray, plane: Plane, xs: np.ndarray,
               ys: np.ndarray, i: int = 0, j: int = 1) -> Grid:
    """The mean loss over (X, y) at θ = plane.lift(a, b) on the grid a ∈ xs, b ∈ ys."""
    aa, bb = np.meshgrid(np.asarray(xs, float), np.asarray(ys, float))
    batch = plane.lift(aa.ravel(), bb.ravel())
    with np.errstate(all="ignore"):
        values = model.losses_many(batch, X, y).reshape(aa.shape)
    return Grid(i, j, np.asarray(xs, float), np.asarray(ys, float), values, plane)


def minimum(model: Model, X: np.ndarray, y: np.ndarray, reference: np.ndarray,
            budget: float = 2e7) -> tuple[np.ndarray, str]:
    """Where the full loss is lowest, as far as can be known, and what that point is.

    Linear regression with MSE: the least-squares solution (closed form; "minimum"). Otherwise
    the point of the full-batch GD ``reference`` path with the lowest loss (up to 200 evenly
    spaced points and the last, within ``budget`` sample-parameter products): "minimum" when
    that is the end and GD had converged there (its last step moved less than 10⁻⁶(1 + |θ|)),
    else "GD's lowest".
    """
    if model.loss_name == "mse" and isinstance(model, LinearModel):
        theta, _, _ = least_squares(X, y, bias=model.param_names[-1] == "b")
        return theta, "minimum"
    ref = np.asarray(reference, float)
    end = ref[-1]
    converged = len(ref) >= 2 and float(np.max(np.abs(ref[-1] - ref[-2]))) < 1e-6 * (1.0 + float(np.max(np.abs(end))))
    k = int(min(200, max(1, budget // max(1, X.shape[0] * ref.shape[1]))))
    picks = np.unique(np.r_[np.linspace(0, len(ref) - 1, min(k, len(ref))).astype(int), len(ref) - 1])
    with np.errstate(all="ignore"):
        losses = model.losses_many(ref[picks], X, y)
    losses = np.where(np.isfinite(losses), losses, np.inf)
    best = int(picks[int(np.argmin(losses))])
    if best == len(ref) - 1 and converged:
        return end, "minimum"
    return ref[best], "GD's lowest"


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


def full_batch_gradient(model: Model, theta: np.ndarray, X: np.ndarray, y: np.ndarray,
                        elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """∇L(θ) over (X, y) as ``model.loss_and_grad`` gives it; over more samples than a piece
    of ``elements`` working floats (the MLP: H + 1 a sample) the gradients of pieces of rows,
    each weighted by its share n_c/N and added (:func:`engine.chunks.batch_loss_and_grad`), so a
    full-batch step's (N, H) arrays are never held."""
    return mean_gradient(model, theta, X, y, rows=elements)


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
            g = full_batch_gradient(model, theta, X, y)
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
