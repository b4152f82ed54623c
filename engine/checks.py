"""One validation path for ``mbsim plan`` and ``mbsim run``, NumPy-free where it can be.

:func:`check_scenario` refuses exactly what ``Simulation(scenario)`` refuses (tests/test_fuzz_cli.py
checks that plan and run agree). For generated data every check the Simulation makes beyond
:meth:`Scenario.validate` is settled by the scenario alone: the data have at most two features,
so no model reaches :data:`engine.history.MAX_PARAMS` (256 hidden units on 2 features is 1,025
parameters), and their values are bounded, so the initial loss is finite. So no data need be made
and ``mbsim plan`` starts without NumPy. A CSV file decides N, the task and the width: there the
data are read and the Simulation's own checks run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .sampling import plan_for

if TYPE_CHECKING:
    from .sampling import Plan
    from .scenario import Scenario


def check_scenario(scenario: Scenario) -> tuple[Scenario, Plan, int]:
    """The resolved scenario, its plan and the number of validation samples; raises
    :class:`~engine.errors.ScenarioError` where ``Simulation(scenario)`` would."""
    if scenario.is_csv:
        from .simulation import check_scenario_with_data

        sc, plan, dataset = check_scenario_with_data(scenario)
        return sc, plan, len(dataset.y_val)
    scenario.validate()
    sc = scenario.resolved()
    return sc, plan_for(sc, sc.samples), sc.val_samples
