"""The main app's views: compare mode (c), the lens (l), the phase view (d, and p opens it),
the key bar, and live keys acting on the real app."""

from __future__ import annotations

import numpy as np

from mbsim.engine import Scenario, load_preset
from mbsim.tui.app import MbsimApp
from mbsim.tui.screens.compare import CompareScreen
from mbsim.tui.widgets.keybar import KeyBar, key_entries


async def test_compare_opens_from_the_main_screen_and_leaves_the_main_run_alone() -> None:
    app = MbsimApp(Scenario(), animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        main_params = app.sim.params.copy()
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("e")
        await pilot.pause()
        runs = app.screen.comp.runs
        assert [r.sim.step for r in runs] == [1, 40, 200]
        assert np.array_equal(app.sim.params, main_params) and app.sim.iteration == 1
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        await pilot.press("n")
        assert app.sim.iteration == 2


async def test_lens_and_phase_view_take_the_place_of_the_plots() -> None:
    app = MbsimApp(load_preset("three-losses"), animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        # one parameter: the lens opens by itself; l closes and opens it
        assert app.lens.display and not app.landscape.display
        await pilot.press("l")
        await pilot.pause()
        assert app.landscape.display and not app.lens.display
        await pilot.press("l")
        await pilot.pause()
        assert app.lens.display and not app.landscape.display
        assert app.lens.current is not None and app.lens.current.per_sample.shape[0] == 3
        await pilot.press("p")                      # stepping by phase opens the phase view
        await pilot.pause()
        assert app.phase_view.display and not app.lossplot.display
        assert app.sim.phase == "forward"
        await pilot.press("p", "p", "p")
        assert app.sim.iteration == 1
        await pilot.press("space")                  # running closes the view p opened
        await pilot.pause()
        assert not app.phase_view.display and app.lossplot.display
        await pilot.press("space", "d")             # d opens it for good
        await pilot.pause()
        assert app.phase_view.display
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("space")
        assert app.phase_view.display
        await pilot.press("l", "d")
        await pilot.pause()
        assert app.landscape.display and app.lossplot.display


async def test_every_shown_key_is_in_the_key_bar_at_80x24() -> None:
    app = MbsimApp(Scenario(), animate=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = str(app.query_one(KeyBar).render()).replace("\u00a0", " ")
        for keys, words in key_entries(list(MbsimApp.BINDINGS)):
            assert f"{keys} {words}" in text
        for keys in ("space", "[]", "<>", "+-", "s settings", "c compare", "l lens", "d detail", "q quit"):
            assert keys in text


async def test_live_keys_on_the_real_app() -> None:
    app = MbsimApp(Scenario(), animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        params = app.sim.params.copy()
        await pilot.press("right_square_bracket")
        assert app.sim.scenario.batch_size == 8 and app.sim.counters().batches == 25
        assert np.array_equal(app.sim.params, params)
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert app.sim.scenario.batch_size == 4       # [ first goes back to the 5 ] came from
        await pilot.press("left_square_bracket")
        assert app.sim.scenario.batch_size == 2
        await pilot.press("greater_than_sign")
        assert app.sim.scenario.lr == 0.1
        await pilot.press("o")
        assert app.sim.scenario.optimizer == "momentum"
        await pilot.press("m")
        assert app.sim.scenario.sampling == "once"
        await pilot.press("left")                     # back across the change undoes it
        await pilot.press("left")
        assert app.sim.iteration == 0
