"""The landscape's geometry: the view box, the path pixels between points, the time-down picture's
"plane" and grid, and which run leads a picture — helpers of :class:`~.landscape.LandscapeView`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._runs import source_kind

from mbsim.engine.landscape import view_box

ARROWS = "→↗↑↖←↙↓↘"          # by angle, counter-clockwise from east (screen directions)
BOWL_ZOOM = 3.0             # a diverging run: the map spans this many times start…minimum
REF_ZOOM = 10.0             # GD's path is framed up to this many times start…minimum


@dataclass(frozen=True)
class Box:
    """The parameter ranges shown: x = parameter i, y = parameter j."""

    x0: float
    x1: float
    y0: float
    y1: float

    def contains(self, x: float, y: float, inset: float = 0.02) -> bool:
        dx, dy = (self.x1 - self.x0) * inset, (self.y1 - self.y0) * inset
        return self.x0 + dx <= x <= self.x1 - dx and self.y0 + dy <= y <= self.y1 - dy

    def contains_all(self, points: np.ndarray, inset: float = 0.02) -> bool:
        """:meth:`contains` for every row (x, y) of ``points``, at once (the same comparisons of
        the same doubles: a path of thousands of points is checked at every draw)."""
        dx, dy = (self.x1 - self.x0) * inset, (self.y1 - self.y0) * inset
        x, y = points[:, 0], points[:, 1]
        return bool(np.all((self.x0 + dx <= x) & (x <= self.x1 - dx) & (self.y0 + dy <= y) & (y <= self.y1 - dy)))


def _box_of(points: np.ndarray, i: int, j: int) -> Box:
    (x0, x1), (y0, y1) = view_box(points, i, j)
    return Box(float(x0), float(x1), float(y0), float(y1))


def _fmt(v: float) -> str:
    if v == 0 or 0.01 <= abs(v) < 1e4:
        s = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    else:
        s = f"{v:.1e}"
    return s.replace("-", "−")


def segment_pixels(points: np.ndarray) -> np.ndarray:
    """Integer pixel coordinates (col, row) along the polyline through ``points`` (k, 2)."""
    if len(points) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if len(points) == 1:
        return np.rint(points).astype(np.int64)
    a, b = points[:-1], points[1:]
    n = np.ceil(np.max(np.abs(b - a), axis=1)).astype(np.int64)
    n = np.clip(n, 1, 4096)
    seg = np.repeat(np.arange(len(a)), n)
    start = np.repeat(np.cumsum(n) - n, n)
    t = (np.arange(n.sum()) - start) / n[seg]
    pts = a[seg] + (b[seg] - a[seg]) * t[:, None]
    pts = np.vstack([pts, points[-1:]])
    return np.rint(pts).astype(np.int64)


def _widen(a: float, b: float, factor: float) -> tuple[float, float]:
    """The range [a, b] widened ``factor`` times about its middle."""
    mid, half = 0.5 * (a + b), 0.5 * (b - a) * factor
    return mid - half, mid + half


def lead_simulation(src):  # noqa: ANN001, ANN201
    """The Simulation whose data, model and start a picture of ``src`` uses: the run itself,
    compare mode's middle (mini-batch) run, or the ensemble's base run (its data and start)."""
    kind = source_kind(src)
    if kind == "one":
        return src
    if kind == "runs":
        return src.runs[1 if len(src.runs) > 1 else 0].sim
    return src.base


@dataclass(frozen=True)
class _RowGrid:
    """A loss grid of the time-down picture (the same L(w) on every row)."""

    loss: np.ndarray
    i: int = 0


class _TimePlane:
    """The time-down picture's "plane": w across, epochs down (for the title)."""

    kind = "time"

    def __init__(self, name: str) -> None:
        self.title = f"Loss over {name}, time ↓"
        self.x_label, self.y_label = name, "epochs"

    def coords(self, params: np.ndarray) -> np.ndarray:
        return np.stack([params[:, 0], np.zeros(len(params))], axis=1)


def _nice_epochs(t: float) -> float:
    """A round number of epochs ≥ t (1, 2, 5, 10, 20, …), at least 1."""
    if not t > 1:
        return 1.0
    e = math.floor(math.log10(t))
    for m in (1, 2, 5, 10):
        if m * 10.0**e >= t:
            return m * 10.0**e
    return 10.0 ** (e + 1)
