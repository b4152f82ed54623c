"""mbsim's engine: a faithful, steppable NumPy simulator of mini-batch training.

Pure NumPy, no UI imports; usable from a notebook::

    from engine import Scenario, Simulation
    sim = Simulation(Scenario(batch_size=5))
    sim.run_epoch()
    print(sim.counters().text())
"""

from .errors import DataError, ScenarioError
from .scenario import Scenario, load_preset, preset_names, presets
from .simulation import PHASES, Counters, Simulation

__all__ = [
    "DataError", "ScenarioError", "Scenario", "load_preset", "preset_names", "presets",
    "PHASES", "Counters", "Simulation",
]
