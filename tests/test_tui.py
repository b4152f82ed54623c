"""Pilot tests of the TUI: every key, divergence, the end of a run, help, small terminals.

They drive the app as a user would (``pilot.press``) and read what the panels show. Nothing here
times anything; running is only checked to make progress and to stop.
"""

from __future__ import annotations

import asyncio

import pytest

from mbsim.engine import Scenario
from mbsim.tui.app import SPEEDS, MbsimApp, parse_speed
from mbsim.tui.screens.help import HelpScreen, help_text

START = "Epoch 1/1000  Batch 0/40  Iteration 0  Step 0  Samples 0"


def make_app(**settings) -> MbsimApp:
    return MbsimApp(Scenario(**settings), animate=False)


def drive(app: MbsimApp, script, size=(120, 40)) -> None:
    """Run ``await script(pilot)`` inside ``app.run_test``."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


async def wait_until(pilot, condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


def counters(app: MbsimApp) -> str:
    return app.counters_line.text


# ------------------------------------------------------------------------------------------------
def test_starts_paused_with_a_hint():
    app = make_app()

    async def script(pilot):
        assert counters(app) == START
        assert not app.running
        assert app.header.text.endswith("paused — space to run")
        assert "Mini-batch GD" in app.header.text
        assert "worked-example" in app.header.text
        assert "lr 0.05" in app.header.text
        assert "SGD" in app.header.text

    drive(app, script)


def test_n_and_right_step_one_batch():
    app = make_app()

    async def script(pilot):
        await pilot.press("n")
        assert counters(app) == "Epoch 1/1000  Batch 1/40  Iteration 1  Step 1  Samples 5"
        await pilot.press("right")
        assert counters(app) == "Epoch 1/1000  Batch 2/40  Iteration 2  Step 2  Samples 10"
        assert not app.running

    drive(app, script)


def test_e_runs_to_the_end_of_the_epoch_and_n_starts_the_next():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "e")
        assert counters(app) == "Epoch 1/1000  Batch 40/40  Iteration 40  Step 40  Samples 200"
        await pilot.press("n")
        assert counters(app) == "Epoch 2/1000  Batch 1/40  Iteration 41  Step 41  Samples 205"
        await pilot.press("e")
        assert counters(app) == "Epoch 2/1000  Batch 40/40  Iteration 80  Step 80  Samples 400"

    drive(app, script)


def test_p_steps_one_phase_and_the_detail_line_follows():
    app = make_app()

    async def script(pilot):
        phases = []
        for _ in range(3):
            await pilot.press("p")
            phases.append(app.sim.phase)
            assert counters(app) == START  # no iteration is done before the update
        assert phases == ["forward", "loss", "backward"]
        assert app.detail.current == "backward"
        assert " backward " in app.detail.text and "→ update" in app.detail.text
        await pilot.press("p")
        assert counters(app) == "Epoch 1/1000  Batch 1/40  Iteration 1  Step 1  Samples 5"
        await pilot.press("p")
        assert app.sim.phase == "forward"
        await pilot.press("n")  # finishes the iteration in progress
        assert counters(app) == "Epoch 1/1000  Batch 2/40  Iteration 2  Step 2  Samples 10"

    drive(app, script)


def test_left_and_backspace_step_back_across_an_epoch_boundary():
    app = make_app()

    async def script(pilot):
        await pilot.press("e", "n", "n")
        assert counters(app) == "Epoch 2/1000  Batch 2/40  Iteration 42  Step 42  Samples 210"
        params_after_41 = None
        await pilot.press("left")
        assert counters(app) == "Epoch 2/1000  Batch 1/40  Iteration 41  Step 41  Samples 205"
        params_after_41 = app.sim.params.copy()
        await pilot.press("backspace")
        assert counters(app) == "Epoch 1/1000  Batch 40/40  Iteration 40  Step 40  Samples 200"
        await pilot.press("n")
        assert (app.sim.params == params_after_41).all()  # back and forth is exact
        await pilot.press("r", "left")  # nothing before the start
        assert counters(app) == START

    drive(app, script)


def test_left_undoes_a_partial_iteration():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "p", "p")
        assert app.sim.phase == "loss"
        await pilot.press("left")
        assert app.sim.phase is None
        assert counters(app) == "Epoch 1/1000  Batch 1/40  Iteration 1  Step 1  Samples 5"

    drive(app, script)


def test_space_runs_and_pauses():
    app = make_app()

    async def script(pilot):
        await pilot.press("space")
        assert app.running
        assert "running ×10" in app.header.text
        await wait_until(pilot, lambda: app.sim.iteration >= 3)
        await pilot.press("space")
        assert not app.running
        assert app.header.text.endswith("paused — space to run")
        stopped_at = counters(app)
        await pilot.pause(0.3)
        assert counters(app) == stopped_at

    drive(app, script)


def test_a_step_key_pauses_a_running_simulation():
    app = make_app()

    async def script(pilot):
        await pilot.press("space")
        await wait_until(pilot, lambda: app.sim.iteration >= 1)
        await pilot.press("n")
        assert not app.running
        at = app.sim.iteration
        await pilot.pause(0.2)
        assert app.sim.iteration == at

    drive(app, script)


def test_plus_and_minus_change_the_speed():
    app = make_app(epochs=100_000)

    async def script(pilot):
        assert app.speed == 10
        await pilot.press("plus")
        assert app.speed == 20
        await pilot.press("minus", "minus")
        assert app.speed == 5
        for _ in range(len(SPEEDS)):
            await pilot.press("plus")
        assert app.speed is None  # max
        await pilot.press("space")
        assert "running ×max" in app.header.text
        await pilot.press("space")
        for _ in range(len(SPEEDS)):
            await pilot.press("minus")
        assert app.speed == 0.2     # the slowest: one batch every 5 seconds

    drive(app, script)


def test_speed_option():
    assert parse_speed(None) == 10
    assert parse_speed("max") is None
    assert parse_speed("50") == 50
    assert parse_speed(3) == 3
    assert parse_speed("0.5") == 0.5 and parse_speed(0.2) == 0.2
    for bad in ("fast", "0", 0, -5, "nan", "0.1"):
        with pytest.raises(ValueError):
            parse_speed(bad)


def test_run_option_starts_running():
    # long enough that a starved event loop cannot let the run reach its end before the check
    app = MbsimApp(Scenario(epochs=100_000), paused=False, speed="max", animate=False)

    async def script(pilot):
        # no key pressed: the run advances on its own
        await wait_until(pilot, lambda: app.sim.iteration > 100)
        assert app.running
        await pilot.press("space")
        assert not app.running
        stopped = app.sim.iteration
        await pilot.pause(0.2)
        assert app.sim.iteration == stopped

    drive(app, script)


def test_r_resets():
    app = make_app()

    async def script(pilot):
        await pilot.press("e", "n", "p")
        await pilot.press("r")
        assert counters(app) == START
        assert app.sim.phase is None
        assert (app.sim.params == app.sim.initial_params).all()

    drive(app, script)


def test_divergence_stops_and_says_so():
    app = make_app(lr=100)

    async def script(pilot):
        await pilot.press("space")
        await wait_until(pilot, lambda: not app.running)
        # first it pauses where the loss starts to blow up (issue 10 item 2) ...
        assert app.sim.status == "diverging"
        assert f"diverging since step {app.sim.diverging_step}" in app.header.text
        await pilot.press("space")          # ... space goes on, to the end of the road
        await wait_until(pilot, lambda: not app.running)
        assert app.sim.status == "diverged"
        step = app.sim.diverged_step
        assert app.header.text.endswith(f"diverged at step {step} — try a smaller learning rate")
        assert app.header.state_kind == "error"
        await pilot.press("space")  # nothing to run
        assert not app.running
        await pilot.press("n")
        assert app.sim.status == "diverged"
        await pilot.press("left")  # stepping back leaves the divergence
        assert app.sim.status != "diverged"
        assert "diverged" not in app.header.text

    drive(app, script)


def test_divergence_with_e():
    app = make_app(lr=100)

    async def script(pilot):
        await pilot.press("e")              # stops at the onset of "diverging"
        assert "diverging since step" in app.header.text and not app.running
        await pilot.press("e", "e")
        assert "diverged at step" in app.header.text
        assert not app.running

    drive(app, script)


def test_reaching_the_end():
    app = make_app(epochs=2)

    async def script(pilot):
        await pilot.press("e", "e")
        assert counters(app) == "Epoch 2/2  Batch 40/40  Iteration 80  Step 80  Samples 400"
        assert app.header.text.endswith("finished — r to start again")
        await pilot.press("n", "e", "p", "space")
        assert counters(app) == "Epoch 2/2  Batch 40/40  Iteration 80  Step 80  Samples 400"
        assert not app.running
        await pilot.press("left")
        assert counters(app) == "Epoch 2/2  Batch 39/40  Iteration 79  Step 79  Samples 395"
        assert "paused" in app.header.text

    drive(app, script)


def test_running_to_the_end_stops():
    app = MbsimApp(Scenario(epochs=3), paused=False, speed="max", animate=False)

    async def script(pilot):
        await wait_until(pilot, lambda: not app.running)
        assert counters(app) == "Epoch 3/3  Batch 40/40  Iteration 120  Step 120  Samples 600"
        assert "finished" in app.header.text

    drive(app, script)


def test_a_long_epoch_runs_in_slices_and_space_stops_it():
    # 4000 single-sample iterations take longer than one frame: e runs them at max speed
    app = make_app(samples=4000, batch_size=1, epochs=2)

    async def script(pilot):
        await pilot.press("e")
        if app.sim.iteration < 4000:
            assert app.running and app.goal == 4000
            assert "to the end of the epoch" in app.header.text
            await wait_until(pilot, lambda: not app.running)
        assert counters(app) == "Epoch 1/2  Batch 4000/4000  Iteration 4000  Step 4000  Samples 4000"
        assert app.header.text.endswith("paused — space to run")
        assert "SGD" in app.header.text.split("  ")[1]  # B = 1: the algorithm is SGD
        await pilot.press("e")
        await pilot.press("space")  # stop before the end of the epoch
        assert not app.running
        assert app.goal is None

    drive(app, script)


def test_pass_and_micro_batch_counters():
    app = make_app(samples=1000, batch_size=10, steps_per_epoch=20, epochs=100)

    async def script(pilot):
        await pilot.press("e")
        assert counters(app) == "Epoch 1/100  Batch 20/20  Iteration 20  Step 20  Samples 200  Pass 1"
        for _ in range(5):
            await pilot.press("e")
        assert counters(app) == "Epoch 6/100  Batch 20/20  Iteration 120  Step 120  Samples 1200  Pass 2"

    drive(app, script)

    app = make_app(samples=256, batch_size=8, accumulate=4, epochs=3)

    async def script2(pilot):
        assert counters(app).endswith("micro 0/4")
        await pilot.press("n")
        assert counters(app) == "Epoch 1/3  Batch 1/32  Iteration 1  Step 0  Samples 8  micro 1/4"
        await pilot.press("n", "n", "n")
        assert counters(app) == "Epoch 1/3  Batch 4/32  Iteration 4  Step 1  Samples 32  micro 4/4"  # all 4 done: the step just taken
        assert "B=8×4" in app.header.text

    drive(app, script2)


def test_algorithm_names():
    for settings, name in (
        (dict(batch_size=200), "Batch GD"),
        (dict(batch_size=1), "SGD"),
        (dict(batch_size=5), "Mini-batch GD"),
    ):
        app = make_app(**settings)

        async def script(pilot, name=name):
            assert f"  {name}  " in app.header.text

        drive(app, script)


def test_help_opens_and_closes():
    app = make_app()

    async def script(pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("n")  # the main screen's keys wait while help is open
        assert counters(app) == START
        await pilot.press("question_mark")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("question_mark", "escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("n")
        assert counters(app) == "Epoch 1/1000  Batch 1/40  Iteration 1  Step 1  Samples 5"

    drive(app, script)


def test_help_explains_every_term_and_key():
    text = help_text()
    for term in ("sample", "batch", "iteration", "step", "epoch", "pass", "Batch GD", "SGD",
                 "Mini-batch GD", "short last batch", "space", "backspace", "ctrl+p"):
        assert f"  {term}" in text, term
    assert "still makes a full step" in text


def test_nothing_happens_while_paused():
    app = make_app()

    async def script(pilot):
        await pilot.press("n")
        app.settle()
        frames, plots = app.frames, app.plot_frames
        noise = app.detail.noise_computations
        await pilot.pause(0.6)
        assert (app.frames, app.plot_frames) == (frames, plots)
        assert app.detail.noise_computations == noise

    drive(app, script)


def test_a_burst_of_keys_draws_the_last_state():
    app = make_app()

    async def script(pilot):
        for _ in range(10):
            await pilot.press("n")
        # the plots and the noise readout catch up once their interval has passed
        await wait_until(pilot, lambda: not any(d for p, d in app._plot_dirty.items() if p.display)
                         and app.detail._trailing is None)
        assert app.detail._noise_key == app.detail.noise_key(app.sim)

    drive(app, script)


@pytest.mark.parametrize("size", [(60, 20), (79, 40), (120, 23)])
def test_too_small_asks_for_a_larger_terminal(size):
    app = make_app()

    async def script(pilot):
        assert app.query_one("#too-small").display
        assert not app.query_one("#main").display
        assert "at least 80×24" in str(app.query_one("#too-small").render())
        await pilot.press("n")  # keys still work
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert not app.query_one("#too-small").display
        assert app.query_one("#main").display
        assert counters(app) == "Epoch 1/1000  Batch 1/40  Iteration 1  Step 1  Samples 5"

    drive(app, script, size=size)


def test_resizing_while_running_never_crashes():
    app = MbsimApp(Scenario(epochs=100_000), paused=False, speed="max", animate=False)

    async def script(pilot):
        for size in ((80, 24), (40, 10), (200, 60), (81, 25), (1, 1), (120, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
        assert app.running
        assert app.sim.iteration > 0

    drive(app, script)


def test_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "p", "question_mark", "escape")
        assert counters(app) == "Epoch 1/1000  Batch 1/40  Iteration 1  Step 1  Samples 5"

    drive(app, script, size=(80, 24))


def test_what_is_written_adds_up_to_the_screen():
    """Partial updates (only changed cells are sent: tui/widgets/_lines.py and
    _cells.enable_partial_line_updates), replayed on a virtual terminal, give exactly the
    characters of a full render."""
    import re

    from textual._compositor import CompositorUpdate

    app = MbsimApp(Scenario(epochs=100_000), animate=False)
    token = re.compile(r"\x1b\[(\d+);(\d+)H|\x1b\[[0-9;]*m|\n|([^\x1b\n])")

    async def script(pilot):
        w, h = app.size
        screen = [list(strip.text) for strip in app.screen._compositor.render_strips()]
        writes = []

        def display(scr, renderable):
            if isinstance(renderable, CompositorUpdate):
                writes.append(renderable.render_segments(app.console))

        app._display = display
        await pilot.press("n", "n", "p", "e", "n", "left", "p")
        await pilot.press("space")
        await pilot.pause(0.5)
        await pilot.press("space")
        app.settle()
        await pilot.pause()
        assert writes
        for data in writes:
            y = x = 0
            for m in token.finditer(data):
                if m.group(1):
                    y, x = int(m.group(1)) - 1, int(m.group(2)) - 1
                elif m.group(3):
                    assert 0 <= y < h and 0 <= x < w, (x, y)
                    screen[y][x] = m.group(3)
                    x += 1
        expected = [strip.text for strip in app.screen._compositor.render_strips()]
        assert ["".join(row) for row in screen] == expected

    drive(app, script)
