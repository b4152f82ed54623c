"""The app in a browser tab (``mbsim serve``) never writes the server's files (issue 23, item 1).

Every file a session makes is offered to the browser as a download (``App.deliver_text``):
the screenshot (``S``) and the scenario (ctrl+p, which on a terminal asks for a path). The app
here is the real :class:`tui.app.MbsimApp`, told it runs under the web driver (``is_web``) with
its deliveries recorded instead of sent; tests/test_serve_hostile.py does the same through a
real server and its download URL.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import from_toml_text, load_preset
from mbsim.tui import app as tui_app
from mbsim.tui.app import MbsimApp
from mbsim.tui.commands import commands_for
from mbsim.tui.screens.save import SavePrompt


class BrowserApp(MbsimApp):
    """MbsimApp as under Textual's web driver; what it delivers is kept in ``delivered``."""

    CSS_PATH = str(Path(tui_app.__file__).parent / "app.tcss")  # relative to MbsimApp's module

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.delivered: list[dict] = []

    @property
    def is_web(self) -> bool:
        return True

    def deliver_text(self, path_or_file, *, save_directory=None, save_filename=None,  # noqa: ANN001
                     open_method="download", encoding=None, mime_type=None, name=None) -> str | None:
        assert isinstance(path_or_file, io.StringIO)  # text made in memory, never a path
        self.delivered.append({"text": path_or_file.getvalue(), "name": save_filename,
                               "open_method": open_method, "mime_type": mime_type,
                               "encoding": encoding, "save_directory": save_directory})
        return None


def drive(app: MbsimApp, script) -> None:  # noqa: ANN001
    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


def test_in_a_browser_save_scenario_is_a_download_and_no_prompt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = BrowserApp(Simulation(load_preset("momentum")), animate=False)

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("n", "]", ">")  # live changes: the file holds the settings in force
        await pilot.pause()
        await app.run_action("save_scenario")
        await pilot.pause()
        assert not isinstance(app.screen, SavePrompt)  # no path is asked for
        (offer,) = app.delivered
        assert offer["name"] == "momentum.toml" and offer["open_method"] == "download"
        assert offer["mime_type"] == "application/toml" and offer["encoding"] == "utf-8"
        assert offer["save_directory"] is None
        saved = from_toml_text(offer["text"])
        assert saved == app.sim.scenario.replace(description=saved.description)
        assert saved.batch_size == 8 and saved.lr == 2 * load_preset("momentum").lr  # 5 → 8: the next power of two
        assert "changed live" in saved.description

    drive(app, script)
    assert list(tmp_path.iterdir()) == []


def test_in_a_browser_the_screenshot_is_a_download(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = BrowserApp(Scenario(), animate=False)

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("S")
        await pilot.pause()
        (offer,) = app.delivered
        assert offer["name"].startswith("mbsim-") and offer["name"].endswith(".svg")
        assert offer["mime_type"] == "image/svg+xml" and offer["text"].startswith("<svg")

    drive(app, script)
    assert list(tmp_path.iterdir()) == []


def test_the_save_prompt_refuses_to_write_in_a_browser_even_if_reached(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious.toml").write_text("# the teacher's\n")
    app = BrowserApp(Scenario(), animate=False)

    async def script(pilot) -> None:  # noqa: ANN001
        prompt = SavePrompt(Scenario(), cwd=tmp_path)
        app.push_screen(prompt)
        await pilot.pause()
        for typed in ("new.toml", "precious.toml"):
            prompt.query_one("#save-path").value = typed
            for _ in range(2):  # a second enter would confirm a replacement on a terminal
                await pilot.press("enter")
                await pilot.pause()
            assert app.screen is prompt
            assert prompt.message == "a browser session cannot write files on the server"

    drive(app, script)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious.toml"]
    assert (tmp_path / "precious.toml").read_text() == "# the teacher's\n"


def test_in_a_browser_the_palette_says_download():
    web = {c.text: c for c in commands_for(BrowserApp(Scenario()))}
    assert "Download scenario" in web and "Save scenario…" not in web
    assert web["Download scenario"].action == "save_scenario"
    assert web["Screenshot"].help.startswith("download")
    terminal = {c.text: c for c in commands_for(MbsimApp(Scenario()))}
    assert "Save scenario…" in terminal and "Download scenario" not in terminal
    assert "working directory" in terminal["Screenshot"].help


def test_the_screenshot_name_offered_is_only_a_name(tmp_path, monkeypatch):
    """A path given with the screenshot action is reduced to its last part (the browser saves
    where its user says; the server's folders are never named)."""
    monkeypatch.chdir(tmp_path)
    app = BrowserApp(Scenario(), animate=False)

    async def script(pilot) -> None:  # noqa: ANN001
        app.action_screenshot(filename="../../etc/x.svg", path="/etc")
        await pilot.pause()
        (offer,) = app.delivered
        assert offer["name"] == "x.svg" and Path(offer["name"]).name == offer["name"]

    drive(app, script)
    assert list(tmp_path.iterdir()) == []
