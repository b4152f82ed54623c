"""The lab's second picture: wall-clock time against B under the hardware model (plotext).

The model is :class:`engine.lab.Hardware`: a device processes up to P samples in parallel, so a
step of B samples takes ceil(B/P) time units, and holds at most M samples, so B > M does not
fit. Two curves against B (log2 axis): the time per step ``ceil(B/P)`` (flat up to B = P: the
device is idle below it — why not B = 1) and the time to the target, steps × ceil(B/P) (it
turns up past B_crit, where the extra examples are wasted — why not B = N). Vertical lines mark
B = P and B = M; a batch size that does not fit is marked ``×`` at the top. Both y values are
log10 with decade ticks. The numbers come from the result (``show(result)``); nothing is
recomputed here but the stated formula's product.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual_plotext import PlotextPlot

from ._labplot import build, log_ticks, palette


class HardwarePlot(PlotextPlot):
    """Time per step and time to target against B (see the module docstring)."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.result = None

    def show(self, result) -> None:  # noqa: ANN001
        self.result = result
        self.refresh()

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        plt = self.plt
        plt.clear_figure()
        plt.theme("clear")
        if w < 10 or h < 4:
            return Text("")
        pal = palette(self)
        self._draw(plt, pal)
        return build(plt, w, h, pal)

    def _draw(self, plt, pal) -> None:  # noqa: ANN001
        r = self.result
        plt.xlabel("batch size B")
        if r is None or not r.points:
            plt.xticks([])
            plt.yticks([])
            return
        step_c, total_c, limit_c = pal.curve, pal.point, pal.limit
        hw = r.hardware
        sizes = [p.batch_size for p in r.points]
        lx = [math.log2(b) for b in sizes]
        per_step = [(math.log2(p.batch_size), hw.step_time(p.batch_size)) for p in r.points]
        total = [(math.log2(p.batch_size), hw.time_to_target(p.batch_size, p.steps)) for p in r.points]
        ys = [math.log10(t) for _, t in per_step + total if t]
        ylo, yhi = (min(ys), max(ys)) if ys else (0.0, 1.0)
        pad = max(0.2, 0.1 * (yhi - ylo))
        ylo, yhi = ylo - pad, yhi + 2 * pad
        xlo, xhi = min(lx) - 0.4, max(lx) + 0.4
        plt.xlim(xlo, xhi)
        plt.ylim(ylo, yhi)
        step = max(1, math.ceil(len(sizes) / max(2, self.size.width // 7)))
        plt.xticks(lx[::step], [str(b) for b in sizes[::step]])
        yt, yl = log_ticks(ylo, yhi, max(2, self.size.height // 3))
        plt.yticks(yt, yl)
        for b, label in ((hw.parallel, f"P={hw.parallel}"), (hw.memory, f"M={hw.memory}")):
            x = math.log2(b)
            if xlo <= x <= xhi:
                plt.vline(x, color=limit_c)
                if self.size.height >= 18:     # smaller, the summary line says P and M
                    plt.text(label, x, yhi - 0.04 * (yhi - ylo), color=limit_c, alignment="center")
        for series, color, name in ((per_step, step_c, "per step"), (total, total_c, "to target")):
            pts = [(x, math.log10(t)) for x, t in series if t]
            if pts:
                plt.plot([p[0] for p in pts], [p[1] for p in pts], color=color, marker="braille")
                plt.scatter([p[0] for p in pts], [p[1] for p in pts], marker="●", color=color)
                plt.text(name, pts[0][0] + 0.15, pts[0][1] + 0.06 * (yhi - ylo), color=color, alignment="left")
        over = [math.log2(p.batch_size) for p in r.points if not hw.fits(p.batch_size)]
        if over:
            plt.scatter(over, [yhi - 0.12 * (yhi - ylo)] * len(over), marker="×", color=limit_c)
            if self.size.height >= 18:     # smaller, it would run into the P= and M= labels
                plt.text("does not fit", over[-1] - 0.15, yhi - 0.12 * (yhi - ylo), color=limit_c, alignment="right")
