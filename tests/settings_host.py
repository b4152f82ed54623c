"""A small host App for the live-change tests (tests/test_settings_screen.py, test_live_keys.py,
test_save.py): it has what the real app gives tui.live.LiveActions: ``sim``, ``replace_simulation``,
``refresh_all``, ``running``/``pause``/``start_running``, and the two panels the palette talks to
(recorded, not drawn); ``notify`` is recorded in ``notes`` as well as shown.
"""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input, Select, Static, Switch

from mbsim.engine import Scenario, ScenarioError, Simulation
from mbsim.engine.scenario import parse_value
from mbsim.tui.commands import MbsimCommands
from mbsim.tui.live import LiveActions
from mbsim.tui.screens.settings import SettingsScreen


# ------------------------------------------------------------------------------------------------
# the host app
class FakeLossPlot(Static):
    def __init__(self) -> None:
        super().__init__("loss plot", id="lossplot")
        self.x_axis = "steps"

    def set_x_axis(self, axis: str) -> None:
        if axis not in ("steps", "epochs", "samples"):
            raise ValueError(f"x axis must be one of steps, epochs, samples, not {axis!r}")
        self.x_axis = axis


class FakeLandscape(Static):
    def __init__(self) -> None:
        super().__init__("landscape", id="landscape")
        self.pair = (0, 1)

    def set_params(self, i: int, j: int) -> None:
        if i == j:
            raise ValueError("the two parameters shown must differ")
        self.pair = (i, j)


class HostApp(LiveActions, App):
    """Just enough of the mbsim app for the live actions: a header, the counters, two panels."""

    CSS = "#header, #counters { height: 1; } #panels { height: 1fr; }"
    COMMANDS = App.COMMANDS | {MbsimCommands}
    BINDINGS = [
        Binding("n", "step", "batch"),
        Binding("left_square_bracket", "batch_smaller", "B smaller", key_display="["),
        Binding("right_square_bracket", "batch_larger", "B larger", key_display="]"),
        Binding("less_than_sign", "lr_half", "lr/2", key_display="<"),
        Binding("greater_than_sign", "lr_double", "lr×2", key_display=">"),
        Binding("o", "cycle_optimizer", "optimizer"),
        Binding("m", "cycle_sampling", "sampling"),
        Binding("s", "settings", "settings"),
    ]

    def __init__(self, scenario: Scenario | None = None) -> None:
        super().__init__()
        self.sim = Simulation(scenario or Scenario())
        self.running = False
        self.replaced = 0
        self.refreshed = 0
        self.notes: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(id="header")
        yield Static(id="counters")
        self.lossplot = FakeLossPlot()
        self.landscape = FakeLandscape()
        yield self.lossplot
        yield self.landscape

    def on_mount(self) -> None:
        self.show()

    @property
    def header_text(self) -> str:
        sc = self.sim.scenario
        return (f"{sc.name}  {self.sim.plan.algorithm}  B={sc.batch_size}  "
                f"{self.sim.optimizer.describe()}  lr {sc.lr:g}")

    @property
    def counters_text(self) -> str:
        return self.sim.counters().text()

    def show(self) -> None:
        self.query_one("#header", Static).update(self.header_text)
        self.query_one("#counters", Static).update(self.counters_text)

    # what LiveActions needs
    def replace_simulation(self, sim: Simulation) -> None:
        self.pause()
        self.sim = sim
        self.replaced += 1
        self.show()

    def refresh_all(self) -> None:
        self.refreshed += 1
        self.show()

    def pause(self) -> None:
        self.running = False

    def start_running(self) -> None:
        self.running = True

    def notify(self, message: str, **kwargs) -> None:  # noqa: ANN003
        self.notes.append(message)
        super().notify(message, **kwargs)

    def action_step(self) -> None:
        self.sim.step_iteration()
        self.show()


def drive(app: App, script, size=(120, 40)) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


async def open_settings(pilot) -> SettingsScreen:
    await pilot.press("s")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, SettingsScreen)
    return screen


async def set_field(pilot, screen: SettingsScreen, key: str, value, typing: bool = False) -> None:  # noqa: ANN001
    """Set a setting: type into an input (or set its text), pick in a select, flip a switch."""
    control = screen.controls[key]
    if isinstance(control, Input):
        control.focus()
        await pilot.pause()
        if typing:
            control.value = ""
            await pilot.press(*list(str(value)))
        else:
            control.value = str(value)
    elif isinstance(control, Select):
        control.value = value
    else:
        assert isinstance(control, Switch)
        if control.value != value:
            control.focus()
            await pilot.pause()
            await pilot.press("space")
    await pilot.pause()


def engine_message(key: str, text: str, base: Scenario | None = None) -> str:
    """What the engine says about typing ``text`` for ``key``."""
    try:
        value = parse_value(key, text)
        (base or Scenario()).replace(**{key: value}).validate()
    except ScenarioError as err:
        return str(err)
    raise AssertionError(f"{key}={text!r} is valid")
