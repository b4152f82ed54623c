"""mbsim's engine: a faithful, steppable NumPy simulator of mini-batch training.

Pure NumPy, no UI imports; usable from a notebook::

    from mbsim.engine import Scenario, Simulation
    sim = Simulation(Scenario(batch_size=5))
    sim.run_epoch()
    print(sim.counters().text())

The simulation names (``Simulation``, ``Counters``, ``PHASES``) are loaded on first use (PEP 562),
so ``from engine import scenario`` — all that ``mbsim --help``, ``plan`` and ``presets`` need —
does not import NumPy (issue 14, "Start fast").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DataError, ScenarioError
from .scenario import Scenario, load_preset, preset_names, presets

if TYPE_CHECKING:
    from .simulation import PHASES, Counters, Simulation

__all__ = [
    "DataError", "ScenarioError", "Scenario", "load_preset", "preset_names", "presets",
    "PHASES", "Counters", "Simulation",
]

_LAZY = {"PHASES": "simulation", "Counters": "simulation", "Simulation": "simulation"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
