"""Pilot tests for issue 10 items 2 (diverging is seen when it starts) and 6 (the lens)."""

from __future__ import annotations

import numpy as np

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.tui.app import MbsimApp

from pilot_helpers import wait_for, wait_idle


async def _wait_until_paused(pilot, app) -> None:
    await wait_for(pilot, lambda: not app.running, "the run pausing by itself")


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
        await wait_for(pilot, lambda: sim.step > sim.diverging_step + 20 or not app.running,
                       "the run going on past the onset")
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
        # the overshooting path crosses the valley: consecutive points on opposite sides of the
        # minimum θ* along the Hessian's steepest direction v (lr·λ_max > 2), worked out here:
        # mean (w·x + b − y)² has H = 2 XᵀX / N with X = [x, 1]
        sim = app.sim
        X = np.hstack([sim.X, np.ones((len(sim.y), 1))])
        theta_star = np.linalg.lstsq(X, sim.y, rcond=None)[0]
        lam, vecs = np.linalg.eigh(2 * X.T @ X / len(sim.y))
        assert 1.6 * lam[-1] > 2 > 1.6 * lam[0]
        path = np.vstack([sim.history.decimated(10_000).params, sim.params[None]])
        side = np.sign((path - theta_star) @ vecs[:, -1])
        side = side[np.r_[True, np.any(np.diff(path, axis=0) != 0, axis=1)]]  # each point once
        assert len(side) >= 30 and np.all(side[1:] == -side[:-1]), side
        # and the picture draws it across the marked minimum: the run's dots on both sides of ◆
        cols = land.path_pixels[:, 0]
        assert len(cols) and cols.min() < land.minimum_cell[1] < cols.max(), (cols, land.minimum_cell)


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
        framed, left = lens.frames, 0
        for _ in range(60):
            await pilot.press("n")
            await pilot.pause()
            x = float(sim.params[0])
            L = lens.current
            assert L.xs[0] <= x <= L.xs[-1]          # the point never leaves the picture
            left += not lo <= x <= hi                # it left the first range
        # the point did leave the first range, and the lens framed a new one for it
        assert left > 0 and lens.frames > framed
        assert (float(lens.current.xs[0]), float(lens.current.xs[-1])) != (lo, hi)


def _inside(land, points) -> bool:
    box = land.box
    ab = land.plane.coords(points)
    return bool(np.all((ab[:, 0] > box.x0) & (ab[:, 0] < box.x1) & (ab[:, 1] > box.y0) & (ab[:, 1] < box.y1)))


async def _framed(preset: str, epochs: int, size=(120, 40)):
    app = MbsimApp(load_preset(preset), paused=True, animate=False, throttle=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        for _ in range(epochs):
            await pilot.press("e")
            await wait_for(pilot, lambda: not app.running, f"{preset}: the epoch's run stopping")
        await wait_idle(pilot)
        app.settle()
        await pilot.pause()
        land = app.landscape
        sim = app.sim
        run = np.vstack([sim.history.decimated(10_000).params, sim.params[None]])
        ref = sim.reference_path()
        box = land.box
        # the whole run, GD's whole path and the minimum are inside the view, away from its edges
        assert _inside(land, run), preset
        assert _inside(land, ref), preset
        assert land.minimum_cell is not None, preset
        here = land.plane.coords(sim.params[None])[0]
        dx, dy = (box.x1 - box.x0) * 0.04, (box.y1 - box.y0) * 0.04
        assert box.x0 + dx < here[0] < box.x1 - dx and box.y0 + dy < here[1] < box.y1 - dy, preset
        return app, land, sim


async def test_momentum_imbalanced_and_no_shuffle_stay_inside_the_landscape() -> None:
    await _framed("momentum", 6)
    await _framed("imbalanced", 4)
    await _framed("no-shuffle", 4)


async def test_an_mlp_landscape_is_the_plane_its_path_lies_in() -> None:
    app = MbsimApp(load_preset("xor-mlp"), paused=True, animate=False, throttle=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("e", "e")
        await wait_idle(pilot)                  # both epochs run, no panel computing
        app.settle()
        await wait_idle(pilot)                  # the grid of the final point has landed
        land, sim = app.landscape, app.sim
        assert land.plane.kind == "path" and "start, now" in land.title
        # "now" lies in the plane, so the map under it is its true loss, and it ends the path
        assert land.plane.distance(sim.params[None])[0] < 1e-9
        assert land.plane.distance(sim.initial_params[None])[0] < 1e-9
        grid = land.grid
        a, b = land.plane.coords(sim.params[None])[0]
        r = int(np.argmin(np.abs(grid.ys - b)))
        c = int(np.argmin(np.abs(grid.xs - a)))
        theta = land.plane.lift([grid.xs[c]], [grid.ys[r]])
        assert grid.loss[r, c] == sim.model.losses_many(theta, sim.X, sim.y)[0]
        assert land.path_pixels is not None and len(land.path_pixels)


async def test_the_phase_view_shows_the_update_at_80x24_for_every_optimizer() -> None:
    from rich.console import Console

    for optimizer in ("sgd", "momentum", "adam", "rmsprop"):
        scenario = load_preset("xor-mlp").replace(optimizer=optimizer, lr=0.01) if optimizer == "adam" \
            else Scenario(optimizer=optimizer, batch_size=12)
        app = MbsimApp(scenario, paused=True, animate=False, throttle=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("n", "n", "d")
            await pilot.pause()
            view = app.phase_view
            view.show(app.sim)
            await pilot.pause()
            footer = view.footer
            assert footer[0].startswith("ĝ = mean of the rows")
            assert footer[-1].startswith("θ_new") or footer[-2].startswith("θ_new"), footer
            # everything fits: the rendered lines are no more than the panel's height
            console = Console(width=view.content_size.width, file=None, color_system=None)
            lines = console.render_lines(view._render_rows(app.sim, app.sim.last, view.content_size.height,
                                                           view.content_size.width), pad=False)
            assert len(lines) <= view.content_size.height, (optimizer, len(lines))
            # the numbers are the engine's: θ_new = θ_old + Δθ of the last step
            terms = app.sim.last_update()
            assert np.array_equal(app.sim.last.params_before + terms.delta, app.sim.params)
            if optimizer == "sgd":
                assert "θ_new = θ_old − lr·ĝ = " in footer[-1]
            if optimizer == "momentum":
                assert any(line.startswith("b velocity = ") for line in footer)
            if optimizer in ("adam", "rmsprop"):
                assert any(line.startswith("lr/(√") for line in footer)
                assert "step per parameter" in "".join(t.plain for t in app.detail._items if t is not None)


async def test_the_lens_closes_again_for_a_model_with_two_parameters() -> None:
    app = MbsimApp(load_preset("three-losses"), paused=True, animate=False, throttle=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.lens.display
        app.replace_simulation(Simulation(Scenario()))
        await pilot.pause()
        assert not app.lens.display and app.landscape.display
        await pilot.press("l")                      # opened by hand: it stays
        await pilot.pause()
        app.replace_simulation(Simulation(load_preset("momentum")))
        await pilot.pause()
        assert app.lens.display
