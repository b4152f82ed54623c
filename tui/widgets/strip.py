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



class SampleStrip(ReshuffleAnimation, CellCanvas):
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
        chars, sids = self._draw_cells(lay, states, levels, self._current)
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
                    current: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
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
        cell_state = self._cell_states(lay, states, current)
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
        if lay.gaps:
            cur = np.flatnonzero(cell_state == CURRENT)
            if len(cur):
                a, b = int(cur[0]), int(cur[-1])
                ra, ca = int(lay.row[a]) + top, int(lay.col[a]) - 1
                rb, cb = int(lay.row[b]) + top, int(lay.col[b]) + 1
                if ca >= 0 and ra < h:
                    chars[ra, ca], sids[ra, ca] = "[", self._sid["bracket"]
                if cb < w and rb < h:
                    chars[rb, cb], sids[rb, cb] = "]", self._sid["bracket"]
        # the caption and the legend rows hold no cells: drawn once, copied while they stay
        if top:
            chars[0], sids[0] = self._text_row("caption", w, (self.caption, self._sid["text"]),
                                               lambda c, s: self.put_text(c, s, 0, self.caption, self._sid["text"]))
        if h >= 4:
            chars[h - 1], sids[h - 1] = self._text_row("legend", w, self._legend_key(),
                                                       lambda c, s: self._put_legend(c, s, 0))
        return chars, sids

    def _text_row(self, name: str, w: int, key: tuple, draw) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        """A row of text (the caption, the legend) as ``draw`` puts it on a blank row of width
        ``w``, kept while ``key``, the width and the palette stay the same."""
        rows = self.__dict__.setdefault("_text_rows", {})
        full = (w, self._palette_key, key)
        hit = rows.get(name)
        if hit is None or hit[0] != full:
            c = np.full((1, w), " ", dtype="<U1")
            s = np.full((1, w), self._sid["blank"], dtype=np.int32)
            draw(c, s)
            hit = rows[name] = (full, c[0], s[0])
        return hit[1], hit[2]

    def _legend_key(self) -> tuple:
        """What the legend line depends on (besides the width and the style table)."""
        sim, lay = self._sim, self.layout_
        return (sim is not None and bool(sim.plan.leftover) and sim.order is not None,
                self._occ is not None and lay is not None and lay.per_cell == 1,
                sim.dataset.task if sim is not None else "classification", len(self._colors))

    def _put_legend(self, chars: np.ndarray, sids: np.ndarray, y: int) -> None:
        sid = self._sid
        x = 0
        lay = self.layout_
        for state, word in ((CURRENT, "current batch"), (USED, "used"), (TO_COME, "to come")):
            x = self.put_text(chars, sids, y, GLYPHS[state], sid[0, USED] if state == USED else sid["title"], x)
            x = self.put_text(chars, sids, y, f" {word}  ", sid["muted"], x)
        if self._sim is not None and self._sim.plan.leftover and self._sim.order is not None:
            x = self.put_text(chars, sids, y, "·", sid["sits"], x)
            x = self.put_text(chars, sids, y, " sits out  ", sid["muted"], x)
        if self._occ is not None and lay is not None and lay.per_cell == 1:
            x = self.put_text(chars, sids, y, "2", sid["title"], x)
            x = self.put_text(chars, sids, y, " 2nd draw  ", sid["muted"], x)
        task = self._sim.dataset.task if self._sim is not None else "classification"
        if task == "classification":
            x = self.put_text(chars, sids, y, "■", sid[0, TO_COME], x)
            x = self.put_text(chars, sids, y, " class 0 ", sid["muted"], x)
            x = self.put_text(chars, sids, y, "■", sid[len(self._colors) - 1, TO_COME], x)
            x = self.put_text(chars, sids, y, " class 1", sid["muted"], x)
        else:
            x = self.put_text(chars, sids, y, "target y: low ", sid["muted"], x)
            for lvl in range(len(self._colors)):
                x = self.put_text(chars, sids, y, "■", sid[lvl, TO_COME], x)
            x = self.put_text(chars, sids, y, " high", sid["muted"], x)
        self.legend = "".join(chars[y].tolist()).rstrip()

    def _write_text(self, sim, p) -> None:  # noqa: ANN001
        """The caption: which order, where the current batch sits, how cells are grouped.

        Parts are dropped, least important first, until the caption fits the width.
        """
        sc = sim.scenario
        c = sim.counters()
        lay = self.layout_
        n = sim.dataset.n_samples
        passes_differ = getattr(sc, "steps_per_epoch_or_none", None) is not None
        # what the caption says depends on these alone: kept while they stay (every frame)
        key = (c.pass_number if passes_differ else c.epoch, passes_differ, sc.sampling, n, id(sim.order),
               sim.order is None, sim.plan.leftover, lay.per_cell if lay is not None else None,
               self._anim is not None, getattr(self, "fast", False), self.size.width)
        if key == self.__dict__.get("_caption_key") and sim.order is self.__dict__.get("_caption_order"):
            return
        self._caption_key, self._caption_order = key, sim.order
        unit = f"Pass {c.pass_number}" if passes_differ else f"Epoch {c.epoch}"
        every = "pass" if passes_differ else "epoch"
        how = {
            "reshuffle": f"reshuffled every {every}",
            "once": f"shuffled once, same order every {every}",
            "sequential": f"sequential, same order every {every}",
            "stratified": "stratified: each batch keeps the class mix",
            "replacement": "drawn with replacement",
        }.get(sc.sampling, sc.sampling)
        parts: list[tuple[int, str]] = []            # (priority: lower is kept longer, text)
        if sim.order is None:
            parts.append((0, f"{n} samples in index order"))
            parts.append((3, "the order is drawn when the epoch starts"))
            parts.append((2, how))
        elif sc.sampling == "replacement":
            counts = np.bincount(sim.order, minlength=n)
            parts.append((0, f"{unit}: {n} draws with replacement"))
            parts.append((1, f"{int((counts >= 2).sum())} samples drawn 2+ times, {int((counts == 0).sum())} never"))
        else:
            parts.append((0, f"{unit}'s order"))
            parts.append((1, how))
        if sim.plan.leftover:
            parts.append((2, f"drop_last: {sim.plan.leftover} sit out"))
        if lay is not None and lay.per_cell > 1:
            parts.append((1, f"1 cell = {lay.per_cell} samples"))
        if self._anim is not None:
            parts.insert(1, (0, "new order!"))
        if getattr(self, "fast", False):
            parts.append((1, "colours return when epochs slow down"))
        width = self.size.width
        text = " · ".join(t for _, t in parts)
        while len(text) > width and len(parts) > 1:
            worst = max(range(len(parts)), key=lambda k: (parts[k][0], k))
            parts.pop(worst)
            text = " · ".join(t for _, t in parts)
        self.caption = text[:width]
