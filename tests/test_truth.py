"""Every panel tells the truth at every moment (issue 10, item 1).

After any change — a live key, the settings screen, the palette, a preset, ``r``, ``←`` — the
counters, the header, the strip's grouping and its caption show the new state at once, whether a
step follows or not. Expected values are computed here from N and B by hand (M = ceil(N/B) for
``drop_last`` off), never read back from the engine's plan.
"""

from __future__ import annotations

import math

import pytest
from textual.command import CommandPalette

from mbsim.engine import Scenario, Simulation

from truth_helpers import B0, POWERS_DOWN, POWERS_UP, check_screen, drive, make_app


# ------------------------------------------------------------------------------------------------
# the issue's own examples
def test_bracket_right_then_left_shows_the_new_count_at_once():
    app = make_app()

    async def script(pilot):
        # 5 → 8 → 16 → back to 8 (the batch size the second ] came from)
        await pilot.press("right_square_bracket", "right_square_bracket", "left_square_bracket")
        check_screen(app, b=8, epoch=1, batch=0, iteration=0)      # Batch 0/25, not 0/13

    drive(app, script)


def test_bracket_right_twice_regroups_the_strip():
    app = make_app()

    async def script(pilot):
        await pilot.press("right_square_bracket", "right_square_bracket")
        check_screen(app, b=16, epoch=1, batch=0, iteration=0)     # Batch 0/13, groups of 16

    drive(app, script)


def test_mid_epoch_to_batch_gd():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "n")
        for _ in range(6):
            await pilot.press("right_square_bracket")
        check_screen(app, b=200, epoch=1, batch=0, iteration=3)    # Batch GD: Batch 0/1

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# the matrix: every live key at step 0, mid-epoch, at an epoch boundary, twice in a row
WHERE = {            # keys to get there → (epoch the change starts, iteration)
    "step 0": ((), 1, 0),
    "mid-epoch": (("n", "n", "n"), 1, 3),
    "epoch boundary": (("e",), 2, 40),
}


def expected_after(key: str, times: int) -> dict:
    """B, lr and sampling after pressing ``key`` ``times`` times from the worked example."""
    b, lr, sampling = B0, 0.05, "reshuffle"
    cycle = ["reshuffle", "once", "sequential", "replacement"]  # regression: no stratified
    for _ in range(times):
        if key == "right_square_bracket":
            b = POWERS_UP[b]
        elif key == "left_square_bracket":
            b = POWERS_DOWN[b]
        elif key == "greater_than_sign":
            lr *= 2
        elif key == "less_than_sign":
            lr /= 2
        elif key == "m":
            sampling = cycle[(cycle.index(sampling) + 1) % len(cycle)]
    return {"b": b, "lr": lr, "sampling": sampling}


LIVE_KEYS = ("left_square_bracket", "right_square_bracket", "less_than_sign", "greater_than_sign",
             "o", "m")


@pytest.mark.parametrize("where", list(WHERE))
@pytest.mark.parametrize("key", LIVE_KEYS)
def test_every_live_key_shows_at_once(key, where):
    app = make_app()
    before, epoch, iteration = WHERE[where]

    async def script(pilot):
        await pilot.press(*before)
        optimizers = [app.sim.optimizer.describe()]
        for times in (1, 2):          # twice in a row without a step in between
            await pilot.press(key)
            check_screen(app, epoch=epoch, batch=0, iteration=iteration, **expected_after(key, times))
            optimizers.append(app.sim.optimizer.describe())
            if key == "o":
                assert optimizers[-1] in app.header.text
        if key == "o":
            assert len(set(optimizers)) == 3                      # two different optimizers shown
        # and one step later the counters go on from the new plan
        await pilot.press("n")
        want = expected_after(key, 2)
        check_screen(app, epoch=epoch, batch=1, iteration=iteration + 1, **want)

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# other ways the state changes
def test_reset_after_a_change_shows_the_first_settings():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "right_square_bracket", "right_square_bracket")
        check_screen(app, b=16, epoch=1, batch=0, iteration=2)
        await pilot.press("r")
        check_screen(app, b=5, epoch=1, batch=0, iteration=0)

    drive(app, script)


def test_back_over_a_change_shows_the_old_settings():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "n", "right_square_bracket")
        check_screen(app, b=8, epoch=1, batch=0, iteration=3)
        await pilot.press("left")
        check_screen(app, b=5, epoch=1, batch=2, iteration=2)

    drive(app, script)


def test_back_then_a_change_at_the_same_iteration():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "left", "m")
        check_screen(app, b=5, epoch=1, batch=0, iteration=1, sampling="once")

    drive(app, script)


def test_the_settings_screen_shows_its_change_at_once():
    from mbsim.tui.screens.settings import SettingsScreen

    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n", "n", "right_square_bracket")      # a first change at iteration 3
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SettingsScreen)
        screen.controls["batch_size"].value = "25"
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is not screen
        check_screen(app, b=25, epoch=1, batch=0, iteration=3)      # the same iteration again

    drive(app, script)


def test_a_preset_from_the_palette_shows_at_once():
    app = make_app()

    async def script(pilot):
        await pilot.press("n", "n")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert CommandPalette.is_open(app)
        await pilot.press(*"preset: mini-batch-32")
        for _ in range(60):
            await pilot.pause(0.05)
            if app.screen.query("CommandList").first().option_count:
                break
        await pilot.press("down", "enter")
        for _ in range(60):
            await pilot.pause(0.05)
            if app.sim.scenario.name != "worked-example":
                break
        sim = app.sim
        n, b = sim.dataset.n_samples, sim.scenario.batch_size
        assert app.counters_line.text.startswith(f"Epoch 1/{sim.scenario.epochs}  Batch 0/{math.ceil(n / b)}  Iteration 0")
        assert f"of N={n}" in app.header.text and sim.scenario.name in app.header.text

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# the engine's side of the rule
def test_every_mutating_method_bumps_the_revision():
    sim = Simulation(Scenario())
    seen = [sim.revision]

    def bumped() -> None:
        assert sim.revision != seen[-1]
        seen.append(sim.revision)

    sim.step_phase(); bumped()
    sim.step_iteration(); bumped()
    sim.step_update(); bumped()
    sim.run_iterations(3); bumped()
    sim.run_epoch(); bumped()
    sim.apply_changes(batch_size=8); bumped()
    sim.apply_changes(batch_size=4); bumped()          # replaces the change at the same iteration
    sim.back(1); bumped()
    sim.goto_iteration(5); bumped()
    sim.reset(); bumped()
    sim.reset(); bumped()                              # even when nothing else differs
    # reading does not
    sim.counters(); sim.noise(); _ = sim.last; sim.full_gradient()
    assert sim.revision == seen[-1]


def test_a_rescue_bumps_the_revision():
    sim = Simulation(Scenario(lr=50.0))
    sim.run_to_end()
    assert sim.status == "diverged"
    r = sim.revision
    sim.apply_changes(lr=0.01)
    assert sim.revision != r and sim.status == "ready"
