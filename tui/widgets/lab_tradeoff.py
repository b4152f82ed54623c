"""The lab's main picture: steps S against examples E to reach the target, log–log (plotext).

* one point ``●`` per batch size (the medians of :class:`engine.lab.Point`), labelled with B;
* the fitted hyperbola (S/S_min − 1)(E/E_min − 1) = 1 (:class:`engine.tradeoff.Fit`), a line;
* the three regimes of Shallue et al. 2018 named where they are on the curve: perfect scaling
  (B ≤ B_crit/4, the steep part near E = E_min), maximal data parallelism (B ≥ 4·B_crit, flat
  near S = S_min) and diminishing returns between, with the two borders marked ``┼``;
* B_simple: a batch size B is the ray S = E/B (slope 1 on log–log axes); the ray of B_simple
  at the start and at the target (dotted) crosses the hyperbola where the theory puts the knee
  (B_crit ≈ B_simple, McCandlish et al. 2018).

Everything is drawn in log10 coordinates with decade ticks (so text and lines sit exactly where
the numbers say); non-finite values are dropped. The widget draws only the result it is given
(``show(result)``), never computes the science.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text
from textual_plotext import PlotextPlot

from ._labplot import build, log_ticks, palette


class TradeoffPlot(PlotextPlot):
    """Steps against examples, log–log, with the fit, the regimes and B_simple (module docstring)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.result = None
        self.drawn = 0

    def show(self, result) -> None:  # noqa: ANN001
        """Draw ``result`` (an :class:`engine.lab.LabResult`, or None for an empty plot)."""
        self.result = result
        self.refresh()

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        plt = self.plt
        plt.clear_figure()
        plt.theme("clear")
        self.drawn += 1
        if w < 10 or h < 4:
            return Text("")
        pal = palette(self)
        self._draw(plt, pal)
        return build(plt, w, h, pal)

    def _draw(self, plt, pal) -> None:  # noqa: ANN001
        r = self.result
        pts = [] if r is None else [p for p in r.points if p.steps is not None and p.examples]
        plt.xlabel("examples E")
        if not pts:
            plt.xticks([])
            plt.yticks([])
            return
        point_c, curve_c, ray_c, muted = pal.point, pal.curve, pal.ray, pal.muted
        b = np.array([p.batch_size for p in pts], float)
        e = np.log10([p.examples for p in pts])
        s = np.log10([p.steps for p in pts])
        fit = r.fit
        xlo, xhi = float(e.min()), float(e.max())
        ylo, yhi = float(s.min()), float(s.max())
        if fit is not None and fit.s_min > 0 and fit.e_min > 0:
            ylo = min(ylo, math.log10(fit.s_min))
            xlo = min(xlo, math.log10(fit.e_min))
        pad_x = max(0.15, 0.06 * (xhi - xlo))
        pad_y = max(0.15, 0.08 * (yhi - ylo))
        xlo, xhi, ylo, yhi = xlo - pad_x, xhi + 2.5 * pad_x, ylo - pad_y, yhi + pad_y
        plt.xlim(xlo, xhi)
        plt.ylim(ylo, yhi)
        xt, xl = log_ticks(xlo, xhi, max(2, self.size.width // 10))
        yt, yl = log_ticks(ylo, yhi, max(2, self.size.height // 3))
        plt.xticks(xt, xl)
        plt.yticks(yt, yl)
        if fit is not None and fit.s_min > 0 and fit.e_min > 0:
            bc = fit.b_crit
            # the hyperbola over the batch sizes that stay inside the axes
            bs = np.geomspace(max(1e-3, b.min() / 64), b.max() * 64, 400)
            ce, cs = np.log10(fit.examples(bs)), np.log10(fit.steps(bs))
            keep = (ce >= xlo) & (ce <= xhi) & (cs >= ylo) & (cs <= yhi)
            if keep.sum() >= 2:
                plt.plot(ce[keep].tolist(), cs[keep].tolist(), color=curve_c, marker="braille")
            for factor in (0.25, 4.0):              # the regime borders B_crit/4 and 4 B_crit
                x, y = math.log10(fit.examples(bc * factor)), math.log10(fit.steps(bc * factor))
                if xlo <= x <= xhi and ylo <= y <= yhi:
                    plt.scatter([x], [y], marker="┼", color=curve_c)
            if not self.small:
                self._regime_labels(fit, xlo, xhi, ylo, yhi, muted)
        for value, label in ((r.b_simple_start, "start"), (r.b_simple_target, "target")):
            if value is None or not (value > 0 and math.isfinite(value)):
                continue
            lb = math.log10(value)
            # the ray log S = log E − log B_simple, clipped to the axes
            x0, x1 = max(xlo, ylo + lb), min(xhi, yhi + lb)
            if x1 > x0:
                xs = np.linspace(x0, x1, 60)
                plt.plot(xs.tolist(), (xs - lb).tolist(), color=ray_c, marker="dot")
                # the ray's name at its top end (the values are in the subtitle); a small plot
                # leaves the names to the subtitle, where they cannot cover the points' labels
                if not self.small:
                    plt.text(f"B_simple ({label})", x1, x1 - lb, color=ray_c,
                             alignment="right" if label == "start" else "left")
        plt.scatter(e.tolist(), s.tolist(), marker="●", color=point_c)
        dx = 1.5 * (xhi - xlo) / max(10, self.size.width - 8)      # a cell and a half right
        # a label whose cells another label (or a point) already holds is left out: the
        # points are in the table and the hardware plot's x axis (no label drawn over another)
        cols = max(10, self.size.width - 8) / (xhi - xlo)
        rows = max(4, self.size.height - 4) / (yhi - ylo)
        taken: set[tuple[int, int]] = {(round(float(xi) * cols), round(float(yi) * rows)) for xi, yi in zip(e, s)}
        for bi, xi, yi in zip(b, e, s):
            text = f"{int(bi)}"
            x0, row = round((float(xi) + dx) * cols), round(float(yi) * rows)
            cells = {(x0 + k, row) for k in range(-1, len(text) + 1)}
            if cells & taken:
                continue
            taken |= cells
            plt.text(text, float(xi) + dx, float(yi), color=point_c, alignment="left")

    @property
    def small(self) -> bool:
        """Too small for the regimes' and the rays' names beside the points (80×24)."""
        return self.size.width < 70 or self.size.height < 18

    def _regime_labels(self, fit, xlo: float, xhi: float, ylo: float, yhi: float, color) -> None:  # noqa: ANN001
        """The regimes' names beside their part of the curve: perfect scaling right of the
        border B_crit/4, diminishing returns right of B_crit, maximal data parallelism under
        the curve from 4·B_crit on (skipped when that part is off the axes)."""
        bc = fit.b_crit
        dx, dy = 0.02 * (xhi - xlo), 0.07 * (yhi - ylo)
        for text, bsz, where in (("perfect scaling", bc / 4, 0), ("diminishing returns", bc, 1),
                                 ("maximal data parallelism", bc * 4, -1)):
            x, y = math.log10(fit.examples(bsz)), math.log10(fit.steps(bsz))
            if not (xlo <= x <= xhi and ylo <= y <= yhi):
                continue
            if where < 0:      # under the flat part, near the bottom (no point is below S_min)
                y = max(ylo + 0.5 * dy, math.log10(fit.s_min) - 2 * dy)
            elif where > 0:    # above the knee
                y = min(yhi - 0.5 * dy, y + 2 * dy)
            self.plt.text(text, x + dx, y, color=color, alignment="left")
