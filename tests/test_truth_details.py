"""Small truths (issue 10, items 8 and 10): the strip's brackets around every batch, a saved
scenario describing its changes, compare's align note, ``micro k/k`` right after a step, the
phase view's title, and speeds below one batch per second.
"""

from __future__ import annotations

import pytest

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp

from truth_helpers import NotedApp, drive, make_app


# ------------------------------------------------------------------------------------------------
# item 10: small things
@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)])
def test_the_strips_brackets_show_around_every_batch(size):
    app = make_app()

    async def script(pilot):
        for _ in range(40):                          # every batch of the epoch, the last too
            app.sim.step_iteration()
            app.redraw(force=True)
            await pilot.pause()
            chars = app.strip._chars
            lay = app.strip.layout_
            if not lay.gaps:
                continue
            text = ["".join(row) for row in chars.tolist()]
            assert sum(row.count("[") for row in text) == 1, text
            assert sum(row.count("]") for row in text) == 1, (app.sim.iteration, text)

    drive(app, script, size=size)


def test_a_saved_scenario_describes_the_changed_settings():
    from mbsim.tui.live import scenario_to_save

    app = make_app()

    async def script(pilot):
        assert scenario_to_save(app.sim).description == Scenario().description
        await pilot.press("n", "right_square_bracket", "greater_than_sign")
        saved = scenario_to_save(app.sim)
        assert saved.batch_size == 8 and saved.lr == 0.1
        assert "batches of 5" not in saved.description
        assert "batch_size 5 → 8" in saved.description and "lr 0.05 → 0.1" in saved.description

    drive(app, script)


def test_compare_align_says_the_runs_restart():
    app = NotedApp(Scenario(), animate=False, throttle=False)

    async def script(pilot):
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("n", "n", "a")
        await pilot.pause()
        assert any("aligned by samples" in n and "restarted" in n for n in app.notes), app.notes
        assert app.screen.comp.target == 0

    drive(app, script)


def test_micro_reads_k_of_k_right_after_a_step():
    app = make_app(samples=256, batch_size=8, accumulate=4, epochs=3)

    async def script(pilot):
        assert app.counters_line.text.endswith("micro 0/4")
        await pilot.press("n", "n")
        assert app.counters_line.text.endswith("Step 0  Samples 16  micro 2/4")
        await pilot.press("n", "n")
        assert app.counters_line.text.endswith("Step 1  Samples 32  micro 4/4")
        await pilot.press("n")
        assert app.counters_line.text.endswith("Step 1  Samples 40  micro 1/4")

    drive(app, script)


def shown_title(app: MbsimApp) -> str:
    """The first line of text the phase view shows (inside its border)."""
    from textual.geometry import Region

    view = app.phase_view
    g = view.styles.gutter
    lines = view.render_lines(Region(g.left, g.top, view.content_size.width, view.content_size.height))
    return "".join(seg.text for seg in lines[0]).strip()


def test_the_phase_view_says_done_or_in_progress_like_the_counters():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "d")
        title = shown_title(app)
        assert "Iteration 2" in app.counters_line.text
        assert title.startswith("Iteration 2 done · epoch 1, batch 2"), title
        await pilot.press("p")
        title = shown_title(app)
        assert "Batch 2/40  Iteration 2" in app.counters_line.text   # not counted yet
        assert title.startswith("Iteration 3 in progress · epoch 1, batch 3"), title
        await pilot.press("p", "p", "p")
        title = shown_title(app)
        assert "Batch 3/40  Iteration 3" in app.counters_line.text
        assert title.startswith("Iteration 3 done · epoch 1, batch 3"), title

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# item 8: speeds below one batch per second
def test_speeds_below_one_batch_per_second():
    app = MbsimApp(Scenario(), animate=False, throttle=False, speed="1")

    async def script(pilot):
        await pilot.press("minus")
        assert app.speed == 0.5
        await pilot.press("space")
        assert "running ×0.5" in app.header.text
        await pilot.press("space", "minus")
        assert app.speed == 0.2
        await pilot.press("minus")
        assert app.speed == 0.2                      # the slowest
        await pilot.press("plus", "plus")
        assert app.speed == 1

    drive(app, script)


def test_the_command_line_speed_below_one():
    from mbsim.tui.app import parse_speed

    assert parse_speed("0.5") == 0.5 and parse_speed("0.2") == 0.2
    with pytest.raises(ValueError, match="at least 0.2"):
        parse_speed("0.1")
