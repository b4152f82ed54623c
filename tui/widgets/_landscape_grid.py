"""The landscape's heat-map grid: computed inline when cheap, else in a thread (one at a time),
and its colour scale kept while the values stay in range; its threads' computations given up when
stale or out of sight, and draws a throttle refused brought later (:class:`LandscapeGrid`, a
mixin of :class:`~tui.widgets.landscape.LandscapeView`)."""

from __future__ import annotations

import time

import numpy as np

from mbsim.engine.landscape import plane_grid

from ._landscape_geometry import Box

GRID_THROTTLE = 0.5         # s between grid recomputations while held parameters move (> 2 params)
GRID_CPU_SHARE = 0.015      # the share of a core the moving heat map (> 2 params) may take
SYNC_COST = 4e6             # grid points × samples × parameters below which we compute inline


class LandscapeGrid:
    """The grid part of the landscape view (its host is a CellCanvas with ``pair``, ``box``,
    ``grid``, ``levels``, ``_sim``, ``_sim_id``, ``_grid_key``, ``_grid_flight``,
    ``_grid_throttle``, ``_scale``, ``_scale_key``, ``_sig`` and ``_draw``)."""

    def _update_grid(self, sim, plane, box: Box, pw: int, ph: int, force: bool) -> None:  # noqa: ANN001
        key = (box, pw, ph, self.pair, self._sim_id, plane.kind, plane.origin.tobytes(),
               plane.u.tobytes(), plane.v.tobytes())
        if key == self._grid_key:
            return
        xs = box.x0 + (np.arange(pw) + 0.5) * (box.x1 - box.x0) / pw
        ys = box.y1 - (np.arange(ph) + 0.5) * (box.y1 - box.y0) / ph          # top row first
        cost = pw * ph * sim.dataset.n_samples * sim.model.n_params
        i, j = self.pair
        X, y = sim.X, sim.y
        if cost <= SYNC_COST or self.grid is None and cost <= 4 * SYNC_COST:
            self._grid_key = key
            self._set_grid(plane_grid(sim.model, X, y, plane, xs, ys, i, j))
        else:
            if self._grid_flight == self._sim_id:
                # one grid at a time: at large N one takes seconds, and a box that grew meanwhile
                # would start another beside it (each finished only to be thrown away); the
                # newest is asked for when this one ends (_got_grid)
                return
            self._grid_key = key
            self._grid_flight = gen = self._sim_id

            def compute():  # noqa: ANN202 - in the worker thread
                cpu = time.thread_time()
                grid = plane_grid(sim.model, X, y, plane, xs, ys, i, j)
                self._grid_cpu = time.thread_time() - cpu
                return grid

            self.run_in_thread(("grid", gen, key), compute, lambda k, g: self._got_grid(k, g), group="landscape")

    def _got_grid(self, key: tuple, grid) -> None:  # noqa: ANN001
        # a costly grid (held parameters moving, a large model) is recomputed at most as often as
        # keeps it within GRID_CPU_SHARE of a core; the path and "now" still move every draw
        self._grid_throttle.interval = max(GRID_THROTTLE, getattr(self, "_grid_cpu", 0.0) / GRID_CPU_SHARE)
        if self._grid_flight == key[1]:
            self._grid_flight = None
        if key[1] != self._sim_id:
            return
        if key[2] == self._grid_key:
            self._set_grid(grid)
        self._sig = None
        host = self._in_running_loop()
        if host:
            # running: drawn in the loop's next landscape frame (its rate, not one more screen
            # refresh between two frames)
            host._plot_dirty[self] = True
        elif self._sim is not None and self.is_mounted:
            self._draw(self._sim, False)          # (and the newest grid, if the picture moved meanwhile)

    def _draw_later(self, wait: float) -> None:
        """A draw (or a plane) refused by a throttle comes later: running, in a later frame of
        the run loop that draws this panel (marked for it: that loop, or its plot timer once
        paused, draws it); else by a timer of its own after ``wait`` seconds."""
        host = self._in_running_loop()
        if host is not None:
            host._plot_dirty[self] = True
        else:
            self.schedule_trailing(wait, lambda: self.show(self._sim))

    def work_stale(self, key: tuple) -> bool:
        """A grid or reference path of a simulation no longer shown (both keys carry its
        ``_sim_id`` second): given up, so the new one's does not wait for it."""
        if key[0] == "ref" and len(key) > 2 and key[2] != self._ref_lr_now():
            return True                   # the cloud's path of an lr no longer in force
        return len(key) > 1 and key[0] in ("grid", "ref") and key[1] != self._sim_id

    def work_cancelled(self, key: tuple) -> None:
        """A grid or the reference path given up while out of sight (another screen over this
        one): forgotten, and asked again once the screen is shown (:meth:`_back_in_sight`); one
        of a simulation no longer shown (:meth:`work_stale`) is only forgotten."""
        if self.work_stale(key):
            return
        if key[0] == "grid":
            if self._grid_flight == key[1]:
                self._grid_flight = None
            if key[2] == self._grid_key:
                self._grid_key = None
        if not self._waits_for_sight and not (self._closing or self._closed):
            self._waits_for_sight = True
            self.app.screen_change_signal.subscribe(self, self._back_in_sight)
            if not self.out_of_sight():
                # given up out of sight, but the screen came back before this was heard (the
                # worker's finish queued behind the key that closed the other screen): the
                # screen change has passed, so ask again now
                self.call_later(self._back_in_sight, None)

    def _back_in_sight(self, _screen) -> None:  # noqa: ANN001
        if self.out_of_sight() or not self._waits_for_sight:
            return
        self._waits_for_sight = False
        self.app.screen_change_signal.unsubscribe(self)
        self._sig = None
        if self._sim is not None:
            self.show(self._sim, force=True)

    def worker_failed(self, key: tuple, err: Exception, trace: str) -> None:
        """A grid that failed is no longer in flight (else every later grid of this simulation
        would wait for it for good: the heat map of an old plane under the paths of a new one);
        its key stays, so the same picture is not asked for again and again."""
        if key and key[0] == "grid" and self._grid_flight == key[1]:
            self._grid_flight = None
        super().worker_failed(key, err, trace)

    def refit_scale(self) -> None:
        """The colour scale fitted afresh to the grid shown (after a reset or a settle: the
        picture then depends on the state alone, not on the grids drawn before)."""
        self._scale = None
        if self.grid is not None:
            self._set_grid(self.grid)

    def _set_grid(self, grid) -> None:  # noqa: ANN001
        """Take a new grid; keep the colour scale while its values stay in range (so a grid
        recomputed for slightly moved held parameters changes few cells): the same picture (its
        held parameter, box and resolution), else a scale fitted afresh."""
        self.grid = grid
        z = np.log10(grid.loss[np.isfinite(grid.loss) & (grid.loss > 0)])
        if len(z):
            lo, hi = float(z.min()), float(z.max())
            scale = self._scale
            picture = (grid.i, self.box, grid.loss.shape)
            if (scale is None or picture != self._scale_key or lo < scale[0] or hi > scale[1]
                    or (hi - lo) < 0.6 * (scale[1] - scale[0])):
                pad = 0.02 * (hi - lo)
                scale = (lo - pad, hi + pad)
            self._scale, self._scale_key = scale, picture
        self.levels = self.loss_levels(grid.loss, scale=self._scale)

