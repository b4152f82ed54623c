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
from dataclasses import dataclass

import numpy as np
from rich.style import Style

from ..messages import SimulationChanged
from ._cells import LINE_CONTRAST, RGB, CellCanvas, Throttle, blend, hex_rgb, readable, rich_color
from ._runs import RUN_STYLES, START_MARKER, revision_key, source_kind

from engine.landscape import axes_plane, path_plane, plane_grid, view_box
from engine.landscape import minimum as landscape_minimum

# dark, perceptual ramp (viridis, darkened) so that white and pink overlays stand out
HEAT_STOPS = ("#2b0f3d", "#2e2f6b", "#1f5378", "#167473", "#2f8f5c", "#7aa33a", "#c2b13c")
HEAT_LEVELS = 12
FULL_COLOR = "#ffffff"      # full data: the GD reference path
RUN_COLOR = "#ff5fd7"       # this run: dotted path and current point
G_COLOR = "#5fd7ff"         # −G, the full gradient (where full-batch GD would go from here)
GHAT_COLOR = "#ffaf3f"      # −ĝ, the batch gradient (where this batch pushes)
VEL_COLOR = "#afff5f"       # −b, the momentum velocity (the step is −lr·b)
CLOUD_COLOR = "#ffd75f"     # the noise cloud: one point per run
START_COLOR = "#d0d0d0"     # several runs: their common start ○
NAN_COLOR = "#5a5a5a"

ARROWS = "→↗↑↖←↙↓↘"          # by angle, counter-clockwise from east (screen directions)
SHADES = " ░▒▓"             # NO_COLOR heat map, low to high loss

GRID_THROTTLE = 0.5         # s between grid recomputations while held parameters move (> 2 params)
DRAW_THROTTLE = 0.5         # s between redraws while running (force=True draws at once)
HEAVY_SHARE = 0.25          # a repaint of more than this share of the cells is "heavy" ...
HEAVY_COOLDOWN = 3.0        # ... and held-parameter grid updates then wait this long (s)
SYNC_COST = 4e6             # grid points × samples × parameters below which we compute inline
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


class LandscapeView(CellCanvas):
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
        self._grid_throttle = Throttle(GRID_THROTTLE)
        self._draw_throttle = Throttle(DRAW_THROTTLE)
        self._generation = 0
        self._palette_key: tuple | None = None
        self._scale: tuple[float, float] | None = None
        self._scale_key: tuple = (None, None)
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
        if not force and not self._draw_throttle.ready(now):
            self.schedule_trailing(self._draw_throttle.wait(now), lambda: self.show(self._sim))
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
        if self._ref is not None:
            return self._ref
        sc0 = sim.segments[0].scenario
        cost = min(2000, max(sc0.epochs, 50)) * sim.dataset.n_samples * sim.model.n_params
        # the cloud's GD path is the ensemble's (its lr in force); else the run's own
        path = getattr(self._sim, "reference_path", sim.reference_path) if self.kind == "cloud" else sim.reference_path
        if cost <= 2e6:
            self._ref = path()
            return self._ref
        self.run_in_thread(("ref", self._sim_id), path, self._got_reference, group="landscape")
        return None

    def _got_reference(self, key: tuple, ref: np.ndarray) -> None:
        if key[1] == self._sim_id:
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
        key = (self._sim_id, ref is None)
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
        with more than two parameters), at most every :data:`GRID_THROTTLE` seconds."""
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
            self.schedule_trailing(wait, lambda: self.show(self._sim, force=False))
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
        elif not all(box.contains(float(x), float(y), inset=0.06) for x, y in allp):
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

    def _update_grid(self, sim, plane, box: Box, pw: int, ph: int, force: bool) -> None:  # noqa: ANN001
        key = (box, pw, ph, self.pair, self._sim_id, plane.kind, plane.origin.tobytes(),
               plane.u.tobytes(), plane.v.tobytes())
        if key == self._grid_key:
            return
        xs = box.x0 + (np.arange(pw) + 0.5) * (box.x1 - box.x0) / pw
        ys = box.y1 - (np.arange(ph) + 0.5) * (box.y1 - box.y0) / ph          # top row first
        cost = pw * ph * sim.dataset.n_samples * sim.model.n_params
        self._grid_key = key
        i, j = self.pair
        X, y = sim.X, sim.y
        if cost <= SYNC_COST or self.grid is None and cost <= 4 * SYNC_COST:
            self._set_grid(plane_grid(sim.model, X, y, plane, xs, ys, i, j))
        else:
            gen = self._sim_id
            self.run_in_thread(("grid", gen, key), lambda: plane_grid(sim.model, X, y, plane, xs, ys, i, j),
                               lambda k, g: self._got_grid(k, g), group="landscape")

    def _got_grid(self, key: tuple, grid) -> None:  # noqa: ANN001
        if key[1] != self._sim_id or key[2] != self._grid_key:
            return
        self._set_grid(grid)
        self._sig = None
        if self._sim is not None and self.is_mounted:
            self._draw(self._sim, False)

    def _set_grid(self, grid) -> None:  # noqa: ANN001
        """Take a new grid; keep the colour scale while its values stay in range (so a grid
        recomputed for slightly moved held parameters changes few cells)."""
        self.grid = grid
        z = np.log10(grid.loss[np.isfinite(grid.loss) & (grid.loss > 0)])
        if len(z):
            lo, hi = float(z.min()), float(z.max())
            scale = self._scale
            if (scale is None or grid.i != self._scale_key[0] or lo < scale[0] or hi > scale[1]
                    or (hi - lo) < 0.6 * (scale[1] - scale[0]) or self._scale_key[1] != self.box):
                pad = 0.02 * (hi - lo)
                scale = (lo - pad, hi + pad)
            self._scale, self._scale_key = scale, (grid.i, self.box)
        self.levels = self.loss_levels(grid.loss, scale=self._scale)

    @staticmethod
    def loss_levels(loss: np.ndarray, levels: int = HEAT_LEVELS,
                    scale: tuple[float, float] | None = None) -> np.ndarray:
        """Colour level (0 … levels−1) of each loss value: evenly spaced in log10 L over
        ``scale`` (default: the values' own range). Non-finite values get the top level.
        """
        loss = np.asarray(loss, float)
        ok = np.isfinite(loss) & (loss > 0)
        out = np.full(loss.shape, levels - 1, dtype=np.int32)
        if not ok.any():
            return out
        z = np.log10(np.where(ok, loss, 1.0))
        lo, hi = scale if scale is not None else (float(z[ok].min()), float(z[ok].max()))
        if hi - lo < 1e-12:
            out[ok] = 0
            return out
        t = (z - lo) / (hi - lo)
        out[ok] = np.clip((t[ok] * levels).astype(np.int32), 0, levels - 1)
        out[np.isfinite(loss) & (loss <= 0)] = 0
        return out

    # ------------------------------------------------------------------------------------
    # colours
    def _ensure_palette(self) -> None:
        theme = self.app.current_theme
        bg = self.background_colors[1]
        key = (theme.name, bg.rgb, self.app.no_color)
        if key == self._palette_key:
            return
        self._palette_key = key
        fg = hex_rgb(self.app.theme_variables.get("foreground", "#e0e0e0"))
        bg_rgb: RGB = (bg.r, bg.g, bg.b)
        stops = [hex_rgb(c) for c in HEAT_STOPS]
        heat: list[RGB] = []
        for k in range(HEAT_LEVELS):
            x = k / (HEAT_LEVELS - 1) * (len(stops) - 1)
            a = min(int(x), len(stops) - 2)
            c = blend(stops[a], stops[a + 1], x - a)
            heat.append(c)
        # the map is always dark, so compare mode's runs keep their dark-theme colours on it
        extra = (FULL_COLOR, RUN_COLOR, G_COLOR, GHAT_COLOR, NAN_COLOR, VEL_COLOR, CLOUD_COLOR, START_COLOR)
        self._heat = heat + [hex_rgb(c) for c in extra] + [hex_rgb(st.dark) for st in RUN_STYLES]
        k = HEAT_LEVELS
        self.FULL, self.RUN, self.G, self.GHAT, self.NAN, self.VEL = k, k + 1, k + 2, k + 3, k + 4, k + 5
        self.CLOUD, self.START = k + 6, k + 7
        self.RUNS = [k + 8 + r for r in range(len(RUN_STYLES))]
        n = len(self._heat)
        self.table = type(self.table)()
        base = self.base_style
        colors = [rich_color(c) for c in self._heat]
        # half-block cells: every (upper, lower) pair of colours
        sids = np.zeros((n, n), dtype=np.int32)
        for u in range(n):
            for lo in range(n):
                if u == lo:
                    sids[u, lo] = self.table.index(base + Style(bgcolor=colors[lo]))
                else:
                    sids[u, lo] = self.table.index(base + Style(color=colors[u], bgcolor=colors[lo]))
        self._heat_sids = sids
        # a marker character (current point, arrow tips) over a heat colour
        self._mark_sids = {
            (which, lo): self.table.index(base + Style(color=colors[which], bgcolor=colors[lo], bold=True))
            for which in (self.FULL, self.RUN, self.G, self.GHAT, self.VEL, self.CLOUD, self.START)
            for lo in range(n)
        }
        # the current points of several runs: bright on a black cell, so they stand out of the
        # map and of the paths
        self._mark_sids.update({(which, lo): self.table.index(base + Style(color=colors[which], bgcolor="#000000", bold=True))
                                for which in self.RUNS for lo in range(n)})
        # words 4.5:1 and legend marks 3:1 on the panel's background (WCAG AA, any theme): the
        # white of the GD path, say, turns dark grey in its legend on a light theme
        def words(c: RGB) -> str:
            return rich_color(readable(c, bg_rgb))

        def mark(which: int) -> str:
            return rich_color(readable(self._heat[which], bg_rgb, LINE_CONTRAST))

        self._text = self.table.index(base + Style(color=words(blend(fg, bg_rgb, 0.2))))
        self._muted = self.table.index(base + Style(color=words(blend(fg, bg_rgb, 0.45))))
        self._title = self.table.index(base + Style(color=words(fg), bold=True))
        self._full_txt = self.table.index(base + Style(color=mark(self.FULL), bold=True))
        self._run_txt = self.table.index(base + Style(color=mark(self.RUN), bold=True))
        self._g_txt = self.table.index(base + Style(color=mark(self.G), bold=True))
        self._ghat_txt = self.table.index(base + Style(color=mark(self.GHAT), bold=True))
        self._vel_txt = self.table.index(base + Style(color=mark(self.VEL), bold=True))
        self._cloud_txt = self.table.index(base + Style(color=mark(self.CLOUD), bold=True))
        dark = theme.dark
        self._runs_txt = [self.table.index(base + Style(color=rich_color(readable(hex_rgb(st.color(dark)), bg_rgb, LINE_CONTRAST)),
                                                        bold=True)) for st in RUN_STYLES]
        self._blank = self.table.index(base)
        self._chars = np.empty((0, 0), dtype="<U1")   # force a full repaint
        self._strips.clear()

    # ------------------------------------------------------------------------------------
    def _to_pixels(self, box: Box, pts: np.ndarray, pw: int, ph: int) -> np.ndarray:
        """(k, 2) float pixel coordinates (col, row) of plane points (k, 2) = (a, b)."""
        with np.errstate(all="ignore"):
            c = (pts[:, 0] - box.x0) / (box.x1 - box.x0) * pw - 0.5
            r = (box.y1 - pts[:, 1]) / (box.y1 - box.y0) * ph - 0.5
        out = np.stack([c, r], axis=1)
        out[~np.isfinite(out)] = -1e6
        return np.clip(out, -1e6, 1e6)

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

        self.minimum_cell = None
        if min_xy is not None:
            mp = self._to_pixels(box, min_xy[None, :], pw, ph)[0]
            mc, mr = int(round(mp[0])), int(round(mp[1]))
            if 0 <= mc < pw and 0 <= mr < ph:
                marks.append((mr // 2, mc, "◆", self.FULL))
                self.minimum_cell = (mr // 2 + top, mc)
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

    # ------------------------------------------------------------------------------------
    # several runs (compare mode) and the cloud
    def _tracks(self, src, sim, pw: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None, list[bool]]:  # noqa: ANN001
        """(the runs' paths (k, P) each, start first and now last; the lead run's path, which
        the plane passes through; the cloud's (K, P) points or None; which paths are wild —
        diverging or diverged, framed on the bowl)."""
        width = max(64, 2 * pw)

        def path(s) -> np.ndarray:  # noqa: ANN001
            return np.vstack([s.history.decimated(width).params, np.asarray(s.params, float)[None, :]])

        def wild(s) -> bool:  # noqa: ANN001
            return bool(s.diverging_step or s.status == "diverged")

        if self.kind == "one":
            run = path(sim)
            return [run], run, None, [wild(sim)]
        if self.kind == "runs":
            tracks = [path(r.sim) for r in src.runs]
            return tracks, path(sim), None, [wild(r.sim) for r in src.runs]
        # the cloud: no paths, K points; the plane passes through the start and their mean
        cloud = np.asarray(src.params, float)
        ok = np.all(np.isfinite(cloud), axis=1)
        start = np.asarray(sim.initial_params, float)
        mean = cloud[ok].mean(axis=0) if ok.any() else start
        return [], np.vstack([start, mean]), cloud[ok], []

    def _draw_collection(self, src, sim, plane, box: Box, ref_xy, tracks_xy: list, cloud_xy,  # noqa: ANN001
                         min_xy, pw: int, ph: int, top: int) -> tuple[np.ndarray, np.ndarray]:
        """Compare mode's paths (SGD below, GD on top) and current points, or the cloud's
        points and their mean ✚; GD's path, the minimum ◆ and the common start ○."""
        pix = np.full((ph, pw), self.NAN, dtype=np.int32)
        if self.levels is not None and self.levels.shape == (ph, pw):
            pix[:] = self.levels
        heat_only = pix.copy()

        def plot(points: np.ndarray, color: int, dotted: bool) -> None:
            p = segment_pixels(self._to_pixels(box, points, pw, ph))
            if dotted:
                p = p[::2]
            ok = (p[:, 0] >= 0) & (p[:, 0] < pw) & (p[:, 1] >= 0) & (p[:, 1] < ph)
            pix[p[ok, 1], p[ok, 0]] = color

        marks: list[tuple[int, int, str, int]] = []
        if self.kind == "cloud" and ref_xy is not None and len(ref_xy):
            step = max(1, len(ref_xy) // (4 * pw))
            plot(np.vstack([ref_xy[::step], ref_xy[-1:]]), self.FULL, dotted=False)
        start = self._to_pixels(box, plane.coords(np.asarray(sim.initial_params, float)[None, :]), pw, ph)[0]
        self.paths = tracks_xy
        self.current = [(float(p[-1, 0]), float(p[-1, 1])) for p in tracks_xy]
        self.marks = [None] * len(tracks_xy)
        self.runs_off_map = [False] * len(tracks_xy)
        for k in reversed(range(len(tracks_xy))):              # SGD below, GD on top
            plot(tracks_xy[k], self.RUNS[k], RUN_STYLES[k].dotted)
        if cloud_xy is not None:
            self.cloud_xy = cloud_xy
            p = np.rint(self._to_pixels(box, cloud_xy, pw, ph)).astype(np.int64)
            ok = (p[:, 0] >= 0) & (p[:, 0] < pw) & (p[:, 1] >= 0) & (p[:, 1] < ph)
            self.cloud_inside = int(ok.sum())
            pix[p[ok, 1], p[ok, 0]] = self.CLOUD
        marks.append((int(round(start[1])) // 2, int(round(start[0])), START_MARKER, self.START))
        self.minimum_cell = None
        if min_xy is not None:
            mp = self._to_pixels(box, min_xy[None, :], pw, ph)[0]
            mc, mr = int(round(mp[0])), int(round(mp[1]))
            if 0 <= mc < pw and 0 <= mr < ph:
                marks.append((mr // 2, mc, "◆", self.FULL))
                self.minimum_cell = (mr // 2 + top, mc)
        if cloud_xy is not None and len(cloud_xy):
            mean = self._to_pixels(box, cloud_xy.mean(axis=0)[None, :], pw, ph)[0]
            marks.append((int(round(mean[1])) // 2, int(round(mean[0])), "✚", self.CLOUD))
        for k in reversed(range(len(tracks_xy))):
            marks.append(self._run_mark(k, self._to_pixels(box, tracks_xy[k][-1:], pw, ph)[0], pw, ph, top))
        chars, sids = self._cells_of(pix, heat_only, marks, top, ph, pw)
        self._write_collection_text(src, sim, plane, chars, sids)
        return chars, sids

    def _run_mark(self, k: int, here: np.ndarray, pw: int, ph: int, top: int) -> tuple[int, int, str, int]:
        """Run k's current point as its marker, or an arrow on the edge where it left the map."""
        glyph = RUN_STYLES[k].marker
        col, row = float(here[0]), float(here[1])
        if not (-0.5 <= col < pw - 0.5 and -0.5 <= row < ph - 0.5):
            self.runs_off_map[k] = True
            ang = math.atan2(-(row - ph / 2), col - pw / 2)
            glyph = ARROWS[int(round(ang / (math.pi / 4))) % 8]
            col, row = min(max(col, 0.0), pw - 1.0), min(max(row, 0.0), ph - 1.0)
        r, c = int(round(row)) // 2, int(round(col))
        self.marks[k] = (r + top, c)
        return r, c, glyph, self.RUNS[k]

    def _write_collection_text(self, src, sim, plane, chars: np.ndarray, sids: np.ndarray) -> None:  # noqa: ANN001
        """The title (as for one run) and the legend: one entry per run, or the cloud's."""
        h, w = self.size.height, self.size.width
        self._write_text(sim, plane, chars, sids, h, w, legend=False)
        if h < 6:
            self.legend = ""
            return
        no_color = self.app.no_color
        minimum = "min" if self.minimum_label in ("", "minimum") else "GD low"
        if self.kind == "cloud":
            k = src.runs
            long = [("•", f"{k} runs now", self._cloud_txt), ("✚", "their mean", self._cloud_txt),
                    ("━", "full-batch GD", self._full_txt), ("◆", self.minimum_label or "minimum", self._full_txt),
                    (START_MARKER, "start", self._title)]
            short = [("•", f"{k} runs", self._cloud_txt), ("✚", "mean", self._cloud_txt),
                     ("━", "GD", self._full_txt), ("◆", minimum, self._full_txt), (START_MARKER, "start", self._title)]
            variants = [(long, "  "), (short, " "), (short[:4], " ")]
        else:
            labels = [r.label for r in src.runs]
            algos = [lab.split(" (")[0] for lab in labels]
            sizes = [lab.split("(")[-1].rstrip(")") for lab in labels]

            def runs(names: list[str]) -> list:
                return [((("o", "+", "x")[k] + RUN_STYLES[k].letter) if no_color else
                         (RUN_STYLES[k].line + RUN_STYLES[k].marker), name, self._runs_txt[k])
                        for k, name in enumerate(names)]

            tail = [("◆", minimum, self._full_txt), (START_MARKER, "start", self._title)]
            variants = [(runs(labels) + tail, "  "), (runs(algos) + tail, "  "), (runs(sizes) + tail, "  "),
                        (runs(sizes) + tail[1:], "  "), (runs(sizes), " ")]
        for items, sep in variants:
            total = sum(len(g) + 1 + len(t) for g, t, _ in items) + len(sep) * (len(items) - 1)
            if total <= w:
                break
        y, x = h - 1, 0
        for n, (glyph, label, sid) in enumerate(items):
            x = self.put_text(chars, sids, y, glyph, self._title if no_color else sid, x)
            x = self.put_text(chars, sids, y, " " + label + (sep if n < len(items) - 1 else ""), self._muted, x)
        self.legend = "".join(chars[y].tolist()).rstrip()

    def _draw_time_down(self, src, sim, force: bool) -> None:  # noqa: ANN001
        """Several runs of a one-parameter model: L(w) across (the same for every row) and
        training time in epochs downwards, so each run's path is its w over time."""
        pw, ph, top = self._pixels()
        h, w = self.size.height, self.size.width
        width = max(64, 2 * pw)
        per_epoch = max(1, sim.plan.steps_per_epoch_count)
        tracks, wild = [], []
        runs = [r.sim for r in src.runs] if self.kind == "runs" else []
        for s in runs:
            d = s.history.decimated(width)
            t = np.concatenate([np.asarray(d.param_step, float), [float(s.step)]]) / max(1, s.plan.steps_per_epoch_count)
            wv = np.concatenate([d.params[:, 0], [float(np.asarray(s.params, float)[0])]])
            tracks.append(np.stack([wv, t], axis=1))
            wild.append(s.status == "diverged")
        cloud = None
        if self.kind == "cloud":
            p = np.asarray(src.params, float)[:, 0]
            t = float(np.max(src.step)) / per_epoch
            cloud = np.stack([p[np.isfinite(p)], np.full(int(np.isfinite(p).sum()), t)], axis=1)
        ref = self._reference(sim)
        pts = [np.vstack(tr) for tr, wd in zip(tracks, wild) if not wd] or tracks
        pts = list(pts) + ([cloud] if cloud is not None and len(cloud) else [])
        if ref is not None and len(ref):
            pts.append(np.array([[ref[0, 0], 0.0], [ref[-1, 0], 0.0]]))
        allp = np.vstack(pts) if pts else np.array([[float(sim.initial_params[0]), 0.0]])
        (x0, x1), _ = view_box(allp, 0, 1)
        tmax = float(np.nanmax(allp[:, 1])) if np.isfinite(allp[:, 1]).any() else 0.0
        box = Box(float(x0), float(x1), 0.0, _nice_epochs(tmax))
        b = self.box
        if b is None or box.y1 > b.y1 or box.x0 < b.x0 or box.x1 > b.x1:
            self.box = box if b is None else Box(min(b.x0, box.x0), max(b.x1, box.x1), 0.0, max(b.y1, box.y1))
            self._grid_key = None
        box = self.box
        key = ("time", box, pw, ph, self._sim_id)
        if self._grid_key != key:
            self._grid_key = key
            xs = box.x0 + (np.arange(pw) + 0.5) * (box.x1 - box.x0) / pw
            with np.errstate(all="ignore"):
                row = sim.model.losses_many(xs[:, None], sim.X, sim.y)
            self._set_grid(_RowGrid(np.repeat(row[None, :], ph, axis=0)))
        flip = Box(box.x0, box.x1, -box.y1, 0.0)        # time grows downwards: y ↦ −t
        down = [np.stack([tr[:, 0], -tr[:, 1]], axis=1) for tr in tracks]
        cloud_down = None if cloud is None else np.stack([cloud[:, 0], -cloud[:, 1]], axis=1)
        plane = _TimePlane(sim.model.param_names[0])
        self.box = box
        chars, sids = self._draw_collection(src, sim, plane, flip, None, down, cloud_down, None, pw, ph, top)
        self.paths = tracks
        self.current = [(float(p[-1, 0]), float(p[-1, 1])) for p in tracks]
        self.paint(chars, sids)

    def _compose_no_color(self, chars: np.ndarray, heat: np.ndarray, pix: np.ndarray, top: int,
                          rows: int, pw: int) -> None:
        """Without colour: contour dots where the (coarse) loss band changes, letters for paths."""
        band = (heat[1::2][:rows] * 8) // HEAT_LEVELS
        edge = np.zeros(band.shape, bool)
        edge[:, 1:] |= band[:, 1:] != band[:, :-1]
        edge[1:, :] |= band[1:, :] != band[:-1, :]
        sub = chars[top : top + rows, :pw]
        sub[edge] = "·"
        up, lo = pix[0::2][:rows], pix[1::2][:rows]
        sub[(up == self.RUN) | (lo == self.RUN)] = "•"
        sub[(up == self.CLOUD) | (lo == self.CLOUD)] = "•"
        for k in reversed(range(len(self.RUNS))):          # compare mode: GD o, mini-batch +, SGD x
            sub[(up == self.RUNS[k]) | (lo == self.RUNS[k])] = ("o", "+", "x")[k]
        sub[(up == self.FULL) | (lo == self.FULL)] = "o"

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
