"""Compare mode's landscape: one loss map, the three runs' paths on it.

* Heat map of the full training loss L(θ) over parameters i and j (the first two by default),
  the same data for all three runs (they share the data set), drawn with half-block cells like
  the main screen's :class:`~tui.widgets.landscape.LandscapeView` (dark = low loss, log colour).
  With more than two parameters, as on the main screen, the map is the loss on the plane through
  the common start, the mini-batch run's current point and the end of full-batch GD
  (``engine.landscape.path_plane``); every path is drawn at its projection onto that plane, so
  the mini-batch run's marker lies exactly on its path. The plane follows the mini-batch run at
  most once a second (:data:`GRID_INTERVAL`).
* The paths, in the colours and lines of :data:`~tui.widgets._runs.RUN_STYLES`: Batch GD solid
  white, mini-batch dotted orange, SGD dotted magenta (SGD below, GD on top); the current point
  of each run as its marker (■ ◆ ●), the common start as ○.
* A one-parameter model (the three-losses preset) has no second parameter: the map then shows
  L(w) across and training time (epochs) downwards, so each path is the run's w over time.

The view box covers the start, the three paths and the end of full-batch GD's own path (where
GD is heading); it only grows when a run leaves it (a diverged run is left to leave it), so the
picture does not jump. The grid is cached and recomputed only when the box or the size change
(with more than two parameters also when the held values move, at most once a second).

The widget draws only when told (``show(comp)``); the screen decides how often.
"""

from __future__ import annotations

import math
import time

import numpy as np
from rich.style import Style

from engine.landscape import loss_grid, minimum, path_plane, plane_grid, view_box

from ._cells import CellCanvas, LINE_CONTRAST, RGB, blend, hex_rgb, readable, rich_color
from ._runs import RUN_STYLES, START_MARKER
from .landscape import ARROWS, HEAT_LEVELS, HEAT_STOPS, NAN_COLOR, Box, LandscapeView, segment_pixels

GRID_INTERVAL = 1.0      # s between grid recomputations while held parameters move (> 2 params)
SYNC_COST = 4e6          # grid points × samples × parameters below which the grid is computed inline
REF_COST = 2e6           # same for the full-batch reference path
START_COLOR = "#d0d0d0"
MAX_ZOOM_OUT = 2.5       # the map is at most this many times as wide and high as GD's own box


def fmt_value(v: float) -> str:
    """A short axis value with a real minus sign."""
    if v == 0 or 0.01 <= abs(v) < 1e4:
        s = f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"
    else:
        s = f"{v:.1e}"
    return s.replace("-", "−")


class CompareLandscape(CellCanvas):
    """The loss over two parameters with the paths of the three compared runs."""

    PLOT_KIND = "landscape"          # its timing row in tui.runloop

    DEFAULT_CSS = """
    CompareLandscape {
        width: 1fr;
        height: 1fr;
        min-height: 5;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.pair: tuple[int, int | None] = (0, 1)   # (i, j); j None: time downwards (one parameter)
        self.box: Box | None = None
        self.levels: np.ndarray | None = None
        self.title = ""
        self.legend = ""
        self.paths: list[np.ndarray] = []         # per run: drawn (x, y) points, start first, now last
        self.current: list[tuple[float, float]] = []
        self.marks: list[tuple[int, int] | None] = []   # per run: the cell (row, col) of its marker
        self.off_map: list[bool] = []              # per run: its current point is off the map
        self.pending_work = False
        self.draws = 0
        self._comp = None
        self._comp_id = 0
        self._ref: np.ndarray | None = None
        self._sig: tuple | None = None
        self._grid_key: tuple | None = None
        self._grid_time = -math.inf
        self._scale: tuple[float, float] | None = None
        self._palette_key: tuple | None = None
        self._busy: tuple | None = None
        self._limit: Box | None = None           # the largest box (see _fit_box)
        self.plane = None                         # engine Plane (more than two parameters)
        self._plane_time = -math.inf
        self._anchor: np.ndarray | None = None

    # ------------------------------------------------------------------------------------
    def show(self, comp, *, force: bool = False) -> None:  # noqa: ANN001
        """Redraw from the comparison if anything shown changed (``force``: even if not)."""
        if comp is not self._comp:
            self._comp = comp
            self._comp_id += 1
            self._ref = None
            self._anchor = None
            self.forget()
            n = comp.runs[0].sim.model.n_params
            self.pair = (0, 1) if n >= 2 else (0, None)
        if not self.is_mounted or self.size.width < 4 or self.size.height < 3:
            return
        sig = (tuple((id(r.sim), r.sim.revision) for r in comp.runs), tuple(self.size),
               self.app.theme, self.app.no_color)
        if sig == self._sig and not force:
            return
        self._sig = sig
        self._draw(comp, force)

    def forget(self) -> None:
        """After a reset (or a new alignment): fit the box afresh at the next draw."""
        self.box = None
        self.plane = None
        self.levels = None
        self._grid_key = None
        self._scale = None
        self._sig = None

    def on_resize(self) -> None:
        self._sig = None
        self._grid_key = None
        if self._comp is not None:
            self.show(self._comp, force=True)

    # ------------------------------------------------------------------------------------
    def _reference(self, comp) -> np.ndarray | None:  # noqa: ANN001
        """Full-batch GD's whole path (where GD is heading), or None while it is computed."""
        if self._ref is not None:
            return self._ref
        sim = comp.runs[0].sim
        cost = min(2000, max(sim.scenario.epochs, 50)) * sim.dataset.n_samples * sim.model.n_params
        if cost <= REF_COST:
            self._ref = sim.reference_path()
            return self._ref
        self.run_in_thread(("ref", self._comp_id), sim.reference_path, self._got_reference,
                           group="compare-landscape")
        return None

    def _got_reference(self, key: tuple, ref: np.ndarray) -> None:
        if key[1] == self._comp_id:
            self._ref = ref
            self.box = None
            if self._comp is not None:
                self.show(self._comp, force=True)

    # ------------------------------------------------------------------------------------
    def _pixels(self) -> tuple[int, int, int]:
        """(pixel columns, pixel rows, first cell row of the map)."""
        h, w = self.size.height, self.size.width
        bottom = 1 if h >= 6 else 0
        return w, 2 * max(1, h - 1 - bottom), 1

    @staticmethod
    def _epochs(sim, steps: np.ndarray) -> np.ndarray:  # noqa: ANN001
        return np.asarray(steps, float) / max(1, sim.plan.steps_per_epoch_count)

    def _paths(self, comp, pw: int) -> list[np.ndarray]:  # noqa: ANN001
        """Each run's path as (k, 2) points in the picture's coordinates, the current point last."""
        i, j = self.pair
        out = []
        for run in comp.runs:
            sim = run.sim
            d = sim.history.decimated(max(64, 2 * pw))
            now = np.asarray(sim.params, float)[None, :]
            params = np.vstack([d.params, now])
            if self.plane is not None:
                out.append(self.plane.coords(params))
            elif j is None:
                t = np.concatenate([self._epochs(sim, d.param_step), self._epochs(sim, [sim.step])])
                out.append(np.stack([params[:, i], t], axis=1))
            else:
                out.append(params[:, [i, j]])
        return out

    def _fit_box(self, comp, paths: list[np.ndarray], ref) -> Box:  # noqa: ANN001
        """A box around the paths (and where GD is heading), at most :data:`MAX_ZOOM_OUT` times
        the size of GD's own box: a run that explodes leaves the map instead of shrinking it."""
        i, j = self.pair
        pts = [p for run, p in zip(comp.runs, paths) if run.sim.status != "diverged"] or paths
        pts = list(pts)
        gd = [paths[0]]
        if ref is not None and len(ref):
            if j is None:
                ends = np.array([[ref[0, i], 0.0], [ref[-1, i], 0.0]])
            elif self.plane is not None:
                ends = self.plane.coords(ref[[0, -1]])
            else:
                ends = ref[[0, -1]][:, [i, j]]
            pts.append(ends)
            gd.append(ends)
        allp = np.vstack(pts)
        (x0, x1), (y0, y1) = view_box(allp, 0, 1)
        (gx0, gx1), (gy0, gy1) = view_box(np.vstack(gd), 0, 1)
        lx, ly = _widen(gx0, gx1, MAX_ZOOM_OUT), _widen(gy0, gy1, MAX_ZOOM_OUT)
        if j is None:                      # time: 0 at the top … a round number of epochs
            t = allp[:, 1]
            top = float(np.nanmax(t)) if np.isfinite(t).any() else 0.0
            y0, y1 = 0.0, _nice_epochs(top)
            ly = (0.0, math.inf)
        self._limit = Box(*lx, *ly)
        return Box(max(x0, lx[0]), min(x1, lx[1]), max(y0, ly[0]), min(y1, ly[1]))

    def _inside(self, box: Box, x: float, y: float) -> bool:
        if self.pair[1] is None:
            return box.x0 <= x <= box.x1 and y <= box.y1
        return box.contains(x, y)

    def _draw(self, comp, force: bool) -> None:  # noqa: ANN001
        self._ensure_palette()
        pw, ph, top = self._pixels()
        ref = self._reference(comp)
        self._choose_plane(comp, ref, force)
        paths = self._paths(comp, pw)
        live = [p[-1] for run, p in zip(comp.runs, paths) if run.sim.status != "diverged"]
        if self.box is None:
            self.box = self._fit_box(comp, paths, ref)
            self._grid_key = None
        elif any(not self._inside(self.box, float(x), float(y)) for x, y in live):
            # grow (never shrink) toward the runs, up to the largest box: the picture settles
            fit, b = self._fit_box(comp, paths, ref), self.box
            new = Box(min(b.x0, fit.x0), max(b.x1, fit.x1), min(b.y0, fit.y0), max(b.y1, fit.y1))
            lim = self._limit
            if lim is not None:
                new = Box(max(new.x0, lim.x0), min(new.x1, lim.x1), max(new.y0, lim.y0), min(new.y1, lim.y1))
            if new != b:
                self.box = new
                self._grid_key = None
        self._update_grid(comp, pw, ph, force)
        chars, sids = self._draw_cells(comp, paths, pw, ph, top)
        self.paint(chars, sids)
        self.draws += 1

    def _choose_plane(self, comp, ref, force: bool) -> None:  # noqa: ANN001
        """More than two parameters: the plane through the start, the mini-batch run's current
        point and full-batch GD's end (or its lowest point), renewed at most every
        :data:`GRID_INTERVAL` seconds while that run moves."""
        sim = comp.runs[1].sim
        if sim.model.n_params <= 2 or ref is None or not len(ref):
            self.plane = None
            return
        if self._anchor is None:
            anchor, _ = minimum(sim.model, sim.X, sim.y, ref)
            self._anchor = anchor if np.all(np.isfinite(anchor)) else np.asarray(ref[0], float)
        now = np.asarray(sim.params, float)
        old = self.plane
        if old is not None and not force and time.monotonic() - self._plane_time < GRID_INTERVAL:
            return
        if old is not None and old.distance(now[None])[0] == 0.0:
            return
        start = np.asarray(comp.runs[0].sim.initial_params, float)
        self.plane = path_plane(start, now, self._anchor, (sim.full_gradient(),))
        self._plane_time = time.monotonic()

    # ------------------------------------------------------------------------------------
    def _update_grid(self, comp, pw: int, ph: int, force: bool) -> None:  # noqa: ANN001
        i, j = self.pair
        sim = comp.runs[1].sim
        box = self.box
        plane = self.plane
        held = (np.asarray(sim.params, float) if plane is None
                else np.concatenate([plane.origin, plane.u, plane.v]))
        key = (box, pw, ph, self.pair, self._comp_id)
        if self._grid_key is not None and self._grid_key[:5] == key:
            if sim.model.n_params <= 2 or j is None:
                return
            if np.array_equal(self._grid_key[5], held):
                return
            if not force and time.monotonic() - self._grid_time < GRID_INTERVAL:
                return
        self._grid_key = (*key, held.copy())
        self._grid_time = time.monotonic()
        xs = box.x0 + (np.arange(pw) + 0.5) * (box.x1 - box.x0) / pw
        X, y = sim.X, sim.y
        if j is None:
            def compute() -> np.ndarray:
                with np.errstate(all="ignore"):
                    row = sim.model.losses_many(xs[:, None], X, y)
                return np.repeat(row[None, :], ph, axis=0)
        else:
            ys = box.y1 - (np.arange(ph) + 0.5) * (box.y1 - box.y0) / ph     # top row first
            params = np.asarray(sim.params, float).copy()   # the thread must not see them move

            def compute() -> np.ndarray:
                if plane is not None:
                    return plane_grid(sim.model, X, y, plane, xs, ys, i, j).loss
                return loss_grid(sim.model, X, y, params, i, j, xs, ys).loss
        cost = pw * (1 if j is None else ph) * sim.dataset.n_samples * sim.model.n_params
        if cost <= SYNC_COST or (self.levels is None and cost <= 4 * SYNC_COST):
            self._set_grid(compute())
        else:
            key5 = self._grid_key
            self.run_in_thread(("grid", self._comp_id, id(key5)), compute,
                            lambda k, loss: self._got_grid(k, key5, loss), group="compare-landscape")

    def _got_grid(self, key: tuple, grid_key: tuple, loss: np.ndarray) -> None:
        if key[1] != self._comp_id or grid_key is not self._grid_key:
            return
        self._set_grid(loss)
        self._sig = None
        if self._comp is not None:
            self._draw(self._comp, False)

    def _set_grid(self, loss: np.ndarray) -> None:
        z = np.log10(loss[np.isfinite(loss) & (loss > 0)])
        if len(z):
            lo, hi = float(z.min()), float(z.max())
            scale = self._scale
            if scale is None or lo < scale[0] or hi > scale[1] or (hi - lo) < 0.6 * (scale[1] - scale[0]):
                pad = 0.02 * (hi - lo)
                scale = (lo - pad, hi + pad)
            self._scale = scale
        self.levels = LandscapeView.loss_levels(loss, scale=self._scale)

    # ------------------------------------------------------------------------------------
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
            heat.append(blend(stops[a], stops[a + 1], x - a))
        # the map is always dark, so the runs keep their dark-theme colours on it
        runs = [hex_rgb(s.dark) for s in RUN_STYLES]
        colors = [rich_color(c) for c in heat + runs + [hex_rgb(NAN_COLOR), hex_rgb(START_COLOR)]]
        self.RUNS = [HEAT_LEVELS + k for k in range(3)]
        self.NAN, self.START = HEAT_LEVELS + 3, HEAT_LEVELS + 4
        n = len(colors)
        self.table = type(self.table)()
        base = self.base_style
        sids = np.zeros((n, n), dtype=np.int32)
        for u in range(n):
            for lo in range(n):
                style = Style(bgcolor=colors[lo]) if u == lo else Style(color=colors[u], bgcolor=colors[lo])
                sids[u, lo] = self.table.index(base + style)
        self._heat_sids = sids
        # current points: the run's marker, bright on a black cell, so it stands out of the map
        # and of the paths; the start: a light ○ over the map
        self._mark_sids = {(which, lo): self.table.index(base + Style(color=colors[which], bgcolor="#000000", bold=True))
                           for which in self.RUNS for lo in range(n)}
        self._mark_sids.update({(self.START, lo): self.table.index(base + Style(color=colors[self.START], bgcolor=colors[lo], bold=True))
                                for lo in range(n)})
        dark = theme.dark
        # legend marks 3:1 and words 4.5:1 on the panel's background (WCAG AA, any theme)
        self._run_txt = [self.table.index(base + Style(color=rich_color(readable(hex_rgb(s.color(dark)), bg_rgb, LINE_CONTRAST)),
                                                       bold=True)) for s in RUN_STYLES]
        self._muted = self.table.index(base + Style(color=rich_color(readable(blend(fg, bg_rgb, 0.45), bg_rgb))))
        self._title = self.table.index(base + Style(color=rich_color(readable(fg, bg_rgb)), bold=True))
        self._blank = self.table.index(base)
        self._chars = np.empty((0, 0), dtype="<U1")    # force a full repaint
        self._strips.clear()

    def _to_pixels(self, pts: np.ndarray, pw: int, ph: int) -> np.ndarray:
        box = self.box
        with np.errstate(all="ignore"):
            c = (pts[:, 0] - box.x0) / (box.x1 - box.x0) * pw - 0.5
            if self.pair[1] is None:     # time grows downwards
                r = (pts[:, 1] - box.y0) / (box.y1 - box.y0) * ph - 0.5
            else:
                r = (box.y1 - pts[:, 1]) / (box.y1 - box.y0) * ph - 0.5
        out = np.stack([c, r], axis=1)
        out[~np.isfinite(out)] = -1e6
        return np.clip(out, -1e6, 1e6)

    def _draw_cells(self, comp, paths: list[np.ndarray], pw: int, ph: int,  # noqa: ANN001
                 top: int) -> tuple[np.ndarray, np.ndarray]:
        h, w = self.size.height, self.size.width
        no_color = self.app.no_color
        pix = np.full((ph, pw), self.NAN, dtype=np.int32)
        if self.levels is not None and self.levels.shape == (ph, pw):
            pix[:] = self.levels
        heat = pix.copy()
        drawn = np.full((ph, pw), -1, dtype=np.int32)          # which run owns a pixel (NO_COLOR)
        self.paths = paths
        for k in (2, 1, 0):                                     # SGD below, GD on top
            p = segment_pixels(self._to_pixels(paths[k], pw, ph))
            if RUN_STYLES[k].dotted:
                p = p[::2]
            ok = (p[:, 0] >= 0) & (p[:, 0] < pw) & (p[:, 1] >= 0) & (p[:, 1] < ph)
            pix[p[ok, 1], p[ok, 0]] = self.RUNS[k]
            drawn[p[ok, 1], p[ok, 0]] = k
        rows = ph // 2
        chars = np.full((h, w), " ", dtype="<U1")
        sids = np.full((h, w), self._blank, dtype=np.int32)
        if no_color:
            self._compose_no_color(chars, heat, drawn, top, rows, pw)
        else:
            upper, lower = pix[0::2][:rows], pix[1::2][:rows]
            chars[top: top + rows, :pw] = np.where(upper == lower, " ", "▀")
            sids[top: top + rows, :pw] = self._heat_sids[upper, lower]

        # markers: the start, then SGD, mini-batch and GD's current points (GD on top)
        marks: list[tuple[int, int, str, int]] = []
        start = self._to_pixels(paths[0][:1], pw, ph)[0]
        marks.append((*_cell(start), START_MARKER, self.START))
        self.current = [(float(p[-1, 0]), float(p[-1, 1])) for p in paths]
        self.marks = [None, None, None]
        self.off_map = [False, False, False]
        for k in (2, 1, 0):
            here = self._to_pixels(paths[k][-1:], pw, ph)[0]
            style = RUN_STYLES[k]
            glyph = style.letter if no_color else style.marker
            col, row = float(here[0]), float(here[1])
            if not (-0.5 <= col < pw - 0.5 and -0.5 <= row < ph - 0.5):
                # off the map: an arrow on the edge, pointing where the run went
                self.off_map[k] = True
                ang = math.atan2(-(row - ph / 2), col - pw / 2)
                glyph = ARROWS[int(round(ang / (math.pi / 4))) % 8]
                here = np.array([min(max(col, 0.0), pw - 1.0), min(max(row, 0.0), ph - 1.0)])
            marks.append((*_cell(here), glyph, self.RUNS[k]))
        for r2, c, ch, color in marks:
            r = r2 // 2
            if 0 <= r < rows and 0 <= c < pw:
                chars[top + r, c] = ch
                under = int(heat[min(2 * r + 1, ph - 1), c])
                sids[top + r, c] = self._title if no_color else self._mark_sids[color, under]
                if color in self.RUNS:
                    self.marks[self.RUNS.index(color)] = (top + r, c)
        self._write_text(comp, chars, sids, h, w)
        return chars, sids

    def _compose_no_color(self, chars: np.ndarray, heat: np.ndarray, drawn: np.ndarray, top: int,
                          rows: int, pw: int) -> None:
        """Without colour: contour dots where the loss band changes, letters for the paths."""
        band = (heat[1::2][:rows] * 8) // HEAT_LEVELS
        edge = np.zeros(band.shape, bool)
        edge[:, 1:] |= band[:, 1:] != band[:, :-1]
        edge[1:, :] |= band[1:, :] != band[:-1, :]
        sub = chars[top: top + rows, :pw]
        sub[edge] = "·"
        up, lo = drawn[0::2][:rows], drawn[1::2][:rows]
        for k in (2, 1, 0):
            sub[(up == k) | (lo == k)] = ("o", "+", "x")[k]

    def _write_text(self, comp, chars: np.ndarray, sids: np.ndarray, h: int, w: int) -> None:  # noqa: ANN001
        sim = comp.runs[1].sim
        names = sim.model.param_names
        i, j = self.pair
        box = self.box
        ni = names[i]
        if j is None:
            title = f"Loss over {ni}, time ↓"
            extra = "  full data, log colour"
            ranges = f"  {ni} {fmt_value(box.x0)}…{fmt_value(box.x1)} →  epochs 0…{box.y1:g} ↓"
        elif self.plane is not None:
            title = "Loss on the plane through start, mini-batch's now and GD's end"
            extra = f"  ({sim.model.n_params} parameters)"
            ranges = f"  → {fmt_value(box.x0)}…{fmt_value(box.x1)}  ↑ {fmt_value(box.y0)}…{fmt_value(box.y1)}"
        else:
            nj = names[j]
            title = f"Loss over {ni}, {nj}"
            extra = "  full data, log colour" if sim.model.n_params <= 2 else "  others at mini-batch's values"
            ranges = f"  {ni} {fmt_value(box.x0)}…{fmt_value(box.x1)} →  {nj} {fmt_value(box.y0)}…{fmt_value(box.y1)} ↑"
        if self.pending_work and self.levels is None:
            extra = "  computing…"
        text = title
        for cand in (title + extra + ranges, title + ranges, title + extra):
            if len(cand) <= w:
                text = cand
                break
        if len(text) > w and self.plane is not None:
            for short in ("Loss on plane: start, mini-batch now, GD end", "Loss on path plane"):
                if len(short) <= w:
                    break
            title = text = short
        self.title = text[:w]
        x = self.put_text(chars, sids, 0, title, self._title, 0)
        self.put_text(chars, sids, 0, text[len(title):], self._muted, x)
        if h < 6:
            self.legend = ""
            return
        labels = [r.label for r in comp.runs]
        no_color = self.app.no_color
        algos = [lab.split(" (")[0] for lab in labels]
        sizes = [lab.split("(")[-1].rstrip(")") for lab in labels]
        variants = [
            ([(k, labels[k]) for k in range(3)], " start"),
            ([(k, algos[k]) for k in range(3)], " start"),
            ([(k, sizes[k]) for k in range(3)], " start"),
            ([(k, sizes[k]) for k in range(3)], ""),
        ]
        y = h - 1
        for items, start in variants:
            parts = []
            for k, label in items:
                style = RUN_STYLES[k]
                glyph = (("o", "+", "x")[k] + style.letter) if no_color else (style.line + style.marker)
                parts.append((glyph, label))
            total = sum(len(g) + 1 + len(t) + 2 for g, t in parts) + (1 + len(start) if start else -2)
            if total <= w:
                break
        x = 0
        for k, (glyph, label) in enumerate(parts):
            x = self.put_text(chars, sids, y, glyph, self._title if no_color else self._run_txt[k], x)
            x = self.put_text(chars, sids, y, " " + label + ("  " if k < 2 or start else ""), self._muted, x)
        if start:
            x = self.put_text(chars, sids, y, START_MARKER, self._title, x)
            self.put_text(chars, sids, y, start, self._muted, x)
        self.legend = "".join(chars[y].tolist()).rstrip()



def _widen(a: float, b: float, factor: float) -> tuple[float, float]:
    """The range [a, b] widened ``factor`` times about its middle."""
    mid, half = 0.5 * (a + b), 0.5 * (b - a) * factor
    return mid - half, mid + half


def _cell(p: np.ndarray) -> tuple[int, int]:
    """(pixel row, column) of a float pixel position (col, row)."""
    return int(round(float(p[1]))), int(round(float(p[0])))


def _nice_epochs(t: float) -> float:
    """A round number of epochs ≥ t (1, 2, 5, 10, 20, …), at least 1."""
    if not t > 1:
        return 1.0
    e = math.floor(math.log10(t))
    for m in (1, 2, 5, 10):
        if m * 10.0**e >= t:
            return m * 10.0**e
    return 10.0 ** (e + 1)

