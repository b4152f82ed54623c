"""The noise cloud view (key ``k``): Pilot tests that what it shows is the engine's numbers,
computed again here independently, and snapshots at 120×40 and 80×24."""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App

from mbsim.engine import Scenario, Simulation
from mbsim.engine.cloud import least_squares_noise_floor
from mbsim.engine.lessons import LessonError, parse_lesson
from mbsim.tui.app import MbsimApp
from mbsim.tui.screens.cloud import CloudScreen
from pilot_helpers import wait_idle

SMALL = dict(samples=40, val_samples=0, batch_size=4, epochs=50, sampling="replacement")


async def open_cloud(pilot) -> CloudScreen:  # noqa: ANN001
    await pilot.press("k")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CloudScreen)
    return screen


async def test_k_opens_k_runs_of_the_scenario_and_the_readout_is_trace_of_cov() -> None:
    app = MbsimApp(Scenario(**SMALL), animate=False, throttle=False, runs=20)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_cloud(pilot)
        ens = screen.ens
        assert ens.runs == 20
        await pilot.press("n", "n", "n")
        screen.settle()
        params = ens.params
        # every member moved from the same start, each by its own batches
        assert params.shape == (20, 2) and len({tuple(p) for p in params}) > 1
        want = float(np.trace(np.cov(params, rowvar=False)))     # tr Cov, divisor K − 1
        assert screen.readout.measured == pytest.approx(want, rel=1e-12)
        # the prediction is SCIENCE.md §5's Lyapunov solution for this lr and B, with replacement
        sim = Simulation(Scenario(**SMALL))
        floor = least_squares_noise_floor(sim.X, sim.y, 0.05, 4, replacement=True)
        assert screen.readout.predicted == pytest.approx(floor.spread, rel=1e-9)
        assert f"{want:.4g}" in screen.readout.text
        assert "Step 3" in "  ".join(screen.counters.text.split()) or "Step 3" in screen.counters.text
        # member 3 is the lone run of sampling stream 3, three steps on
        lone = Simulation(Scenario(**SMALL), sampling_stream=3)
        lone.run_iterations(3)
        assert np.array_equal(params[3], lone.params)
        assert screen.landscape.cloud_inside == 20
        assert "20 runs" in screen.landscape.legend


async def test_batch_keys_change_every_members_batch_and_the_prediction() -> None:
    app = MbsimApp(Scenario(**SMALL), animate=False, throttle=False, runs=10)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_cloud(pilot)
        ens = screen.ens
        await pilot.press("n")
        rev = ens.revision
        await pilot.press("right_square_bracket")                # B 4 → 8 for all
        assert ens.revision > rev
        assert all(ens.member_scenario(k).batch_size == 8 for k in range(10))
        sim = Simulation(Scenario(**SMALL))
        floor8 = least_squares_noise_floor(sim.X, sim.y, 0.05, 8, replacement=True)
        floor4 = least_squares_noise_floor(sim.X, sim.y, 0.05, 4, replacement=True)
        assert screen.readout.predicted == pytest.approx(floor8.spread, rel=1e-9)
        assert floor8.spread < floor4.spread                      # the cloud is predicted to shrink
        await pilot.press("left_square_bracket", "left_square_bracket")   # 8 → 4 → 2
        assert all(ens.member_scenario(k).batch_size == 2 for k in range(10))
        await pilot.press("greater_than_sign")                    # lr 0.05 → 0.1 for all
        assert all(ens.member_scenario(k).lr == pytest.approx(0.1) for k in range(10))


async def test_batch_keys_retrace_their_steps_as_on_the_main_screen() -> None:
    """[ after ] goes back to the batch size ] came from (5 → 8 → 5), not to the power of two
    below (4); then on down: 5 → 4 → 2, and ] retraces those (2 → 4 → 5)."""
    app = MbsimApp(Scenario(**{**SMALL, "batch_size": 5}), animate=False, throttle=False, runs=6)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_cloud(pilot)
        ens = screen.ens
        seen = []
        for key in ("right_square_bracket", "left_square_bracket", "left_square_bracket",
                    "left_square_bracket", "right_square_bracket", "right_square_bracket"):
            await pilot.press(key)
            sizes = {ens.member_scenario(k).batch_size for k in range(6)}
            assert len(sizes) == 1
            seen.append(sizes.pop())
        assert seen == [8, 5, 4, 2, 4, 5]


async def test_back_is_exact_and_escape_returns() -> None:
    app = MbsimApp(Scenario(**SMALL), animate=False, throttle=False, runs=8)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_cloud(pilot)
        ens = screen.ens
        await pilot.press("n", "n")
        two = ens.params.copy()
        await pilot.press("n", "left")
        assert np.array_equal(ens.params, two)
        await pilot.press("r")
        assert np.all(ens.step == 0)
        assert np.array_equal(ens.params, np.repeat(ens.initial_params[None, :], 8, axis=0))
        await pilot.press("space")
        assert screen.running
        await pilot.press("space")
        assert not screen.running and screen._frame_worker is None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CloudScreen)
        assert app.sim.step == 0                                   # the main run did not move


async def test_the_prediction_note_is_shown_when_there_is_none() -> None:
    app = MbsimApp(Scenario(**{**SMALL, "optimizer": "adam"}), animate=False, throttle=False, runs=5)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_cloud(pilot)
        assert screen.readout.predicted is None
        assert screen.ens.prediction_note() in screen.readout.text


def test_a_lesson_slide_can_open_the_cloud_and_runs_is_checked() -> None:
    text = '+++\ntitle = "t"\n+++\n# One\n```mbsim\nview = "cloud"\nruns = 30\n```\n'
    lesson = parse_lesson(text, "x.md")
    assert lesson.slides[0].view == "cloud" and lesson.slides[0].runs == 30
    with pytest.raises(LessonError, match="runs = K goes with view"):
        parse_lesson('+++\ntitle = "t"\n+++\n# One\n```mbsim\nruns = 30\n```\n', "x.md")
    with pytest.raises(LessonError, match="from 1 to 1000"):
        parse_lesson('+++\ntitle = "t"\n+++\n# One\n```mbsim\nview = "cloud"\nruns = 0\n```\n', "x.md")


class Host(App):
    TITLE = "mbsim"

    def on_mount(self) -> None:
        self.push_screen(CloudScreen(Scenario(sampling="replacement"), runs=100))


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_cloud_snapshot(snap_compare, size):
    async def run_before(pilot) -> None:  # noqa: ANN001
        await pilot.pause()
        screen = pilot.app.screen
        await pilot.press("e")
        await wait_idle(pilot, screen)
        screen.settle()
        await pilot.pause()

    assert snap_compare(Host(), terminal_size=size, run_before=run_before)
