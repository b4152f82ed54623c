"""The sample strip: every training sample as a cell, in this epoch's order.

Reading the strip (what the legend line says):

* one cell per sample, in the order the sampler chose for this pass over the data, wrapped over
  a few rows; batches are separated by a gap when there is room, and the current batch is
  bracketed ``[█████]``; when N is larger than the cells available, one cell stands for a group
  of consecutive samples of the order and the caption says "1 cell = g samples";
* colour: class (two colours) for classifiers, the target value (a small ramp) for regression;
  an aggregated cell blends its samples' colours;
* character (so that the states read without colour, e.g. under ``NO_COLOR``):
  ``█`` the current batch, ``░`` used already this epoch, ``▒`` still to come this epoch,
  ``·`` sits out this epoch (the ``drop_last`` leftover);
* under ``replacement`` sampling a cell is one draw; the second, third, ... draw of the same
  sample within the pass shows the digit 2, 3, ... and the caption gives how many samples were
  drawn twice or more and how many never;
* when a new order is drawn (reshuffle, first pass of ``once``, every pass of ``replacement``)
  the change is animated over a few frames: cells slide from their old place to the new one
  (or dissolve, when cells are aggregated). Under ``sequential`` and ``once`` the order stays
  and the caption says "same order every epoch".

The widget only reads the simulation (``sim.order``, ``sim.pending``/``sim.last`` positions,
``sim.plan``, ``sim.dataset``); it computes nothing about training.
"""

from __future__ import annotations

import time

import numpy as np
from rich.style import Style

from ..messages import SimulationChanged
from ._cells import LINE_CONTRAST, RGB, CellCanvas, blend, hex_rgb, readable, rich_color
from ._runs import current_or_brief
from ._strip_anim import ANIM_FPS, ANIM_FPS_IN_FRAMES, ANIM_FRAMES, ANIM_MIN_GAP, ReshuffleAnimation  # noqa: F401
from ._strip_layout import (CURRENT, GLYPHS, SITS_OUT, TO_COME, USED, _GLYPHS, Layout, make_layout,  # noqa: F401
                            occurrences)  # (tests import them here)
from ._strip_text import StripText

LEGEND = "█ current batch  ░ used  ▒ to come"

CLASS_COLORS_DARK = ("#56b4e9", "#f0a030")     # sky blue, orange (Okabe–Ito, colour-blind safe)
CLASS_COLORS_LIGHT = ("#0072b2", "#d55e00")
# viridis, sampled; the darkest end is dropped on dark themes so every cell stays visible
VIRIDIS = ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725")
RAMP_LEVELS = 7
BLEND_LEVELS = 5          # class mix of an aggregated cell: 0, ¼, ½, ¾, 1 of class 1

HEAVY_COOLDOWN = 0.5      # after repainting most of the strip, wait this long before the next
FAST_GAP = 1.5            # new orders closer than this (s): cells lose their colours meanwhile

def _ramp(colors: tuple[str, ...], n: int) -> list[RGB]:
    stops = [hex_rgb(c) for c in colors]
    out = []
    for k in range(n):
        x = k / max(1, n - 1) * (len(stops) - 1)
        a = min(int(x), len(stops) - 2)
        out.append(blend(stops[a], stops[a + 1], x - a))
    return out



class SampleStrip(StripText, ReshuffleAnimation, CellCanvas):
    """Every training sample in this pass's order: current batch, used, to come, sitting out.

    Call :meth:`show` with the simulation every frame; it repaints only the cells that changed.
    ``max_rows`` bounds the rows of cells (more samples than fit are grouped per cell; terminals
    under 30 lines get at most 3). ``animate=False`` makes the strip independent of the clock
    (for tests and snapshots): no reshuffle animation, no colour-saving mode while new orders
    arrive faster than every 1.5 s, no cool-down after a full repaint.
    """

    DEFAULT_CSS = """
    SampleStrip {
        height: auto;
        min-height: 2;
    }
    """

    def __init__(self, *, max_rows: int = 4, animate: bool = True, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_rows = max_rows
        self._max_rows_now = max_rows
        self.animate_reshuffle = animate
        self.layout_: Layout | None = None
        self.caption = ""
        self.legend = ""
        self._sim = None
        self._sig: tuple | None = None
        self._order: np.ndarray | None = None       # order shown (None: index order, not drawn yet)
        self._order_key: tuple | None = None        # (segment, pass) of the order shown
        self._levels: np.ndarray | None = None      # colour level per cell for the order shown
        self._occ: np.ndarray | None = None         # occurrence number per position (replacement)
        self._states: np.ndarray | None = None      # state per position of the order
        self._current = (0, 0)                      # the positions [start, stop) that are CURRENT
        self._iteration = 0
        self._suppress_anim = False
        self._anim: dict | None = None
        self._anim_timer = None
        self._deferred = False
        self._last_anim = -1e9
        self._cooldown_until = 0.0
        self._last_change = -1e9
        self._prev_change = -2e9
        self.fast = False
        self.MONO = 0
        self._recolour_timer = None
        self._seen_order: np.ndarray | None = None
        self._palette_key: tuple | None = None
        self._sid: dict = {}
        self._plan_laid_out = None

    # ------------------------------------------------------------------------------------
    # public API
    def show(self, sim, *, force: bool = False) -> None:  # noqa: ANN001
        """Redraw from the simulation if what the strip shows has changed."""
        if sim is not self._sim:
            # another simulation (new data or model): forget everything about the old one
            self._order = self._levels = self._occ = self._states = self._seen_order = None
            self._iteration = 0
            self._sig = None
            self._palette_key = None
            self._suppress_anim = True
            if self._anim is not None:
                self._stop_anim(redraw=False)
        self._sim = sim
        if not self.is_mounted:
            return
        size = self.size
        if size.width == 0:
            return
        now = time.monotonic()
        order = sim.order
        if order is not None and order is not self._seen_order:
            # when did the order last change (for the colour-saving mode while they fly by)
            if self._seen_order is not None and not np.array_equal(order, self._seen_order):
                self._prev_change, self._last_change = self._last_change, now
            self._seen_order = order
        sig = self._signature(sim, size)
        if sig == self._sig and not force:
            return
        if self._anim is not None and not force:
            # let the reshuffle play out; the latest state is drawn when it ends
            self._deferred = True
            if self._anim.get("in_frames"):
                self._anim_frame()       # running: its next frame in this frame of the run loop
            return
        if self._anim is not None:
            self._stop_anim(redraw=False)
        if now < self._cooldown_until and not force and self.animate_reshuffle:
            self.schedule_trailing(self._cooldown_until - now, lambda: self.show(self._sim))
            return
        self._sig = sig
        self._update(sim, now, force)

    def position_states(self) -> np.ndarray:
        """The state of each position of the order shown (CURRENT, USED, TO_COME or SITS_OUT)."""
        return np.array(self._states if self._states is not None else [], dtype=np.int8)

    @property
    def order_shown(self) -> np.ndarray | None:
        """The order the strip shows (None before the first batch: index order)."""
        return self._order

    def cell_states(self) -> np.ndarray:
        """The state of each cell (a cell is current if any of its positions is)."""
        lay = self.layout_
        if lay is None or self._states is None:
            return np.zeros(0, np.int8)
        return self._cell_states(lay, self._states, self._current)

    def replacement_counts(self) -> np.ndarray | None:
        """Draws per sample in the order shown (np.bincount), under replacement sampling."""
        if self._sim is None or self._order is None:
            return None
        return np.bincount(self._order, minlength=self._sim.dataset.n_samples)

    def on_simulation_changed(self, message: SimulationChanged) -> None:
        """A jump (back, reset, settings): show the new state without animating."""
        self._suppress_anim = True
        self._stop_anim()

    # ------------------------------------------------------------------------------------
    def _signature(self, sim, size=None) -> tuple:  # noqa: ANN001
        p = current_or_brief(sim)
        if p is not None:
            at = p.position
            pos = (at.start, at.stop, at.pass_index)
        else:
            pos = None
        size = self.size if size is None else size
        return (sim.iteration, sim.revision, pos, id(sim.order), size.width, size.height, self.app.theme)

    def on_resize(self) -> None:
        if self._anim is not None:
            self._deferred = False
            self._stop_anim(redraw=False)
        if self._sim is not None:
            self._sig = None
            self._update(self._sim, time.monotonic(), True)

    def _rows_available(self, h: int | None = None) -> int:
        h = self.size.height if h is None else h
        return max(1, min(self._max_rows_now, h - 2 if h >= 4 else h - 1 if h >= 2 else 1))

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        # short terminals (under 30 lines) get at most 3 rows of cells: the plots need the room
        self._max_rows_now = min(self.max_rows, 3) if viewport.height < 30 else self.max_rows
        sim = self._sim
        if sim is None:
            return self._max_rows_now + 2
        lay = make_layout(sim.dataset.n_samples, sim.plan.batch_sizes, width, self._max_rows_now)
        return lay.rows + 2

    # ------------------------------------------------------------------------------------
    def _update(self, sim, now: float, force: bool) -> None:  # noqa: ANN001
        n = sim.dataset.n_samples
        plan = sim.plan
        size = self.size
        width = size.width
        lay = make_layout(n, plan.batch_sizes, width, self._rows_available(size.height))
        if self.layout_ is None or lay.rows != self.layout_.rows or plan is not self._plan_laid_out:
            # a new plan may want more (or fewer) rows than the strip has now: ask for them
            self._plan_laid_out = plan
            want = make_layout(n, plan.batch_sizes, width, self._max_rows_now).rows + 2
            if want != size.height and self.styles.height is not None and self.styles.height.is_auto:
                self.refresh(layout=True)
        relayout = self.layout_ is None or (lay.rows, lay.width, lay.per_cell, lay.gaps, lay.cells) != (
            self.layout_.rows, self.layout_.width, self.layout_.per_cell, self.layout_.gaps, self.layout_.cells)
        self.layout_ = lay
        self._ensure_palette(sim)

        # the order and where we are in it
        p = current_or_brief(sim)
        order = sim.order
        at = p.position if p is not None else None
        key = (id(sim.segment), at.pass_index if at is not None else -1)
        self._segment_shown = sim.segment        # held, so its id is not reused meanwhile
        forward = sim.iteration > self._iteration
        self._iteration = sim.iteration
        old_order, old_levels = self._order, self._levels
        changed = (order is not self._order) and not (
            order is not None and self._order is not None and np.array_equal(order, self._order))
        order_new = changed or relayout or self._levels is None or key[0] != (self._order_key or (None,))[0]
        self._order = order                     # (same values: levels stay valid)
        if order_new:
            self._order_key = key
            self._levels = self._cell_levels(sim, lay, order)
            self._occ = occurrences(order) if (order is not None and sim.scenario.sampling == "replacement") else None
        # states per position
        states = np.full(n, TO_COME, dtype=np.int8)
        states[plan.samples_per_pass:] = SITS_OUT
        self._current = (0, 0)
        if p is not None and order is not None:
            cs, ce = at.start, at.stop
            states[:cs] = USED
            states[cs:ce] = CURRENT
            self._current = (cs, ce)
        self._states = states

        # orders changing faster than every FAST_GAP seconds: draw without per-sample colours
        # (a new order in colour repaints the whole strip; nobody can follow it at that rate)
        fast = (not force and self.animate_reshuffle and self._last_change - self._prev_change < FAST_GAP
                and now - self._last_change < FAST_GAP)
        self.fast = fast
        if fast:
            if self._recolour_timer is not None:
                self._recolour_timer.stop()
            self._recolour_timer = self.set_timer(self._last_change + FAST_GAP - now + 0.01, self._recolour)
        self._write_text(sim, p)

        animate = (
            not fast and changed and forward and self.animate_reshuffle and not self._suppress_anim and not force
            and order is not None and plan.batches_per_pass > 1
            and now - self._last_anim >= ANIM_MIN_GAP
            and sim.scenario.sampling in ("reshuffle", "replacement", "stratified", "once")
        )
        self._suppress_anim = False
        if animate:
            base = old_order if old_order is not None else np.arange(n)
            if old_levels is None or old_order is None:
                old_levels = self._cell_levels(sim, lay, base)
            self._start_anim(sim, lay, base, order, old_levels)
            return
        levels = np.full_like(self._levels, self.MONO) if fast else self._levels
        chars, sids = self._draw_cells(lay, states, levels, self._current, remember=not relayout)
        cells = self.paint(chars, sids, full=relayout)
        if cells > 0.5 * chars.size and not force and not fast:
            self._cooldown_until = now + HEAVY_COOLDOWN

    def _recolour(self) -> None:
        """Orders stopped flying by: draw the colours again."""
        self._recolour_timer = None
        if self._sim is not None and self.is_mounted:
            self._sig = None
            self.show(self._sim)

    # ------------------------------------------------------------------------------------
    # colours
    def _ensure_palette(self, sim) -> None:  # noqa: ANN001
        theme = self.app.current_theme
        bg = self.background_colors[1]
        key = (theme.name, bg.rgb, sim.dataset.task)
        if key == self._palette_key:
            return
        self._palette_key = key
        dark = theme.dark
        bg_rgb: RGB = (bg.r, bg.g, bg.b)
        fg = self.app.theme_variables.get("foreground", "#e0e0e0")
        fg_rgb = hex_rgb(fg)
        self.table = type(self.table)()
        base = self.base_style
        if sim.dataset.task == "classification":
            c0, c1 = (hex_rgb(c) for c in (CLASS_COLORS_DARK if dark else CLASS_COLORS_LIGHT))
            colors = [blend(c0, c1, k / (BLEND_LEVELS - 1)) for k in range(BLEND_LEVELS)]
        else:
            colors = _ramp(VIRIDIS[1:] if dark else VIRIDIS[:-1], RAMP_LEVELS)
        # every cell a marker (3:1 on the background), every word text (4.5:1): WCAG AA
        colors = [readable(c, bg_rgb, LINE_CONTRAST) for c in colors]
        self._colors = colors

        def mark(t: float) -> str:
            return rich_color(readable(blend(fg_rgb, bg_rgb, t), bg_rgb, LINE_CONTRAST))

        def words(t: float) -> str:
            return rich_color(readable(blend(fg_rgb, bg_rgb, t), bg_rgb))

        sid = {}
        for lvl, c in enumerate(colors):
            sid[lvl, CURRENT] = self.table.index(base + Style(color=rich_color(c), bold=True))
            # used cells share one muted colour: a long run of them is one segment on the wire
            sid[lvl, USED] = self.table.index(base + Style(color=mark(0.62)))
            sid[lvl, TO_COME] = self.table.index(base + Style(color=rich_color(c)))
        sid["sits"] = self.table.index(base + Style(color=mark(0.55)))
        sid["text"] = self.table.index(base + Style(color=words(0.25)))
        sid["title"] = self.table.index(base + Style(color=rich_color(readable(fg_rgb, bg_rgb)), bold=True))
        sid["muted"] = self.table.index(base + Style(color=words(0.45)))
        sid["bracket"] = self.table.index(base + Style(color=rich_color(readable(fg_rgb, bg_rgb)), bold=True))
        sid["blank"] = self.table.index(base)
        sid["flight"] = self.table.index(base + Style(color=mark(0.3)))
        self._sid = sid
        n_levels = len(colors)
        lut = np.zeros((n_levels + 1, 4), dtype=np.int32)
        for lvl in range(n_levels):
            for st in (CURRENT, USED, TO_COME):
                lut[lvl, st] = sid[lvl, st]
            lut[lvl, SITS_OUT] = sid["sits"]
        # the last row: no colour by sample (while orders change faster than the eye follows)
        lut[n_levels] = (sid["title"], sid[0, USED], sid["flight"], sid["sits"])
        self.MONO = n_levels
        self._lut = lut
        self._strips.clear()
        self._sig = None
        self._chars = np.empty((0, 0), dtype="<U1")   # force a full repaint

    def _cell_levels(self, sim, lay: Layout, order: np.ndarray | None) -> np.ndarray:  # noqa: ANN001
        """Colour level of each cell for this order (class mix or target)."""
        ds = sim.dataset
        n = ds.n_samples
        order = np.arange(n) if order is None else order
        if ds.task == "classification":
            value = ds.y[order].astype(float)                      # 0/1
            per = np.add.reduceat(value, lay.p0) / (lay.p1 - lay.p0)
            return np.clip(np.rint(per * (BLEND_LEVELS - 1)), 0, BLEND_LEVELS - 1).astype(np.int32)
        y = np.asarray(ds.y, float)
        lo, hi = float(np.min(y)), float(np.max(y))
        per = np.add.reduceat(y[order], lay.p0) / (lay.p1 - lay.p0)
        t = (per - lo) / (hi - lo) if hi > lo else np.zeros_like(per)
        return np.clip(np.floor(t * RAMP_LEVELS), 0, RAMP_LEVELS - 1).astype(np.int32)

    # ------------------------------------------------------------------------------------
    # drawing
    @staticmethod
    def _cell_states(lay: Layout, states: np.ndarray, current: tuple[int, int] | None = None) -> np.ndarray:
        """The state of each cell: an aggregated cell is current if any of its positions is, else
        sits out / used / to come by its first. ``current``: the positions [start, stop) that are
        CURRENT (the only ones), when known: then O(cells) (the cells' position ranges
        [p0, p1) are contiguous), not a pass over all N positions (~5 ms a frame at N = 10⁶)."""
        if lay.per_cell == 1:
            return states[lay.p0]
        if current is None:
            cur = np.add.reduceat((states == CURRENT).astype(np.int32), lay.p0) > 0
        else:
            start, stop = current
            cur = (lay.p0 < stop) & (lay.p1 > start) if stop > start else np.zeros(lay.cells, bool)
        out = states[lay.p0].copy()
        out[cur] = CURRENT
        return out

    def _draw_cells(self, lay: Layout, states: np.ndarray, levels: np.ndarray,
                    current: tuple[int, int] | None = None, *, remember: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The strip's cells (chars, sids) for these states. With ``remember`` (a frame of the
        run: the same order, layout and colours as the last one most of the time) the picture is
        kept, and the next one made from it by redrawing only the cells whose state changed and
        the rows they are on (:meth:`_redraw_changed`: the same picture, tested); the caller must
        not change the arrays returned. Without it the memory is dropped (the animation changes
        what it gets)."""
        cell_state = self._cell_states(lay, states, current)
        memo = self.__dict__.pop("_drawn", None)
        if remember and memo is not None:
            got = self._redraw_changed(memo, lay, cell_state, levels)
            if got is not None:
                self._drawn = (lay, levels, self._occ, self._memo_key(), cell_state, *got)
                return got[0], got[1]
        chars, sids = self._draw_all(lay, cell_state, levels)
        if remember:
            self._drawn = (lay, levels, self._occ, self._memo_key(), cell_state, chars, sids,
                           self._brackets(lay, cell_state))
        return chars, sids

    def _memo_key(self) -> tuple:
        """What a kept picture depends on besides the layout, the levels and the cells' states."""
        size = self.size
        return (size.height, size.width, self._palette_key, self.caption, self._legend_key())

    def _brackets(self, lay: Layout, cell_state: np.ndarray) -> list[tuple[int, int, str]]:
        """Where the brackets around the current batch go: (row, column, "[" or "]")."""
        out: list[tuple[int, int, str]] = []
        if not lay.gaps:
            return out
        h, w = self.size.height, self.size.width
        top = 1 if h >= 2 else 0
        cur = np.flatnonzero(cell_state == CURRENT)
        if len(cur):
            a, b = int(cur[0]), int(cur[-1])
            ra, ca = int(lay.row[a]) + top, int(lay.col[a]) - 1
            rb, cb = int(lay.row[b]) + top, int(lay.col[b]) + 1
            if ca >= 0 and ra < h:
                out.append((ra, ca, "["))
            if cb < w and rb < h:
                out.append((rb, cb, "]"))
        return out

    def _redraw_changed(self, memo: tuple, lay: Layout, cell_state: np.ndarray, levels: np.ndarray):  # noqa: ANN202
        """(chars, sids, brackets) from the kept picture ``memo`` when only the cells' states
        changed (None otherwise): the changed cells drawn, the old brackets taken away and the
        new ones put, and the rows touched given their gaps' styles again (a gap takes the style
        of the cell on its left: a whole-row rule, so those rows are redone whole)."""
        m_lay, m_levels, m_occ, m_key, m_state, m_chars, m_sids, m_brackets = memo
        place = self.__dict__.get("_place")
        if (m_lay is not lay or m_levels is not levels or m_occ is not self._occ or place is None
                or place[0] is not lay or not place[6] or m_key != self._memo_key()
                or m_chars.shape != place[1]):
            return None
        h, w = place[1]
        top = 1 if h >= 2 else 0
        blank = self._sid["blank"]
        chars, sids = m_chars.copy(), m_sids.copy()
        rows = set()
        for r, c, _ in m_brackets:
            chars[r, c] = " "
            rows.add(r)
        diff = np.flatnonzero(cell_state != m_state)
        if len(diff):
            st = cell_state[diff]
            ch = _GLYPHS[st]
            if self._occ is not None and lay.per_cell == 1:
                occ = self._occ[lay.p0[diff]]
                rep = occ >= 2
                ch[rep] = np.where(occ[rep] >= 10, "+", occ[rep].astype(str))
            rr, cc = lay.row[diff] + top, lay.col[diff]
            chars[rr, cc] = ch
            sids[rr, cc] = self._lut[levels[diff], st]
            rows.update(rr.tolist())
        brackets = self._brackets(lay, cell_state)
        rows.update(r for r, _, _ in brackets)
        columns = place[5][0]
        for r in rows:
            row_c, row_s = chars[r], sids[r]
            gap = row_c == " "
            row_s[gap] = blank
            filled = np.where(gap, 0, columns)
            np.maximum.accumulate(filled, out=filled)
            sids[r] = row_s[filled]
        bracket = self._sid["bracket"]
        for r, c, mark in brackets:
            chars[r, c], sids[r, c] = mark, bracket
        return chars, sids, brackets

    def _draw_all(self, lay: Layout, cell_state: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The whole picture: the cells in their states, the gaps, the brackets, the caption
        and the legend."""
        size = self.size
        h, w = size.height, size.width
        top = 1 if h >= 2 else 0
        bottom = h - 1 if h >= 4 else h
        # what depends only on the layout and the size (the strip asks every frame): the cells'
        # screen places, kept with the last layout drawn
        place = self.__dict__.get("_place")
        if place is None or place[0] is not lay or place[1] != (h, w):
            rows = lay.row + top
            ok = (rows < bottom) & (lay.col < w)
            place = self.__dict__["_place"] = (lay, (h, w), ok, rows[ok], lay.col[ok],
                                               np.arange(w)[None, :], ok.all())
        _, _, ok, ok_rows, ok_cols, columns, all_ok = place
        chars = np.full((h, w), " ", dtype="<U1")
        sids = np.full((h, w), self._sid["blank"], dtype=np.int32)
        ch = _GLYPHS[cell_state]
        if self._occ is not None and lay.per_cell == 1:
            occ = self._occ[lay.p0]
            rep = occ >= 2
            ch[rep] = np.where(occ[rep] >= 10, "+", occ[rep].astype(str))
        sid = self._lut[levels, cell_state]
        chars[ok_rows, ok_cols] = ch if all_ok else ch[ok]
        sids[ok_rows, ok_cols] = sid if all_ok else sid[ok]
        # a gap takes the style of the cell on its left (a space shows no colour anyway), so
        # runs of equal cells merge across gaps into one segment
        r0, r1 = top, min(top + lay.rows, bottom)
        if r1 > r0:
            block_c, block_s = chars[r0:r1], sids[r0:r1]
            filled = np.where(block_c != " ", columns, 0)
            np.maximum.accumulate(filled, axis=1, out=filled)
            sids[r0:r1] = np.take_along_axis(block_s, filled, axis=1)
        # brackets around the current batch in the gaps
        for r, c, mark in self._brackets(lay, cell_state):
            chars[r, c], sids[r, c] = mark, self._sid["bracket"]
        # the caption and the legend rows hold no cells: drawn once, copied while they stay
        if top:
            chars[0], sids[0] = self._text_row("caption", w, (self.caption, self._sid["text"]),
                                               lambda c, s: self.put_text(c, s, 0, self.caption, self._sid["text"]))
        if h >= 4:
            chars[h - 1], sids[h - 1] = self._text_row("legend", w, self._legend_key(),
                                                       lambda c, s: self._put_legend(c, s, 0))
        return chars, sids
