"""The line cache of the text panels (tui.widgets._linecache): each line is rendered as Textual
renders it, and only again when it changed."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.visual import Visual, visualize

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import load_preset
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets._lines import ItemLine
from mbsim.tui.widgets._linecache import _offset_x


def textual_strip(widget, text: Text, row: int):  # noqa: ANN001, ANN201
    """What Textual's general path makes of one line shown at ``row`` (a whole render gives the
    text-selection offsets (x, row))."""
    strips = Visual.to_strips(widget, visualize(widget, text), widget.size.width, None, widget.visual_style)
    assert len(strips) == 1
    strip = strips[0]
    return strip.apply_offsets(_offset_x(strip), row) if row else strip


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
@pytest.mark.parametrize("preset", ["worked-example", "xor-mlp"])
async def test_the_direct_strips_are_textuals(size: tuple[int, int], preset: str) -> None:
    sim = Simulation(load_preset(preset))
    sim.run_iterations(60)
    app = MbsimApp(sim, paused=True, throttle=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        app.settle()
        await pilot.pause()
        made = 0
        for widget in (app.header, app.counters_line, app.detail, app.lossplot):
            for row, text in enumerate(widget.content_lines()):
                fast = widget._fast_strip(text, row, widget.size.width, widget.visual_style)
                if fast is None:
                    continue
                made += 1
                ref = textual_strip(widget, text, row)
                assert list(fast) == list(ref), (type(widget).__name__, row, text.plain)
                assert fast.cell_length == ref.cell_length
        # the loss plot alone has a legend and a body of many lines: all made directly
        assert made >= len(app.lossplot.content_lines()) + 3


class Lines(ItemLine):
    pass


class LinesApp(App):
    def compose(self) -> ComposeResult:
        yield Lines(id="lines")


async def test_a_line_that_did_not_change_keeps_its_strip() -> None:
    app = LinesApp()
    async with app.run_test(size=(40, 6)) as pilot:
        lines = app.query_one(Lines)
        lines.set_items([Text("epoch 1"), None, Text("loss 0.5")])
        await pilot.pause()
        first, second = lines.render_line(0), lines.render_line(1)
        assert first.text.startswith("epoch 1") and second.text.startswith("loss 0.5")
        assert lines.render_line(1) is second            # asked again: the kept strip
        lines.set_items([Text("epoch 2"), None, Text("loss 0.5")])
        await pilot.pause()
        assert lines.render_line(1) is second            # the second line did not change
        now = lines.render_line(0)
        assert now is not first and now.text.startswith("epoch 2")
        lines.set_items([Text("epoch 2"), None, Text("loss 0.25")])
        await pilot.pause()
        assert lines.render_line(1).text.startswith("loss 0.25")
        assert lines.render_line(0) is now


async def test_a_line_wider_than_the_panel_wraps_as_before() -> None:
    """Textual's general path (wrapping) for a line that does not fit: every piece shown."""
    app = LinesApp()
    async with app.run_test(size=(12, 6)) as pilot:
        lines = app.query_one(Lines)
        lines.set_items([Text("aaaa bbbb cccc dddd")])
        await pilot.pause()
        shown = [lines.render_line(y).text.rstrip() for y in range(lines.size.height)]
        assert shown[0] == "aaaa bbbb"
        assert "cccc dddd" in shown


def test_a_narrow_crop_is_textuals_crop() -> None:
    """The partial-update writer cuts one-cell-per-character lines by characters
    (tui.widgets._partial_updates._crop_narrow): the same segments as ``Strip.crop``."""
    import random

    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    from mbsim.tui.widgets._partial_updates import _crop_narrow

    rng = random.Random(7)
    chars = "ab ⠁⠂⣿━│┤◆●→"
    styles = [None, Style(color="red"), Style(bold=True), Style(color="#123456", bgcolor="#ffffff")]
    for _ in range(300):
        segments = [Segment("".join(rng.choice(chars) for _ in range(rng.randint(1, 9))), rng.choice(styles))
                    for _ in range(rng.randint(1, 8))]
        strip = Strip(segments)
        n = strip.cell_length
        a = rng.randint(0, n)
        b = rng.randint(a, n)
        assert list(_crop_narrow(strip, a, b)) == list(strip.crop(a, b)), (segments, a, b)
        assert _crop_narrow(strip, a, b).cell_length == strip.crop(a, b).cell_length
