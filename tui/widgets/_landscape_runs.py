"""Several runs on the landscape: compare mode's paths (each run in its colour and marker, from the
common start) and the noise cloud's points, and the time-down picture of a one-parameter model
(w across, epochs down) — a part of :class:`~.landscape.LandscapeView`."""

from __future__ import annotations

import math

import numpy as np

from ._landscape_geometry import ARROWS, Box, _nice_epochs, _RowGrid, _TimePlane, segment_pixels
from ._runs import RUN_STYLES, START_MARKER

from mbsim.engine.landscape import view_box


class SeveralRuns:
    """Mixin of :class:`~.landscape.LandscapeView`: compare mode, the cloud, time down."""

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
        self._mark_minimum(box, min_xy, pw, ph, top, marks)
        if cloud_xy is not None and len(cloud_xy):
            mean = self._to_pixels(box, cloud_xy.mean(axis=0)[None, :], pw, ph)[0]
            marks.append((int(round(mean[1])) // 2, int(round(mean[0])), "✚", self.CLOUD))
        for k in reversed(range(len(tracks_xy))):
            marks.append(self._run_mark(k, self._to_pixels(box, tracks_xy[k][-1:], pw, ph)[0], pw, ph, top))
        chars, sids = self._cells_of(pix, heat_only, marks, top, ph, pw)
        self._write_collection_text(src, sim, plane, chars, sids)
        return chars, sids

    def _mark_minimum(self, box: Box, min_xy, pw: int, ph: int, top: int, marks: list) -> None:  # noqa: ANN001
        """Add the full batch's minimum (◆) to ``marks`` when it lies on the map, and remember its
        cell (``minimum_cell``, None when it is off the map or unknown)."""
        self.minimum_cell = None
        if min_xy is None:
            return
        mp = self._to_pixels(box, min_xy[None, :], pw, ph)[0]
        mc, mr = int(round(mp[0])), int(round(mp[1]))
        if 0 <= mc < pw and 0 <= mr < ph:
            marks.append((mr // 2, mc, "◆", self.FULL))
            self.minimum_cell = (mr // 2 + top, mc)

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
