"""The save prompt: write the scenario in force as a TOML file that ``mbsim --scenario`` reads.

It asks for a path (default ``<scenario name>.toml`` in the working directory), checks it as it
is typed (a missing folder, a folder that cannot be written, a path that is a folder: refused
with a clear message), never overwrites a file without a second confirmation, creates a new file exclusively
(:func:`tui.files.write_new`: never through a link) and replaces a confirmed one atomically with
:func:`engine.scenario.write_toml`. It dismisses with the absolute path written,
or None when cancelled.

Never in a browser: under ``mbsim serve`` the app offers the TOML as a download instead (see
:meth:`tui.live.LiveActions.action_save_scenario`), and this prompt refuses to write if reached.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from mbsim.engine import Scenario
from mbsim.engine.scenario import write_toml

from ..files import write_new


def default_filename(scenario: Scenario) -> str:
    """``<name>.toml``, with anything but letters, digits, ``.``, ``_`` and ``-`` made a ``-``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario.name).strip("-.") or "scenario"
    return f"{stem}.toml"


def check_path(text: str, cwd: Path | None = None) -> tuple[Path | None, str]:
    """The path to write for ``text`` (None if it cannot be written) and a message (or '')."""
    raw = text.strip()
    if not raw:
        return None, "type a file name, e.g. my-scenario.toml"
    if "\0" in raw:
        return None, "a file name cannot contain a NUL character"
    base = cwd or Path.cwd()
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = base / path
    try:
        if path.is_dir():
            return None, f"{path} is a folder; add a file name, e.g. {path / 'scenario.toml'}"
        if raw.endswith(("/", os.sep)):
            return None, f"{raw} names a folder; add a file name"
        parent = path.parent
        if not parent.exists():
            return None, f"the folder {parent} does not exist"
        if not parent.is_dir():
            return None, f"{parent} is not a folder"
        if not os.access(parent, os.W_OK | os.X_OK):
            return None, f"cannot write in the folder {parent} (permission denied)"
        if path.is_symlink():
            return None, f"{path} is a link; choose another name (links are never followed)"
        if path.exists() and not path.is_file():
            return None, f"{path} is not a regular file; choose another name"
        if path.exists() and not os.access(path, os.W_OK):
            return None, f"{path} is read-only; choose another name"
    except OSError as err:  # e.g. a name too long for the file system
        return None, f"cannot use {raw}: {err.strerror or err}"
    return path, ""


class SavePrompt(ModalScreen[Path | None]):
    """Ask where to save the scenario; see the module docstring."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    DEFAULT_CSS = """
    SavePrompt {
        align: center middle;
        background: $background 60%;
    }
    #save-box {
        width: 76;
        max-width: 100%;
        height: auto;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    #save-label { color: $text; }
    #save-path {
        margin: 1 0 0 0;
        background: $boost;
    }
    #save-path:focus { background: $primary 25%; }
    #save-where { color: $text-muted; height: auto; }
    #save-message { height: auto; min-height: 1; margin-top: 1; }
    #save-message.-error { color: $error; }
    #save-message.-warning { color: $warning; }
    #save-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    #save-buttons Button { margin-left: 1; min-width: 10; }
    #save-cancel { background: $panel; }
    """

    def __init__(self, scenario: Scenario, *, cwd: Path | None = None) -> None:
        super().__init__()
        self.scenario = scenario
        self.cwd = cwd or Path.cwd()
        self.confirm_path: Path | None = None     # the existing file the user agreed to replace
        self.message = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="save-box") as box:
            box.border_title = "save the scenario"
            box.border_subtitle = "enter: save · escape: cancel"
            yield Static("Every setting in force, as TOML; mbsim --scenario FILE opens it.",
                         id="save-label", markup=False)
            yield Input(default_filename(self.scenario), id="save-path", compact=True,
                        select_on_focus=False)
            yield Static("", id="save-where", markup=False)
            yield Static("", id="save-message", markup=False)
            with Horizontal(id="save-buttons"):
                yield Button("Cancel", id="save-cancel", compact=True)
                yield Button("Save", id="save-ok", variant="primary", compact=True)

    def on_mount(self) -> None:
        field = self.query_one("#save-path", Input)
        field.cursor_blink = False    # a paused app writes nothing to the terminal (DESIGN.md, SSH)
        field.focus()
        self._check()

    # ------------------------------------------------------------------------------------------
    @property
    def path_text(self) -> str:
        return self.query_one("#save-path", Input).value

    def _say(self, text: str, kind: str = "") -> None:
        self.message = text
        msg = self.query_one("#save-message", Static)
        msg.update(text)
        msg.set_class(kind == "error", "-error")
        msg.set_class(kind == "warning", "-warning")

    def _check(self) -> Path | None:
        """Check the path as typed: where it goes, what is wrong, whether it would overwrite."""
        path, problem = check_path(self.path_text, self.cwd)
        where = self.query_one("#save-where", Static)
        ok = self.query_one("#save-ok", Button)
        if path is None:
            where.update("")
            self._say(problem, "error")
            ok.label = "Save"
            ok.disabled = True
            return None
        where.update(f"→ {path}")
        ok.disabled = False
        if path.exists():
            if self.confirm_path == path:
                self._say(f"{path.name} exists: Save again to replace it, or change the name.", "warning")
                ok.label = "Replace"
            else:
                self._say(f"{path.name} already exists (Save asks before replacing it).", "warning")
                ok.label = "Save"
        else:
            self._say("")
            ok.label = "Save"
        return path

    @on(Input.Changed, "#save-path")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.confirm_path = None
        self._check()

    @on(Input.Submitted, "#save-path")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#save-ok")
    def _ok(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#save-cancel")
    def _cancel(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_save(self) -> None:
        """Write the file (asking once more before replacing an existing one)."""
        if self.app.is_web:  # never reached through the app (it offers a download); a safeguard
            self._say("a browser session cannot write files on the server", "error")
            self.app.bell()
            return
        path = self._check()
        if path is None:
            self.app.bell()
            return
        if path.exists() and self.confirm_path != path:
            self.confirm_path = path
            self._check()
            return
        try:
            if path.exists():       # confirmed: replaced atomically (a rename never follows a link)
                written = write_toml(self.scenario, path)
            else:                   # created exclusively: a link planted meanwhile is not followed
                written = write_new(path, self.scenario.to_toml())
        except FileExistsError:
            self._say(f"{path} appeared meanwhile; nothing written — save again to choose", "error")
            self.app.bell()
            return
        except OSError as err:
            self._say(f"could not save {path}: {err.strerror or err}", "error")
            self.app.bell()
            return
        self.dismiss(Path(os.path.abspath(written)))

    def action_cancel(self) -> None:
        self.dismiss(None)
