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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .words import listing, number, percent, vector, with_unit

if TYPE_CHECKING:
    from ..simulation import Simulation

#: What a quantity is read from: the simulation, the noise cloud on its scenario, the lab.
SOURCES: tuple[str, ...] = ("sim", "cloud", "lab")
#: How a value is written and judged (see :mod:`.answers`).
KINDS: tuple[str, ...] = ("count", "number", "percent", "name", "list", "vector", "indices")
#: Typed numbers that are not whole are right within this relative tolerance (or to the
#: digits typed: :func:`engine.lessons.answers.judge`), unless the question gives its own.
DEFAULT_TOLERANCE = 0.005


@dataclass(frozen=True)
class Working:
    """How a value comes about, in the students' words: ``how`` then ``joint`` then the value
    then ``note`` ("⌈N / B⌉ = ⌈1000 / 400⌉" " = " "3 batches" " per epoch, the last one short")."""

    how: str
    joint: str = " = "
    note: str = ""
    bare: bool = False      # the value without parameter names ("−0.5", not "w = −0.5")


@dataclass(frozen=True)
class Quantity:
    """A named engine quantity: what it means, how to read it, how to say it to students."""

    name: str
    description: str                        # for the teacher (mbsim lesson --quantities)
    read: Callable[[Any], Any]              # from its source (a Simulation, a cloud, a lab)
    label: str                              # the students' name: "batches per epoch"
    unit: str = ""                          # after the value: "40 batches"
    kind: str = "number"
    source: str = "sim"
    work: Callable[[Any, Any], Working | None] | None = None   # (source, value) → the working
    names: Callable[[Any], dict[str, tuple[str, ...]]] | None = None   # name kind: accepted spellings

    def text(self, value: Any, source: Any = None) -> str:
        """The value for students: "40 batches", "57.5 %", "Mini-batch GD", "w = −0.537"."""
        kind = self.kind
        if value is None:
            return "—"
        if kind == "percent":
            return percent(value)
        if kind == "name":
            return str(value)
        if kind == "list":
            return listing(value) + (f" {self.unit}" if self.unit else "")
        if kind == "vector":
            names = getattr(getattr(source, "model", None), "param_names", None) if self.unit == "θ" else None
            return vector(list(value), names)
        if kind == "indices":
            items = list(value)
            word = "sample" if len(items) == 1 else "samples"
            return f"{word} {listing(items)} (numbered from 0)"
        if isinstance(value, (list, tuple)):
            return listing(value)
        return with_unit(value, self.unit)

    def working(self, source: Any, value: Any) -> str:
        """The whole working with its result ("N / B = 200 / 5 = 40 batches"), or the text alone."""
        w = self.work(source, value) if self.work is not None else None
        if w is None:
            return self.text(value, source)
        return f"{w.how}{w.joint}{self.text(value, None if w.bare else source)}{w.note}"


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
