"""The landscape panel: its cells are the engine's loss on the same grid, its box frames the run,
its arrows point down the gradients, and it survives a diverging run or a one-parameter model.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine import Scenario, Simulation, load_preset
from tui.widgets.landscape import LandscapeView, segment_pixels

from widget_host import run, screen_text, settle


# ================================================================================ landscape
def test_landscape_cells_are_the_engine_loss_on_the_same_grid() -> None:
    sim = Simulation(Scenario())
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(30)
        view.show(sim, force=True)
        await pilot.pause()
        g = view.grid
        assert (g.i, g.j) == (0, 1)
        want = sim.landscape(0, 1, g.xs, g.ys).loss
        np.testing.assert_allclose(g.loss, want, rtol=0, atol=0)
        # one pixel per grid point: the width, and two pixels per text row
        assert g.loss.shape == (2 * (view.size.height - 2), view.size.width)
        assert view.levels.shape == g.loss.shape
        # grid rows run from the top (largest parameter j) down, columns left to right
        assert np.all(np.diff(g.ys) < 0) and np.all(np.diff(g.xs) > 0)
        assert view.title.startswith("Loss over w, b")

    run(view, script, size=(60, 20))


def test_landscape_box_covers_start_reference_end_and_run_and_stays_put() -> None:
    sim = Simulation(Scenario())
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(20)
        view.show(sim, force=True)
        box = view.box
        ref = sim.reference_path()
        for p in (sim.initial_params, ref[-1], sim.params):
            assert box.x0 <= p[0] <= box.x1 and box.y0 <= p[1] <= box.y1
        sim.run_iterations(5)
        view.show(sim, force=True)
        assert view.box is box                 # no jump while the run stays inside

    run(view, script, size=(60, 20))


def test_landscape_pair_is_selectable_for_larger_models() -> None:
    sim = Simulation(load_preset("xor-mlp"))
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(5)
        view.show(sim, force=True)
        await settle(pilot, view)
        assert view.pair == (0, 1)
        view.set_params(2, 5)
        await settle(pilot, view)
        g = view.grid
        assert (g.i, g.j) == (2, 5)
        names = sim.model.param_names
        assert view.title.startswith(f"Loss over {names[2]}, {names[5]}")
        np.testing.assert_allclose(g.loss, sim.landscape(2, 5, g.xs, g.ys).loss)
        # the held parameters move: the grid follows (force = a single step while paused)
        sim.step_iteration()
        view.show(sim, force=True)
        await settle(pilot, view)
        np.testing.assert_allclose(view.grid.loss, sim.landscape(2, 5, view.grid.xs, view.grid.ys).loss)
        with pytest.raises(ValueError):
            view.set_params(3, 3)

    run(view, script, size=(70, 22))


def test_landscape_arrows_point_down_the_gradients() -> None:
    sim = Simulation(Scenario())
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        view.show(sim, force=True)
        G, g = sim.full_gradient(), sim.batch_gradient()
        for key, vec in (("full", G), ("batch", g)):
            v = view.arrow_vectors[key]                  # screen pixels: x right, y down
            assert np.sign(v[0]) == np.sign(-vec[0]) and np.sign(v[1]) == np.sign(vec[1])
        assert "−G" in view.legend and "−ĝ" in view.legend

    run(view, script, size=(60, 20))


def test_landscape_survives_a_diverging_run() -> None:
    sim = Simulation(Scenario(lr=100.0))
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(200)
        assert sim.status == "diverged"
        view.show(sim, force=True)
        await pilot.pause()
        assert view.levels is not None
        levels = LandscapeView.loss_levels(np.array([[np.inf, np.nan, 1.0, 10.0, 0.0]]))
        assert levels.tolist() == [[11, 11, 0, 11, 0]]

    run(view, script, size=(60, 20))


def test_segment_pixels_joins_points() -> None:
    px = segment_pixels(np.array([[0.0, 0.0], [4.0, 2.0]]))
    assert px[0].tolist() == [0, 0] and px[-1].tolist() == [4, 2]
    assert np.all(np.abs(np.diff(px, axis=0)) <= 1)


def test_landscape_of_a_one_parameter_model_says_so() -> None:
    sim = Simulation(Scenario(bias=False))
    view = LandscapeView()

    async def script(pilot, view) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        view.show(sim, force=True)
        await pilot.pause()
        assert view.title == "Loss over w"
        assert any("one parameter" in line for line in screen_text(view))

    run(view, script, size=(60, 20))
