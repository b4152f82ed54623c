"""The one-dimensional lens: each sample's own loss along one line, and their mean.

For a one-parameter model (the three-losses preset) the line is the parameter itself; otherwise
it is the direction of steepest descent of the full loss. Faint curves are the samples' own
losses (all of them, or a stated number when N is large), the bold curve is their mean — the
loss the full data minimises — and markers show the current position and which way the current
batch and the full data pull. The numbers come from :func:`engine.lens.lens`.
"""

from __future__ import annotations

import numpy as np
from textual_plotext import PlotextPlot

from mbsim.engine.lens import Lens, lens
from mbsim.engine.simulation import Simulation


SAMPLE_COLOURS: tuple[str, ...] = ("red", "green", "blue", "magenta", "cyan+")


def pull_word(slope: float) -> str:
    """Which way a step goes for a loss with this slope: against the slope."""
    if not np.isfinite(slope) or slope == 0:
        return "no pull"
    return "pulls →" if slope < 0 else "pulls ←"


def fmt_value(v: float) -> str:
    """A short number with a real minus sign (−0.5, 1.33, 2.4e+03)."""
    if not np.isfinite(v):
        return "—"
    text = f"{v:.3g}"
    return text.replace("-", "−")


class LensView(PlotextPlot):
    """Per-sample loss curves along one line through θ, with their mean.

    The x range stays put while stepping (the curves do not slide away while the teacher
    talks); it is framed afresh when the point leaves it, on a reset or a change of settings,
    and for a new simulation. The current batch's samples are drawn bold and named; the lowest
    point of the mean is marked ◆ and its value written in the title.
    """

    PLOT_KIND = "lens"          # its timing row in tui.runloop

    DEFAULT_CSS = """
    LensView {
        height: 1fr;
        min-height: 8;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.current: Lens | None = None
        self._key: tuple | None = None
        self._window: tuple[float, float] | None = None
        self._sim_id: int | None = None
        self.frames = 0                    # how many times the x range was framed
        self.highlighted: list[int] = []   # sample indices drawn as this batch's
        self.minimum = float("nan")        # where the mean is lowest (x axis units)
        self.title_text = ""

    def reframe(self) -> None:
        """Fit the x range afresh at the next draw (reset, change of settings)."""
        self._window = None
        self._key = None

    def on_simulation_changed(self, message) -> None:  # noqa: ANN001
        if message.kind in ("reset", "settings"):
            self.reframe()

    def compute(self, sim: Simulation) -> Lens:
        """The lens at the simulation's current point (engine call, cached per state)."""
        if self._sim_id != id(sim):
            self._sim_id = id(sim)
            self.reframe()
        key = (sim.iteration, sim.phase, sim.params.tobytes(), self._window)
        if self._key != key or self.current is None:
            L = lens(sim.model, sim.X, sim.y, sim.params, sim.current_batch(), window=self._window)
            lo, hi = float(L.xs[0]), float(L.xs[-1])
            inset = 0.05 * (hi - lo)
            if self._window is None or not (lo + inset <= L.position <= hi - inset):
                if self._window is not None:      # the point left the range: frame afresh
                    L = lens(sim.model, sim.X, sim.y, sim.params, sim.current_batch())
                self._window = (float(L.xs[0]), float(L.xs[-1]))
                self.frames += 1
            self.current = L
            self._key = (sim.iteration, sim.phase, sim.params.tobytes(), self._window)
        return self.current

    def show(self, sim: Simulation, *, force: bool = False) -> None:
        """Redraw for the current state of ``sim`` (``force``: even when nothing changed)."""
        before = None if force else self._key
        L = self.compute(sim)
        if before == self._key and before is not None:
            return
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        xs = L.xs
        finite = np.isfinite(L.mean)
        top = float(np.nanmax(L.mean[finite])) * 1.25 if finite.any() else 1.0
        few = len(L.shown) <= len(SAMPLE_COLOURS)
        self.highlighted = []
        for k, row in enumerate(L.per_sample):
            ok = np.isfinite(row) & (row <= top)
            if ok.sum() <= 1:
                continue
            index = int(L.shown[k])
            mine = bool(L.shown_in_batch[k])
            if mine:
                self.highlighted.append(index)
            if few:
                colour = SAMPLE_COLOURS[k]
                label = f"sample {index}" + (" ← this batch" if mine else "")
            else:
                colour = "cyan+" if mine else "gray"
                # the legend names the batch once, on its first curve (plotext cannot draw a
                # legend entry for an empty series)
                label = "this batch's samples" if mine and len(self.highlighted) == 1 else None
            plt.plot(xs[ok].tolist(), row[ok].tolist(), color=colour,
                     marker="hd" if mine else "braille", label=label)
        self.minimum = L.minimum
        name = L.label if L.axis_is_parameter else "t"
        if finite.sum() > 1:
            plt.plot(xs[finite].tolist(), L.mean[finite].tolist(), color="orange+", marker="hd",
                     label="mean over all samples")
            if np.isfinite(L.minimum):
                plt.scatter([L.minimum], [L.minimum_loss], color="orange+", marker="◆")
        here = float(np.interp(L.position, xs[finite], L.mean[finite])) if finite.sum() > 1 else 0.0
        plt.vline(L.position, color="cyan")
        plt.scatter([L.position], [here], color="cyan", marker="●")
        shown = f"{len(L.shown)} of {L.n_samples} samples" if L.sampled else f"all {L.n_samples} samples"
        star = f"{name}* = {fmt_value(L.minimum)}" if L.axis_is_parameter else f"t = {fmt_value(L.minimum)}"
        line = f"along {L.label}" if L.axis_is_parameter else f"along {L.label}, t from now"
        self.title_text = f"loss {line} · ◆ mean lowest at {star}"
        width = self.size.width - 4
        if len(self.title_text) > width:
            self.title_text = f"{line} · ◆ {star}"
        plt.title(self.title_text)
        xlabel = (f"● now {name} = {fmt_value(L.position)} · batch {pull_word(L.batch_slope)} · "
                  f"all {pull_word(L.full_slope)} · {shown}")
        if len(xlabel) > width:
            xlabel = f"● {name} = {fmt_value(L.position)} · batch {pull_word(L.batch_slope)} · all {pull_word(L.full_slope)}"
        plt.xlabel(xlabel)
        plt.ylim(0, max(top, 1e-12))
        self.refresh()
