"""NumPy versions of plotext's per-point helpers, giving the same results (issue 24: a light
running app).

Drawing the loss plot spends most of its time in three of plotext's pure helpers, each a Python
loop over every point of every curve (a few hundred at 120×40, several thousand once the lines
between points are filled in):

* ``get_matrix_data(data, lim, bins)``: data → canvas coordinates,
  ``floor(round₈(0.5 + (bins − 1)·(v − lim₀)/(lim₁ − lim₀)))`` with plotext's own rounding to
  8 decimals (halves up);
* ``get_lines(x, y, *other)``: the points on the line between each two consecutive points,
  ``int(x₀ + k·(x₁ − x₀)/(a − 1))`` for k = 0 … a − 2 with a = max(|Δx|, |Δy|) + 1 (the last
  point of each segment is the next one's first), then the very last point;
* ``hd_group(x, y, xf, yf)``: the points grouped by cell (x // xf, y // yf), each cell's dots
  as the tuple of xf·yf bits that names its braille (or block) character, rows top down.

The versions here do the same arithmetic elementwise (the same IEEE operations in the same
order, so the same numbers) and fall back to plotext's own function for anything they were
not written for (non-numbers, NaN, strings as dates, mixed marker sizes, lists of unequal
lengths). ``hd_group`` lists the cells in the order of their first point, as plotext's dict
does. ``tests/test_plotext_fast.py`` compares each with plotext's on random and edge-case
inputs, and the loss plot's text with and without them.
"""

from __future__ import annotations

import numpy as np

_PATCHED = False
_ORIGINAL: dict = {}
_BITS: dict[tuple[int, int], list[tuple[int, ...]]] = {}


def enable_fast_plotext() -> bool:
    """Use the NumPy helpers in plotext (idempotent). True if active."""
    global _PATCHED
    if _PATCHED:
        return True
    try:
        import plotext._utility as ut
    except ImportError:  # pragma: no cover
        return False
    for name, fast in (("get_matrix_data", get_matrix_data), ("get_lines", get_lines), ("hd_group", hd_group)):
        original = getattr(ut, name, None)
        if original is None:  # pragma: no cover - a different plotext: leave it alone
            return False
        _ORIGINAL.setdefault(name, original)
    ut.get_matrix_data = get_matrix_data
    ut.get_lines = get_lines
    ut.hd_group = hd_group
    _PATCHED = True
    return True


def disable_fast_plotext() -> None:
    """plotext's own helpers again (tests compare the two)."""
    global _PATCHED
    if not _PATCHED:
        return
    import plotext._utility as ut

    for name, original in _ORIGINAL.items():
        setattr(ut, name, original)
    _PATCHED = False


def _original(name: str):  # noqa: ANN202
    fn = _ORIGINAL.get(name)
    if fn is None:
        import plotext._utility as ut

        fn = _ORIGINAL[name] = getattr(ut, name)
    return fn


def _floats(data: list) -> np.ndarray | None:
    """``data`` as float64 when every element is a finite Python float (or a small int), else
    None (the caller falls back to plotext's own code)."""
    for v in data:
        t = type(v)
        if t is not float and (t is not int or abs(v) >= 2**53):
            return None
    arr = np.array(data, dtype=np.float64)
    if not np.isfinite(arr).all():
        return None
    return arr


def _ints(data: list) -> np.ndarray | None:
    """``data`` as int64 when every element is a Python int (not bool), else None."""
    for v in data:
        if type(v) is not int:
            return None
    arr = np.array(data, dtype=np.int64) if data else np.zeros(0, dtype=np.int64)
    return arr


def get_matrix_data(data, lim, bins):  # noqa: ANN001, ANN201
    """plotext's ``get_matrix_data``: ``floor(round(0.5 + (bins - 1) * (v - lim[0]) /
    (lim[1] - lim[0]), 8))`` for each value, plotext's ``round`` (``n *= 10**8``; the floor
    unless ``n - floor(n) >= 0.5``; times ``10**-8``)."""
    if not isinstance(data, list) or len(data) < 8 or type(bins) is not int:
        return _original("get_matrix_data")(data, lim, bins)
    arr = _floats(data)
    lo, hi = lim[0], lim[1]
    if arr is None or type(lo) not in (float, int) or type(hi) not in (float, int) or hi == lo:
        return _original("get_matrix_data")(data, lim, bins)
    with np.errstate(all="ignore"):
        change = 0.5 + (bins - 1) * (arr - lo) / (hi - lo)
        n = change * 10**8
        f = np.floor(n)
        r = np.where(n - f < 0.5, f, np.ceil(n))
        out = np.floor(r * 10 ** (-8))
    if not np.isfinite(out).all() or np.abs(out).max(initial=0) >= 2**53:
        return _original("get_matrix_data")(data, lim, bins)
    return out.astype(np.int64).tolist()


def get_lines(x, y, *other):  # noqa: ANN001, ANN201
    """plotext's ``get_lines`` for integer points: the points of each segment but its last,
    then the last point; ``other`` (markers, colours, styles) repeated along."""
    if not isinstance(x, list) or not isinstance(y, list) or len(x) < 2 or len(x) != len(y):
        return _original("get_lines")(x, y, *other)
    if any(not isinstance(o, list) or len(o) != len(x) for o in other):
        return _original("get_lines")(x, y, *other)
    X, Y = _ints(x), _ints(y)
    if X is None or Y is None:
        return _original("get_lines")(x, y, *other)
    x0, x1, y0, y1 = X[:-1], X[1:], Y[:-1], Y[1:]
    a = np.maximum(np.abs(x1 - x0), np.abs(y1 - y0)) + 1        # points of each segment
    count = a - 1                                             # all but the last one
    seg = np.repeat(np.arange(len(x0)), count)                # the segment of each point
    k = np.arange(len(seg)) - np.repeat(np.cumsum(count) - count, count)   # its index in it
    den = np.where(a > 1, a - 1, 1).astype(np.float64)
    sx = np.where(a > 1, (x1 - x0) / den, 0.0)               # linspace's slope, as plotext
    sy = np.where(a > 1, (y1 - y0) / den, 0.0)
    xs = np.trunc(x0[seg] + k * sx[seg]).astype(np.int64)     # int(lower + k * slope)
    ys = np.trunc(y0[seg] + k * sy[seg]).astype(np.int64)
    xl = xs.tolist() + [x[-1]]
    yl = ys.tolist() + [y[-1]]
    idx = None
    others = []
    for o in other:
        if o.count(o[0]) == len(o):                           # one marker / colour for all
            others.append([o[0]] * len(xl))
            continue
        if idx is None:
            idx = seg.tolist() + [len(x) - 1]
        others.append([o[i] for i in idx])
    return [xl, yl] + others


def _bit_tuples(xf: int, yf: int) -> list[tuple[int, ...]]:
    """For each code c < 2**(xf·yf), the tuple of its xf·yf bits, most significant first."""
    key = (xf, yf)
    table = _BITS.get(key)
    if table is None:
        n = xf * yf
        table = _BITS[key] = [tuple((c >> (n - 1 - b)) & 1 for b in range(n)) for c in range(1 << n)]
    return table


def hd_group(x, y, xf, yf):  # noqa: ANN001, ANN201
    """plotext's ``hd_group`` for integer points and one marker size: the cells (x // xf,
    y // yf) in the order of their first point, and each cell's dots as a tuple of bits, row
    ``yf - 1`` first, each row left to right (``join(m[::-1])``)."""
    if (not isinstance(x, list) or not isinstance(y, list) or not x or len(x) != len(y)
            or len(xf) != len(x) or len(yf) != len(x)):
        return _original("hd_group")(x, y, xf, yf)
    fx, fy = xf[0], yf[0]
    if (type(fx) is not int or type(fy) is not int or fx < 1 or fy < 1 or fx * fy > 12
            or xf.count(fx) != len(xf) or yf.count(fy) != len(yf)):
        return _original("hd_group")(x, y, xf, yf)
    X, Y = _ints(x), _ints(y)
    if X is None or Y is None:
        return _original("hd_group")(x, y, xf, yf)
    cx, cy = X // fx, Y // fy
    # the bit of each point: row (fy - 1 - y % fy) of the reversed rows, column x % fx
    bit = (fy - 1 - (Y % fy)) * fx + (X % fx)
    weight = np.left_shift(1, (fx * fy - 1 - bit)).astype(np.int64)
    lo_x, lo_y = int(cx.min()), int(cy.min())
    span = int(cy.max()) - lo_y + 1
    cell = (cx - lo_x) * span + (cy - lo_y)
    uniq, first, inverse = np.unique(cell, return_index=True, return_inverse=True)
    codes = np.zeros(len(uniq), dtype=np.int64)
    np.bitwise_or.at(codes, inverse.ravel(), weight)
    order = np.argsort(first, kind="stable")                  # dict order: first occurrence
    firsts = first[order]
    table = _bit_tuples(fx, fy)
    return cx[firsts].tolist(), cy[firsts].tolist(), [table[c] for c in codes[order].tolist()]

