"""The landscape's colours: the heat-map levels (log L), the palette of the map and its marks, and
the NO_COLOR picture (contour dots and letters) — a part of :class:`~.landscape.LandscapeView`."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from ._cells import LINE_CONTRAST, RGB, blend, hex_rgb, readable, rich_color
from ._runs import RUN_STYLES

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
SHADES = " ░▒▓"             # NO_COLOR heat map, low to high loss


class LandscapePalette:
    """Mixin of :class:`~.landscape.LandscapeView`: its colour levels and palette."""

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
