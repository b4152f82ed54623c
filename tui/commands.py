"""mbsim's commands for Textual's command palette (``ctrl+p``).

:class:`MbsimCommands` offers: load a preset (with its description), the loss plot's x axis,
the two parameters of the landscape (models with more than two), save the scenario, a
screenshot, and the settings screen. Each command runs an app action by name (see
tui.live.LiveActions), so the App only adds the provider::

    COMMANDS = App.COMMANDS | {MbsimCommands}

Textual's own system commands (theme, quit, keys) stay.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import NamedTuple

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.screen import ModalScreen

from mbsim.engine.scenario import presets

from .widgets._lossplot_axes import X_AXES

X_AXIS_HELP = {
    "steps": "count the loss plot's x axis in optimizer steps",
    "epochs": "count the loss plot's x axis in epochs",
    "samples": "count the loss plot's x axis in samples seen",
}
MAX_DISCOVERED_PAIRS = 6


class Command(NamedTuple):
    """One palette entry: what it says, a line of help, the app action it runs."""

    text: str
    help: str
    action: str
    discover: bool = True


_PRESETS: list[tuple[str, str]] | None = None


def preset_list() -> list[tuple[str, str]]:
    """(name, description) of the built-in presets (read once)."""
    global _PRESETS
    if _PRESETS is None:
        _PRESETS = presets()
    return _PRESETS


def commands_for(app: object) -> Iterator[Command]:
    """Every command for the app's current run, in the order the palette lists them."""
    web = bool(getattr(app, "is_web", False))  # in a browser files are downloads, never written
    yield Command("Settings…", "every setting of the scenario (key s)", "settings")
    if web:
        yield Command("Download scenario", "the settings in force as a TOML file, downloaded by "
                      "your browser", "save_scenario")
    else:
        yield Command("Save scenario…", "write the settings in force to a TOML file", "save_scenario")
    yield Command("Batch-size lab", "steps vs examples to reach a loss, over batch sizes (key b)", "lab")
    yield Command("Screenshot", "download an SVG picture of the screen (key S)" if web else
                  "save an SVG picture of the screen in the working directory", "screenshot")
    yield Command("Noise cloud", "K runs of this scenario with different sampling seeds, their spread "
                  "measured and predicted (key k)", "cloud")
    for axis in X_AXES:
        yield Command(f"Loss plot x axis: {axis}", X_AXIS_HELP[axis], f"x_axis({axis!r})")
    for name, description in preset_list():
        yield Command(f"Preset: {name}", description, f"load_preset({name!r})")
    sim = getattr(app, "sim", None)
    model = getattr(sim, "model", None)
    names = tuple(getattr(model, "param_names", ()))
    if len(names) > 2:
        pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
        shown = tuple(getattr(getattr(app, "landscape", None), "pair", ()))
        for k, (i, j) in enumerate(pairs):
            now = " (shown now)" if (i, j) == shown else ""
            yield Command(
                f"Landscape: {names[i]} × {names[j]}",
                f"the loss landscape over parameters {names[i]} (across) and {names[j]} (up){now}",
                f"landscape_params({i}, {j})",
                discover=k < MAX_DISCOVERED_PAIRS or len(pairs) <= MAX_DISCOVERED_PAIRS,
            )


class MbsimCommands(Provider):
    """Presets, plot axes, landscape parameters, save, screenshot and settings."""

    def _commands(self) -> list[Command]:
        # over compare mode, the settings, save or help screens: only the screenshot (the
        # other commands act on the main screen's run)
        if isinstance(self.screen, ModalScreen) or self.screen is not self.app.screen_stack[0]:
            return [cmd for cmd in commands_for(self.app) if cmd.action == "screenshot"]
        return list(commands_for(self.app))

    def _run(self, action: str):  # noqa: ANN202
        return partial(self.app.run_action, action)

    async def discover(self) -> Hits:
        for cmd in self._commands():
            if cmd.discover:
                yield DiscoveryHit(Content(cmd.text), self._run(cmd.action), text=cmd.text,
                                   help=Content(cmd.help))  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for cmd in self._commands():
            score = matcher.match(cmd.text)
            if score > 0:
                yield Hit(score, matcher.highlight(cmd.text), self._run(cmd.action), text=cmd.text,
                          help=Content(cmd.help))  # type: ignore[arg-type]
