"""The graphical panels: the data behind the drawing, not the pixels.

Each widget is mounted in a tiny app (``run_test``) and shown a simulation; the tests read what
the widget decided to draw (states per position, the grid, the plotted series) and compare it
with the engine.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from textual.app import App, ComposeResult

from engine import Scenario, Simulation, load_preset
from engine.compare import Comparison
from tui.widgets.counters import CountersLine
from tui.widgets.landscape import LandscapeView, segment_pixels
from tui.widgets.lossplot import LossPlot, finite_xy, nice_ceiling, nice_ticks
from tui.widgets.strip import CURRENT, GLYPHS, SITS_OUT, TO_COME, USED, SampleStrip, make_layout, occurrences


class One(App):
    """A test app holding one widget."""

    def __init__(self, widget) -> None:  # noqa: ANN001
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


def run(widget, script, size=(100, 30)) -> None:  # noqa: ANN001
    """Mount ``widget`` alone in an app of ``size`` and run ``await script(pilot, widget)``."""

    async def main() -> None:
        app = One(widget)
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot, widget)

    asyncio.run(main())


async def settle(pilot, view) -> None:  # noqa: ANN001
    """Wait for the landscape's background work (reference path, large grids) to land."""
    for _ in range(200):
        await pilot.pause(0.02)
        if not view.pending_work:
            return
    raise AssertionError("the landscape kept working")


def screen_text(widget) -> list[str]:  # noqa: ANN001
    """The characters the widget shows, line by line."""
    return ["".join(seg.text for seg in widget.render_line(y)) for y in range(widget.size.height)]


# ================================================================================ sample strip
def test_layout_puts_gaps_between_batches_and_keeps_batches_whole() -> None:
    lay = make_layout(200, (5,) * 40, 100, 4)
    assert lay.gaps and lay.per_cell == 1 and lay.cells == 200
    # positions in order, each batch on one row, one free column before every batch
    assert np.array_equal(lay.p0, np.arange(200))
    for b in range(40):
        rows = lay.row[5 * b : 5 * b + 5]
        cols = lay.col[5 * b : 5 * b + 5]
        assert len(set(rows.tolist())) == 1
        assert np.array_equal(np.diff(cols), np.ones(4))
        assert cols[0] >= 1
    assert lay.rows <= 4 and lay.col.max() < 100


def test_layout_aggregates_fifty_thousand_samples_into_the_cells_available() -> None:
    lay = make_layout(50_000, (64,) * 781 + (16,), 100, 4)
    assert lay.per_cell == math.ceil(50_000 / 400)
    assert lay.cells <= 400 and lay.rows <= 4 and lay.col.max() < 100
    # every position belongs to exactly one cell
    assert lay.p0[0] == 0 and lay.p1[-1] == 50_000
    assert np.array_equal(lay.p0[1:], lay.p1[:-1])


def test_occurrences_counts_each_draw_of_a_sample() -> None:
    order = np.array([3, 1, 3, 3, 0, 1])
    assert occurrences(order).tolist() == [1, 1, 2, 3, 1, 2]


def test_strip_marks_the_current_batch_and_the_used_samples() -> None:
    sim = Simulation(Scenario())                    # N = 200, B = 5, reshuffled
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        for k in (1, 7, 40):
            sim.run_iterations(k - sim.iteration)
            strip.show(sim, force=True)
            await pilot.pause()
            states = strip.position_states()
            order = strip.order_shown
            assert order is sim.order
            assert sorted(order[states == CURRENT].tolist()) == sorted(sim.current_batch().tolist())
            assert np.array_equal(order[states == USED], sim.order[: 5 * (k - 1)])
            assert (states == TO_COME).sum() == 200 - 5 * k
            # on screen: one full block per sample of the current batch, in brackets
            text = "\n".join(screen_text(strip))
            assert text.count(GLYPHS[CURRENT]) == 5 + 1     # + the legend's swatch
            assert "[" + GLYPHS[CURRENT] * 5 + "]" in text

    run(strip, script)


def test_strip_aggregates_a_large_data_set() -> None:
    sim = Simulation(Scenario(samples=50_000, batch_size=64, epochs=2))
    strip = SampleStrip(max_rows=4, animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(300)
        strip.show(sim, force=True)
        await pilot.pause()
        lay = strip.layout_
        assert lay.per_cell > 1
        assert lay.cells * lay.per_cell >= 50_000
        assert lay.cells <= strip.size.width * 4
        assert f"1 cell = {lay.per_cell} samples" in strip.caption
        cells = strip.cell_states()
        # the current batch (positions 19136..19199) lies in one or two cells
        pos = sim.last.position
        want = np.flatnonzero((lay.p0 < pos.stop) & (lay.p1 > pos.start))
        assert np.array_equal(np.flatnonzero(cells == CURRENT), want)
        assert np.all(cells[: want[0]] == USED) and np.all(cells[want[-1] + 1 :] == TO_COME)

    run(strip, script, size=(100, 12))


def test_strip_shows_repeats_under_replacement() -> None:
    sim = Simulation(load_preset("with-replacement"))
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(10)
        strip.show(sim, force=True)
        await pilot.pause()
        counts = np.bincount(sim.order, minlength=sim.dataset.n_samples)
        assert np.array_equal(strip.replacement_counts(), counts)
        twice, never = int((counts >= 2).sum()), int((counts == 0).sum())
        assert f"{twice} samples drawn 2+ times" in strip.caption
        assert f"{never} never" in strip.caption
        # one digit per repeated draw (the 2nd, 3rd, ... draw of a sample in this pass)
        repeats = len(sim.order) - len(np.unique(sim.order))
        cell_rows = screen_text(strip)[1:-1]
        assert sum(ch.isdigit() or ch == "+" for line in cell_rows for ch in line) == repeats

    run(strip, script, size=(120, 10))


def test_strip_greys_out_the_drop_last_leftover() -> None:
    sim = Simulation(load_preset("drop-last"))      # 200 samples, B = 32: 8 sit out
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(2)
        strip.show(sim, force=True)
        await pilot.pause()
        states = strip.position_states()
        assert np.all(states[192:] == SITS_OUT) and (states == SITS_OUT).sum() == 8
        assert "drop_last: 8 sit out" in strip.caption
        assert "· sits out" in strip.legend
        assert "".join(screen_text(strip)[1:-1]).count(GLYPHS[SITS_OUT]) == 8

    run(strip, script)


def test_reshuffle_is_animated_and_sequential_order_is_not() -> None:
    for sampling, animates in (("reshuffle", True), ("sequential", False), ("once", False)):
        sim = Simulation(Scenario(sampling=sampling))
        strip = SampleStrip(animate=True)

        async def script(pilot, strip) -> None:  # noqa: ANN001
            sim.run_iterations(2)          # "once" draws its single permutation on the first batch
            strip.show(sim, force=True)
            sim.run_iterations(38)
            strip.show(sim)
            await pilot.pause()
            assert not strip.animating
            sim.step_iteration()           # first batch of epoch 2: a new order (or the same)
            strip.show(sim)
            assert strip.animating == animates, sampling
            if sampling != "reshuffle":
                assert "same order every epoch" in strip.caption
            for _ in range(40):
                if not strip.animating:
                    break
                await pilot.pause(0.05)
            assert not strip.animating
            strip.show(sim)
            assert strip.order_shown is sim.order
            assert (strip.position_states() == CURRENT).sum() == 5

        run(strip, script)


def test_stepping_back_over_an_epoch_boundary_does_not_animate() -> None:
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=True)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(41)
        strip.show(sim, force=True)
        sim.back()
        strip.show(sim)
        assert not strip.animating
        assert strip.order_shown is sim.order
        assert (strip.position_states() == USED).sum() == 195

    run(strip, script)


def test_states_read_without_colour() -> None:
    glyphs = [GLYPHS[s] for s in (CURRENT, USED, TO_COME, SITS_OUT)]
    assert len(set(glyphs)) == 4
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        strip.show(sim, force=True)
        await pilot.pause()
        assert strip.legend.startswith("█ current batch  ▁ used  ▄ to come")

    run(strip, script)


def test_strip_before_the_first_batch() -> None:
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        strip.show(sim, force=True)
        await pilot.pause()
        assert strip.order_shown is None
        assert np.all(strip.position_states() == TO_COME)
        assert "index order" in strip.caption

    run(strip, script)


def test_strip_repaints_only_what_changed() -> None:
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        strip.show(sim, force=True)
        await pilot.pause()
        sim.step_iteration()
        strip.show(sim, force=True)
        # the batch done becomes used, the next one current: two short spans (+ the caption)
        assert 0 < strip.painted_cells < 60
        strip.show(sim)
        assert strip.painted_cells < 60

    run(strip, script)


# ================================================================================ landscape
def test_landscape_cells_are_the_engine_loss_on_the_same_grid() -> None:
    sim = Simulation(Scenario())
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(30)
        view.show(sim, force=True)
        await pilot.pause()
        g = view.grid
        assert (g.i, g.j) == (0, 1)
        want = sim.landscape(0, 1, g.xs, g.ys).loss
        np.testing.assert_allclose(g.loss, want, rtol=0, atol=0)
        # one pixel per grid point: the width, and two pixels per text row
        assert g.loss.shape == (2 * (view.size.height - 2), view.size.width)
        assert view.levels.shape == g.loss.shape
        # grid rows run from the top (largest parameter j) down, columns left to right
        assert np.all(np.diff(g.ys) < 0) and np.all(np.diff(g.xs) > 0)
        assert view.title.startswith("Loss over w, b")

    run(view, script, size=(60, 20))


def test_landscape_box_covers_start_reference_end_and_run_and_stays_put() -> None:
    sim = Simulation(Scenario())
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(20)
        view.show(sim, force=True)
        box = view.box
        ref = sim.reference_path()
        for p in (sim.initial_params, ref[-1], sim.params):
            assert box.x0 <= p[0] <= box.x1 and box.y0 <= p[1] <= box.y1
        sim.run_iterations(5)
        view.show(sim, force=True)
        assert view.box is box                 # no jump while the run stays inside

    run(view, script, size=(60, 20))


def test_landscape_pair_is_selectable_for_larger_models() -> None:
    sim = Simulation(load_preset("xor-mlp"))
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(5)
        view.show(sim, force=True)
        await settle(pilot, view)
        assert view.pair == (0, 1)
        view.set_params(2, 5)
        await settle(pilot, view)
        g = view.grid
        assert (g.i, g.j) == (2, 5)
        names = sim.model.param_names
        assert view.title.startswith(f"Loss over {names[2]}, {names[5]}")
        np.testing.assert_allclose(g.loss, sim.landscape(2, 5, g.xs, g.ys).loss)
        # the held parameters move: the grid follows (force = a single step while paused)
        sim.step_iteration()
        view.show(sim, force=True)
        await settle(pilot, view)
        np.testing.assert_allclose(view.grid.loss, sim.landscape(2, 5, view.grid.xs, view.grid.ys).loss)
        with pytest.raises(ValueError):
            view.set_params(3, 3)

    run(view, script, size=(70, 22))


def test_landscape_arrows_point_down_the_gradients() -> None:
    sim = Simulation(Scenario())
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        view.show(sim, force=True)
        G, g = sim.full_gradient(), sim.batch_gradient()
        for key, vec in (("full", G), ("batch", g)):
            v = view.arrow_vectors[key]                  # screen pixels: x right, y down
            assert np.sign(v[0]) == np.sign(-vec[0]) and np.sign(v[1]) == np.sign(vec[1])
        assert "−G" in view.legend and "−ĝ" in view.legend

    run(view, script, size=(60, 20))


def test_landscape_survives_a_diverging_run() -> None:
    sim = Simulation(Scenario(lr=100.0))
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(200)
        assert sim.status == "diverged"
        view.show(sim, force=True)
        await pilot.pause()
        assert view.levels is not None
        levels = LandscapeView.loss_levels(np.array([[np.inf, np.nan, 1.0, 10.0, 0.0]]))
        assert levels.tolist() == [[11, 11, 0, 11, 0]]

    run(view, script, size=(60, 20))


def test_segment_pixels_joins_points() -> None:
    px = segment_pixels(np.array([[0.0, 0.0], [4.0, 2.0]]))
    assert px[0].tolist() == [0, 0] and px[-1].tolist() == [4, 2]
    assert np.all(np.abs(np.diff(px, axis=0)) <= 1)


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


# ================================================================================ counters
def test_one_counters_widget_draws_a_run_as_one_line_and_a_comparison_as_labelled_rows() -> None:
    counters = CountersLine()
    counters.styles.height = "auto"
    start = "Epoch 1/1000  Batch 0/{m}  Iteration 0  Step 0  Samples 0"

    async def script(pilot, widget) -> None:  # noqa: ANN001
        widget.show(Simulation(Scenario()))
        await pilot.pause()
        assert widget.text == start.format(m=40) and widget.rows == []
        assert [line.strip() for line in screen_text(widget)] == [start.format(m=40)]
        comp = Comparison(Scenario())
        widget.show(comp)
        await pilot.pause()
        assert widget.counters == [start.format(m=m) for m in (1, 40, 200)]
        assert [row.split("  ")[0] for row in widget.rows] == [r.label for r in comp.runs]
        shown = screen_text(widget)
        assert len(shown) == 3 and widget.one_line(widget.content_size.width)
        for line, marker, run, text in zip(shown, "■◆●", comp.runs, widget.counters):
            assert line.startswith(f"{marker} {run.label}") and text in line and "loss " in line

    run(counters, script, size=(140, 10))


# ================================================================================ partial line updates
def test_partial_line_updates_write_only_the_dirty_span() -> None:
    import io
    import re

    from rich.console import Console
    from rich.segment import Segment
    from rich.style import Style
    from textual._compositor import ChopsUpdate
    from textual.strip import Strip

    from tui.widgets._cells import enable_partial_line_updates

    assert enable_partial_line_updates()
    red, blue = Style(color="#ff0000"), Style(color="#0000ff")
    strip = Strip([Segment("aaaa", red), Segment("bbbbbb", blue), Segment("cccc", red)], 14)
    wide = Strip([Segment("日本", red), Segment("xxxxxxxxxx", blue)], 14)
    # line 0: a widget whose chop starts at column 10; dirty columns 16..21 (absolute)
    # line 1: the same span over a line holding wide characters: written from the chop start
    update = ChopsUpdate([{10: strip}, {10: wide}], [(0, 16, 21), (1, 16, 21)], [[24], [24]])
    console = Console(file=io.StringIO(), color_system="truecolor", width=40, force_terminal=True)
    out = update.render_segments(console)
    moves = re.findall(r"\x1b\[(\d+);(\d+)H", out)
    assert moves[0] == ("1", "17")              # row 1, column 17 (1-based) = x 16
    assert moves[1] == ("2", "11")              # wide characters: from the chop start
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", out)
    first = text.split("\n")[0]
    assert first == "bbbbc"                     # cells 6..10 of the strip: "bbbb" + "c"


def test_landscape_of_a_one_parameter_model_says_so() -> None:
    sim = Simulation(Scenario(bias=False))
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        view.show(sim, force=True)
        await pilot.pause()
        assert view.title == "Loss over w"
        assert any("one parameter" in line for line in screen_text(view))

    run(view, script, size=(60, 20))


def test_widgets_follow_a_new_simulation() -> None:
    async def main() -> None:
        class Three(App):
            def compose(self) -> ComposeResult:
                yield SampleStrip(animate=False)
                yield LandscapeView()
                yield LossPlot()

        app = Three()
        async with app.run_test(size=(100, 40)) as pilot:
            widgets = [app.query_one(SampleStrip), app.query_one(LandscapeView), app.query_one(LossPlot)]
            first = Simulation(Scenario())
            first.run_iterations(50)
            for w in widgets:
                w.show(first, force=True)
            second = Simulation(load_preset("xor-mlp"))
            second.run_iterations(3)
            for w in widgets:
                w.show(second, force=True)
            await settle(pilot, widgets[1])
            strip, view, plot = widgets
            assert strip.order_shown is second.order
            assert "class 1" in strip.legend
            assert view.grid.loss.shape[1] == view.size.width
            # 33 parameters: a slice through start, now and GD's end (the current point lies in it)
            plane = view.grid.plane
            assert plane.kind == "path" and plane.distance(second.params[None])[0] < 1e-9
            aa, bb = np.meshgrid(view.grid.xs, view.grid.ys)
            want = second.model.losses_many(plane.lift(aa.ravel(), bb.ravel()), second.X, second.y)
            np.testing.assert_allclose(view.grid.loss, want.reshape(aa.shape))
            assert plot.series["train"][0].max() == 3

    asyncio.run(main())


def test_orders_flying_by_drop_the_colours_then_bring_them_back() -> None:
    sim = Simulation(load_preset("full-batch"))        # B = N: every step is a new epoch
    strip = SampleStrip(animate=True)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        for _ in range(8):                              # a running app at 10 steps/s
            sim.step_iteration()
            strip.show(sim)
            await pilot.pause(0.1)
        await pilot.pause(0.2)                          # (after a full repaint the strip rests 0.5 s)
        assert strip.fast and "colours return" in strip.caption
        await pilot.pause(1.8)                          # paused: the colours come back
        assert not strip.fast
        assert "colours return" not in strip.caption

    run(strip, script)


def test_y_ticks_never_share_a_row() -> None:
    from tui.widgets.lossplot import one_per_row

    ticks = [-1.0, -0.699, -0.301, 0.0, 0.301, 0.699, 1.0]
    kept = one_per_row(ticks, -1.0, 1.0, 5)
    assert kept == [-1.0, 0.0, 1.0]                  # powers of ten win the rows
    rows = [round((t + 1) / 2 * 4) for t in kept]
    assert all(b - a >= 2 for a, b in zip(rows, rows[1:]))
    assert one_per_row(ticks, -1.0, 1.0, 50) == ticks


def test_a_failed_background_computation_is_logged_and_said_on_the_screen(caplog) -> None:  # noqa: ANN001
    """Issue 25: a worker's exception used to become None without a word, leaving a stale panel.
    Now it is logged with its traceback, kept in ``failures`` and notified once per kind."""
    from tui.widgets._cells import CellCanvas

    told: list[tuple[str, str]] = []
    done: list[object] = []

    def broken() -> None:
        raise ZeroDivisionError("no grid today")

    async def script(pilot, widget) -> None:  # noqa: ANN001
        widget.app.notify = lambda message, **kw: told.append((message, kw.get("severity", "")))
        for attempt in range(2):
            widget.run_in_thread(("grid", attempt), broken, lambda key, result: done.append(result), group="g")
            for _ in range(200):
                await pilot.pause(0.01)
                if not widget.pending_work:
                    break
            assert not widget.pending_work
        widget.run_in_thread(("grid", 9), lambda: 42, lambda key, result: done.append(result), group="g")
        for _ in range(200):
            await pilot.pause(0.01)
            if done:
                break

    with caplog.at_level("ERROR", logger="mbsim"):
        run(CellCanvas(id="landscape"), script)
    assert done == [42]                               # a later computation still draws
    records = [r for r in caplog.records if r.name == "mbsim"]
    assert len(records) == 2 and "ZeroDivisionError: no grid today" in records[0].getMessage()
    assert "Traceback" in records[0].getMessage() and "broken" in records[0].getMessage()
    assert len(told) == 1                             # said once for the same failure
    assert "landscape panel could not be drawn" in told[0][0] and told[0][1] == "error"
