"""The papercuts of issue 21 (item 7), each fixed or explained on screen, driven as a user would.

Expected numbers are worked out here by hand from N and B (SCIENCE.md §1): N = 200, B = 8 gives
⌈200/8⌉ = 25 batches per epoch; 30 iterations are epoch 2, batch 5 (25 + 5).
"""

from __future__ import annotations

import asyncio

import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.lessons import LessonError, load_lesson, parse_lesson
from mbsim.tui.app import MbsimApp
from mbsim.tui.lesson_mode import LessonApp
from mbsim.tui.live import lr_double, restart_note
from mbsim.tui.screens.help import HelpScreen
from mbsim.tui.widgets.arithmetic import plan_arithmetic

from pilot_helpers import shown_notifications, wait_for_notification


def drive(app, script, size=(120, 40), notifications=False):
    """Run ``await script(pilot)`` in ``app.run_test`` (``notifications``: show the toasts,
    which Textual leaves out of tests unless asked)."""
    async def main():
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


def test_a_live_change_mid_epoch_says_the_epoch_starts_afresh():
    sim = Simulation(Scenario(batch_size=8))
    sim.run_iterations(30)                                  # epoch 2, batch 5 of ⌈200/8⌉ = 25
    before = sim.counters()
    assert (before.epoch, before.batch) == (2, 5)
    lr_double(sim)
    note = restart_note(before, sim)
    assert "epoch 2 afresh: Batch 0/25" in note and "5 batches done stay done" in note
    # at an epoch boundary nothing is cut short: no note
    sim = Simulation(Scenario(batch_size=8))
    sim.run_iterations(25)
    before = sim.counters()
    lr_double(sim)
    assert restart_note(before, sim) == ""


def test_the_arithmetic_line_says_epochs_left_after_a_live_change():
    sim = Simulation(Scenario(batch_size=8))
    assert "25 × 1000 epochs = 25,000 steps" in plan_arithmetic(sim)
    sim.run_iterations(30)
    sim.apply_changes(lr=0.1)
    # epoch 2 restarts: epochs 2..1000 are left, 999 of them, 25 steps each
    assert "25 × 999 epochs left = 24,975 steps" in plan_arithmetic(sim)


def test_batch_keys_go_back_the_way_they_came():
    app = MbsimApp(Scenario(), animate=False)          # B = 5, N = 200

    async def script(pilot):
        sizes = []
        for key in ("right_square_bracket", "right_square_bracket", "left_square_bracket",
                    "left_square_bracket", "left_square_bracket"):
            await pilot.press(key)
            await pilot.pause()
            sizes.append(app.sim.scenario.batch_size)
        assert sizes == [8, 16, 8, 5, 4]
        await pilot.press("right_square_bracket")        # 4 → back to 5, where [ came from
        await pilot.pause()
        assert app.sim.scenario.batch_size == 5

    drive(app, script)


def test_the_header_names_the_optimizer_apart_from_the_algorithm():
    app = MbsimApp(Scenario(samples=200, batch_size=1, name="sgd"), animate=False)

    async def script(pilot):
        text = app.header.text
        assert "SGD" in text and "optimizer SGD" in text
        assert text.count("SGD") == 2                  # the algorithm (B = 1) and the optimizer

    drive(app, script)


def test_help_clears_the_notifications():
    app = MbsimApp(Scenario(), animate=False)

    async def script(pilot):
        await pilot.press("right_square_bracket", "greater_than_sign")
        await pilot.pause()
        await wait_for_notification(pilot, "lr 0.05 → 0.1")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and shown_notifications(app) == []

    drive(app, script, notifications=True)


def test_t_with_no_question_left_keeps_what_is_typed_off_the_slide_keys():
    app = LessonApp(load_lesson("epochs-and-batches"), animate=False, fast=True)

    async def script(pilot):
        for _ in range(10):
            await pilot.pause(0.02)
        await pilot.press("enter")                      # slide 1's only question revealed
        await pilot.pause()
        await pilot.press("t", "0", ".", "5")            # "." would be the next-slide key
        await pilot.pause()
        assert app.index == 0 and app.panel.input.display
        assert "no question left" in app.panel.input.placeholder
        await pilot.press("enter")
        await pilot.pause()
        assert app.index == 0 and not app.panel.input.display
        await wait_for_notification(pilot, "no question left")

    drive(app, script, notifications=True)


@pytest.mark.parametrize("text,line,words", [
    ('# One\n\n```mbsim\nrun = "epoch"\n\n---\n\n# Two\n```mbsim\nrun = "epoch"\n```\n', 3,
     "never closed: the '---' at line 6"),
    ('# One\n```mbsim\nrun = "epoch"\n```mbsim\n```\n', 2, "line 4 opens another fence"),
    ('# One\n```mbsim\nrun = epoch\n```\n', 3, 'a text value needs quotes: run = "epoch"'),
    ('# One\n```mbsim\nrun = "epoch\nspeed = 2\n```\n', 3, "a quote is never closed"),
])
def test_check_names_the_line_and_the_slip(text, line, words):
    with pytest.raises(LessonError) as err:
        parse_lesson(text, "l.md")
    assert err.value.line == line and words in err.value.message, str(err.value)


def visible_questions(panel) -> str:
    """The questions' lines as the scroll box shows them now (only the rows in view)."""
    from textual.geometry import Region

    box = panel.query_one("#lesson-question-scroll")
    text = panel.query_one("#lesson-questions")
    y, height = int(box.scroll_y), box.scrollable_content_region.height
    strips = text.render_lines(Region(0, y, text.size.width, height))
    return "\n".join(strip.text for strip in strips)


LONG_ANSWERS = """+++
preset = "worked-example"
+++
# Two questions under a plot
The loss plot takes the screen's rows; the slide has six.

```mbsim
highlight = "lossplot"

[[question]]
ask = "How many batches make one epoch?"
answer = "plan.batches_per_pass"
explain = "Each batch takes 5 samples that were not used yet in this epoch, until all 200 are used; then the next epoch reshuffles them and starts again."

[[question]]
ask = "How many steps does the whole run of 1000 epochs make?"
answer = "plan.total_steps"
```
"""


def test_at_80x24_the_question_in_play_stays_in_view_and_up_down_reach_the_rest(tmp_path):
    """At 80x24 a slide with a plot has six rows: once Q1's long answer is revealed and Q2
    answered wrong, Q2's working used to be cut off below the panel with no way to see it. Now
    the questions scroll to the one in play, the hint says ↑↓, ↑ goes back to Q1's question and
    ↓ down again."""
    path = tmp_path / "long.md"
    path.write_text(LONG_ANSWERS, encoding="utf-8")
    app = LessonApp(load_lesson(str(path)), animate=False, fast=True)

    async def script(pilot):
        await pilot.pause()
        await pilot.press("enter")                   # Q1 revealed: its working and explanation
        await pilot.press("t", *"4000", "enter")     # Q2 answered wrong: its working to finish
        for _ in range(5):
            await pilot.pause()
        panel = app.panel
        box = panel.query_one("#lesson-question-scroll")
        assert box.max_scroll_y > 0                  # the questions do not fit
        shown = visible_questions(panel)
        assert "✗ not 4000" in shown and "= ?" in shown, shown
        assert "↑↓ text" in panel.hint
        for _ in range(box.max_scroll_y + 30):       # up: the questions, then the prose
            await pilot.press("up")
        await pilot.pause()
        assert box.scroll_y == 0 and "Q1 How many batches make one epoch?" in visible_questions(panel)
        assert panel.query_one("#lesson-scroll").scroll_y == 0
        for _ in range(60):                          # down: the prose to its end, then the questions
            await pilot.press("down")
        await pilot.pause()
        assert box.scroll_y == box.max_scroll_y

    drive(app, script, size=(80, 24))
