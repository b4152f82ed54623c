"""The counters line, in the exact wording of DESIGN.md ("Counters").

``Epoch 2/1000  Batch 1/40  Iteration 41  Step 41  Samples 205``, then ``Pass p`` when
``steps_per_epoch`` makes an epoch differ from a pass over the data, and ``micro k/K`` (micro-
batches done towards the next step) with gradient accumulation.
"""

from __future__ import annotations

import re

from rich.text import Text

from ._lines import ItemLine

_COUNTER = re.compile(r"(\S+) (\S+)")


def counter_items(sim) -> list[tuple[str, str]]:
    """(label, value) pairs of the counters line, read from ``sim.counters()``."""
    if not hasattr(sim, "history"):        # an ensemble (the cloud): its counters and K
        items = [tuple(m.groups()) for m in _COUNTER.finditer(sim.counters(0).text())]
        return items + [("Runs", str(sim.runs))]
    c = sim.counters()
    items = [tuple(m.groups()) for m in _COUNTER.finditer(c.text())]
    plan = sim.plan
    if plan.steps_per_epoch is not None and plan.iterations_per_epoch != plan.batches_per_pass:
        items.append(("Pass", str(c.pass_number)))
    if c.accumulate > 1:
        # micro-batches done towards the step: right after a step all K are (K/K), not 0/K;
        # 0/K only where a step starts afresh (the start, or a change of settings)
        done = c.micro
        if done == 0 and sim.iteration > sim.segment.start_iteration:
            done = c.accumulate
        items.append(("micro", f"{done}/{c.accumulate}"))
    return items


class CountersLine(ItemLine):
    """Epoch, batch, iteration, step and samples; labels plain, numbers bold."""

    COMPONENT_CLASSES = {"counters--value", "counters--label"}

    def show(self, sim) -> None:
        """Redraw from ``sim.counters()`` — a run's, or an ensemble's (the cloud: every member
        is at the same counters) — (no-op when the counters did not change)."""
        value = self.get_component_rich_style("counters--value", partial=True) if self.is_attached else ""
        label = self.get_component_rich_style("counters--label", partial=True) if self.is_attached else ""
        self.set_items([Text.assemble((name, label), " ", (val, value)) for name, val in counter_items(sim)])
