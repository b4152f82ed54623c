"""Changing the run live: the settings screen, the live keys, presets, the palette, save, screenshots.

Pilot tests run a small host App (:class:`HostApp`) that has what the real app gives
tui.live.LiveActions: ``sim``, ``replace_simulation``, ``refresh_all``, ``running``/``pause``/
``start_running``, and the two panels the palette talks to (recorded, not drawn). One test runs
the same mixin on the real MbsimApp.
"""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import Input, Select, Static, Switch

from engine import Scenario, ScenarioError, Simulation
from engine.live import (
    RESTART_SETTINGS, classify_changes, cycle, next_batch_size, next_optimizer,
    next_sampling, previous_batch_size,
)
from engine.scenario import from_toml, load_preset, parse_value, preset_names
from tui import live
from tui.commands import MbsimCommands, commands_for
from tui.live import LiveActions, batching_summary, screenshot_name
from tui.screens.save import SavePrompt, check_path, default_filename
from tui.screens.settings import SettingsResult, SettingsScreen, form_values


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


# ------------------------------------------------------------------------------------------------
# engine.live: the arithmetic of the keys
@pytest.mark.parametrize(("b", "n", "up", "down"), [
    (5, 200, 8, 4), (8, 200, 16, 4), (128, 200, 200, 64), (200, 200, 200, 128), (1, 200, 2, 1),
    (2, 200, 4, 1), (3, 200, 4, 2), (1, 1, 1, 1), (128, 256, 256, 64), (256, 256, 256, 128),
    (100, 100, 100, 64), (64, 100, 100, 32),
])
def test_power_of_two_batch_sizes(b, n, up, down):
    assert next_batch_size(b, n) == up
    assert previous_batch_size(b, n) == down


def test_batch_steps_walk_every_power_of_two_and_both_ends():
    n, b, seen = 200, 1, [1]
    while (b := next_batch_size(b, n)) != seen[-1]:
        seen.append(b)
    assert seen == [1, 2, 4, 8, 16, 32, 64, 128, 200]
    down = [200]
    while (b := previous_batch_size(b, n)) != down[-1]:
        down.append(b)
    assert down == [200, 128, 64, 32, 16, 8, 4, 2, 1]
    with pytest.raises(ValueError):
        next_batch_size(201, 200)
    with pytest.raises(ValueError):
        previous_batch_size(0, 200)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300_000), st.data())
def test_batch_steps_are_powers_of_two_between_1_and_n(n, data):
    b = data.draw(st.integers(1, n))
    up, down = next_batch_size(b, n), previous_batch_size(b, n)
    assert up == n or (up > b and up & (up - 1) == 0 and up < n and up // 2 <= b)
    assert (b == n) == (up == b)
    assert down == 1 if b <= 2 else (down < b and down & (down - 1) == 0 and down * 2 >= b)
    assert previous_batch_size(up, n) <= b and next_batch_size(down, n) >= b


def test_cycles_of_optimizer_and_sampling():
    order = ["sgd"]
    for _ in range(7):
        order.append(next_optimizer(order[-1]))
    assert order == ["sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw", "sgd"]
    assert next_sampling("replacement", classification=True) == "stratified"
    assert next_sampling("stratified", classification=True) == "reshuffle"
    assert next_sampling("replacement", classification=False) == "reshuffle"
    assert next_sampling("stratified", classification=False) == "reshuffle"
    assert cycle(("a", "b"), "zzz") == "a"


def test_classify_changes():
    old = Simulation(Scenario()).scenario                  # resolved: model linear, momentum 0
    assert classify_changes(old, Scenario()) == ({}, False)
    assert classify_changes(old, Scenario(batch_size=8, lr=0.1)) == ({"batch_size": 8, "lr": 0.1}, False)
    assert classify_changes(old, Scenario(name="other", description="x")) == ({}, False)
    changes, restart = classify_changes(old, Scenario(dataset="blobs"))
    assert restart and changes == {"dataset": "blobs", "model": "auto"}  # auto becomes logistic
    assert classify_changes(old, Scenario(seed=3)) == ({"seed": 3}, True)
    assert {"dataset", "samples", "model", "seed", "noise"} <= RESTART_SETTINGS
    assert "batch_size" not in RESTART_SETTINGS


def test_a_live_change_needs_an_epoch_left():
    sim = Simulation(Scenario(epochs=3))
    sim.run_iterations(41)                               # in epoch 2: it would restart
    with pytest.raises(ScenarioError, match="already in epoch 2; ask for at least 2"):
        sim.apply_changes(epochs=1)
    before = sim.params.copy()
    sim.apply_changes(epochs=2)                          # one epoch to go is enough
    assert np.array_equal(sim.params, before) and sim.counters().epoch == 2
    sim.run_to_end()
    with pytest.raises(ScenarioError, match="finished its 2 epochs"):
        sim.check_changes(batch_size=8)


# ------------------------------------------------------------------------------------------------
# tui.live: each key's change and its words
def test_batch_keys_from_the_worked_example():
    sim = Simulation(Scenario())
    assert live.batch_larger(sim) == "B = 8: 25 batches per epoch, mini-batch GD"
    assert sim.scenario.batch_size == 8 and sim.counters().batches == 25
    assert live.batch_smaller(sim) == "B = 4: 50 batches per epoch, mini-batch GD"
    sim = Simulation(Scenario())
    assert live.batch_smaller(sim) == "B = 4: 50 batches per epoch, mini-batch GD"


def test_batch_keys_at_the_ends():
    sim = Simulation(Scenario(batch_size=128))
    assert live.batch_larger(sim) == "B = 200: 1 batch per epoch, batch GD"
    segments = len(sim.segments)
    assert "already" in live.batch_larger(sim) and sim.scenario.batch_size == 200
    assert len(sim.segments) == segments                # nothing changed
    assert live.batch_smaller(sim) == "B = 128: 2 batches per epoch (the last of 72), mini-batch GD"
    sim = Simulation(Scenario(batch_size=1))
    text = live.batch_smaller(sim)
    assert text.startswith("B = 1 already") and "SGD" in text and sim.scenario.batch_size == 1


def test_batching_summary_mentions_leftovers_and_accumulation():
    sim = Simulation(Scenario(batch_size=32, drop_last=True, accumulate=2))
    assert batching_summary(sim.plan) == \
        "6 batches per epoch (8 samples left out), 2 per step (effective batch 64), mini-batch GD"
    sim = Simulation(Scenario(samples=1000, batch_size=10, steps_per_epoch=20))
    assert batching_summary(sim.plan) == "20 steps per epoch, 100 batches per pass, mini-batch GD"


def test_lr_keys_and_the_engines_limit():
    sim = Simulation(Scenario())
    assert live.lr_double(sim) == "lr 0.05 → 0.1"
    assert sim.scenario.lr == 0.1
    assert live.lr_half(sim) == "lr 0.1 → 0.05"
    assert live.lr_half(sim) == "lr 0.05 → 0.025"
    sim = Simulation(Scenario(lr=6e5))
    with pytest.raises(ScenarioError) as err:
        live.lr_double(sim)
    assert str(err.value) == engine_message("lr", "1.2e6")
    assert sim.scenario.lr == 6e5 and len(sim.segments) == 1


def test_optimizer_and_sampling_keys():
    sim = Simulation(Scenario())
    sim.run_iterations(3)
    params = sim.params.copy()
    words = [live.cycle_optimizer(sim) for _ in range(7)]
    assert words[0] == "optimizer: SGD momentum 0.9 (fresh state; parameters kept)"
    assert words[4] == "optimizer: Adam (fresh state; parameters kept)"
    assert words[6] == "optimizer: SGD (fresh state; parameters kept)"
    assert np.array_equal(sim.params, params)
    assert live.cycle_sampling(sim) == "sampling: once — shuffled once, then the same order every epoch"
    assert live.cycle_sampling(sim) == "sampling: sequential — the same order every epoch, never shuffled"
    assert live.cycle_sampling(sim).startswith("sampling: replacement")
    assert live.cycle_sampling(sim).startswith("sampling: reshuffle")     # a regression: no stratified
    sim = Simulation(load_preset("imbalanced"))
    seen = [sim.scenario.sampling]
    for _ in range(5):
        live.cycle_sampling(sim)
        seen.append(sim.scenario.sampling)
    assert "stratified" in seen


def test_live_keys_rescue_a_diverged_run_and_refuse_a_finished_one():
    sim = Simulation(Scenario(lr=100.0))
    sim.run_epoch()
    sim.run_epoch()
    assert sim.status == "diverged"
    last_finite = sim.params.copy()
    assert live.lr_half(sim) == "lr 100 → 50"
    assert sim.status == "ready" and np.array_equal(sim.params, last_finite)
    sim = Simulation(Scenario(epochs=1))
    sim.run_to_end()
    pending = sim.iteration
    with pytest.raises(ScenarioError, match="finished its 1 epochs"):
        live.batch_larger(sim)
    assert sim.iteration == pending and sim.scenario.batch_size == 5


def test_screenshot_name_is_timestamped_and_unique(tmp_path):
    from datetime import datetime

    when = datetime(2025, 1, 31, 14, 25, 1)
    assert screenshot_name(when, tmp_path) == "mbsim-2025-01-31-142501.svg"
    (tmp_path / "mbsim-2025-01-31-142501.svg").write_text("x")
    assert screenshot_name(when, tmp_path) == "mbsim-2025-01-31-142501-2.svg"


# ------------------------------------------------------------------------------------------------
# the settings screen
def test_an_invalid_batch_size_is_refused_with_the_engines_message():
    app = HostApp()

    async def script(pilot):
        screen = await open_settings(pilot)
        assert screen.apply_disabled                     # nothing changed yet
        for typed in ("0", "abc", "500", "2.5", "-3"):
            await set_field(pilot, screen, "batch_size", typed, typing=True)
            assert screen.controls["batch_size"].value == typed
            assert screen.message("batch_size") == engine_message("batch_size", typed)
            assert screen.fields["batch_size"].label.has_class("-invalid")
            assert screen.fields["batch_size"].message_widget.display
            assert screen.apply_disabled
            assert screen.status.startswith("✗")
            await pilot.press("enter")                  # enter does not apply either
            assert app.screen is screen
        await set_field(pilot, screen, "lr", "0.1")     # another valid change: still disabled
        assert screen.apply_disabled
        await pilot.press("escape")
        assert app.screen is not screen
        assert app.sim.scenario.batch_size == 5 and app.sim.scenario.lr == 0.05 and app.replaced == 0

    drive(app, script)


def test_batch_size_beyond_n_names_n():
    app = HostApp()

    async def script(pilot):
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "batch_size", "500")
        assert screen.message("batch_size") == (
            "batch_size 500: exceeds the 200 training samples; 200 is full-batch gradient descent")
        # a cross-field check: fewer samples than the batch names the batch size
        await set_field(pilot, screen, "batch_size", "100")
        assert screen.message("batch_size") == ""
        await set_field(pilot, screen, "samples", "50")
        assert screen.message("batch_size").startswith("batch_size 100: exceeds the 50 training samples")
        assert screen.apply_disabled

    drive(app, script)


def test_a_valid_batch_size_applies_live_and_keeps_the_parameters():
    app = HostApp()

    async def script(pilot):
        await pilot.press("n", "n", "n")
        assert app.counters_text == "Epoch 1/1000  Batch 3/40  Iteration 3  Step 3  Samples 15"
        params = app.sim.params.copy()
        sim = app.sim
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "batch_size", "8")
        assert screen.message("batch_size") == ""
        assert not screen.apply_disabled
        assert screen.status == "● applies at the next step, parameters kept: batch_size 5 → 8"
        assert screen.fields["batch_size"].was_text == "was 5"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is not screen
        assert app.sim is sim and app.replaced == 0
        assert np.array_equal(app.sim.params, params)
        assert app.counters_text == "Epoch 1/1000  Batch 0/25  Iteration 3  Step 3  Samples 15"
        assert app.sim.changes == [(3, "batch_size 5→8")]
        await pilot.press("n")
        assert app.counters_text == "Epoch 1/1000  Batch 1/25  Iteration 4  Step 4  Samples 23"
        assert any("parameters kept" in note for note in app.notes)

    drive(app, script)


def test_a_change_of_dataset_starts_a_new_simulation():
    app = HostApp()

    async def script(pilot):
        await pilot.press("n", "n")
        old = app.sim
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "dataset", "blobs")
        assert screen.status.startswith("↻ starts a new simulation (dataset changed)")
        assert screen.result.changes == {"dataset": "blobs", "model": "auto"}
        await set_field(pilot, screen, "seed", "7")
        await pilot.click("#settings-apply")
        await pilot.pause()
        assert app.sim is not old and app.replaced == 1
        assert app.sim.step == 0 and app.sim.iteration == 0
        assert app.sim.scenario.dataset == "blobs" and app.sim.scenario.model == "logistic"
        assert app.sim.scenario.seed == 7
        assert app.counters_text.startswith("Epoch 1/1000  Batch 0/40  Iteration 0")

    drive(app, script)


def test_escape_and_cancel_leave_without_change():
    app = HostApp()

    async def script(pilot):
        sim = app.sim
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "batch_size", "16")
        await set_field(pilot, screen, "dataset", "moons")
        screen.controls["sampling"].focus()
        await pilot.press("enter")                        # the select's list opens...
        assert screen.controls["sampling"].expanded
        await pilot.press("escape")                       # ...and escape closes only the list
        assert not screen.controls["sampling"].expanded and app.screen is screen
        await pilot.press("escape")
        assert app.screen is not screen
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "lr", "0.2")
        await pilot.click("#settings-cancel")
        await pilot.pause()
        assert app.sim is sim and len(sim.segments) == 1 and sim.scenario.lr == 0.05
        assert app.refreshed == 0

    drive(app, script)


def test_every_setting_is_on_the_screen_and_unchanged_when_opened():
    app = HostApp(load_preset("momentum"))

    async def script(pilot):
        screen = await open_settings(pilot)
        from engine.scenario import FIELD_NAMES

        assert set(screen.controls) == set(FIELD_NAMES) - {"name", "description"}
        assert screen.status == "nothing changed yet" and screen.apply_disabled
        assert screen.evaluate()[0] == SettingsResult({}, False, screen.evaluate()[0].scenario)
        assert screen.controls["momentum"].value == ""          # 0.9 is momentum's default
        assert isinstance(screen.controls["drop_last"], Switch)
        assert isinstance(screen.controls["optimizer"], Select)
        # changing the optimizer keeps the automatic momentum valid
        await set_field(pilot, screen, "optimizer", "adam")
        assert screen.errors == {} and screen.result.changes == {"optimizer": "adam", "momentum": None}
        assert screen.result.summary == "optimizer momentum → adam, momentum 0.9 → 0"
        # an explicit momentum with adam is refused in the engine's words
        await set_field(pilot, screen, "momentum", "0.5")
        assert screen.message("momentum") == \
            "momentum 0.5: only sgd, momentum and nesterov use a momentum; adam has none"
        await set_field(pilot, screen, "optimizer", "nesterov")
        assert screen.errors == {} and not screen.apply_disabled
        assert not screen.result.restart

    drive(app, script)


def test_several_errors_show_at_once_and_switches_count():
    app = HostApp()

    async def script(pilot):
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "lr", "-1")
        await set_field(pilot, screen, "hidden", "x")
        await set_field(pilot, screen, "noise", "99")
        assert set(screen.errors) == {"lr", "hidden", "noise"}
        assert screen.message("noise") == engine_message("noise", "99")
        assert screen.status.startswith("✗ 3 settings to fix")
        for key, good in (("lr", "0.05"), ("hidden", "8"), ("noise", "0.3")):
            await set_field(pilot, screen, key, good)
        assert screen.errors == {} and screen.apply_disabled     # back to nothing changed
        await set_field(pilot, screen, "drop_last", True)
        assert screen.result.changes == {"drop_last": True} and not screen.result.restart
        await set_field(pilot, screen, "standardize", True)
        assert screen.result.restart

    drive(app, script)


def test_epochs_below_the_current_epoch_are_refused_live():
    app = HostApp(Scenario(epochs=10))

    async def script(pilot):
        app.sim.run_iterations(40 * 4 + 2)            # in epoch 5
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "epochs", "3")
        assert screen.message("epochs").startswith("epochs 3: the run is already in epoch 5")
        assert screen.apply_disabled
        await set_field(pilot, screen, "epochs", "5")
        assert screen.errors == {} and not screen.apply_disabled
        await set_field(pilot, screen, "seed", "1")       # a new run starts at epoch 1: fine
        await set_field(pilot, screen, "epochs", "3")
        assert screen.errors == {} and screen.result.restart

    drive(app, script)


def test_a_diverged_run_continues_with_the_new_settings():
    app = HostApp(Scenario(lr=100.0))

    async def script(pilot):
        app.sim.run_epoch()
        app.sim.run_epoch()
        assert app.sim.status == "diverged"
        last_finite = app.sim.params.copy()
        screen = await open_settings(pilot)
        await set_field(pilot, screen, "lr", "0.05")
        assert not screen.result.restart and "last finite parameters kept" in screen.status
        await pilot.press("enter")
        await pilot.pause()
        assert app.replaced == 0 and app.sim.status == "ready" and app.sim.scenario.lr == 0.05
        assert np.array_equal(app.sim.params, last_finite)

    drive(app, script)


def test_settings_pause_and_resume_a_running_simulation():
    app = HostApp()

    async def script(pilot):
        app.running = True
        screen = await open_settings(pilot)
        assert not app.running
        await set_field(pilot, screen, "lr", "0.1")
        await pilot.press("enter")
        await pilot.pause()
        assert app.running and app.sim.scenario.lr == 0.1

    drive(app, script)


def test_a_csv_dataset_opens_unchanged_and_checks_n(tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(30)))
    app = HostApp(Scenario(dataset=f"csv:{csv}", val_samples=0, batch_size=4))

    async def script(pilot):
        n = app.sim.dataset.n_samples
        screen = await open_settings(pilot)
        assert screen.status == "nothing changed yet"
        assert screen.controls["dataset"].value == f"csv:{csv}"
        await set_field(pilot, screen, "batch_size", str(n + 1))
        assert screen.message("batch_size").startswith(f"batch_size {n + 1}: exceeds the {n} training samples")
        await set_field(pilot, screen, "batch_size", "8")
        await pilot.press("enter")
        await pilot.pause()
        assert app.sim.scenario.batch_size == 8 and app.replaced == 0

    drive(app, script)


def test_form_values_show_automatic_choices():
    sim = Simulation(load_preset("xor-mlp"))
    values = form_values(sim)
    assert values["model"] == "mlp" and values["momentum"] is None
    sim = Simulation(Scenario(dataset="moons"))
    assert form_values(sim)["model"] == "auto"
    sim = Simulation(Scenario(momentum=0.5))
    assert form_values(sim)["momentum"] == 0.5


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
    from engine.scenario import write_toml

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


# ------------------------------------------------------------------------------------------------
# the mixin on the real app
def test_live_actions_on_the_real_app():
    from tui.app import MbsimApp

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
