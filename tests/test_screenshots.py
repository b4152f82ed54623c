"""Screenshots on every screen, created exclusively (issue 10, item 9): ``S`` and the palette save
an SVG and say where; a screenshot, a saved scenario or the save prompt never follows a planted
link nor overwrites a file.
"""

from __future__ import annotations

import pytest

from mbsim.engine import Scenario

from truth_helpers import NotedApp, drive


# ------------------------------------------------------------------------------------------------
# item 9: screenshots on every screen, created exclusively
def _svgs(folder) -> list:
    return sorted(p for p in folder.glob("mbsim-*.svg") if p.is_file() and not p.is_symlink())


@pytest.mark.parametrize("where", ["compare", "help", "lens", "phase", "settings"])
def test_S_takes_a_screenshot_on_every_screen_and_says_where(where, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = NotedApp(Scenario(), animate=False, throttle=False)
    opener = {"compare": "c", "help": "question_mark", "lens": "l", "phase": "d", "settings": "s"}[where]

    async def script(pilot):
        await pilot.press("n", opener)
        await pilot.pause()
        if where == "settings":
            app.screen.focus_next()     # away from a text field (there S is a letter typed)
            app.set_focus(None)
            await pilot.pause()
        shown = app.screen
        await pilot.press("S")
        await pilot.pause()
        files = _svgs(tmp_path)
        assert len(files) == 1, where
        svg = files[0].read_text()
        assert svg.startswith("<svg")
        marker = {"compare": "Batch GD", "help": "help", "lens": "lens", "phase": "phase view",
                  "settings": "batch_size"}[where]
        assert marker.replace(" ", "&#160;") in svg or marker in svg
        assert app.screen is shown                            # the screen stays as it was
        assert any(str(files[0]) in note for note in app.notes), app.notes

    drive(app, script)


def test_the_palette_takes_a_screenshot_in_compare_mode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = NotedApp(Scenario(), animate=False, throttle=False)

    async def script(pilot):
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"screenshot")
        for _ in range(60):
            await pilot.pause(0.05)
            if app.screen.query("CommandList").first().option_count:
                break
        await pilot.press("down", "enter")
        for _ in range(60):
            await pilot.pause(0.05)
            if _svgs(tmp_path):
                break
        files = _svgs(tmp_path)
        assert len(files) == 1
        assert "Mini-batch" in files[0].read_text().replace("&#160;", " ")
        assert any(str(files[0]) in note for note in app.notes)

    drive(app, script)


def test_a_screenshot_never_follows_a_planted_link_nor_overwrites(tmp_path):
    app = NotedApp(Scenario(), animate=False, throttle=False)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "shot.svg").symlink_to(tmp_path / "nowhere.svg")      # dangling
    (tmp_path / "shot-2.svg").symlink_to(victim)                       # to an existing file
    (tmp_path / "shot-3.svg").write_text("an older picture")

    async def script(pilot):
        app.action_screenshot(filename="shot.svg", path=str(tmp_path))
        assert not (tmp_path / "nowhere.svg").exists()
        assert victim.read_text() == "keep me"
        assert (tmp_path / "shot-3.svg").read_text() == "an older picture"
        made = tmp_path / "shot-4.svg"
        assert made.is_file() and not made.is_symlink()
        assert made.read_text().startswith("<svg")
        assert any(str(made) in note for note in app.notes)

    drive(app, script)


def test_write_new_refuses_links_and_existing_files(tmp_path):
    from mbsim.tui.files import create_numbered, write_new

    (tmp_path / "a.toml").symlink_to(tmp_path / "elsewhere.toml")
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "a.toml", "x = 1\n")
    assert not (tmp_path / "elsewhere.toml").exists()
    (tmp_path / "b.toml").write_text("old")
    with pytest.raises(FileExistsError):
        write_new(tmp_path / "b.toml", "new")
    assert (tmp_path / "b.toml").read_text() == "old"
    assert create_numbered(tmp_path, "b", ".toml", "new") == tmp_path / "b-2.toml"


def test_the_save_prompt_refuses_a_link(tmp_path):
    from mbsim.tui.screens.save import check_path

    (tmp_path / "s.toml").symlink_to(tmp_path / "target.toml")
    path, message = check_path("s.toml", tmp_path)
    assert path is None and "link" in message
