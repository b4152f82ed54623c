"""The loss plot: batch loss, Keras' epoch running mean, full training loss, validation loss,
and accuracy for classifiers, drawn by plotext through textual-plotext.

* ``batch loss`` (faint): the loss of each step's batch, before its update; when the history is
  decimated (more steps than the plot has columns) its min–max envelope per bucket.
* ``epoch mean``: Keras' running mean of the batch losses over the epoch so far.
* ``train``: the full training-set loss after each update (starts at the initial loss).
* ``val``: the validation loss, when there is a validation set.
* ``acc`` (right axis, 0–100 %): training and validation accuracy, for classifiers.
* Vertical lines: live changes of settings (``sim.changes``).

One widget for one run, a handful or a cloud (``show(source)``, :func:`~tui.widgets._runs.source_kind`):

* one run (a :class:`~engine.Simulation`, the main screen): the curves above;
* a handful (a :class:`~engine.compare.Comparison`, compare mode): each run's full training
  loss in its :data:`~tui.widgets._runs.RUN_STYLES` colour, its current point as its marker,
  one legend entry each;
* a cloud (an :class:`~engine.ensemble.Ensemble`, the noise cloud): the band of the K runs'
  training losses — the median (bold) and the 10 % and 90 % quantiles (faint) — and the
  median batch loss, from ``Ensemble.band`` (x: steps).

The x axis counts steps, epochs or samples seen (:meth:`LossPlot.set_x_axis`). The history is
read decimated to the plot's width (``history.decimated(width)``), so a frame costs the same
after a thousand or a million steps; non-finite values are dropped (plotext fails on ``inf``).
The y axis is logarithmic when the losses span more than a decade (decades labelled).

Cheap on the wire: axes grow in 1–2–5 jumps and the y range only changes when the data leave
it, so between two redraws most of the picture is identical, and only the changed span of each
changed line is sent to the terminal. While running, redraws happen at most twice a second;
``show(sim, force=True)`` (after a single step) redraws at once.
"""

from __future__ import annotations

import math
import time

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual_plotext import PlotextPlot

from ..messages import SimulationChanged
from ._linecache import CachedLines
from ._plotext_fast import enable_fast_plotext
from ._plotext_text import figure_text
from ._cells import LINE_CONTRAST, RGB, blend, enable_partial_line_updates, hex_rgb, readable
from ._runs import RUN_STYLES, revision_key, source_kind
from ._lossplot_axes import (CAP_DECADES, DARK, LIGHT, RUNS_X_LABELS, X_AXES, X_LABELS,  # noqa: F401
                             _bucket_x, _count_label, _decimate_index, _hex, axis_ceiling, decade_label,
                             finite_xy, nice_ceiling, nice_ticks, one_per_row, run_curve)
from ._lossplot_runs import SeveralRunsCurves

REDRAW_INTERVAL = 0.5        # seconds between redraws while running (2 per second)
IDLE_GAP = 0.4               # a call after this long a pause counts as a single step: draw now


class LossPlot(SeveralRunsCurves, CachedLines, PlotextPlot):
    """Loss curves of the run so far; see the module docstring for what each curve is."""

    PLOT_KIND = "lossplot"          # its timing row in tui.runloop

    PARTIAL_LINE_UPDATES = True      # see _cells.enable_partial_line_updates

    DEFAULT_CSS = """
    LossPlot {
        width: 1fr;
        height: 1fr;
        min-height: 6;
    }
    """

    def __init__(self, *, x_axis: str = "steps", log_y: bool | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        if x_axis not in X_AXES:
            raise ValueError(f"x_axis must be one of {', '.join(X_AXES)}")
        self.x_axis = x_axis
        self.log_y = log_y
        self.log_now = False               # the scale in use (log_y None decides by the data)
        self.series: dict[str, tuple[np.ndarray, np.ndarray]] = {}   # what was plotted (tests)
        self.legend = ""
        self.drawn: list[str] = []          # colour keys of the lines drawn (each has a legend entry)
        self.painted_cells = 0              # cells the last redraw asked to repaint (the app's budget)
        self.redraws = 0
        self._sim = None
        self._sig: tuple | None = None
        self._last_draw = -1e9
        self._last_call = -1e9
        self._trailing = None
        self._text: Text | None = None
        self._text_size: tuple[int, int] | None = None
        self._lines: list[tuple[str, list]] = []
        self._rows: list[Text] = []           # the lines of _text (kept objects while unchanged)
        self._xlim: tuple[float, float] | None = None
        self._ylim: tuple[float, float] | None = None
        self._log_locked: bool | None = None
        self._plotted: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------------------------
    # public API
    def set_x_axis(self, axis: str) -> None:
        """Count the x axis in "steps", "epochs" or "samples" (samples seen)."""
        if axis not in X_AXES:
            raise ValueError(f"x axis must be one of {', '.join(X_AXES)}, not {axis!r}")
        if axis != self.x_axis:
            self.x_axis = axis
            self._xlim = None
            self._redraw_now()

    def cycle_x_axis(self, order: tuple[str, ...] = X_AXES) -> str:
        """Switch to the next x axis of ``order`` (steps → epochs → samples → steps); returns its name."""
        self.set_x_axis(order[(order.index(self.x_axis) + 1) % len(order)])
        return self.x_axis

    def set_log_y(self, log: bool | None) -> None:
        """Log y axis on (True), off (False) or chosen from the data (None, the default)."""
        self.log_y = log
        self._log_locked = None
        self._ylim = None
        self._redraw_now()

    def show(self, sim, *, force: bool = False) -> None:  # noqa: ANN001
        """Redraw from the simulation when its history changed; at most ~3×/s while running."""
        if sim is not self._sim:
            self._sim = sim
            self._xlim = self._ylim = None
            self._log_locked = None
            self._sig = None
        now = time.monotonic()
        idle = now - self._last_call > IDLE_GAP
        self._last_call = now
        if not self.is_mounted or self.size.width < 10 or self.size.height < 4:
            return
        sig = self._signature(sim)
        if sig == self._sig and not force:
            return
        wait = REDRAW_INTERVAL - (now - self._last_draw)
        if wait > 0 and not (force or idle):
            self._schedule(wait)
            return
        self._sig = sig
        self._draw()

    def on_simulation_changed(self, message: SimulationChanged) -> None:
        """After a reset or a change of settings let the axes fit afresh."""
        if message.kind in ("reset", "settings"):
            self._xlim = self._ylim = None
            self._log_locked = None
        self._sig = None

    # ------------------------------------------------------------------------------------
    def _signature(self, src) -> tuple:  # noqa: ANN001
        """What the picture depends on: the source's revision(s) (the one refresh rule), the
        axis, the size and the theme."""
        return (revision_key(src), self.x_axis, self.log_y, tuple(self.size), self.app.theme)

    def _schedule(self, wait: float) -> None:
        if self._trailing is not None:
            return

        def fire() -> None:
            self._trailing = None
            if self._sim is not None:
                self.show(self._sim, force=True)

        self._trailing = self.set_timer(max(0.01, wait), fire)

    def _redraw_now(self) -> None:
        self._sig = None
        if self._sim is not None and self.is_mounted:
            self.show(self._sim, force=True)

    def on_resize(self) -> None:
        self._text = None
        self._lines = []
        self._rows = []
        self._sig = None
        if self._sim is not None:
            self._draw(full=True)

    def _on_theme(self) -> None:
        self._redraw_now()

    def on_mount(self) -> None:
        # (PlotextPlot's own on_mount runs too: Textual calls the handler of every class)
        if self.PARTIAL_LINE_UPDATES:
            enable_partial_line_updates()
        enable_fast_plotext()          # plotext's per-point helpers in NumPy: the same picture
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._on_theme())

    # ------------------------------------------------------------------------------------
    def render(self) -> Text:
        self.content_lines()
        return self._text

    def content_lines(self) -> list[Text]:
        size = (self.size.width, self.size.height)
        if self._text is None or self._text_size != size:
            self._text, self._text_size = self._build(), size
            self._rows = self._text.split("\n", allow_blank=True)
            self._lines = [self._line_cells(t) for t in self._rows]
        return self._rows

    def _draw(self, full: bool = False) -> None:
        """Rebuild the picture; ask Textual to repaint only the changed span of each line."""
        self._last_draw = time.monotonic()
        self.redraws += 1
        size = (self.size.width, self.size.height)
        text = self._build()
        rows = text.split("\n", allow_blank=True)
        lines = [self._line_cells(t) for t in rows]
        old, old_rows = self._lines, self._rows
        self._text, self._text_size = text, size
        self._lines = lines
        if full or len(old) != len(lines) or len(old_rows) != len(rows):
            self._rows = rows
            self.painted_cells = size[0] * size[1]
            self.refresh()
            return
        cells = 0
        for y, (new, prev) in enumerate(zip(lines, old)):
            if new == prev:
                rows[y] = old_rows[y]         # the same line: its strips stay cached
                continue
            x0, x1 = _changed_span(prev, new)
            if x1 > x0:
                cells += x1 - x0
                self.refresh(Region(x0, y, x1 - x0, 1))
        self._rows = rows
        self.painted_cells = cells

    @staticmethod
    def _line_cells(line: Text) -> tuple[str, list]:
        n = len(line.plain)
        styles: list = [None] * n
        for span in line.spans:                  # later spans over earlier ones, as cell by cell
            start, end = span.start, min(span.end, n)
            if end > start:
                styles[start:end] = [span.style] * (end - start)
        return line.plain, styles

    # ------------------------------------------------------------------------------------
    def _palette(self) -> dict[str, RGB]:
        theme = self.app.current_theme
        base = DARK if theme.dark else LIGHT
        pal = {k: hex_rgb(v) for k, v in base.items()}
        fg = hex_rgb(self.app.theme_variables.get("foreground", "#e0e0e0"))
        bg = self.background_colors[1]
        bg_rgb: RGB = (bg.r, bg.g, bg.b)
        pal["fg"] = fg
        pal["batch"] = blend(fg, bg_rgb, 0.62)
        pal["axes"] = blend(fg, bg_rgb, 0.5)
        pal["band"] = blend(pal["train"], bg_rgb, 0.45)        # the cloud's 10 % and 90 % quantiles
        for k, style in enumerate(RUN_STYLES):                 # compare mode's runs
            pal[f"run{k}"] = hex_rgb(style.color(theme.dark))
        if not theme.dark:
            pal["run0"] = fg                                   # GD in the text colour on light themes
        # lines 3:1 on the background, words (ticks, legend) 4.5:1: WCAG AA in every theme
        pal = {k: readable(v, bg_rgb, LINE_CONTRAST) for k, v in pal.items()}
        pal["ticks"] = readable(blend(fg, bg_rgb, 0.3), bg_rgb)
        return pal

    def _build(self) -> Text:
        """The whole picture: a legend line, then the plotext figure."""
        w, h = self.size.width, self.size.height
        sim = self._sim
        pal = self._palette()
        plt = self._plot
        plt.clear_figure()
        plt.theme("clear")
        if sim is None or w < 10 or h < 4:
            return Text("\n".join(" " * w for _ in range(h)))
        legend = self._plot_data(sim, plt, pal, w)
        legend_rows = legend.plain.count("\n") + 1
        plt.plotsize(w, h - legend_rows)
        plt._set_size(w, h - legend_rows)
        plt.ticks_color(pal["ticks"])
        plt.frame(True)
        try:
            body = figure_text(plt)
        except Exception as exc:  # noqa: BLE001 - never let a plotting corner case crash the app
            body = Text(f"(plot unavailable: {type(exc).__name__})")
        body.no_wrap = True
        out = Text()
        for k, row in enumerate(legend.split("\n", allow_blank=True)):
            row.truncate(w, pad=True)
            out.append_text(row)
            if k < legend_rows - 1:
                out.append("\n")
        out.append("\n")
        out.append_text(body)
        out.rstrip()
        return out

    def _plot_data(self, src, plt, pal: dict[str, RGB], w: int) -> Text:  # noqa: ANN001
        """Plot what ``src`` holds (one run, a handful, or a cloud); the legend above it."""
        kind = source_kind(src)
        if kind == "runs":
            return self._runs_data(src, plt, pal, w)
        if kind == "cloud":
            return self._cloud_data(src, plt, pal, w)
        return self._one_data(src, plt, pal, w)

    # --- one run ---------------------------------------------------------------------------
    def _one_data(self, sim, plt, pal: dict[str, RGB], w: int) -> Text:  # noqa: ANN001
        width = max(8, w - 10)                     # columns left for the data, roughly
        d = sim.history.decimated(width)
        mode = self.x_axis
        self.series = {}
        initial = float(sim.initial_train_loss)
        init_val = float(getattr(sim, "initial_val_loss", math.nan))
        n = len(d.step)
        classify = sim.dataset.task == "classification"
        xs = _bucket_x(d, mode)
        x0 = np.array([0.0])
        curves: list[tuple[str, np.ndarray, np.ndarray, str]] = []   # (name, x, y, colour key)
        exact = n > 0 and (n < 2 or d.step[1] - d.step[0] == 1)
        if n:
            if exact:
                curves.append(("batch", xs, d.series("batch_loss"), "batch"))
            else:
                lo, hi = d.envelope("batch_loss")
                curves.append(("batch_low", xs, lo, "batch"))
                curves.append(("batch_high", xs, hi, "batch"))
            curves.append(("epoch", xs, d.series("epoch_loss"), "epoch"))
        val = d.series("val_loss") if n else np.zeros(0)
        has_val = math.isfinite(init_val) or bool(np.isfinite(val).any())
        if has_val:
            curves.append(("val", np.concatenate([x0, xs]), np.concatenate([[init_val], val]), "val"))
        curves.append(("train", np.concatenate([x0, xs]), np.concatenate([[initial], d.series("train_loss")]), "train"))
        xmax = float(np.nanmax(xs)) if n and np.isfinite(xs).any() else 0.0
        log = self._axes(plt, curves, xmax, sim.dataset.n_samples, started=bool(n), w=w)
        for name, x, y, key in curves:
            self.series[name] = self._plotted[name]
        self._draw_curves(plt, curves, pal)

        # accuracy on the right axis, 0 … 100 %
        if classify and n:
            for name, key in (("train_acc", "acc"), ("val_acc", "val_acc")):
                ax, ay = finite_xy(xs, d.series(name))
                if len(ax) >= 1:
                    self.series[name] = (ax, ay)
                    plt.plot(ax.tolist(), (ay * 100).tolist(), marker="braille", color=pal[key], yside="right")
            plt.ylim(0, 100, yside="right")
            plt.yticks([0, 50, 100], ["0%", "50%", "100%"], yside="right")

        # live changes of settings
        for step, _note in getattr(sim, "changes", []):
            if n == 0:
                continue
            if mode == "steps":
                xc = float(step)
            else:
                xc = float(np.interp(step, np.concatenate([[0], d.step]), np.concatenate([[0.0], xs])))
            if math.isfinite(xc):
                plt.vertical_line(xc, color=pal["change"])

        return self._legend(sim, pal, w, n, exact, has_val, classify, log)

    # --- shared: the axes and the curves -----------------------------------------------------
    def _axes(self, plt, curves: list, xmax: float, n_samples: int, *, started: bool, w: int,  # noqa: ANN001, C901
              cap: float | None = None) -> bool:
        """Fit the axes to ``curves`` and set them on ``plt``; fills :attr:`_plotted` (name →
        finite (x, y), y in log10 units on a log axis); True for a log y axis.

        Log or linear is decided from the data (when not set) with hysteresis: log once the
        losses span 10×, linear again below 3×. The x axis runs 0 … a round number past the
        data (paused), or grows in 1-2-5 jumps while running (each change of the axis moves
        every point: a full redraw on the wire). The y range is kept while the data stay in
        it. ``cap``: curves are clipped :data:`CAP_DECADES` above it (a run that explodes runs
        along the top rather than squeezing the others into the bottom row)."""
        mode = self.x_axis
        ys_all = np.concatenate([c[2][np.isfinite(c[2])] for c in curves] + [np.zeros(0)])
        pos = ys_all[ys_all > 0]
        if self.log_y is not None:
            log = self.log_y
        else:
            ratio = float(pos.max() / max(pos.min(), 1e-300)) if len(pos) else 1.0
            if self._log_locked is None:
                if started:
                    self._log_locked = ratio > 10
            elif self._log_locked and ratio < 3:
                self._log_locked = False
            elif not self._log_locked and ratio > 10:
                self._log_locked = True
            log = bool(self._log_locked)
        self.log_now = log

        if xmax <= 0:
            xmax = {"steps": 10.0, "epochs": 1.0, "samples": float(n_samples)}[mode]
        if self._host_running():
            if self._xlim is None or xmax > self._xlim[1] or xmax < self._xlim[1] / 5:
                self._xlim = (0.0, nice_ceiling(xmax))
        else:
            self._xlim = (0.0, axis_ceiling(xmax))
        plt.xlim(*self._xlim)
        ticks = nice_ticks(self._xlim[1], max(2, (w - 10) // 9))
        plt.xticks(ticks, [_count_label(t) for t in ticks])

        self._plotted = {}
        plotted_y = []
        for name, x, y, _key in curves:
            x, y = finite_xy(x, y, log)
            if log:
                y = np.log10(y)
                if cap is not None and cap > 0:
                    y = np.minimum(y, math.log10(cap) + CAP_DECADES)
            elif cap is not None:
                y = np.minimum(y, cap * 10**CAP_DECADES)
            plotted_y.append(y)
            self._plotted[name] = (x, y)
        allv = np.concatenate(plotted_y) if plotted_y else np.zeros(0)
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
        else:
            self._ylim = None
        if self._ylim is not None:
            plt.ylim(*self._ylim)
            rows = max(2, (self.size.height - 4) // 2)
            a, b = self._ylim
            if log:
                span = max(1, math.floor(b) - math.ceil(a))
                every = max(1, math.ceil((span + 1) / rows))
                yt = [float(e) for e in range(math.ceil(a), math.floor(b) + 1) if e % every == 0]
                if len(yt) < 3 and every == 1:
                    yt = sorted(set(yt) | {e + math.log10(m) for e in range(math.floor(a), math.ceil(b) + 1)
                                           for m in (2, 5) if a <= e + math.log10(m) <= b})
                yt = one_per_row(yt, a, b, max(2, self.size.height - 4))
                plt.yticks(yt, [decade_label(t) for t in yt])
            else:
                step = nice_ceiling((b - a) / rows)
                yt = [a + k * step for k in range(int(round((b - a) / step)) + 1)]
                yt = one_per_row(yt, a, b, max(2, self.size.height - 4))
                plt.yticks(yt, [f"{t:g}" for t in yt])
        return log

    def _draw_curves(self, plt, curves: list, pal: dict[str, RGB]) -> None:  # noqa: ANN001
        """Each curve in its colour, in order (faint first, so the main curves lie on top)."""
        for name, _x, _y, key in curves:
            px, py = self._plotted[name]
            if len(px) == 0:
                continue
            if len(px) == 1:
                plt.scatter(px.tolist(), py.tolist(), marker="●", color=pal[key])
            else:
                plt.plot(px.tolist(), py.tolist(), marker="braille", color=pal[key])

    def _host_running(self) -> bool:
        """Whether the run loop of this panel's screen (compare, cloud) or the app's is running."""
        return bool(getattr(self.screen, "running", getattr(self.app, "running", False)))

    def _legend(self, sim, pal: dict[str, RGB], w: int, n: int, exact: bool, has_val: bool,  # noqa: ANN001
                classify: bool, log: bool) -> Text:
        """One entry per line drawn (:attr:`drawn`), on one line when it fits, else wrapped
        over more lines (the plot gives up those rows): no line is ever left unexplained."""
        def col(key: str) -> Style:
            r, g, b = pal[key]
            return Style(color=f"#{r:02x}{g:02x}{b:02x}", bold=True)

        muted = Style(color="#%02x%02x%02x" % pal["ticks"])
        if n == 0:
            text = Text()
            text.append("● ", col("train"))
            text.append("train", muted)
            if has_val:
                text.append("  ● ", col("val"))
                text.append("validation", muted)
            text.append("  initial loss · no steps yet", muted)
            self.legend = text.plain
            self.drawn = ["train"] + (["val"] if has_val else [])
            return text
        # (colour key, long label, short label) of every line drawn
        items = [("batch", "batch loss" + ("" if exact else " (min–max)"), "batch" if exact else "batch min–max"),
                 ("epoch", "epoch mean", "epoch mean"), ("train", "train (all data)", "train")]
        if has_val:
            items.append(("val", "validation", "val"))
        if classify and ("train_acc" in self.series or "val_acc" in self.series):
            if "train_acc" in self.series:
                items.append(("acc", "train accuracy (right)", "train acc %"))
            if "val_acc" in self.series:
                items.append(("val_acc", "val accuracy (right)", "val acc %"))
        if sim.changes:
            items.append(("change", "setting changed", "setting changed"))
        self.drawn = [key for key, _, _ in items]
        unit = f"x: {X_LABELS[self.x_axis]}" + (" · log y" if log else "")

        def entries(which: int) -> list[Text]:
            return [Text.assemble(("│ " if key == "change" else "━ ", col(key)), (labels[which], muted))
                    for key, *labels in items]

        for which, sep in ((0, "  "), (1, "  "), (1, " ")):
            text = Text(sep).join(entries(which))
            if text.cell_len + 3 + len(unit) <= w:
                text.append(f"   {unit}", muted)
            if text.cell_len <= w:
                self.legend = text.plain
                return text
        # wrap the short entries over as many lines as they need
        lines: list[Text] = [Text()]
        for entry in entries(1) + [Text(unit, muted)]:
            line = lines[-1]
            gap = 2 if line.cell_len else 0
            if line.cell_len and line.cell_len + gap + entry.cell_len > w:
                lines.append(Text())
                line, gap = lines[-1], 0
            if gap:
                line.append("  ")
            line.append_text(entry)
        if lines[-1].plain == unit and len(lines) > 1:
            lines.pop()                  # the unit only where it fits: the axis is labelled anyway
        text = Text("\n").join(lines)
        self.legend = text.plain
        return text


def _changed_span(old: tuple[str, list], new: tuple[str, list]) -> tuple[int, int]:
    """The columns [x0, x1) where two lines (text, styles per cell) differ (a column past the
    end of one of them differs)."""
    a_text, a_sty = old
    b_text, b_sty = new
    short = min(len(a_text), len(b_text))
    n = max(len(a_text), len(b_text))
    first = 0
    while first < short and a_text[first] == b_text[first] and a_sty[first] == b_sty[first]:
        first += 1
    if first == n:
        return (0, 0)
    last = n - 1
    if len(a_text) == len(b_text):
        while last > first and a_text[last] == b_text[last] and a_sty[last] == b_sty[last]:
            last -= 1
    return (first, last + 1)
