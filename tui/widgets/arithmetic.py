"""The arithmetic line (``a``): the current plan's batch arithmetic written out with numbers.

``N = 200, B = 5 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · 40 × 1000 epochs = 40,000 steps``

The text is the engine's (:func:`engine.arithmetic.arithmetic_line`); the widget only shows it,
and rewrites it only when the plan in force changes (a live change such as ``[``/``]`` makes a
new plan). Hidden until ``a`` is pressed. When the screen is too narrow for one row it breaks
between the ``·``-separated parts (a new row starts with ``·``), and inside a part only when that
part alone is wider than the screen.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Static

from mbsim.engine.arithmetic import SEP, arithmetic_line


def plan_arithmetic(sim) -> str:  # noqa: ANN001
    """The arithmetic of the plan in force; after a live change its epochs are the epochs left."""
    return arithmetic_line(sim.plan, remaining=sim.segment.start_iteration > 0)


def wrap_parts(text: str, width: int) -> str:
    """``text`` with a line break before each ``·`` part that would not fit in ``width`` cells."""
    parts = text.split(SEP)
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + len(SEP) + len(part) <= width:
            lines[-1] += SEP + part
        elif lines:
            lines.append("· " + part)
        else:
            lines.append(part)
    return "\n".join(lines)


class ArithmeticLine(Static):
    """One line of batch arithmetic from ``sim.plan`` (styles in app.tcss)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, markup=False)
        self._plan = None
        self._width = 0
        self.text = ""

    def show(self, sim) -> None:  # noqa: ANN001
        """Show the arithmetic of the plan in force (no-op while the plan is the same)."""
        plan = sim.plan
        if plan is self._plan:
            return
        self._plan = plan
        text = plan_arithmetic(sim)
        if text != self.text:
            self.text = text
            self._layout()

    def _layout(self) -> None:
        self._width = self.content_size.width
        self.update(wrap_parts(self.text, self._width) if self._width > 0 else self.text)

    def on_resize(self, event: events.Resize) -> None:
        if self.content_size.width != self._width:
            self._layout()
