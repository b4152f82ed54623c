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

from engine.lens import Lens, lens
from engine.simulation import Simulation


SAMPLE_COLOURS: tuple[str, ...] = ("red", "green", "blue", "magenta", "cyan+")


def pull_word(slope: float) -> str:
    """Which way a step goes for a loss with this slope: against the slope."""
    if not np.isfinite(slope) or slope == 0:
        return "no pull"
    return "pulls →" if slope < 0 else "pulls ←"


class LensView(PlotextPlot):
    """Per-sample loss curves along one line through θ, with their mean."""

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

    def compute(self, sim: Simulation) -> Lens:
        """The lens at the simulation's current point (engine call, cached per state)."""
        key = (sim.iteration, sim.phase, sim.params.tobytes())
        if self._key != key or self.current is None:
            self.current = lens(sim.model, sim.X, sim.y, sim.params, sim.current_batch())
            self._key = key
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
        for k, row in enumerate(L.per_sample):
            ok = np.isfinite(row) & (row <= top)
            if ok.sum() > 1:
                colour = SAMPLE_COLOURS[k] if few else "gray"
                label = f"sample {int(L.shown[k])}" if few else None
                plt.plot(xs[ok].tolist(), row[ok].tolist(), color=colour, marker="braille", label=label)
        if finite.sum() > 1:
            plt.plot(xs[finite].tolist(), L.mean[finite].tolist(), color="orange+", marker="hd",
                     label="mean over all samples")
            best = int(np.argmin(np.where(finite, L.mean, np.inf)))
            plt.scatter([float(xs[best])], [float(L.mean[best])], color="orange+", marker="◆")
        here = float(np.interp(L.position, xs[finite], L.mean[finite])) if finite.sum() > 1 else 0.0
        plt.vline(L.position, color="cyan")
        plt.scatter([L.position], [here], color="cyan", marker="●")
        shown = f"{len(L.shown)} of {L.n_samples} samples" if L.sampled else f"all {L.n_samples} samples"
        plt.title(f"loss along {L.label} · thin: each sample's own loss ({shown}) · ◆ lowest mean")
        plt.xlabel(f"● now · batch {pull_word(L.batch_slope)} · full data {pull_word(L.full_slope)}")
        plt.ylim(0, max(top, 1e-12))
        self.refresh()
