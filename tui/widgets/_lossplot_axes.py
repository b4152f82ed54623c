"""The loss plot's axes and curves: round ceilings and ticks (1–2–5), decade labels, the x of a
history's points (steps, epochs or samples seen), finite points only (plotext fails on inf), a
run's curve decimated to the plot's width — helpers of :class:`~.lossplot.LossPlot`."""

from __future__ import annotations

import math

import numpy as np

from ._cells import RGB

X_AXES = ("steps", "epochs", "samples")
X_LABELS = {"steps": "step", "epochs": "epoch", "samples": "samples seen"}
RUNS_X_LABELS = {"steps": "steps", "epochs": "epochs", "samples": "samples seen"}   # several runs count

# Okabe–Ito colours (colour-blind safe), a bright set for dark themes and a deep one for light
DARK = {"epoch": "#56b4e9", "train": "#f0a030", "val": "#e07ab8", "acc": "#2fbf8f",
        "val_acc": "#a0e0b0", "change": "#d0d060"}
LIGHT = {"epoch": "#0072b2", "train": "#d55e00", "val": "#aa3377", "acc": "#117733",
         "val_acc": "#55aa77", "change": "#887700"}

CAP_DECADES = 3              # several runs: the y axis ends at most this many decades above the start


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 × 10^k that is ≥ x (x > 0)."""
    if not x > 0 or not math.isfinite(x):
        return 1.0
    e = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        v = m * 10.0**e
        if v >= x * (1 - 1e-12):
            return v
    return 10.0 ** (e + 1)


def axis_ceiling(x: float) -> float:
    """The end of an x axis for data up to ``x``: a round number a few per cent above it
    (1, 1.2, 1.4, … 10 × 10^k, at most 25 % beyond), so the data reach at least 80 % across."""
    x *= 1.04
    if not x > 0 or not math.isfinite(x):
        return 1.0
    e = math.floor(math.log10(x))
    for m in (1, 1.2, 1.4, 1.6, 1.8, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9, 10):
        if m * 10.0**e >= x * (1 - 1e-12):
            return m * 10.0**e
    return 10.0 ** (e + 1)


def finite_xy(x: np.ndarray, y: np.ndarray, log: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The points whose x and y are finite (and y > 0 on a log axis)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if log:
        ok &= y > 0
    return x[ok], y[ok]


def nice_ticks(top: float, most: int) -> list[float]:
    """0, s, 2s, … up to ``top`` with s a 1–2–5 step giving at most ``most`` + 1 ticks."""
    step = nice_ceiling(top / max(1, most))
    k = int(math.floor(top / step + 1e-9))
    return [i * step for i in range(k + 1)]


def _count_label(v: float) -> str:
    """A short label for a count: 0, 250, 2.5k, 40k, 1.2M; fractions for epochs."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a == int(a):
        return str(int(v))
    return f"{v:.3g}"


def decade_label(e: float) -> str:
    """The label of 10^e on a log axis (shared with the lab's log–log plots)."""
    v = 10.0**e
    if 4 <= e <= 5 and abs(e - round(e)) < 1e-9:
        return f"{v / 1e3:g}k"                     # 10k, 100k: not 1e+04
    if 6 <= e <= 8 and abs(e - round(e)) < 1e-9:
        return f"{v / 1e6:g}M"
    if -3 <= e <= 4 and abs(e - round(e)) < 1e-9:
        return f"{v:g}"
    if -3 <= e <= 4:
        return f"{v:.2g}"
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")


def _bucket_x(d, mode: str) -> np.ndarray:  # noqa: ANN001
    """The x of each bucket of a decimated history (at its end, as ``d.step`` is)."""
    if mode == "steps":
        return d.step.astype(float)
    return d.envelope("epoch" if mode == "epochs" else "samples")[1]


def run_curve(sim, axis: str, width: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The full training loss of one run against ``axis``: the initial loss first, then one point
    per bucket of the decimated history, the newest being the run's exact current point (so its
    marker sits on the value its counters row shows); non-finite values dropped."""
    d = sim.history.decimated(max(2, width))
    xs = _bucket_x(d, axis)
    x = np.concatenate([[0.0], xs])
    y = np.concatenate([[float(sim.initial_train_loss)], d.series("train_loss")])
    if len(xs) and sim.step > 0:
        last = {"steps": float(sim.step), "epochs": sim.history.last("epoch"),
                "samples": sim.history.last("samples")}[axis]
        x[-1], y[-1] = last, sim.history.last("train_loss")
    return finite_xy(x, y)


def _decimate_index(n: int, width: int) -> np.ndarray:
    """At most ~``width`` indices into n points, evenly spread, the first and the last kept."""
    if n <= width:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, width).round().astype(np.int64))


def _hex(rgb: RGB) -> str:
    return "#%02x%02x%02x" % rgb


def one_per_row(ticks: list[float], low: float, high: float, rows: int, gap: int = 2) -> list[float]:
    """Keep ticks at least ``gap`` text rows apart (whole numbers — powers of ten on a log
    axis — first), so plotext never has to choose between two labels on one row: ``rows`` is
    only an estimate of the plot's height, and the gap absorbs its error."""
    if high <= low or rows < 2:
        return sorted(ticks)
    taken: dict[int, float] = {}
    for t in sorted(ticks, key=lambda v: (v != round(v), v)):
        row = round((t - low) / (high - low) * (rows - 1))
        if all(abs(row - r) >= gap for r in taken):
            taken[row] = t
    return sorted(taken.values())
