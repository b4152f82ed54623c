"""The landscape panel: its cells are the engine's loss on the same grid, its box frames the run,
its arrows point down the gradients, and it survives a diverging run or a one-parameter model.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.tui.widgets.landscape import LandscapeView, segment_pixels

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


def test_a_point_on_a_cells_edge_lands_in_the_same_cell_whatever_the_last_bits() -> None:
    """The worked example's box puts the start (0, 0) exactly on a cell edge: with x0 = -1/6 and
    x1 = 5/6 of the width, (0 - x0) / (x1 - x0) · 30 - 0.5 = 4.5. Computed by another CPU or BLAS
    kernel it may come out an ulp either side; every such value must land in one cell (4, half to
    even), or the picture depends on the machine."""
    from mbsim.tui.widgets._landscape_geometry import Box

    box = Box(x0=-1.0 / 6.0, x1=5.0 / 6.0, y0=-1.0, y1=1.0)
    view = LandscapeView()
    at_edge = np.array([[x, 0.0] for x in (0.0, 5e-17, -5e-17, 1e-12, -1e-12)])
    pix = view._to_pixels(box, at_edge, 30, 14)
    assert np.all(np.abs(pix[:, 0] - 4.5) < 1e-15)
    assert {int(round(c)) for c in pix[:, 0]} == {4} and set(np.rint(pix[:, 0]).astype(int)) == {4}
    away = view._to_pixels(box, np.array([[1e-6, 0.0]]), 30, 14)[0, 0]
    assert int(round(away)) == 5  # 1e-6 · 30 = 3e-5 pixels past the edge is a different cell


def test_a_box_contains_all_points_as_it_contains_each() -> None:
    """Box.contains_all (every draw, the whole path at once) is Box.contains of each point:
    random boxes and points, points on the inset edges, non-finite ones, none."""
    import random

    from mbsim.tui.widgets._landscape_geometry import Box

    rng = random.Random(5)
    for _ in range(400):
        x0, y0 = rng.uniform(-5, 5), rng.uniform(-5, 5)
        box = Box(x0, x0 + rng.uniform(0.1, 10), y0, y0 + rng.uniform(0.1, 10))
        inset = rng.choice([0.0, 0.02, 0.06, 0.3])
        dx, dy = (box.x1 - box.x0) * inset, (box.y1 - box.y0) * inset
        edge_x = [box.x0 + dx, box.x1 - dx, np.nextafter(box.x0 + dx, -np.inf), np.nan, np.inf]
        edge_y = [box.y0 + dy, box.y1 - dy, np.nextafter(box.y1 - dy, np.inf), -np.inf]
        n = rng.randint(0, 6)
        pts = np.array([[rng.choice(edge_x) if rng.random() < 0.3 else rng.uniform(box.x0, box.x1),
                         rng.choice(edge_y) if rng.random() < 0.3 else rng.uniform(box.y0, box.y1)]
                        for _ in range(n)], dtype=float).reshape(n, 2)
        want = all(box.contains(float(x), float(y), inset=inset) for x, y in pts)
        assert box.contains_all(pts, inset=inset) == want, (box, inset, pts)
