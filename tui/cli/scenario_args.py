"""From parsed options to a validated Scenario (and a Simulation), naming where a bad value came from.

Precedence: built-in defaults < ``--preset`` < ``--scenario FILE`` < explicit options.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from mbsim.engine import scenario as sc_mod
from mbsim.engine.errors import DataError, ScenarioError
from mbsim.engine.scenario import DEFAULT, FIELD_NAMES, Scenario

from .common import UsageError
from .options import option_name


class Sources:
    """Where each setting came from, to name it right in an error message."""

    def __init__(self) -> None:
        self.explicit: set[str] = set()
        self.file: str | None = None
        self.file_keys: set[str] = set()
        self.preset: str | None = None

    def describe(self, err: ScenarioError) -> str:
        """One line for a ScenarioError: the option if typed, else the key and where it came from."""
        setting = err.setting
        if isinstance(err, DataError) or setting == "csv":
            where = "--dataset" if "dataset" in self.explicit else "dataset"
            path = "" if err.value is None else str(err.value)
            return f"{where} csv:{path}: {err.reason}"
        if setting in FIELD_NAMES:
            if setting in self.explicit:
                return err.as_option()
            if self.file and setting in self.file_keys:
                return f"{err} (from scenario file {self.file!r})"
            if self.preset:
                return f"{err} (from preset {self.preset!r}; override it with {option_name(setting)})"
            return err.as_option()
        return err.as_option()


def build_scenario(ns: argparse.Namespace) -> tuple[Scenario, Sources]:
    """defaults < --preset < --scenario FILE < explicit options; validated by the engine."""
    src = Sources()
    base = DEFAULT
    preset = getattr(ns, "preset", None)
    try:
        if preset is not None:
            src.preset = preset
            base = sc_mod.load_preset(preset)
        path = getattr(ns, "scenario_file", None)
        if path is not None:
            src.file = path
            data = sc_mod.read_toml(path)  # kind and size checked before reading
            base = sc_mod.from_mapping(data, base=base, source=f"scenario file {path!r}")
            src.file_keys = _toml_keys(data)
            if "name" not in src.file_keys:
                base = base.replace(name=Path(path).stem)
        changes: dict[str, Any] = {}
        for key in FIELD_NAMES:
            if hasattr(ns, key):
                raw = getattr(ns, key)
                src.explicit.add(key)
                changes[key] = raw if isinstance(raw, bool) else sc_mod.parse_value(key, raw)
        scenario = base.replace(**changes)
        scenario.validate()
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None
    return scenario, src


def _toml_keys(data: dict[str, Any]) -> set[str]:
    keys = set(data)
    if isinstance(data.get("scenario"), dict):
        keys |= set(data["scenario"])
    return keys


def make_simulation(scenario: Scenario, src: Sources, *, record: bool = True,
                    eval_policy: Any = None):  # -> engine.simulation.Simulation
    """The simulation; data errors (a bad CSV, too few rows...) become one-line usage errors.
    ``record=False`` for ``mbsim run``, whose record is its files (:class:`Simulation`);
    ``eval_policy`` (:class:`engine.rules.EvalPolicy`): the engine's unless given."""
    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()   # the command line owns the process (engine/threads.py says why)
    from mbsim.engine.simulation import Simulation
    try:
        sim = Simulation(scenario, record=record) if eval_policy is None else \
            Simulation(scenario, record=record, eval_policy=eval_policy)
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None
    if not math.isfinite(sim.initial_train_loss):
        where = "the data" if scenario.is_csv else f"the {scenario.dataset} data"
        raise UsageError(
            f"the initial training loss is already {sim.initial_train_loss} before any step: "
            f"the values of {where} are too large for the model; rescale them "
            f"(e.g. --standardize) or use smaller values")
    return sim
