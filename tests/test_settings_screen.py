"""The settings screen (``s``): every setting on a form, checked in the engine's words as typed,
applied live (parameters kept) or as a new simulation, left with escape or cancel.

Pilot tests on the small host App of tests/settings_host.py.
"""

from __future__ import annotations

import numpy as np
from textual.widgets import Select, Switch

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import load_preset
from mbsim.tui.screens.settings import SettingsResult, form_values

from settings_host import HostApp, drive, engine_message, open_settings, set_field


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
        from mbsim.engine.scenario import FIELD_NAMES

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
