"""Saving the scenario in force (``save_scenario``): the file name offered, path checks, never
overwriting without asking, and every preset round-tripping through a TOML file.

Pilot tests on the small host App of tests/settings_host.py.
"""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import from_toml, load_preset, preset_names
from mbsim.tui.screens.save import SavePrompt, check_path, default_filename

from settings_host import HostApp, drive


# ------------------------------------------------------------------------------------------------
# saving
def test_default_filename_and_path_checks(tmp_path):
    assert default_filename(Scenario()) == "worked-example.toml"
    assert default_filename(Scenario(name="my run/2")) == "my-run-2.toml"
    assert default_filename(Scenario(name="///")) == "scenario.toml"
    assert check_path("a.toml", tmp_path) == (tmp_path / "a.toml", "")
    assert check_path("  ", tmp_path)[1].startswith("type a file name")
    assert check_path("missing/a.toml", tmp_path)[1] == f"the folder {tmp_path / 'missing'} does not exist"
    (tmp_path / "sub").mkdir()
    path, problem = check_path("sub", tmp_path)
    assert path is None and "is a folder" in problem
    (tmp_path / "file").write_text("x")
    assert check_path("file/a.toml", tmp_path)[1] == f"{tmp_path / 'file'} is not a folder"


async def _save(pilot, typed: str) -> SavePrompt:
    await pilot.app.run_action("save_scenario")
    await pilot.pause()
    prompt = pilot.app.screen
    assert isinstance(prompt, SavePrompt)
    field = prompt.query_one("#save-path", Input)
    field.value = ""
    await pilot.press(*typed)
    await pilot.press("enter")
    await pilot.pause()
    return prompt


def test_save_then_load_round_trips(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = HostApp(load_preset("momentum"))

    async def script(pilot):
        await pilot.press("n", "]", ">", "m")             # live changes are saved too
        await app.run_action("save_scenario")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, SavePrompt)
        assert prompt.path_text == "momentum.toml"
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, SavePrompt)
        path = tmp_path / "momentum.toml"
        saved = from_toml(path)
        # every setting as in force; the description says what changed (not the preset's words)
        assert saved == app.sim.scenario.replace(description=saved.description)
        assert "batch_size" in saved.description and saved.description != load_preset("momentum").description
        assert Simulation(saved).scenario == app.sim.scenario.replace(description=saved.description)
        assert str(path) in app.notes[-1]

    drive(app, script)


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_round_trips_through_a_file(tmp_path, name):
    from mbsim.engine.scenario import write_toml

    scenario = Simulation(load_preset(name)).scenario
    write_toml(scenario, tmp_path / "s.toml")
    assert from_toml(tmp_path / "s.toml") == scenario


def test_save_never_overwrites_without_asking(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "mine.toml"
    target.write_text("# precious\n")
    app = HostApp()

    async def script(pilot):
        prompt = await _save(pilot, "mine.toml")
        assert app.screen is prompt                       # asked, not written
        assert target.read_text() == "# precious\n"
        assert "Save again to replace it" in prompt.message
        await pilot.press("enter")                        # the second confirmation
        await pilot.pause()
        assert app.screen is not prompt
        assert from_toml(target) == app.sim.scenario

    drive(app, script)


def test_changing_the_name_cancels_the_confirmation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.toml").write_text("# a\n")
    app = HostApp()

    async def script(pilot):
        prompt = await _save(pilot, "a.toml")
        assert prompt.confirm_path == tmp_path / "a.toml"
        await pilot.press("backspace", "l")               # a.tomk → a.toml again: must ask again
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is prompt and (tmp_path / "a.toml").read_text() == "# a\n"
        await pilot.press("escape")
        assert app.screen is not prompt

    drive(app, script)


@pytest.mark.parametrize("bad", ["nowhere/x.toml", "sub", "sub/", ""])
def test_a_bad_path_is_refused_with_a_message(tmp_path, monkeypatch, bad):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    app = HostApp()

    async def script(pilot):
        prompt = await _save(pilot, bad) if bad else None
        if prompt is None:
            await app.run_action("save_scenario")
            await pilot.pause()
            prompt = app.screen
            prompt.query_one("#save-path", Input).value = ""
            await pilot.press("enter")
            await pilot.pause()
        assert app.screen is prompt
        assert prompt.message and prompt.query_one("#save-ok").disabled
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sub"]
        await pilot.press("escape")

    drive(app, script)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a folder root cannot be kept out of")
def test_an_unwritable_folder_is_refused(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    monkeypatch.chdir(tmp_path)
    app = HostApp()

    async def script(pilot):
        prompt = await _save(pilot, "locked/x.toml")
        assert app.screen is prompt and "permission denied" in prompt.message

    try:
        drive(app, script)
    finally:
        locked.chmod(0o700)
