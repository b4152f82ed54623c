"""Plots explain every line they draw (issue 10, item 5): a legend entry in the line's own colour
for every line of the loss plot and of compare mode's plot, and an x axis that ends near the data.
"""

from __future__ import annotations

import pytest

from mbsim.tui.app import MbsimApp

from truth_helpers import drive, make_app


# ------------------------------------------------------------------------------------------------
# item 5: plots explain every line they draw
LEGEND_WORDS = {          # what the legend must say for each line the loss plot draws
    "batch": "batch", "batch_low": "batch min–max", "batch_high": "batch min–max",
    "epoch": "epoch mean", "train": "train", "val": "val", "train_acc": "train acc",
    "val_acc": "val acc",
}
BRAILLE = range(0x2800, 0x2900)


def _hex(rgb) -> str:
    return "#%02x%02x%02x" % tuple(rgb)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_every_line_of_the_loss_plot_has_a_legend_entry(size):
    from mbsim.engine.scenario import load_preset

    app = MbsimApp(load_preset("adam"), animate=False, throttle=False)

    async def script(pilot):
        await pilot.press("n", "n", "n", "greater_than_sign", "n", "n")
        app.settle()
        await pilot.pause()
        plot = app.lossplot
        legend = plot.legend
        assert set(plot.series) >= {"batch", "epoch", "val", "train", "train_acc", "val_acc"}
        for name in plot.series:
            assert LEGEND_WORDS[name] in legend, (name, legend)
        assert app.sim.changes and "setting changed" in legend, legend
        assert all(len(line) <= plot.size.width for line in legend.split("\n"))
        # every line drawn has one look: braille dots, the train loss like the others
        pal = plot._palette()
        colours = {key: _hex(pal[key]) for key in ("train", "epoch", "val")}
        body = plot._lines[legend.count("\n") + 1:]
        for key, colour in colours.items():
            glyphs = {ch for text, styles in body for ch, st in zip(text, styles)
                      if st is not None and st.color is not None and st.color.triplet is not None
                      and st.color.triplet.hex == colour}
            assert glyphs or key != "train", key           # the train loss is on top: it shows
            assert all(ord(ch) in BRAILLE for ch in glyphs), (key, glyphs)

    drive(app, script, size=size)


@pytest.mark.parametrize("steps", [1, 7, 29, 41, 101, 260, 1210])
def test_the_x_axis_ends_near_the_data(steps):
    app = make_app()

    async def script(pilot):
        app.sim.run_iterations(steps)
        app.settle()
        await pilot.pause()
        end = app.lossplot._xlim[1]
        assert steps <= end <= max(1.25 * steps, steps + 1)   # the data reach 80 % across

    drive(app, script)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_compare_plot_legend_names_all_three_runs(size):
    app = make_app()

    async def script(pilot):
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        for _ in range(12):
            await pilot.press("n")
        screen.settle()
        await pilot.pause()
        plot = screen.plot
        for name, b in (("Batch GD", 200), ("Mini-batch GD", 5), ("SGD", 1)):
            assert name in plot.legend or f"B={b} " in plot.legend + " ", plot.legend
        assert len(plot.legend) <= plot.size.width
        xmax = max(float(x.max()) for _, x, _ in plot.series if len(x))
        assert xmax <= plot._xlim[1] <= 1.25 * xmax

    drive(app, script, size=size)
