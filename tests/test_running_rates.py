"""What a running app redraws, and how often (issue 24: a light running app, also at large N):
the noise readout's rate follows its cost and an older readout says which step it is of (never a
stale number shown as current); the landscape's new grids wait for the loop's landscape frame.
"""

from __future__ import annotations

import asyncio

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets import detail as detail_module
from pilot_helpers import wait_for


def drive(app: MbsimApp, script, size=(120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


def test_the_interval_is_the_cost_over_the_share_while_running_only():
    app = MbsimApp(Scenario(), animate=False)

    async def script(pilot):
        d = app.detail
        d.noise_cost = 0.03                      # as a readout at N = 10^6 costs
        assert d.interval() == d.NOISE_INTERVAL  # paused: the last state's readout comes soon
        app.running = True
        assert abs(d.interval() - 0.03 / detail_module.NOISE_CPU_SHARE) < 1e-12
        d.noise_cost = 1e-5                      # a cheap readout: the running floor
        assert d.interval() == d.RUNNING_NOISE_INTERVAL > d.NOISE_INTERVAL
        app.running = False

    drive(app, script)


def test_a_costly_readout_comes_less_often_and_says_its_step():
    app = MbsimApp(Scenario(), animate=False, speed=20)

    async def script(pilot):
        d = app.detail
        app.start_running()
        await wait_for(pilot, lambda: app.sim.step >= 3, "the run never moved")
        # pretend a readout costs 30 ms: while running, at most one every 2 s
        d.noise_cost = 0.03
        compute = d._compute_noise

        def costly(sim, key):  # noqa: ANN001, ANN202
            compute(sim, key)
            d.noise_cost = 0.03

        d._compute_noise = costly
        first = d.noise_computations
        await wait_for(pilot, lambda: app.sim.step >= 25, "the run never reached step 25")
        assert d.noise_computations - first <= 1
        # an older readout: the line says which step it is of, and it is not the step shown
        assert d.noise_step is not None and d.noise_step < app.sim.step
        assert f"at step {d.noise_step}" in d.text
        app.pause()
        # paused: the readout of the step shown comes, and the step label goes
        await wait_for(pilot, lambda: not d.stale and d._trailing is None, "no readout after the pause")
        await pilot.pause()
        assert d._noise_key == d.noise_key(app.sim)
        assert d._noise.grad_norm == app.sim.noise().grad_norm
        assert "at step" not in d.text

    drive(app, script)


def test_running_a_new_landscape_grid_waits_for_the_loops_landscape_frame():
    """More than two parameters: the plane moves with the run and grids come from a thread.
    While running, a grid that arrives is drawn by the run loop at its rate (the panel marked
    dirty), not at once between two frames (one more screen refresh); paused, at once."""
    from mbsim.engine import load_preset

    app = MbsimApp(load_preset("xor-mlp"), animate=False, speed=20)
    seen = []

    async def script(pilot):
        land = app.landscape
        draw, got = land._draw, land._got_grid

        def counting_draw(*a, **k):  # noqa: ANN202
            seen.append("draw")
            return draw(*a, **k)

        def watching_got(key, grid):  # noqa: ANN001, ANN202
            running = app.running
            seen.append("got")
            before = seen.count("draw")
            got(key, grid)
            if running:
                assert seen.count("draw") == before, "a grid drawn at once while running"
                assert app._plot_dirty[land], "the loop was not told to draw the new grid"
                seen.append("deferred")

        land._draw, land._got_grid = counting_draw, watching_got
        app.start_running()
        await wait_for(pilot, lambda: "deferred" in seen, lambda: f"no grid arrived while running: {seen[-5:]}")
        app.pause()
        await wait_for(pilot, lambda: not land.pending_work, "the landscape stays busy")

    drive(app, script)


def test_running_the_detail_line_is_drawn_with_each_readout_only():
    """Running, the detail line is redrawn when a readout comes, whole (its batch loss of the same
    step), led by "at step k"; paused, it is the state's again at once."""
    app = MbsimApp(Scenario(), animate=False, speed=20)
    draws = []

    async def script(pilot):
        d = app.detail
        draw = d._draw

        def counting(sim):  # noqa: ANN001, ANN202
            draws.append((app.running, sim.step))
            return draw(sim)

        d._draw = counting
        app.start_running()
        await wait_for(pilot, lambda: app.sim.step >= 3, "the run never moved")
        first_draws, first_readouts = len(draws), d.noise_computations
        await wait_for(pilot, lambda: app.sim.step >= 30, "the run never reached step 30")
        running_draws = [s for r, s in draws[first_draws:] if r]
        readouts = d.noise_computations - first_readouts
        # at 20 steps/s and a readout every 0.5 s: ~3 draws for ~27 frames, one per readout
        assert len(running_draws) <= readouts + 1, (len(running_draws), readouts)
        assert d.text.startswith(f"at step {d.noise_step}  ")
        app.pause()
        await pilot.pause()
        assert not d.text.startswith("at step")
        await wait_for(pilot, lambda: not d.stale and d._trailing is None, "no readout after the pause")
        await pilot.pause()
        assert "at step" not in d.text

    drive(app, script)


def test_the_app_collects_the_young_generation_less_often():
    """Issue 24: at Python's default threshold (700) the running app's collector took ~7 % of its
    main thread; the app raises it (runloop.GC_THRESHOLD), and keeps a higher one."""
    import gc

    from mbsim.tui import runloop

    saved = gc.get_threshold()
    try:
        gc.set_threshold(700, saved[1], saved[2])
        MbsimApp(Scenario(), animate=False)
        assert gc.get_threshold() == (runloop.GC_THRESHOLD, saved[1], saved[2])
        gc.set_threshold(50_000, saved[1], saved[2])
        MbsimApp(Scenario(), animate=False)
        assert gc.get_threshold()[0] == 50_000
    finally:
        gc.set_threshold(*saved)


def test_running_at_ten_a_second_the_reshuffle_plays_in_the_run_loops_frames():
    """A new order is animated over a few frames. Running at 10 batches a second or more, each
    animation frame is drawn by the run loop's redraw (in the frame's one screen refresh, with the
    counters), not by the animation's own timer between frames; paused midway, the timer ends it."""
    app = MbsimApp(Scenario(samples=100, batch_size=5, epochs=1000), animate=True, speed=10)
    frames = []

    async def script(pilot):
        strip = app.strip
        anim_frame, redraw = strip._anim_frame, app.redraw
        inside = []

        def in_redraw(*a, **k):  # noqa: ANN202
            inside.append(True)
            try:
                return redraw(*a, **k)
            finally:
                inside.pop()

        def watching():  # noqa: ANN202
            frames.append((bool(inside), app.running))
            return anim_frame()

        app.redraw, strip._anim_frame = in_redraw, watching
        app.start_running()
        await wait_for(pilot, lambda: sum(1 for _, r in frames if r) >= 4, "no reshuffle played while running")
        app.pause()
        running = [inside for inside, r in frames if r]
        assert all(running), frames
        # pause in the middle of one: the timer plays it to its end
        await wait_for(pilot, lambda: not strip.animating, "the reshuffle never ended")
        app.start_running()
        await wait_for(pilot, lambda: strip.animating, "no reshuffle started")
        assert strip._anim["in_frames"] and strip._anim["frame"] < 4
        app.pause()
        await wait_for(pilot, lambda: not strip.animating, "the reshuffle stopped midway after a pause")

    drive(app, script)
