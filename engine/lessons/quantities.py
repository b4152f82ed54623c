"""Named quantities: the only answers a question may have, read from a live simulation (or, for
``cloud.*`` and ``lab.*``, from the noise cloud and the batch-size lab run on its scenario).

Each :class:`Quantity` has a name for the lesson file (``plan.batches_per_pass``), a
description for the teacher (``mbsim lesson --quantities``), and for the students a label
("batches per epoch"), a unit ("batches") and a working ("N / B = 200 / 5"): a revealed answer
never shows the engine's key. The quantities themselves are defined by family in
:mod:`.counting` (plan, counters, the last batch, the order) and :mod:`.noise_terms` (gradient
noise, the least-squares fit, the noise cloud, the lab).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .words import number

if TYPE_CHECKING:
    from ..simulation import Simulation

from .quantity import DEFAULT_TOLERANCE, KINDS, SOURCES, Quantity, Working  # noqa: F401


def _registry() -> dict[str, Quantity]:
    from .counting import COUNTING
    from .noise_terms import NOISE_TERMS

    table: dict[str, Quantity] = {}
    for q in COUNTING + NOISE_TERMS:
        assert q.name not in table and q.kind in KINDS and q.source in SOURCES, q.name
        table[q.name] = q
    return table


QUANTITIES: dict[str, Quantity] = _registry()


def quantity_value(name: str, sim: Simulation, context: Any = None) -> Any:
    """The value of a named quantity now (a number, a name or a list of numbers).

    A ``cloud.*`` or ``lab.*`` quantity is read from ``context`` (a
    :class:`engine.lessons.context.Context`; by default one on ``sim`` with the default cloud)."""
    q = QUANTITIES[name]
    if q.source == "sim":
        return q.read(sim)
    if context is None:
        from .context import Context

        context = Context(sim)
    return q.read(context.source(q.source))


def format_quantity(value: Any) -> str:
    """A quantity for a person: 40,000 · 0.5 · 400, 400, 200 · Mini-batch GD."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return format_quantity(value[0])
        return ", ".join(format_quantity(v) for v in value)
    if isinstance(value, str):
        return value
    return number(value)
