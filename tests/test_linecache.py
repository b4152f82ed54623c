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


async def test_items_that_change_only_their_characters_show_what_a_new_layout_shows() -> None:
    """A counter's digits (items of the same length and styles, issue 24: the running app redraws
    them every frame without laying them out again): the lines shown and the cells marked for
    repainting are those of the general path (fit_items, then the cells compared), whatever
    changes: digits, lengths, styles, breaks, wide characters."""
    import random

    from rich.style import Style
    from textual.geometry import Region

    from mbsim.tui.widgets._lines import _line_cells, changed_runs, fit_items

    rng = random.Random(11)
    label, value = Style(dim=True), Style(bold=True)
    app = LinesApp()
    async with app.run_test(size=(34, 8)) as pilot:
        lines = app.query_one(Lines)
        width = lines.size.width
        names = ["Epoch", "Batch", "Iteration", "Step", "Samples"]
        digits = [rng.randint(1, 9) for _ in names]
        fast = 0
        rebuilt = []
        same_shape_rows = lines._same_shape_rows
        lines._same_shape_rows = lambda *a: rebuilt.append(1) or same_shape_rows(*a)

        def item(name: str, k: int, v: int) -> Text:
            t = Text.assemble((name, label), " ", (str(v).zfill(k), value))
            return t

        items = [item(n, d, 1) for n, d in zip(names, digits)]
        lines.set_items(items)
        await pilot.pause()
        lines.content_lines()
        for step in range(400):
            old_rows = [r.copy() for r in lines.content_lines()]
            new = []
            for n, d in zip(names, digits):
                r = rng.random()
                if r < 0.05:
                    d += rng.choice((-1, 1)) if d > 1 else 1          # a longer or shorter number
                new.append(item(n, d, rng.randrange(10 ** d)))
            if rng.random() < 0.05:
                new.insert(rng.randrange(len(new)), None)            # a forced break
            if rng.random() < 0.03:
                new[0] = Text.assemble(("Épocà", label), " ", ("語", value))   # wide characters
            marked: list[Region] = []
            refresh = lines.refresh

            def record(*regions, **kw):  # noqa: ANN002, ANN003, ANN202
                marked.extend(regions)
                return refresh(*regions, **kw)

            lines.refresh = record
            lines.set_items(new)
            del lines.refresh
            shown = lines.content_lines()
            expect = fit_items(new, width)
            assert [(r.plain, r.spans, r.style) for r in shown] == [(r.plain, r.spans, r.style) for r in expect]
            if len(old_rows) == len(expect) and marked and all(isinstance(m, Region) for m in marked):
                want = {Region(x0, y, min(x1, width) - x0, 1)
                        for y, (a, b) in enumerate(zip(old_rows, expect))
                        for x0, x1 in changed_runs(_line_cells(a, app.console), _line_cells(b, app.console))}
                assert set(marked) == want, (step, [r.plain for r in old_rows], [r.plain for r in expect])
                fast += 1
            names_now = [t for t in new if t is not None]
            if len(names_now) == len(names) and all(t.plain.split(" ")[0] in names for t in names_now):
                digits = [len(t.plain.split(" ")[1]) for t in names_now]
            else:
                digits = [rng.randint(1, 9) for _ in names]
            if step % 25 == 0:
                await pilot.pause()
        assert fast > 300 and len(rebuilt) > 200    # most steps took the path without a new layout


async def test_the_counters_items_are_the_assembled_texts() -> None:
    """The counters build their items directly (every frame): the texts Text.assemble makes."""
    sim = Simulation(load_preset("xor-mlp"))
    sim.run_iterations(7)
    app = MbsimApp(sim, paused=True, throttle=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        c = app.counters_line
        label, value = c._style("label"), c._style("value")
        assert label or value
        pairs = [("Epoch", "1/300"), ("Batch", "7/20"), ("micro", "2/3"), ("Samples", "")]
        for got, (name, val) in zip(c._counter_texts(pairs), pairs):
            want = Text.assemble((name, label), " ", (val, value))
            assert (got.plain, got.spans, got.style, got.end) == (want.plain, want.spans, want.style, want.end)
