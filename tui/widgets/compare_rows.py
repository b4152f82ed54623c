"""Compare mode's counters: one row per run, in the exact wording of DESIGN.md, labelled.

``■ Batch GD (B=200)     Epoch 1/1000  Batch 1/1  Iteration 1  Step 1  Samples 200      loss 0.412``
``◆ Mini-batch GD (B=5)  Epoch 1/1000  Batch 40/40  Iteration 40  Step 40  Samples 200  loss 0.118``
``● SGD (B=1)            Epoch 1/1000  Batch 200/200  Iteration 200  Step 200  …        loss 0.093``

The counters text is ``sim.counters().text()`` (through :func:`counter_items`), the tail is the
run's full training loss and, once it stopped, its state (finished, target reached, diverged at
step s — the latter in the error style, so a diverged run stands out).

Layout: when a label, the longest counters the run can ever reach and a short tail fit in the
width, one line per run with the columns aligned (the layout then never changes during a run);
otherwise two lines per run (label and tail, then the counters indented), as at 80 columns.
"""

from __future__ import annotations

import math

from rich.style import Style
from rich.text import Text

from ._lines import ItemLine, fit_items
from ._cells import readable_style, widget_bg
from ._runs import RUN_STYLES
from .counters import counter_items

GAP = "  "
INDENT = "  "
TAIL_MIN = 12          # "loss 0.1234" and a little room: below it, two lines per run


def fmt_loss(x: float) -> str:
    """A loss for the tail: 4 significant digits, ∞ / — for non-finite values."""
    if x is None or math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞"
    return f"{x:.4g}"


def longest_counters(sim) -> str:  # noqa: ANN001
    """The counters text at its widest over the whole run (for a layout that does not jump)."""
    plan = sim.plan
    e = sim.scenario.epochs
    m = plan.iterations_per_epoch
    text = (f"Epoch {e}/{e}  Batch {m}/{m}  Iteration {sim.total_iterations}  "
            f"Step {plan.total_steps}  Samples {max(plan.total_samples, sim.samples_seen)}")
    extra = sum(len(f"  {a} {b}") for a, b in counter_items(sim)[5:])
    return text + "x" * extra


class CompareRows(ItemLine):
    """Three labelled counters rows (see the module docstring)."""

    COMPONENT_CLASSES = {
        "rows--label", "rows--value", "rows--muted", "rows--done", "rows--error",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[str] = []          # plain text of each row: label, counters, tail
        self.counters: list[str] = []      # sim.counters().text() of each run
        self.states: list[str] = []        # "", "finished", "target reached", "diverged at step s"
        self._parts: list[tuple[Text, Text, list[Text], list[Text]]] = []
        self._widest = 0

    def _style(self, kind: str):  # noqa: ANN202
        if not self.is_attached:
            return ""
        return self.get_component_rich_style(f"rows--{kind}", partial=True)

    def show(self, comp, *, dark: bool = True) -> None:  # noqa: ANN001
        """Redraw from the three runs of ``comp`` (an :class:`engine.compare.Comparison`)."""
        value, label_style, muted = self._style("value"), self._style("label"), self._style("muted")
        items: list[Text | None] = []
        parts = []
        rows, counters, states = [], [], []
        widest = 0
        for k, run in enumerate(comp.runs):
            sim = run.sim
            style = RUN_STYLES[k]
            color = Style(color=style.color(dark), bold=True) if self.is_attached and not self.app.no_color else Style(bold=True)
            if self.is_attached:
                color = readable_style(color, widget_bg(self))     # 4.5:1 on the background (WCAG AA)
            label = Text.assemble((style.marker, color), " ", (run.label, label_style + color if label_style else color))
            pairs = counter_items(sim)
            citems = [Text.assemble((name, muted), " ", (val, value)) for name, val in pairs]
            ctext = Text("  ").join(citems)
            status = sim.status
            if status == "diverged":
                state = sim.state_summary()
                tails = [Text(f"✗ {state}", self._style("error")), Text("✗ diverged", self._style("error"))]
            elif status == "diverging":          # the loss is blowing up, not yet infinite
                state = sim.state_summary()
                loss = fmt_loss(sim.train_loss)
                err = self._style("error")
                tails = [Text.assemble(("loss ", muted), (loss, value), (f"  ✗ {state}", err)),
                         Text.assemble((loss, value), (" ✗ diverging", err)), Text("✗", err)]
            else:
                state = "" if status == "ready" else status
                loss = fmt_loss(sim.train_loss)
                if state:
                    done = self._style("done")
                    tails = [Text.assemble(("loss ", muted), (loss, value), (f"  ✓ {state}", done)),
                             Text.assemble((loss, value), (" ✓", done)), Text("✓", done)]
                else:
                    tails = [Text.assemble(("loss ", muted), (loss, value)), Text(loss, value)]
            tail = tails[0]
            parts.append((label, ctext, citems, tails))
            items += [label, ctext, tail, None]
            rows.append(f"{run.label}{GAP}{sim.counters().text()}{GAP}{tail.plain}")
            counters.append(sim.counters().text())
            states.append(state)
            widest = max(widest, len(longest_counters(sim)), ctext.cell_len)
        self.rows, self.counters, self.states = rows, counters, states
        if widest != self._widest:
            self._widest = widest
            self._shown = None       # the layout may change: repaint whole
        self._parts = parts
        self.set_items(items[:-1])

    # ------------------------------------------------------------------------------------
    def one_line(self, width: int) -> bool:
        """True when each run fits on one line at ``width`` (counters at their widest)."""
        if not self._parts:
            return True
        lw = max(p[0].cell_len for p in self._parts)
        return lw + len(GAP) + self._widest + len(GAP) + TAIL_MIN <= width

    def lines(self, width: int) -> list[Text]:
        width = max(1, width)
        if not self._parts:
            return [Text()]
        out: list[Text] = []
        lw = max(p[0].cell_len for p in self._parts)
        if self.one_line(width):
            room = width - (lw + len(GAP) + self._widest + len(GAP))
            for label, ctext, _items, tails in self._parts:
                tail = _fit(tails, room)
                line = Text()
                line.append_text(label)
                line.pad_right(lw - label.cell_len + len(GAP))
                line.append_text(ctext)
                line.pad_right(lw + len(GAP) + self._widest + len(GAP) - line.cell_len)
                line.append_text(tail)
                line.truncate(width)
                out.append(line)
            return out
        for label, _ctext, citems, tails in self._parts:
            line = Text()
            line.append_text(label)
            room = width - lw - len(GAP)
            tail = _fit(tails, room)
            fits = tail.cell_len <= room
            if fits:
                line.pad_right(lw - label.cell_len + len(GAP))
                line.append_text(tail)
            line.truncate(width)
            out.append(line)
            if not fits:
                extra = Text(INDENT) + tails[0]
                extra.truncate(width)
                out.append(extra)
            for sub in fit_items(list(citems), max(1, width - len(INDENT))):
                out.append(Text(INDENT) + sub)
        return out


def _fit(tails: list[Text], room: int) -> Text:
    """The longest of the tail's wordings that fits in ``room`` cells (else the shortest)."""
    for tail in tails:
        if tail.cell_len <= room:
            return tail
    return tails[-1]
