"""The loss landscape: full-data loss on a plane, with both paths, the minimum and the arrows.

* The plane (``engine.landscape``): for two parameters the axes themselves (w across, b up);
  for more, the plane through the start θ₀, the current point and the end of full-batch GD
  (Li et al. 2018 slice along directions from the trajectory), so "now" lies on the plane, the
  colour under it is its true loss and it ends its own path; the title says which. The palette
  can still pick two parameters (``set_params``), the others held at their current values.
* Heat map of the full training loss L(θ) on the plane, drawn with half-block cells (``▀``:
  foreground = upper pixel, background = lower pixel) so the vertical resolution is doubled and
  pixels are about square. Colours follow log L over the values in view (dark = low loss).
* White = the full data: the full-batch gradient-descent reference path (solid; same start and
  learning rate, ``sim.reference_path()``), the minimum ◆ (least squares for linear regression,
  else GD's converged end or its lowest point: ``engine.landscape.minimum``) and the arrow −G.
* Pink = this run: its path so far (dotted), the current point ``●`` and the arrow −ĝ of the
  current batch's gradient; with momentum also −b, the velocity (the step is −lr·b). The arrows
  share one scale, so their lengths compare.
* The view box covers the minimum, GD's path and the whole run with a margin, and only grows
  (the picture does not jump) until a reset. A run that is diverging is framed on the bowl
  (start and minimum, :data:`BOWL_ZOOM` times wider): its first overshooting steps zig-zag
  across the valley, the later ones leave the map (an arrow on the edge shows where "now" went).
  The grid is cached; while the plane moves (more than two parameters) it is recomputed at most
  twice a second.

One widget for one run, a handful or a cloud (``show(source)``,
:func:`~tui.widgets._runs.source_kind`): the main screen shows one run as above; compare mode
(a :class:`~engine.compare.Comparison`) draws each run's path and current point in its
:data:`~tui.widgets._runs.RUN_STYLES` colour and marker, from the common start ○; the noise
cloud (an :class:`~engine.ensemble.Ensemble`) draws the K runs' current parameters as a cloud
of points, their mean ✚, GD's path and the minimum. The map, the plane, the box and the colours
are the same code for all three. A one-parameter model has no second axis: one run says so (the
lens shows it); several draw w across and training time (epochs) downwards.

Heavy work (the reference path, a grid over a large data set) runs in a thread so that the app
keeps answering keys; the picture appears when it is ready.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..messages import SimulationChanged
from ._cells import CellCanvas, Throttle
from ._landscape_geometry import (ARROWS, BOWL_ZOOM, REF_ZOOM, Box, _box_of, _fmt, _widen,  # noqa: F401
                                  lead_simulation, segment_pixels)
from ._landscape_palette import (CLOUD_COLOR, FULL_COLOR, G_COLOR, GHAT_COLOR, HEAT_LEVELS,  # noqa: F401
                                 HEAT_STOPS, NAN_COLOR, RUN_COLOR, SHADES, START_COLOR, VEL_COLOR,
                                 LandscapePalette)
from ._landscape_grid import GRID_CPU_SHARE, GRID_THROTTLE, SYNC_COST, LandscapeGrid  # noqa: F401
from ._landscape_runs import SeveralRuns
from ._runs import RUN_STYLES, START_MARKER, revision_key, source_kind

from mbsim.engine.landscape import axes_plane, path_plane
from mbsim.engine.landscape import minimum as landscape_minimum

DRAW_THROTTLE = 0.5         # s between redraws while running (force=True draws at once)
FRAME_SLACK = 0.05          # s early a frame may come and still draw (half the default frame gap)
HEAVY_SHARE = 0.25          # a repaint of more than this share of the cells is "heavy" ...
HEAVY_COOLDOWN = 6.0        # ... and held-parameter grid updates then wait this long (s)


class LandscapeView(LandscapeGrid, SeveralRuns, LandscapePalette, CellCanvas):
    """Heat map of the full-data loss over two parameters, with the paths and the gradients.

    ``params`` is the pair (i, j) of parameter indices shown (default the first two: for linear
    models the weight w and the bias b); change it with :meth:`set_params`.
    """

    PLOT_KIND = "landscape"          # its timing row in tui.runloop

    DEFAULT_CSS = """
    LandscapeView {
        width: 1fr;
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, *, params: tuple[int, int] = (0, 1), name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.pair = (int(params[0]), int(params[1]))
        self.box: Box | None = None
        self.grid = None                  # engine Grid: loss[r, c] at (xs[c], ys[r]), ys top→bottom
        self.levels: np.ndarray | None = None
        self.title = ""
        self.legend = ""
        self.pending_work = False         # a thread is computing the reference path or a grid
        self._sim = None                  # what show() was given: a Simulation, Comparison or Ensemble
        self._lead = None                 # its Simulation that gives the data, model and plane
        self.kind = "one"                 # source_kind: one, runs or cloud
        self._sim_id = 0
        self._ref: np.ndarray | None = None
        self._sig: tuple | None = None
        self._grid_key: tuple | None = None
        self._grid_held: np.ndarray | None = None
        self._grid_flight: int | None = None   # the _sim_id whose grid a thread computes
        self._waits_for_sight = False     # a computation was given up out of sight (work_cancelled)
        self._ref_lr = None               # the cloud's: the lr its reference path is of (None: the run's own)
        self._grid_throttle = Throttle(GRID_THROTTLE)
        self._draw_throttle = Throttle(DRAW_THROTTLE)
        self._generation = 0
        self._palette_key: tuple | None = None
        self._scale: tuple[float, float] | None = None
        self._scale_key: tuple = (None, None, None)
        self._heavy_until = 0.0
        self._heat_sids: np.ndarray | None = None
        self.plane = None                 # engine Plane of the picture
        self.plane_mode = "path"          # "path" (more than two parameters) or "axes" (set_params)
        self._box_kind: tuple | None = None
        self._min_key: tuple | None = None
        self._min: tuple = (None, "")
        self.minimum_label = ""
        self.minimum_cell: tuple[int, int] | None = None
        self.path_pixels: np.ndarray | None = None
        self.off_map = False
        # several runs (compare mode) and the cloud (tests read these)
        self.paths: list[np.ndarray] = []         # per run: drawn (x, y) points, start first, now last
        self.current: list[tuple[float, float]] = []
        self.marks: list[tuple[int, int] | None] = []   # per run: the cell (row, col) of its marker
        self.runs_off_map: list[bool] = []
        self.cloud_xy: np.ndarray | None = None    # the cloud's points on the picture's plane
        self.cloud_inside = 0                      # how many of them are on the map

    # ------------------------------------------------------------------------------------
    # public API
    def set_params(self, i: int, j: int) -> None:
        """Show the loss over parameters i and j (indices into ``sim.model.param_names``)."""
        if i == j:
            raise ValueError("the two parameters shown must differ")
        self.pair = (int(i), int(j))
        self.plane_mode = "axes"
        self.plane = None
        self.box = None
        self._grid_key = None
        self._sig = None
        if self._sim is not None:
            self.show(self._sim, force=True)

    def show(self, sim, *, force: bool = False) -> None:  # noqa: ANN001
        """Redraw from ``sim`` — a Simulation, a Comparison or an Ensemble — if anything shown
        changed (rate-limited while running)."""
        if self._closing or self._closed:
            return                        # a closed panel keeps nothing (forget_sources)
        if sim is not self._sim:
            self.kind = source_kind(sim)
            self._new_sim(lead_simulation(sim))
        self._sim = sim
        self._lead = lead_simulation(sim)
        if not self.is_mounted or self.size.width < 4 or self.size.height < 3:
            return
        lead = self._lead
        sig = (revision_key(sim), lead.iteration, lead.step, lead.phase, lead.revision, tuple(self.size),
               self.pair, self.app.theme)
        if sig == self._sig and not force:
            return
        now = time.monotonic()
        # (a frame of the run loop may come a little early: within FRAME_SLACK it draws now, in
        # that frame, rather than by a timer of its own a moment later: one screen refresh, not two)
        if not force and not self._draw_throttle.ready(now + FRAME_SLACK):
            self._draw_later(self._draw_throttle.wait(now))
            return
        self._draw_throttle.mark(now)
        self._sig = sig
        self._draw(sim, force)

    def on_simulation_changed(self, message: SimulationChanged) -> None:
        """After a reset or a change of settings, fit the box afresh."""
        if message.kind in ("reset", "settings"):
            self.box = None
            self.plane = None
            self._sig = None
            self.levels = None if self.kind != "one" else self.levels
            if self.kind == "one":
                self.refit_scale()
            if self.kind == "cloud" and message.kind == "settings":
                self._ref = None              # a new lr for all K runs: GD's path is another
                self._min_key = None

    def on_resize(self) -> None:
        self._sig = None
        self._grid_key = None
        if self._sim is not None:
            self.show(self._sim, force=True)

    # ------------------------------------------------------------------------------------
    def _new_sim(self, sim) -> None:  # noqa: ANN001
        self._sim_id += 1
        self._ref = None
        self.box = None
        self.grid = None
        self.levels = None
        self._grid_key = None
        self._sig = None
        self.plane = None
        self.plane_mode = "path"          # a new run starts on its path's plane
        self._min_key = None
        n = sim.model.n_params
        i, j = self.pair
        if n == 1 and self.kind != "one":
            self.pair = (0, None)         # several runs of one parameter: w across, time down
        elif not (0 <= i < n and j is not None and 0 <= j < n and i != j):
            self.pair = (0, 1) if n >= 2 else (0, 0)

    def _pixels(self) -> tuple[int, int, int]:
        """(pixel columns, pixel rows, first cell row of the map)."""
        h, w = self.size.height, self.size.width
        top = 1
        bottom = 1 if h >= 6 else 0
        return w, 2 * max(1, h - top - bottom), top

    def _reference(self, sim):  # noqa: ANN001
        """The reference path, or None while a thread computes it."""
        lr = self._ref_lr_now()
        if self._ref is not None and self._ref_lr == lr:
            return self._ref
        self._ref, self._ref_lr = None, lr
        sc0 = sim.segments[0].scenario
        cost = min(2000, max(sc0.epochs, 50)) * sim.dataset.n_samples * sim.model.n_params
        # the cloud's GD path is the ensemble's (its lr in force); else the run's own
        path = getattr(self._sim, "reference_path", sim.reference_path) if self.kind == "cloud" else sim.reference_path
        if cost <= 2e6:
            self._ref = path()
            return self._ref
        self.run_in_thread(("ref", self._sim_id, lr), path, self._got_reference, group="landscape")
        return None

    def forget_sources(self) -> None:
        """Closed: the simulation(s) shown and the arrays drawn from them go (a compare screen's
        three runs stayed alive while its panel's finished workers were kept: 30 MB at
        N = 10⁶ with stratified sampling)."""
        self._sim = self._lead = None
        self.grid = self._ref = self._grid_held = self.levels = None
        self.plane = self.path_pixels = self.cloud_xy = self._heat_sids = None
        self.paths, self.current, self.marks = [], [], []

    def _ref_lr_now(self) -> float | None:
        """The cloud's lr in force (its GD path follows it: a change, a reset or going back before
        a change); None elsewhere (a run's path keeps its first lr)."""
        return self._sim.scenario.lr if self.kind == "cloud" and self._sim is not None else None

    def _got_reference(self, key: tuple, ref: np.ndarray) -> None:
        if key[1:] == (self._sim_id, self._ref_lr_now()):   # (not a path of another lr)
            self._ref = ref
            self.box = None
            self._sig = None
            if self._sim is not None:
                self.show(self._sim, force=True)

    # ------------------------------------------------------------------------------------
    def _draw(self, src, force: bool) -> None:  # noqa: ANN001
        self._ensure_palette()
        sim = lead_simulation(src)
        if sim.model.n_params < 2:
            if self.kind == "one":
                self._draw_one_parameter(sim)
            else:
                self._draw_time_down(src, sim, force)
            return
        pw, ph, top = self._pixels()
        ref = self._reference(sim)
        # the runs' paths (the lead run's is ``run``: the plane passes through its "now")
        tracks, run, cloud, wild = self._tracks(src, sim, pw)
        anchor, self.minimum_label = self._minimum(sim, ref)
        # 1. the plane (the axes of two parameters, or through start, now and GD's end)
        plane = self._choose_plane(sim, ref, anchor, run, force)
        run_xy = plane.coords(run)
        tracks_xy = [plane.coords(t) for t in tracks]
        cloud_xy = plane.coords(cloud) if cloud is not None else None
        ref_xy = plane.coords(ref) if ref is not None and len(ref) else None
        min_xy = plane.coords(anchor[None, :])[0] if anchor is not None else None
        # 2. the box: the minimum and the paths inside; a diverging run is framed on the bowl
        tame = [xy for xy, w in zip(tracks_xy, wild) if not w] + ([cloud_xy] if cloud_xy is not None else [])
        wild_xy = [xy for xy, w in zip(tracks_xy, wild) if w]
        box = self._frame(run_xy[:1], tame, wild_xy, ref_xy, min_xy)
        # 3. the grid (cached)
        self._update_grid(sim, plane, box, pw, ph, force)
        # 4. compose
        if self.kind == "one":
            chars, sids = self._draw_cells(sim, plane, box, ref_xy, run_xy, min_xy, pw, ph, top)
        else:
            chars, sids = self._draw_collection(src, sim, plane, box, ref_xy, tracks_xy, cloud_xy,
                                                min_xy, pw, ph, top)
        cells = self.paint(chars, sids)
        if cells > HEAVY_SHARE * chars.size and not force:
            # most of the map changed (a new grid): let the wire rest before the next one
            self._heavy_until = time.monotonic() + HEAVY_COOLDOWN

    def _minimum(self, sim, ref):  # noqa: ANN001, ANN202
        """(θ*, label) from the engine: the least-squares minimum, or GD's lowest point."""
        key = (self._sim_id, ref is None, self._ref_lr)   # (GD's lowest point: of the path shown)
        if self._min_key != key:
            self._min_key = key
            self._min = (None, "")
            if ref is not None and len(ref):
                theta, label = landscape_minimum(sim.model, sim.X, sim.y, ref)
                if np.all(np.isfinite(theta)):
                    self._min = (np.asarray(theta, float), label)
        return self._min

    def _choose_plane(self, sim, ref, anchor, run: np.ndarray, force: bool):  # noqa: ANN001, ANN202
        """The plane of the picture; while it would move (held values or "now" change, models
        with more than two parameters), at most every :data:`GRID_THROTTLE` seconds (longer when
        a grid costs more than :data:`GRID_CPU_SHARE` of a core at that rate)."""
        i, j = self.pair
        now = run[-1]
        names = sim.model.param_names
        if self.plane_mode == "axes" or sim.model.n_params <= 2:
            plane = axes_plane(now, i, j, names)
        else:
            origin = anchor if anchor is not None else sim.initial_params
            fallbacks = tuple(p - origin for p in run[::-1][:64]) + (sim.full_gradient(),)
            plane = path_plane(sim.initial_params, now, origin, fallbacks)
        old = self.plane
        if old is None or old.kind != plane.kind or force or sim.model.n_params <= 2:
            self.plane = plane
            return plane
        same = (np.array_equal(old.origin, plane.origin) and np.array_equal(old.u, plane.u)
                and np.array_equal(old.v, plane.v))
        if same:
            return old
        now_t = time.monotonic()
        if not self._grid_throttle.ready(now_t) or now_t < self._heavy_until:
            wait = max(self._grid_throttle.wait(now_t), self._heavy_until - now_t)
            self._sig = None                    # this state is not drawn whole: the next show draws it
            self._draw_later(wait)
            return old
        self._grid_throttle.mark(now_t)
        self.plane = plane
        return plane

    def _frame(self, start_xy: np.ndarray, tame: list, wild: list, ref_xy, min_xy) -> Box:  # noqa: ANN001
        """The box shown: the start, the minimum and both paths inside, with a margin; it only
        grows (the picture does not jump) until a reset. A diverging run is framed on the bowl
        (start and minimum, widened :data:`BOWL_ZOOM` times) so its first overshooting steps
        show and the later, astronomically far ones leave the map."""
        bowl = _box_of(np.vstack([start_xy] + ([min_xy[None, :]] if min_xy is not None else [])), 0, 1)

        def within(points: np.ndarray, zoom: float) -> tuple[np.ndarray, Box]:
            lim = Box(*_widen(bowl.x0, bowl.x1, zoom), *_widen(bowl.y0, bowl.y1, zoom))
            ok = (np.all(np.isfinite(points), axis=1) & (points[:, 0] >= lim.x0) & (points[:, 0] <= lim.x1)
                  & (points[:, 1] >= lim.y0) & (points[:, 1] <= lim.y1))
            return points[ok], lim

        limit = None
        pts = [start_xy] + [xy[np.all(np.isfinite(xy), axis=1)] for xy in tame]
        for xy in wild:
            inside, limit = within(xy, BOWL_ZOOM)
            pts.append(inside)
        if ref_xy is not None:
            # full-batch GD at a learning rate that diverges leaves the bowl too: keep its start
            pts.append(within(ref_xy, REF_ZOOM if limit is None else BOWL_ZOOM)[0])
        if min_xy is not None:
            pts.append(min_xy[None, :])
        allp = np.vstack(pts)
        fit = _box_of(allp, 0, 1)
        if limit is not None:
            fit = Box(max(fit.x0, limit.x0), min(fit.x1, limit.x1), max(fit.y0, limit.y0), min(fit.y1, limit.y1))
        box = self.box
        if box is None or self._box_kind != (self.plane.kind, limit is None):
            box = fit
        elif not box.contains_all(allp, inset=0.06):
            box = Box(min(box.x0, fit.x0), max(box.x1, fit.x1), min(box.y0, fit.y0), max(box.y1, fit.y1))
            if limit is not None:
                box = Box(max(box.x0, limit.x0), min(box.x1, limit.x1), max(box.y0, limit.y0), min(box.y1, limit.y1))
        if box != self.box:
            self.box = box
            self._grid_key = None
        self._box_kind = (self.plane.kind, limit is None)
        return box

    def _draw_one_parameter(self, sim) -> None:  # noqa: ANN001
        """A model with a single parameter has no two-parameter landscape: say so."""
        h, w = self.size.height, self.size.width
        chars = np.full((h, w), " ", dtype="<U1")
        sids = np.full((h, w), self._blank, dtype=np.int32)
        name = sim.model.param_names[0] if sim.model.n_params else "θ"
        self.title = f"Loss over {name}"[:w]
        self.put_text(chars, sids, 0, self.title, self._title, 0)
        lines = [f"This model has one parameter ({name}):", "no two-parameter landscape.",
                 "The one-dimensional lens (l) shows", f"the loss along {name}."]
        for k, line in enumerate(lines):
            y = 2 + k
            if y < h:
                self.put_text(chars, sids, y, line[:w], self._muted, max(0, (w - len(line)) // 2))
        self.legend = ""
        self.paint(chars, sids)

    # ------------------------------------------------------------------------------------
    def _to_pixels(self, box: Box, pts: np.ndarray, pw: int, ph: int) -> np.ndarray:
        """(k, 2) float pixel coordinates (col, row) of plane points (k, 2) = (a, b)."""
        with np.errstate(all="ignore"):
            c = (pts[:, 0] - box.x0) / (box.x1 - box.x0) * pw - 0.5
            r = (box.y1 - pts[:, 1]) / (box.y1 - box.y0) * ph - 0.5
        out = np.stack([c, r], axis=1)
        out[~np.isfinite(out)] = -1e6
        # a point the box was fitted to lands on a cell's edge (x.5) up to the last bits of the
        # arithmetic, which differ between CPUs and BLAS kernels: snapped to 1e-9, it rounds (half
        # to even) to the same cell on every machine
        return np.round(np.clip(out, -1e6, 1e6), 9)

    def _draw_cells(self, sim, plane, box: Box, ref_xy, run_xy: np.ndarray, min_xy,  # noqa: ANN001
                    pw: int, ph: int, top: int) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.size.height, self.size.width
        no_color = self.app.no_color
        pix = np.full((ph, pw), self.NAN, dtype=np.int32)
        if self.levels is not None and self.levels.shape == (ph, pw):
            pix[:] = self.levels
        heat_only = pix.copy()

        def plot(points: np.ndarray, color: int, dotted: bool) -> np.ndarray:
            if len(points) == 0:
                return np.zeros((0, 2), dtype=np.int64)
            p = segment_pixels(self._to_pixels(box, points, pw, ph))
            if dotted:
                p = p[::2]
            ok = (p[:, 0] >= 0) & (p[:, 0] < pw) & (p[:, 1] >= 0) & (p[:, 1] < ph)
            pix[p[ok, 1], p[ok, 0]] = color
            return p[ok]

        if ref_xy is not None and len(ref_xy):
            step = max(1, len(ref_xy) // (4 * pw))
            pts = ref_xy[::step]
            if (len(ref_xy) - 1) % step:
                pts = np.vstack([pts, ref_xy[-1:]])
            plot(pts, self.FULL, dotted=False)
        self.path_pixels = plot(run_xy, self.RUN, dotted=True)

        # arrows from the current point: −G (full data), −ĝ (batch) and, with momentum, −b (the
        # velocity: the step is −lr·b), one common scale, in screen pixels
        marks: list[tuple[int, int, str, int]] = []     # (cell row, col, char, colour)
        here = self._to_pixels(box, run_xy[-1:], pw, ph)[0]
        arrows = []
        G = sim.full_gradient()
        g = sim.batch_gradient()
        velocity = sim.optimizer_state.get("momentum_buffer")
        if velocity is not None and sim.step == 0:
            velocity = None
        for vec, color in ((velocity, self.VEL), (g, self.GHAT), (G, self.G)):
            if vec is None or not np.all(np.isfinite(vec)):
                continue
            pv = plane.project_vector(vec)
            d = np.array([-pv[0] / (box.x1 - box.x0) * pw, pv[1] / (box.y1 - box.y0) * ph])
            if np.all(np.isfinite(d)):
                arrows.append((d, color))
        longest = max((float(np.hypot(*d)) for d, _ in arrows), default=0.0)
        self.arrow_vectors = {}
        names = {self.GHAT: "batch", self.G: "full", self.VEL: "velocity"}
        if longest > 0:
            size = float(np.clip(0.28 * min(pw, ph), 3, 14))
            for d, color in arrows:
                length = float(np.hypot(*d))
                if length == 0:
                    continue
                v = d * (size / longest)
                if np.hypot(*v) < 1.5:
                    v = v / np.hypot(*v) * 1.5
                tip = here + v
                shaft = segment_pixels(np.vstack([here, here + v * 0.85]))
                ok = (shaft[:, 0] >= 0) & (shaft[:, 0] < pw) & (shaft[:, 1] >= 0) & (shaft[:, 1] < ph)
                pix[shaft[ok, 1], shaft[ok, 0]] = color
                ang = math.atan2(-v[1], v[0])                     # screen y grows downwards
                arrow = ARROWS[int(round(ang / (math.pi / 4))) % 8]
                tc, tr = int(round(tip[0])), int(round(tip[1]))
                if 0 <= tc < pw and 0 <= tr < ph:
                    marks.append((tr // 2, tc, arrow, color))
                self.arrow_vectors[names[color]] = v

        self._mark_minimum(box, min_xy, pw, ph, top, marks)
        hc, hr = int(round(here[0])), int(round(here[1]))
        self.off_map = not (0 <= hc < pw and 0 <= hr < ph)
        if not self.off_map:
            marks.append((hr // 2, hc, "●", self.RUN))
        else:
            # off the map (a diverging run): an arrow on the edge, pointing where the run went
            ang = math.atan2(-(here[1] - ph / 2), here[0] - pw / 2)
            hc, hr = int(min(max(here[0], 0), pw - 1)), int(min(max(here[1], 0), ph - 1))
            marks.append((hr // 2, hc, ARROWS[int(round(ang / (math.pi / 4))) % 8], self.RUN))
        self.current_cell = (hr // 2 + top, hc)

        chars, sids = self._cells_of(pix, heat_only, marks, top, ph, pw)
        self._write_text(sim, plane, chars, sids, h, w)
        return chars, sids

    def _cells_of(self, pix: np.ndarray, heat_only: np.ndarray, marks: list, top: int, ph: int,
                 pw: int) -> tuple[np.ndarray, np.ndarray]:
        """The cells: half blocks of the pixels (upper, lower), then the marker characters
        (cell row, col, char, colour) over them, bright on the heat colour beneath."""
        h, w = self.size.height, self.size.width
        no_color = self.app.no_color
        chars = np.full((h, w), " ", dtype="<U1")
        sids = np.full((h, w), self._blank, dtype=np.int32)
        rows = ph // 2
        upper, lower = pix[0::2][:rows], pix[1::2][:rows]
        if no_color:
            self._compose_no_color(chars, heat_only, pix, top, rows, pw)
        else:
            chars[top : top + rows, :pw] = np.where(upper == lower, " ", "▀")
            sids[top : top + rows, :pw] = self._heat_sids[upper, lower]
        letters = {self.G: "G", self.GHAT: "g", self.VEL: "v", self.CLOUD: "•"}
        letters.update({idx: style.letter for idx, style in zip(self.RUNS, RUN_STYLES)})
        for r, c, ch, color in marks:
            if no_color:
                ch = letters.get(color, "*" if ch == "◆" else "o" if ch == START_MARKER else "@")
            if 0 <= r < rows and 0 <= c < pw:
                chars[top + r, c] = ch
                under = int(heat_only[min(2 * r + 1, ph - 1), c])
                sids[top + r, c] = self._mark_sids[color, under] if not no_color else self._title
        return chars, sids
    def _write_text(self, sim, plane, chars: np.ndarray, sids: np.ndarray, h: int, w: int,  # noqa: ANN001
                    legend: bool = True) -> None:
        box = self.box
        n = sim.model.n_params
        title = plane.title
        if plane.kind == "time":
            extra = "  full data, log colour"
            ranges = f"  {plane.x_label} {_fmt(box.x0)}…{_fmt(box.x1)} →  epochs 0…{box.y1:g} ↓"
        elif plane.kind == "path":
            extra = f"  ({n} parameters)"
            ranges = ""
            if box is not None:
                ranges = f"  → {_fmt(box.x0)}…{_fmt(box.x1)}  ↑ {_fmt(box.y0)}…{_fmt(box.y1)}"
        else:
            extra = "  full data, log colour" if n <= 2 else "  others held at current values"
            ranges = ""
            if box is not None:
                ni, nj = plane.x_label, plane.y_label
                ranges = f"  {ni} {_fmt(box.x0)}…{_fmt(box.x1)} →  {nj} {_fmt(box.y0)}…{_fmt(box.y1)} ↑"
        if self.pending_work and self.levels is None:
            extra = "  computing…"
        text = title
        for cand in (title + extra + ranges, title + ranges, title + extra, title):
            if len(cand) <= w:
                text = cand
                break
        if len(text) > w and plane.kind == "path":
            title = "Loss on plane: start, now, GD end"
            text = title if len(title) <= w else "Loss on path plane"
            title = text
        self.title = text[:w]
        x = self.put_text(chars, sids, 0, title[:w], self._title, 0)
        self.put_text(chars, sids, 0, text[len(title):], self._muted, x)
        if h >= 6 and legend:
            y = h - 1
            minimum = self.minimum_label or "minimum"
            vel = "momentum_buffer" in sim.optimizer_state and sim.step > 0
            long = [("━", "full-batch GD", self._full_txt), ("┄", "this run", self._run_txt),
                    ("●", "now", self._run_txt), ("◆", minimum, self._full_txt),
                    ("→", "−G all data", self._g_txt), ("→", "−ĝ batch", self._ghat_txt)]
            short = [("━", "GD", self._full_txt), ("┄", "run", self._run_txt),
                     ("●", "now", self._run_txt), ("◆", "min" if minimum == "minimum" else "GD low", self._full_txt),
                     ("→", "−G", self._g_txt), ("→", "−ĝ", self._ghat_txt)]
            if vel:
                long.append(("→", "−b velocity", self._vel_txt))
                short.append(("→", "−b", self._vel_txt))
            if self.app.no_color:
                glyphs = ["o", "•", "@", "*", "G", "g", "v"]
                long = [(g, lab, self._title) for g, (_, lab, _) in zip(glyphs, long)]
                short = [(g, lab, self._title) for g, (_, lab, _) in zip(glyphs, short)]
            tiny = [item for item in short if item[1] != "now"] if len(short) > 6 else short
            for items, sep, gap in ((long, "  ", " "), (short, " ", " "), (short, " ", ""), (tiny, " ", "")):
                total = sum(len(g) + len(gap) + len(t) for g, t, _ in items) + len(sep) * (len(items) - 1)
                if total <= w:
                    break
            x = 0
            for k, (glyph, label, sid) in enumerate(items):
                x = self.put_text(chars, sids, y, glyph, sid, x)
                x = self.put_text(chars, sids, y, gap + label + (sep if k < len(items) - 1 else ""), self._muted, x)
            self.legend = "".join(chars[y].tolist()).rstrip()

