"""Compare mode's loss plot: the three runs' full training loss on one x axis (plotext).

Each curve is the loss on the whole training set after every update of that run, starting at
the common initial loss: Batch GD solid, mini-batch and SGD dotted, in the colours of
:data:`~tui.widgets._runs.RUN_STYLES`, the current point of each run as its marker. The x axis
counts epochs (default), optimizer steps or samples seen (:meth:`ComparePlot.set_x_axis`): by
epochs the curves line up by data seen, by steps GD's few updates are squeezed to the left.

The histories are read decimated to the plot's width (``history.decimated(width)``), so a frame
costs the same after ten or a million steps; non-finite values are dropped (plotext fails on
``inf``). The y axis is logarithmic when the losses span more than a decade. Axes only change
when the data leave them, and only the changed span of each changed line is repainted, so a
redraw writes little to the terminal. The widget draws only when told (``show(comp)``).
"""

from __future__ import annotations

import math

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual_plotext import PlotextPlot

from ._cells import LINE_CONTRAST, RGB, blend, enable_partial_line_updates, hex_rgb, readable
from ._runs import RUN_STYLES
from .lossplot import X_AXES, axis_ceiling, finite_xy, nice_ceiling, nice_ticks

X_LABELS = {"steps": "steps", "epochs": "epochs", "samples": "samples seen"}
DEFAULT_X = "epochs"
CAP_DECADES = 3          # the y axis ends at most this many decades above the initial loss


def count_label(v: float) -> str:
    """A short tick label: 0, 250, 2.5k, 40k, 1.2M; fractions for epochs."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a == int(a):
        return str(int(v))
    return f"{v:.3g}"


def decade_label(e: float) -> str:
    """The label of 10^e on a log axis."""
    v = 10.0**e
    if -3 <= e <= 4:
        return f"{v:g}" if abs(e - round(e)) < 1e-9 else f"{v:.2g}"
    return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")


def curve(sim, axis: str, width: int) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The full training loss of one run against ``axis``: the initial loss first, then one point
    per bucket of the decimated history, the newest being the run's exact current point (so its
    marker sits on the value the counters row shows); non-finite values dropped."""
    d = sim.history.decimated(max(2, width))
    if axis == "steps":
        xs = d.step.astype(float)
    elif axis == "epochs":          # each bucket at its end, as d.step is
        xs = d.envelope("epoch")[1]
    else:
        xs = d.envelope("samples")[1]
    x = np.concatenate([[0.0], xs])
    y = np.concatenate([[float(sim.initial_train_loss)], d.series("train_loss")])
    if len(xs) and sim.step > 0:
        last = {"steps": float(sim.step), "epochs": sim.history.last("epoch"),
                "samples": sim.history.last("samples")}[axis]
        x[-1], y[-1] = last, sim.history.last("train_loss")
    return finite_xy(x, y)


class ComparePlot(PlotextPlot):
    """Full training loss of the three compared runs (see the module docstring)."""

    PLOT_KIND = "lossplot"          # its timing row in tui.runloop

    DEFAULT_CSS = """
    ComparePlot {
        width: 1fr;
        height: 1fr;
        min-height: 6;
    }
    """

    def __init__(self, *, x_axis: str = DEFAULT_X, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        if x_axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, not {x_axis!r}")
        self.x_axis = x_axis
        self.series: list[tuple[str, np.ndarray, np.ndarray]] = []  # per run: (label, x, loss), finite
        self.legend = ""
        self.log_now = False
        self.redraws = 0
        self._comp = None
        self._sig: tuple | None = None
        self._text: Text | None = None
        self._text_size: tuple[int, int] | None = None
        self._lines: list[tuple[str, list]] = []
        self._xlim: tuple[float, float] | None = None
        self._ylim: tuple[float, float] | None = None
        self._log: bool | None = None

    # ------------------------------------------------------------------------------------
    def set_x_axis(self, axis: str) -> None:
        """Count the x axis in "epochs", "steps" or "samples" (samples seen)."""
        if axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, not {axis!r}")
        if axis != self.x_axis:
            self.x_axis = axis
            self._xlim = None
            self._sig = None
            if self._comp is not None:
                self.show(self._comp)

    def cycle_x_axis(self) -> str:
        """Epochs → steps → samples → epochs; returns the new axis."""
        order = ("epochs", "steps", "samples")
        self.set_x_axis(order[(order.index(self.x_axis) + 1) % len(order)])
        return self.x_axis

    def forget(self) -> None:
        """After a reset (or a new alignment): let the axes fit afresh."""
        self._xlim = self._ylim = None
        self._log = None
        self._sig = None

    def show(self, comp, *, force: bool = False) -> None:  # noqa: ANN001
        """Redraw from the comparison when a run moved (``force``: even if not)."""
        if comp is not self._comp:
            self._comp = comp
            self.forget()
        if not self.is_mounted or self.size.width < 10 or self.size.height < 4:
            return
        sig = (tuple((id(r.sim), r.sim.revision) for r in comp.runs), self.x_axis,
               tuple(self.size), self.app.theme)
        if sig == self._sig and not force:
            return
        self._sig = sig
        self._draw()

    def on_resize(self) -> None:
        self._text = None
        self._lines = []
        self._sig = None
        if self._comp is not None:
            self._draw(full=True)

    def on_mount(self) -> None:
        enable_partial_line_updates()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._on_theme())

    def _on_theme(self) -> None:
        self._sig = None
        if self._comp is not None and self.is_mounted:
            self._draw(full=True)

    # ------------------------------------------------------------------------------------
    def render(self) -> Text:
        size = (self.size.width, self.size.height)
        if self._text is None or self._text_size != size:
            self._text, self._text_size = self._build(), size
            self._lines = [_line_cells(t) for t in self._text.split("\n", allow_blank=True)]
        return self._text

    def _draw(self, full: bool = False) -> None:
        """Rebuild the picture; repaint only the changed span of each line."""
        self.redraws += 1
        text = self._build()
        lines = [_line_cells(t) for t in text.split("\n", allow_blank=True)]
        old = self._lines
        self._text, self._text_size = text, (self.size.width, self.size.height)
        self._lines = lines
        if full or len(old) != len(lines):
            self.refresh()
            return
        for y, (new, prev) in enumerate(zip(lines, old)):
            if new != prev:
                x0, x1 = _changed_span(prev, new)
                if x1 > x0:
                    self.refresh(Region(x0, y, x1 - x0, 1))

    def _palette(self) -> tuple[list[RGB], RGB, RGB, bool]:
        dark = self.app.current_theme.dark
        fg = hex_rgb(self.app.theme_variables.get("foreground", "#e0e0e0"))
        bg = self.background_colors[1]
        bg_rgb: RGB = (bg.r, bg.g, bg.b)
        runs = [hex_rgb(s.color(dark)) for s in RUN_STYLES]
        if not dark:
            runs[0] = fg                               # GD in the text colour on light themes
        # lines 3:1, words 4.5:1 on the background: WCAG AA in every theme
        runs = [readable(c, bg_rgb, LINE_CONTRAST) for c in runs]
        return runs, readable(blend(fg, bg_rgb, 0.3), bg_rgb), readable(blend(fg, bg_rgb, 0.45), bg_rgb), dark

    def _build(self) -> Text:
        w, h = self.size.width, self.size.height
        comp = self._comp
        plt = self._plot
        plt.clear_figure()
        plt.theme("clear")
        if comp is None or w < 10 or h < 4:
            return Text("\n".join(" " * w for _ in range(h)))
        runs, ticks_rgb, muted_rgb, _dark = self._palette()
        legend = self._plot_data(comp, plt, runs, ticks_rgb, muted_rgb, w)
        plt.plotsize(w, h - 1)
        plt._set_size(w, h - 1)
        plt.ticks_color(ticks_rgb)
        plt.frame(True)
        try:
            body = Text.from_ansi(plt.build())
        except Exception as exc:  # noqa: BLE001 - never let a plotting corner case crash the app
            body = Text(f"(plot unavailable: {type(exc).__name__})")
        body.no_wrap = True
        legend.truncate(w, pad=True)
        out = Text()
        out.append_text(legend)
        out.append("\n")
        out.append_text(body)
        out.rstrip()
        return out

    def _plot_data(self, comp, plt, runs: list[RGB], ticks_rgb: RGB, muted_rgb: RGB,  # noqa: ANN001, C901
                   w: int) -> Text:
        axis = self.x_axis
        width = max(8, w - 10)
        data = [curve(r.sim, axis, 2 * width) for r in comp.runs]   # braille: 2 dots per cell
        self.series = [(r.label, x, y) for r, (x, y) in zip(comp.runs, data)]
        ys = np.concatenate([y for _, y in data] + [np.zeros(0)])
        pos = ys[ys > 0]
        # log or linear: linear until the losses span more than a decade, then log for good
        # (until a reset), so the scale never flips back and forth
        if not self._log:
            self._log = bool(len(pos) and pos.max() / max(pos.min(), 1e-300) > 10)
        log = self._log
        self.log_now = log

        xmax = max((float(x.max()) for x, _ in data if len(x)), default=0.0)
        if xmax <= 0:
            xmax = {"steps": 10.0, "epochs": 1.0, "samples": float(comp.runs[0].sim.dataset.n_samples)}[axis]
        need = axis_ceiling(xmax)
        if self._xlim is None or need > self._xlim[1] or need < self._xlim[1] / 5:
            self._xlim = (0.0, need)
        plt.xlim(*self._xlim)
        xt = nice_ticks(self._xlim[1], max(2, (w - 10) // 9))
        plt.xticks(xt, [count_label(t) for t in xt])

        # a run that explodes runs along the top (at most CAP_DECADES above the start) rather
        # than squeezing the others into the bottom row
        start = max((float(y[0]) for _, y in data if len(y)), default=1.0)
        plotted = []
        for x, y in data:
            if log:
                keep = y > 0
                x, y = x[keep], np.log10(y[keep])
                if start > 0:
                    y = np.minimum(y, math.log10(start) + CAP_DECADES)
            else:
                y = np.minimum(y, start * 10**CAP_DECADES)
            plotted.append((x, y))
        allv = np.concatenate([y for _, y in plotted] + [np.zeros(0)])
        if len(allv):
            lo, hi = float(allv.min()), float(allv.max())
            cur = self._ylim
            if log:
                need = (math.floor(lo * 4) / 4, math.ceil(hi * 4) / 4)
                if need[1] - need[0] < 0.5:
                    need = (need[0] - 0.25, need[1] + 0.25)
                if cur is None or lo < cur[0] or hi > cur[1] or (cur[1] - cur[0]) > (need[1] - need[0]) + 1.5:
                    self._ylim = need
            else:
                top = nice_ceiling(hi) if hi > 0 else 1.0
                bottom = 0.0 if lo >= 0 else -nice_ceiling(-lo)
                if cur is None or lo < cur[0] or hi > cur[1] or cur[1] > 4 * max(hi, 1e-300):
                    self._ylim = (bottom, top)
        if self._ylim is not None:
            a, b = self._ylim
            plt.ylim(a, b)
            rows = max(2, (self.size.height - 4) // 2)
            if log:
                span = max(1, math.floor(b) - math.ceil(a))
                every = max(1, math.ceil((span + 1) / rows))
                yt = [float(e) for e in range(math.ceil(a), math.floor(b) + 1) if e % every == 0]
                if len(yt) < 3 and every == 1:
                    yt = sorted(set(yt) | {e + math.log10(m) for e in range(math.floor(a), math.ceil(b) + 1)
                                           for m in (2, 5) if a <= e + math.log10(m) <= b})
                plt.yticks(yt, [decade_label(t) for t in yt])
            else:
                step = nice_ceiling((b - a) / rows)
                yt = [a + k * step for k in range(int(round((b - a) / step)) + 1)]
                plt.yticks(yt, [f"{t:g}" for t in yt])

        # SGD first, GD last (on top); each run's current point as its marker
        for k in (2, 1, 0):
            x, y = plotted[k]
            if len(x) == 0:
                continue
            color = runs[k]
            if len(x) > 1:
                plt.plot(x.tolist(), y.tolist(), marker="braille", color=color)
        for k in (2, 1, 0):
            x, y = plotted[k]
            if len(x):
                plt.scatter([float(x[-1])], [float(y[-1])], marker=RUN_STYLES[k].marker, color=runs[k])
        return self._legend(comp, runs, muted_rgb, w, log)

    def _legend(self, comp, runs: list[RGB], muted_rgb: RGB, w: int, log: bool) -> Text:  # noqa: ANN001
        muted = Style(color="#%02x%02x%02x" % muted_rgb)
        labels = [r.label for r in comp.runs]
        states = ["  ✗ diverged" if r.sim.status == "diverged" else "" for r in comp.runs]
        unit = f"x: {X_LABELS[self.x_axis]}" + (" · log y" if log else "")
        algos = [lab.split(" (")[0] for lab in labels]
        sizes = [lab.split("(")[-1].rstrip(")") for lab in labels]
        marks = ["✗" if st else "" for st in states]
        variants = (
            ([f"{lab}{st}" for lab, st in zip(labels, states)], f"   {unit}"),
            ([f"{a}{st}" for a, st in zip(algos, states)], f"   {unit}"),
            ([f"{b}{st}" for b, st in zip(sizes, states)], f"  {unit}"),
            ([f"{b}{m}" for b, m in zip(sizes, marks)], f"  {unit}"),
            ([f"{a}{st}" for a, st in zip(algos, states)], ""),
            ([f"{b}{m}" for b, m in zip(sizes, marks)], ""),
        )
        for names, tail in variants:
            text = Text()
            for k, name in enumerate(names):
                style = RUN_STYLES[k]
                text.append(style.line + style.marker + " ", Style(color="#%02x%02x%02x" % runs[k], bold=True))
                text.append(name + ("  " if k < 2 else ""), muted)
            text.append(tail, muted)
            if text.cell_len <= w:
                break
        self.legend = text.plain
        return text


def _line_cells(line: Text) -> tuple[str, list]:
    styles: list = [None] * len(line.plain)
    for span in line.spans:
        for k in range(span.start, min(span.end, len(styles))):
            styles[k] = span.style
    return line.plain, styles


def _changed_span(old: tuple[str, list], new: tuple[str, list]) -> tuple[int, int]:
    """The columns [x0, x1) where two lines (text, styles per cell) differ."""
    a_text, a_sty = old
    b_text, b_sty = new
    n = max(len(a_text), len(b_text))
    first = last = -1
    for k in range(n):
        if not (k < len(a_text) and k < len(b_text) and a_text[k] == b_text[k] and a_sty[k] == b_sty[k]):
            if first < 0:
                first = k
            last = k
    return (first, last + 1) if first >= 0 else (0, 0)
