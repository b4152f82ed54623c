"""What the panels share: one counters widget for a run or a comparison, partial line updates
that write only the dirty span, every panel following a new simulation, and a failed background
computation logged and said on the screen.
"""

from __future__ import annotations

import asyncio

import numpy as np
from textual.app import App, ComposeResult

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.engine.compare import Comparison
from mbsim.tui.widgets.counters import CountersLine
from mbsim.tui.widgets.landscape import LandscapeView
from mbsim.tui.widgets.lossplot import LossPlot
from mbsim.tui.widgets.strip import SampleStrip

from widget_host import run, screen_text, settle


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

    from mbsim.tui.widgets._cells import enable_partial_line_updates

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


def test_a_failed_background_computation_is_logged_and_said_on_the_screen(caplog) -> None:  # noqa: ANN001
    """Issue 25: a worker's exception used to become None without a word, leaving a stale panel.
    Now it is logged with its traceback, kept in ``failures`` and notified once per kind."""
    from mbsim.tui.widgets._cells import CellCanvas

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
