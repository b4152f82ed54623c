"""The loss plot: the plotted series (finite values only, decimated to the width, on a steps,
epochs or samples axis), its curves for a classifier, change marks, redraw economy and ticks.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.tui.widgets.lossplot import LossPlot, finite_xy, nice_ceiling, nice_ticks

from widget_host import run


# ================================================================================ loss plot
def test_loss_plot_filters_non_finite_values() -> None:
    sim = Simulation(Scenario(lr=100.0))
    plot = LossPlot()

    async def script(pilot, plot) -> None:  # noqa: ANN001
        sim.run_iterations(200)
        # and a row with inf and nan, as a decimated merge of huge values can produce
        row = np.array([sim.iteration + 1, sim.samples_seen + 5, 9.0, 100.0, np.inf, np.nan,
                        np.inf, np.nan, np.nan, np.nan])
        sim.history.append(row, sim.params)
        plot.show(sim, force=True)
        await pilot.pause()
        plot.render()                               # must not raise
        assert plot.series
        for name, (x, y) in plot.series.items():
            assert np.all(np.isfinite(x)) and np.all(np.isfinite(y)), name

    run(plot, script, size=(80, 20))


def test_loss_plot_decimates_to_the_plot_width() -> None:
    sim = Simulation(Scenario())
    plot = LossPlot()

    async def script(pilot, plot) -> None:  # noqa: ANN001
        sim.run_iterations(5000)
        plot.show(sim, force=True)
        await pilot.pause()
        width = plot.size.width
        for name, (x, _y) in plot.series.items():
            assert len(x) <= width + 1, name           # (+ the initial point)
        assert {"batch_low", "batch_high"} <= set(plot.series)   # the batch loss is an envelope now
        assert "min–max" in plot.legend

    run(plot, script, size=(80, 20))


def test_loss_plot_x_axis_counts_steps_epochs_or_samples() -> None:
    sim = Simulation(Scenario())
    plot = LossPlot()

    async def script(pilot, plot) -> None:  # noqa: ANN001
        sim.run_iterations(120)                   # 3 epochs of 40 steps, 600 samples
        plot.show(sim, force=True)
        assert plot.series["train"][0].max() == 120
        plot.set_x_axis("epochs")
        assert plot.series["train"][0].max() == pytest.approx(3.0)
        assert "x: epoch" in plot.legend
        plot.set_x_axis("samples")
        assert plot.series["train"][0].max() == 600
        assert plot.cycle_x_axis() == "steps"
        with pytest.raises(ValueError):
            plot.set_x_axis("minutes")

    run(plot, script, size=(90, 20))


def test_loss_plot_curves_for_a_classifier() -> None:
    sim = Simulation(load_preset("xor-mlp"))
    plot = LossPlot()

    async def script(pilot, plot) -> None:  # noqa: ANN001
        sim.run_iterations(60)
        plot.show(sim, force=True)
        assert {"batch", "epoch", "train", "train_acc"} <= set(plot.series)
        y = plot.series["train_acc"][1]
        assert np.all((0 <= y) & (y <= 1))
        assert "acc" in plot.legend
        # the train curve starts at the initial loss
        x, yt = plot.series["train"]
        assert x[0] == 0
        first = np.log10(sim.initial_train_loss) if plot.log_now else sim.initial_train_loss
        assert yt[0] == pytest.approx(first)

    run(plot, script, size=(100, 20))


def test_loss_plot_starts_empty_gracefully_and_marks_changes() -> None:
    sim = Simulation(Scenario())
    plot = LossPlot()

    async def script(pilot, plot) -> None:  # noqa: ANN001
        plot.show(sim, force=True)
        await pilot.pause()
        assert "no steps yet" in plot.legend
        assert len(plot.series["train"][0]) == 1
        sim.run_iterations(20)
        sim.apply_changes(lr=0.1)
        sim.run_iterations(20)
        plot.show(sim, force=True)
        assert sim.changes and "setting changed" in plot.legend

    run(plot, script, size=(100, 20))


def test_loss_plot_is_cheap_when_nothing_changed_and_rate_limited_while_running() -> None:
    sim = Simulation(Scenario())
    plot = LossPlot()

    async def script(pilot, plot) -> None:  # noqa: ANN001
        sim.run_iterations(10)
        plot.show(sim, force=True)
        n = plot.redraws
        plot.show(sim)
        assert plot.redraws == n                  # nothing changed: nothing drawn
        for _ in range(10):                       # a running app: a call every frame
            sim.step_iteration()
            plot.show(sim)
        assert plot.redraws <= n + 2
        await pilot.pause(0.5)                    # ... and the last state is drawn shortly after
        assert plot.series["train"][0].max() == 20

    run(plot, script, size=(80, 20))


def test_helpers() -> None:
    assert [nice_ceiling(v) for v in (0.7, 1, 3, 7, 12, 480)] == [1, 1, 5, 10, 20, 500]
    assert nice_ticks(500, 6) == [0, 100, 200, 300, 400, 500]
    x, y = finite_xy(np.array([1, 2, 3, 4.0]), np.array([1, np.inf, np.nan, -1.0]), log=True)
    assert x.tolist() == [1.0] and y.tolist() == [1.0]


def test_y_ticks_never_share_a_row() -> None:
    from mbsim.tui.widgets.lossplot import one_per_row

    ticks = [-1.0, -0.699, -0.301, 0.0, 0.301, 0.699, 1.0]
    kept = one_per_row(ticks, -1.0, 1.0, 5)
    assert kept == [-1.0, 0.0, 1.0]                  # powers of ten win the rows
    rows = [round((t + 1) / 2 * 4) for t in kept]
    assert all(b - a >= 2 for a, b in zip(rows, rows[1:]))
    assert one_per_row(ticks, -1.0, 1.0, 50) == ticks
