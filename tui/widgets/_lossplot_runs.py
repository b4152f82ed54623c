"""The loss plot of several runs: compare mode's handful (each run's training loss in its colour,
its current point as its marker) and the noise cloud's band (median and 10–90 % of the K runs) —
a part of :class:`~.lossplot.LossPlot`."""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text

from ._cells import RGB
from ._lossplot_axes import RUNS_X_LABELS, _decimate_index, _hex, run_curve
from ._runs import RUN_STYLES


class SeveralRunsCurves:
    """Mixin of :class:`~.lossplot.LossPlot`: the curves and legends of compare mode and the cloud."""

    # --- a handful of runs (compare mode) ----------------------------------------------------
    def _runs_data(self, comp, plt, pal: dict[str, RGB], w: int) -> Text:  # noqa: ANN001
        """The full training loss of each run, in its :data:`RUN_STYLES` colour, its current
        point as its marker; a run that explodes runs along the top (:data:`CAP_DECADES`)."""
        width = max(8, w - 10)
        data = [run_curve(r.sim, self.x_axis, 2 * width) for r in comp.runs]   # braille: 2 dots a cell
        self.series = [(r.label, x, y) for r, (x, y) in zip(comp.runs, data)]
        start = max((float(y[0]) for _, y in data if len(y)), default=1.0)
        curves = [(f"run{k}", x, y, f"run{k}") for k, (x, y) in enumerate(data)]
        xmax = max((float(x.max()) for x, _ in data if len(x)), default=0.0)
        started = any(r.sim.step > 0 for r in comp.runs)
        log = self._axes(plt, curves, xmax, comp.runs[0].sim.dataset.n_samples, started=started, w=w,
                         cap=start)
        order = list(reversed(curves))            # SGD first, GD last (on top)
        self._draw_curves(plt, order, pal)
        for name, *_rest in order:
            x, y = self._plotted[name]
            if len(x):
                k = int(name[3:])
                plt.scatter([float(x[-1])], [float(y[-1])], marker=RUN_STYLES[k].marker, color=pal[name])
        return self._runs_legend(comp, pal, w, log)

    def _runs_legend(self, comp, pal: dict[str, RGB], w: int, log: bool) -> Text:  # noqa: ANN001
        muted = Style(color=_hex(pal["ticks"]))
        labels = [r.label for r in comp.runs]
        states = ["  ✗ diverged" if r.sim.status == "diverged" else "" for r in comp.runs]
        unit = f"x: {RUNS_X_LABELS[self.x_axis]}" + (" · log y" if log else "")
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
        last = len(labels) - 1
        for names, tail in variants:
            text = Text()
            for k, name in enumerate(names):
                style = RUN_STYLES[k]
                text.append(style.line + style.marker + " ", Style(color=_hex(pal[f"run{k}"]), bold=True))
                text.append(name + ("  " if k < last else ""), muted)
            text.append(tail, muted)
            if text.cell_len <= w:
                break
        self.legend = text.plain
        self.drawn = [f"run{k}" for k in range(len(labels))]
        return text

    # --- a cloud of runs ---------------------------------------------------------------------
    def _cloud_data(self, ens, plt, pal: dict[str, RGB], w: int) -> Text:  # noqa: ANN001
        """The band of the K runs' losses over steps: the median of the full training loss
        (bold) and its 10 % and 90 % quantiles (faint), from ``Ensemble.band`` (the engine's
        quantiles), decimated to the plot's width."""
        width = 2 * max(8, w - 10)
        self.series = {}
        curves: list[tuple[str, np.ndarray, np.ndarray, str]] = []
        steps, train = ens.band("train_loss", qs=(0.1, 0.5, 0.9))
        started = len(steps) > 1 or (len(steps) == 1 and steps[0] > 0)
        keep = _decimate_index(len(steps), width)
        x = np.asarray(steps, float)[keep]
        train = np.asarray(train, float)[:, keep]
        bsteps = np.zeros(0)
        curves.append(("train_q10", x, train[0], "band"))
        curves.append(("train_q90", x, train[2], "band"))
        curves.append(("train_q50", x, train[1], "train"))
        xmax = float(np.nanmax(x)) if len(x) and np.isfinite(x).any() else 0.0
        log = self._axes(plt, curves, xmax, 1, started=started, w=w, cap=float(train[1, 0]) if len(x) else None)
        self.series = {name: self._plotted[name] for name, *_ in curves}
        self._draw_curves(plt, curves, pal)
        muted = Style(color=_hex(pal["ticks"]))

        def col(key: str) -> Style:
            return Style(color=_hex(pal[key]), bold=True)

        k = ens.runs
        unit = "x: step" + (" · log y" if log else "")
        long = [("━ ", "train", f"median of {k} runs"), ("━ ", "band", "10–90 %"), ("━ ", "batch", "batch loss (median)")]
        short = [("━ ", "train", "median"), ("━ ", "band", "10–90 %"), ("━ ", "batch", "batch")]
        if not len(bsteps):
            long, short = long[:2], short[:2]
        for items, tail in ((long, f"   {unit}"), (short, f"  {unit}"), (short, "")):
            text = Text("  ").join(Text.assemble((g, col(key)), (label, muted)) for g, key, label in items)
            text.append(tail, muted)
            if text.cell_len <= w:
                break
        self.legend = text.plain
        self.drawn = [key for _, key, _ in items]
        return text
