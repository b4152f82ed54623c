"""Snapshots of the settings screen (80×24 and 120×40), the palette listing presets and the save
prompt (pytest-textual-snapshot).

They run over the small host app of tests/settings_host.py, so they do not change when the main
screen does. Update with ``--snapshot-update`` and look at every changed SVG before committing it.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from mbsim.engine import Scenario
from settings_host import HostApp, set_field  # tests/ is on sys.path (pytest's rootdir insertion)

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


async def _open_settings(pilot) -> None:
    await pilot.pause()
    await pilot.press("n", "n")
    await pilot.press("s")
    await pilot.pause()


@pytest.mark.parametrize("size", list(SIZES))
def test_settings_screen(snap_compare, size):
    async def run_before(pilot) -> None:
        await _open_settings(pilot)

    assert snap_compare(HostApp(Scenario()), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", list(SIZES))
def test_settings_screen_edited(snap_compare, size):
    """An invalid batch size (the engine's message under it) and a valid change of lr."""

    async def run_before(pilot) -> None:
        await _open_settings(pilot)
        screen = pilot.app.screen
        await set_field(pilot, screen, "lr", "0.1")
        await set_field(pilot, screen, "batch_size", "500")
        await pilot.pause()

    assert snap_compare(HostApp(Scenario()), terminal_size=SIZES[size], run_before=run_before)


def test_settings_screen_new_simulation(snap_compare):
    """A change of data: the status says a new simulation starts."""

    async def run_before(pilot) -> None:
        await _open_settings(pilot)
        screen = pilot.app.screen
        await set_field(pilot, screen, "dataset", "moons")
        await set_field(pilot, screen, "batch_size", "8")
        await pilot.pause()

    assert snap_compare(HostApp(Scenario()), terminal_size=(120, 40), run_before=run_before)


def test_palette_lists_presets(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        pilot.app.screen.query_one(Input).cursor_blink = False   # Textual's palette blinks
        await pilot.press(*"preset")
        for _ in range(100):          # the palette gathers its hits in a worker
            await pilot.pause(0.05)
            lists = pilot.app.screen.query("CommandList")
            if lists and lists.first().option_count >= 16:
                break
        await pilot.pause(0.3)

    assert snap_compare(HostApp(Scenario()), terminal_size=(120, 40), run_before=run_before)


def test_save_prompt(snap_compare, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "worked-example.toml").write_text("# an earlier save\n")

    async def run_before(pilot) -> None:
        await pilot.pause()
        await pilot.app.run_action("save_scenario")
        await pilot.pause()
        await pilot.press("enter")           # the file exists: the prompt asks again
        await pilot.pause()
        field = pilot.app.screen.query_one("#save-path", Input)
        field.cursor_position = len(field.value)
        await pilot.pause()

    # the path shown depends on tmp_path: hide it (the test checks the words, not the folder)
    app = HostApp(Scenario())
    assert snap_compare(app, terminal_size=(80, 24), run_before=_masked(run_before, tmp_path))


def _masked(run_before, folder):  # noqa: ANN001, ANN202
    async def run(pilot) -> None:
        await run_before(pilot)
        where = pilot.app.screen.query_one("#save-where")
        where.update(str(where.render()).replace(str(folder), "/tmp/lesson"))
        await pilot.pause()

    return run
