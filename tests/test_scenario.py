"""Scenario: defaults, validation messages, TOML round trip, presets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mbsim.engine import Scenario, ScenarioError, Simulation, load_preset, preset_names, presets
from mbsim.engine.scenario import DEFAULT, FIELD_NAMES, from_toml, from_toml_text, parse_value, write_toml

REQUIRED_PRESETS = {
    "worked-example", "full-batch", "sgd", "mini-batch-32", "uneven-last-batch", "drop-last",
    "steps-per-epoch", "accumulate", "no-shuffle", "with-replacement", "imbalanced",
    "xor-perceptron", "three-losses", "momentum", "adam",
}


def test_defaults_are_the_worked_example() -> None:
    s = Scenario().validate()
    assert (s.dataset, s.samples, s.batch_size, s.epochs, s.optimizer, s.seed) == ("line", 200, 5, 1000, "sgd", 0)
    assert s.sampling == "reshuffle" and s.schedule == "constant"


@pytest.mark.parametrize(
    "changes, setting, words",
    [
        (dict(batch_size=300), "batch_size", "exceeds the 200 training samples; 200 is full-batch"),
        (dict(batch_size=0), "batch_size", "from 1"),
        (dict(samples=0), "samples", "from 1"),
        (dict(epochs=0), "epochs", "from 1"),
        (dict(lr=0.0), "lr", "above 0"),
        (dict(lr=-1.0), "lr", "above 0"),
        (dict(lr=math.nan), "lr", "finite"),
        (dict(lr=math.inf), "lr", "finite"),
        (dict(momentum=1.0), "momentum", "[0, 1)"),
        (dict(momentum=-0.1), "momentum", "[0, 1)"),
        (dict(accumulate=0), "accumulate", "from 1"),
        (dict(optimizer="adamm"), "optimizer", "did you mean 'adam'"),
        (dict(sampling="shuffle"), "sampling", "did you mean 'reshuffle'"),
        (dict(dataset="moon"), "dataset", "did you mean 'moons'"),
        (dict(schedule="cosin"), "schedule", "did you mean 'cosine'"),
        (dict(model="logistic"), "model", "regression"),
        (dict(sampling="stratified"), "sampling", "class labels"),
        (dict(batch_size=5.0), "batch_size", "whole number"),
        (dict(optimizer="adam", momentum=0.9), "momentum", "adam"),
    ],
)
def test_validate_names_the_setting_the_value_and_what_is_allowed(changes: dict, setting: str, words: str) -> None:
    with pytest.raises(ScenarioError) as err:
        Scenario(**changes).validate()
    assert err.value.setting == setting
    assert words in str(err.value)
    assert str(err.value).startswith(setting)


def test_option_spelling() -> None:
    with pytest.raises(ScenarioError) as err:
        Scenario(batch_size=300).validate()
    assert err.value.as_option().startswith("--batch-size 300: exceeds")


def test_parse_value() -> None:
    assert parse_value("batch_size", " 8 ") == 8
    assert parse_value("lr", "1e-2") == 0.01
    assert parse_value("drop_last", "yes") is True
    assert parse_value("momentum", "auto") is None
    for key, text in (("batch_size", "abc"), ("batch_size", "2.5"), ("lr", "fast"), ("drop_last", "maybe")):
        with pytest.raises(ScenarioError) as err:
            parse_value(key, text)
        assert err.value.setting == key
    with pytest.raises(ScenarioError, match="did you mean 'batch_size'"):
        parse_value("batchsize", "3")


def test_toml_round_trip(tmp_path: Path) -> None:
    original = Scenario(name="mine", dataset="moons", model="mlp", hidden=6, batch_size=16, lr=0.125,
                        optimizer="nesterov", momentum=0.8, drop_last=True, description='say "hi"\\n')
    path = write_toml(original, tmp_path / "s.toml")
    assert from_toml(path) == original
    assert from_toml_text(original.to_toml()) == original


def test_toml_unknown_key_suggests(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text("batchsize = 4\n")
    with pytest.raises(ScenarioError, match="did you mean 'batch_size'"):
        from_toml(p)


def test_toml_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        from_toml(tmp_path / "nope.toml")
    p = tmp_path / "broken.toml"
    p.write_text("lr = = 3\n")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        from_toml(p)


def test_every_required_preset_exists_loads_and_runs_an_epoch() -> None:
    names = set(preset_names())
    assert REQUIRED_PRESETS <= names
    for name, description in presets():
        assert description and "\n" not in description
        s = load_preset(name).validate()
        assert s.name == name
        sim = Simulation(s)
        sim.run_epoch()
        assert sim.status in ("ready", "finished"), name
        assert math.isfinite(sim.train_loss), name


def test_unknown_preset_suggests() -> None:
    with pytest.raises(ScenarioError, match="did you mean 'adam'"):
        load_preset("adm")


def test_field_names_cover_the_design_options() -> None:
    design = {"dataset", "samples", "val_samples", "noise", "model", "hidden", "activation", "batch_size",
              "epochs", "sampling", "drop_last", "steps_per_epoch", "accumulate", "optimizer", "lr",
              "momentum", "weight_decay", "schedule", "seed", "target_loss"}
    assert design <= set(FIELD_NAMES)
    assert DEFAULT == Scenario()
