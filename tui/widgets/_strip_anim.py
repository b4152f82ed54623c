"""The sample strip's reshuffle animation (a mixin of :class:`~.strip.SampleStrip`): when a new
order is drawn, cells slide from their old place to the new one over :data:`ANIM_FRAMES` frames
(or flicker into it, when cells are aggregated or drawn with replacement), in one neutral colour;
the colours land at the end.

Its frames come from a timer at :data:`ANIM_FPS`; while the app runs at
:data:`ANIM_FPS_IN_FRAMES` batches a second or more, from the run loop's frames instead (each
drawn in the frame's one screen refresh, with the counters: issue 24, a light running app), the
timer only ending an animation the frames stopped playing (a pause)."""

from __future__ import annotations

import time

import numpy as np

from ._strip_layout import GLYPHS, SITS_OUT, TO_COME, Layout

ANIM_FRAMES = 5
ANIM_FPS = 15.0
ANIM_MIN_GAP = 1.5        # seconds between two reshuffle animations (fast runs skip them)
ANIM_FPS_IN_FRAMES = 10   # running at this many batches a second or more, the run loop's frames play it


class ReshuffleAnimation:
    """The animation part of the strip (its host is a SampleStrip: ``_anim``, ``_anim_timer``,
    ``_levels``, ``_states``, ``_current``, ``_sid``, ``layout_``, ``_deferred``, ``_sim``,
    ``_draw_cells``, ``paint`` and ``show``)."""

    def _start_anim(self, sim, lay: Layout, old: np.ndarray, new: np.ndarray,  # noqa: ANN001
                    old_levels: np.ndarray) -> None:
        n = len(new)
        slide = lay.per_cell == 1 and sim.scenario.sampling != "replacement" and len(old) == n
        anim: dict = {"frame": 0, "lay": lay, "slide": slide}
        if slide:
            # each sample's cell in the old and in the new order
            inv_old = np.empty(n, dtype=np.int64)
            inv_old[old] = np.arange(n)
            inv_new = np.empty(n, dtype=np.int64)
            inv_new[new] = np.arange(n)
            samples = np.arange(n)
            anim["src"] = (lay.row[inv_old[samples]].astype(float), lay.col[inv_old[samples]].astype(float))
            anim["dst"] = (lay.row[inv_new[samples]].astype(float), lay.col[inv_new[samples]].astype(float))
            anim["level"] = self._levels[inv_new[samples]]
        else:
            rng = np.random.default_rng(lay.cells)
            anim["switch"] = rng.integers(1, ANIM_FRAMES, size=lay.cells)
            anim["old_levels"] = old_levels
        anim["in_frames"] = self._run_loop_frames()
        self._anim = anim
        self._last_anim = time.monotonic()
        self._anim_frame()
        self._anim_timer = self.set_interval(1.0 / ANIM_FPS, self._anim_tick)

    def _run_loop_frames(self) -> bool:
        """True when the app's run loop redraws the strip at least :data:`ANIM_FPS_IN_FRAMES`
        times a second (running at a set speed of that many batches a second or more): the
        reshuffle then plays in its frames, each drawn with the counters in one screen refresh
        (issue 24: a light running app), rather than by a timer of its own between them."""
        app = self.app
        speed = getattr(app, "speed", None)
        return (bool(getattr(app, "running", False)) and getattr(app, "goal", None) is None
                and speed is not None and speed >= ANIM_FPS_IN_FRAMES and app.screen is self.screen)

    def _anim_tick(self) -> None:
        """The animation's timer: its next frame, unless the run loop's frames play it (then only
        when they stopped coming: a pause, a run that ended)."""
        anim = self._anim
        if anim is None:
            return
        if anim.get("in_frames") and time.monotonic() - anim.get("at", 0.0) < 2.0 / ANIM_FPS_IN_FRAMES:
            return
        self._anim_frame()

    def _anim_frame(self) -> None:
        anim = self._anim
        if anim is None:
            return
        anim["frame"] += 1
        anim["at"] = time.monotonic()
        f = anim["frame"]
        if f >= ANIM_FRAMES:
            self._stop_anim()
            return
        lay: Layout = anim["lay"]
        h, w = self.size.height, self.size.width
        if lay is not self.layout_ or lay.width > w:
            self._stop_anim()
            return
        states = np.full(len(self._states), TO_COME, dtype=np.int8)
        states[self._states == SITS_OUT] = SITS_OUT
        # the cells in flight are drawn in one neutral colour: a frame is then one segment per
        # row on the wire (a frame in colour would cost a full repaint); colour lands at the end
        chars, sids = self._draw_cells(lay, states, self._levels, (0, 0))   # (none current)
        top = 1 if h >= 2 else 0
        bottom = h - 1 if h >= 4 else h
        cells_r = lay.row + top
        okc = (cells_r < bottom) & (lay.col < w)
        flight = self._sid["flight"]
        chars[cells_r[okc], lay.col[okc]] = " "
        sids[top:bottom, :] = flight
        if anim["slide"]:
            t = f / ANIM_FRAMES
            e = t * t * (3 - 2 * t)                       # smoothstep
            (r0, c0), (r1, c1) = anim["src"], anim["dst"]
            rr = np.rint(r0 + (r1 - r0) * e).astype(int)
            cc = np.rint(c0 + (c1 - c0) * e).astype(int)
            inside = (rr + top < bottom) & (cc < w) & (rr >= 0) & (cc >= 0)
            chars[rr[inside] + top, cc[inside]] = GLYPHS[TO_COME]
        else:
            # aggregated cells or draws with replacement: the cells flicker into the new order
            on = anim["switch"] != f
            keep = okc & on
            chars[cells_r[keep], lay.col[keep]] = GLYPHS[TO_COME]
        self.paint(chars, sids)

    def _stop_anim(self, redraw: bool = True) -> None:
        if self._anim_timer is not None:
            self._anim_timer.stop()
            self._anim_timer = None
        if self._anim is not None:
            self._anim = None
            if self._deferred and redraw and self._sim is not None:
                self._deferred = False
                self._sig = None
                self.show(self._sim)
                return
            self._deferred = False
            if redraw and self.layout_ is not None and self._states is not None and self._levels is not None:
                chars, sids = self._draw_cells(self.layout_, self._states, self._levels, self._current)
                self.paint(chars, sids)

    @property
    def animating(self) -> bool:
        """True while a reshuffle animation is playing."""
        return self._anim is not None
