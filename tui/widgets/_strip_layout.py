"""The sample strip's layout: how N samples in batches fill a few rows of cells (one cell per
sample, or per group of samples when N is large; gaps between batches when there is room), and
the draw number of each position under replacement sampling — helpers of
:class:`~.strip.SampleStrip`."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CURRENT, USED, TO_COME, SITS_OUT = 0, 1, 2, 3
"""Cell states (codes of :meth:`~.strip.SampleStrip.position_states`)."""

GLYPHS = {CURRENT: "█", USED: "▁", TO_COME: "▄", SITS_OUT: "·"}
_GLYPHS = np.array([GLYPHS[CURRENT], GLYPHS[USED], GLYPHS[TO_COME], GLYPHS[SITS_OUT]])   # by state code


@dataclass(frozen=True)
class Layout:
    """Where each cell goes: cell k shows positions ``p0[k]:p1[k]`` of the order at (row, col).

    ``gap_before[k]`` is the screen column of the gap in front of cell k (−1 when none).
    """

    rows: int
    width: int
    per_cell: int
    gaps: bool
    row: np.ndarray
    col: np.ndarray
    p0: np.ndarray
    p1: np.ndarray

    @property
    def cells(self) -> int:
        return len(self.p0)


_LAYOUTS: list = []       # the last few (n, sizes, width, max_rows, layout): the same plan every frame


def make_layout(n: int, sizes: tuple[int, ...], width: int, max_rows: int) -> Layout:
    """:func:`lay_out`, remembered for the last few plans (the strip asks every frame)."""
    for entry in _LAYOUTS:
        if entry[1] is sizes and entry[0] == n and entry[2] == width and entry[3] == max_rows:
            return entry[4]
    layout = lay_out(n, sizes, width, max_rows)
    _LAYOUTS.insert(0, (n, sizes, width, max_rows, layout))
    del _LAYOUTS[4:]
    return layout


def lay_out(n: int, sizes: tuple[int, ...], width: int, max_rows: int) -> Layout:
    """Lay out N positions in at most ``max_rows`` rows of ``width`` cells.

    ``sizes`` are the batch sizes of one pass (the leftover of drop_last, if any, follows them
    as one more group). Batches get a one-cell gap between them and never break across rows
    when that fits; otherwise cells are packed; when N exceeds the room, consecutive positions
    are grouped (1 cell = g samples). Rows are balanced (as even as the packing allows).
    """
    width = max(1, width)
    max_rows = max(1, max_rows)
    room = width * max_rows
    groups = list(sizes)
    if sum(groups) < n:
        groups.append(n - sum(groups))
    # 1. gaps between batches, batches whole on a row
    if len(groups) > 1 and max(groups) >= 2 and n + len(groups) - 1 <= room:
        lay = _pack_groups(groups, width, max_rows)
        if lay is not None:
            return lay
    # 2. one cell per sample, no gaps
    if n <= room:
        rows = math.ceil(n / width)
        w = math.ceil(n / rows)
        p = np.arange(n)
        return Layout(rows, w, 1, False, p // w, p % w, p, p + 1)
    # 3. aggregated: one cell per g consecutive positions
    g = math.ceil(n / room)
    cells = math.ceil(n / g)
    rows = math.ceil(cells / width)
    w = math.ceil(cells / rows)
    k = np.arange(cells)
    p0 = k * g
    return Layout(rows, w, g, False, k // w, k % w, p0, np.minimum(p0 + g, n))


def _pack_groups(groups: list[int], width: int, max_rows: int) -> Layout | None:
    def rows_needed(w: int) -> int | None:
        rows, used = 1, 0
        for s in groups:
            if s > w:
                return None
            need = s + (1 if used else 0)
            if used + need <= w:
                used += need
            else:
                rows += 1
                used = s
        return rows

    width -= 2                           # a column at each end of a row: room for "[" and "]"
    rows = rows_needed(width)
    if rows is None or rows > max_rows:
        return None
    lo, hi = max(groups), width          # narrowest width with the same number of rows
    while lo < hi:
        mid = (lo + hi) // 2
        r = rows_needed(mid)
        if r is not None and r <= rows:
            hi = mid
        else:
            lo = mid + 1
    w = lo
    row, col = [], []
    r, used = 0, 0
    for s in groups:
        need = s + (1 if used else 0)
        if used + need > w:
            r, used = r + 1, 0
        start = used + (1 if used else 0)
        row.extend([r] * s)
        col.extend(range(start + 1, start + s + 1))
        used = start + s
    p = np.arange(sum(groups))
    return Layout(r + 1, w + 2, 1, True, np.array(row), np.array(col), p, p + 1)


def occurrences(order: np.ndarray) -> np.ndarray:
    """For each position, how many times its sample has been drawn up to and including it."""
    order = np.asarray(order)
    n = len(order)
    idx = np.argsort(order, kind="stable")
    sorted_ = order[idx]
    starts = np.r_[True, sorted_[1:] != sorted_[:-1]] if n else np.zeros(0, bool)
    run_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, int)
    occ = np.empty(n, dtype=np.int64)
    occ[idx] = np.arange(n) - run_start + 1
    return occ
