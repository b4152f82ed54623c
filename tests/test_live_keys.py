"""Changing the run live from the app: the live keys, presets, the x axis and landscape actions,
screenshots, the command palette, and the same mixin (tui.live.LiveActions) on the real MbsimApp.

Pilot tests on the small host App of tests/settings_host.py.
"""

from __future__ import annotations

from textual.command import CommandPalette

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import load_preset, preset_names
from mbsim.tui.commands import MbsimCommands, commands_for
from mbsim.tui.live import LiveActions

from settings_host import HostApp, drive, open_settings, set_field


# ------------------------------------------------------------------------------------------------
# live keys in the app
def test_bracket_keys_give_powers_of_two():
    app = HostApp()

    async def script(pilot):
        await pilot.press("]")
        assert app.sim.scenario.batch_size == 8
        assert app.notes[-1] == "B = 8: 25 batches per epoch, mini-batch GD"
        assert "B=8" in app.header_text and "Batch 0/25" in app.counters_text
        await pilot.press("[")                  # back to where ] came from
        assert app.sim.scenario.batch_size == 5
        await pilot.press("[", "[")
        assert app.sim.scenario.batch_size == 2
        await pilot.press("[", "[")
        assert app.sim.scenario.batch_size == 1
        assert app.notes[-1].startswith("B = 1 already")
        seen = []
        for _ in range(10):                      # 2, 4, 5 retraced; then the powers of two, N
            await pilot.press("]")
            seen.append(app.sim.scenario.batch_size)
        assert seen == [2, 4, 5, 8, 16, 32, 64, 128, 200, 200]
        assert app.notes[-1].startswith("B = 200 already")
        await pilot.press("[")
        assert app.sim.scenario.batch_size == 128

    drive(app, script)


def test_lr_keys_change_the_lr_shown():
    app = HostApp()

    async def script(pilot):
        await pilot.press(">")
        assert app.notes[-1] == "lr 0.05 → 0.1" and app.header_text.endswith("lr 0.1")
        await pilot.press("<", "<")
        assert app.header_text.endswith("lr 0.025")
        await pilot.press("o")
        assert app.notes[-1] == "optimizer: SGD momentum 0.9 (fresh state; parameters kept)"
        await pilot.press("m")
        assert app.notes[-1].startswith("sampling: once")

    drive(app, script)


def test_each_preset_loads():
    app = HostApp()

    async def script(pilot):
        for k, name in enumerate(preset_names(), 1):
            await app.run_action(f"load_preset({name!r})")
            await pilot.pause()
            assert app.sim.scenario.name == name and app.replaced == k
            assert app.sim.iteration == 0
            assert app.notes[-1] == f"preset {name}: {load_preset(name).description}"
            await pilot.press("n")
            assert app.sim.iteration == 1

    drive(app, script)


def test_an_unknown_preset_is_refused():
    app = HostApp()

    async def script(pilot):
        sim = app.sim
        await app.run_action("load_preset('nope')")
        assert app.sim is sim and app.notes[-1].startswith("preset 'nope': allowed:")

    drive(app, script)


def test_x_axis_and_landscape_actions():
    app = HostApp(load_preset("xor-mlp"))

    async def script(pilot):
        await app.run_action("x_axis('epochs')")
        assert app.lossplot.x_axis == "epochs"
        await app.run_action("x_axis('parsecs')")
        assert app.lossplot.x_axis == "epochs" and "parsecs" in app.notes[-1]
        await app.run_action("landscape_params(2, 5)")
        assert app.landscape.pair == (2, 5)
        await app.run_action("landscape_params(3, 3)")
        await app.run_action("landscape_params(0, 999)")
        assert app.landscape.pair == (2, 5)
        assert "choose two different parameters" in app.notes[-1]

    drive(app, script)


def test_screenshot_saves_an_svg_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = HostApp()

    async def script(pilot):
        await app.run_action("screenshot")
        files = list(tmp_path.glob("mbsim-*.svg"))
        assert len(files) == 1 and files[0].read_text().startswith("<svg")
        assert app.notes[-1] == f"screenshot saved: {files[0]}"
        await app.run_action("screenshot")
        assert len(list(tmp_path.glob("mbsim-*.svg"))) == 2

    drive(app, script)


def test_system_commands_keep_theme_and_lose_textuals_screenshot():
    app = HostApp()

    async def script(pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Theme" in titles and "Quit" in titles and "Screenshot" not in titles

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# the palette
def test_palette_commands_list_presets_axes_and_pairs():
    app = HostApp(load_preset("xor-mlp"))
    texts = [c.text for c in commands_for(app)]
    for name in preset_names():
        assert f"Preset: {name}" in texts
    assert "Loss plot x axis: samples" in texts and "Save scenario…" in texts and "Screenshot" in texts
    n = app.sim.model.n_params
    assert sum(t.startswith("Landscape:") for t in texts) == n * (n - 1) // 2
    assert not [c for c in commands_for(HostApp()) if c.text.startswith("Landscape:")]  # w and b only


def test_palette_loads_a_preset():
    app = HostApp()

    async def script(pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert CommandPalette.is_open(app)
        await pilot.press(*"preset: adam")
        for _ in range(40):
            await pilot.pause(0.05)
            if app.screen.query("CommandList").first().option_count:
                break
        await pilot.press("down", "enter")
        for _ in range(40):
            await pilot.pause(0.05)
            if app.replaced:
                break
        assert app.sim.scenario.name == "adam"
        assert not CommandPalette.is_open(app)

    drive(app, script)


# ------------------------------------------------------------------------------------------------
# the mixin on the real app
def test_live_actions_on_the_real_app():
    from mbsim.tui.app import MbsimApp

    app = MbsimApp(Scenario(), animate=False)
    assert isinstance(app, LiveActions) and MbsimCommands in MbsimApp.COMMANDS

    async def script(pilot):
        await pilot.press("n", "]", ">")
        assert "Batch 0/25" in app.counters_line.text
        assert "lr 0.1" in app.header.text
        await pilot.press("n")
        assert "Batch 1/25" in app.counters_line.text and "Iteration 2" in app.counters_line.text
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "dataset", "moons")
        await pilot.press("enter")
        await pilot.pause()
        assert app.sim.scenario.dataset == "moons" and app.sim.iteration == 0
        await app.run_action("load_preset('sgd')")
        assert "sgd" in app.header.text

    drive(app, script)


def test_the_last_iteration_is_still_readable_after_a_live_change():
    sim = Simulation(Scenario())
    sim.step_iteration()
    sim.apply_changes(batch_size=8)
    assert sim.last.position.batch_in_epoch == 0    # the strip and the detail line read this
