"""The counters, in the exact wording of DESIGN.md ("Counters"), for one run, a handful or a cloud.

``Epoch 2/1000  Batch 1/40  Iteration 41  Step 41  Samples 205``, then ``Pass p`` when
``steps_per_epoch`` makes an epoch differ from a pass over the data, and ``micro k/K`` (micro-
batches done towards the next step) with gradient accumulation. A cloud (an Ensemble) adds
``Runs K``.

Compare mode (a Comparison) shows one labelled row per run:

``■ Batch GD (B=200)     Epoch 1/1000  Batch 1/1  Iteration 1  Step 1  Samples 200      loss 0.412``
``◆ Mini-batch GD (B=5)  Epoch 1/1000  Batch 40/40  Iteration 40  Step 40  Samples 200  loss 0.118``
``● SGD (B=1)            Epoch 1/1000  Batch 200/200  Iteration 200  Step 200  …        loss 0.093``

The tail is the run's full training loss and, once it stopped, its state (finished, target
reached, diverged at step s — the latter in the error style, so a diverged run stands out).
When a label, the longest counters the run can ever reach and a short tail fit in the width,
one line per run with the columns aligned (the layout then never changes during a run);
otherwise two lines per run (label and tail, then the counters indented), as at 80 columns.
"""

from __future__ import annotations

import math
import re

from rich.style import Style
from rich.text import Span, Text

from ._cells import readable_style, widget_bg
from ._lines import ItemLine, fit_items
from ._runs import RUN_STYLES, has_history, source_kind

_COUNTER = re.compile(r"(\S+) (\S+)")
GAP = "  "
INDENT = "  "
TAIL_MIN = 12          # "loss 0.1234" and a little room: below it, two lines per run


def counter_items(sim) -> list[tuple[str, str]]:
    """(label, value) pairs of the counters line, read from ``sim.counters()``."""
    if not has_history(sim):               # an ensemble (the cloud): its counters and K
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


class CountersLine(ItemLine):
    """Epoch, batch, iteration, step and samples; labels plain, numbers bold. One line for a run
    or a cloud, one labelled row per run for a comparison (see the module docstring)."""

    COMPONENT_CLASSES = {
        "counters--value", "counters--label", "counters--run", "counters--done", "counters--error",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.rows: list[str] = []          # compare mode: plain text of each row (label, counters, tail)
        self.counters: list[str] = []      # compare mode: sim.counters().text() of each run
        self.states: list[str] = []        # compare mode: "", "finished", "target reached", "diverged at step s"
        self._parts: list[tuple[Text, Text, list[Text], list[Text]]] = []
        self._widest = 0

    def _style(self, kind: str):  # noqa: ANN202
        if not self.is_attached:
            return ""
        return self.get_component_rich_style(f"counters--{kind}", partial=True)

    def show(self, source, *, dark: bool = True) -> None:  # noqa: ANN001
        """Redraw from ``source``: a Simulation's counters, an Ensemble's (the cloud: every member
        is at the same counters) or each run's of a Comparison, labelled (``dark``: the theme the
        run colours are for). No-op when nothing changed."""
        if source_kind(source) == "runs":
            self._show_runs(source, dark)
            return
        self.rows, self.counters, self.states, self._parts = [], [], [], []
        self.set_items(self._counter_texts(counter_items(source)))

    def _counter_texts(self, pairs: list[tuple[str, str]]) -> list[Text]:
        """``label value`` per pair, the label and the value in their styles (what
        ``Text.assemble((name, label), " ", (val, value))`` makes, built at once: every frame)."""
        label, value = self._style("label"), self._style("value")
        out = []
        for name, val in pairs:
            a = len(name)
            spans = [Span(0, a, label)] if label and a else []
            if value and val:
                spans.append(Span(a + 1, a + 1 + len(val), value))
            out.append(Text(f"{name} {val}", spans=spans))
        return out

    def _run_label(self, k: int, text: str, dark: bool) -> Text:
        """The run's marker and label in its colour (readable on this panel's background)."""
        style = RUN_STYLES[k]
        color = Style(color=style.color(dark), bold=True) if self.is_attached and not self.app.no_color else Style(bold=True)
        if self.is_attached:
            color = readable_style(color, widget_bg(self))     # 4.5:1 on the background (WCAG AA)
        run_style = self._style("run")
        return Text.assemble((style.marker, color), " ", (text, run_style + color if run_style else color))

    def _tails(self, sim) -> tuple[str, list[Text]]:  # noqa: ANN001
        """The run's state and the wordings of its tail (loss and state), longest first."""
        value, muted, err = self._style("value"), self._style("label"), self._style("error")
        status = sim.status
        if status == "diverged":
            state = sim.state_summary()
            return state, [Text(f"✗ {state}", err), Text("✗ diverged", err)]
        loss = fmt_loss(sim.train_loss)
        if status == "diverging":          # the loss is blowing up, not yet infinite
            state = sim.state_summary()
            return state, [Text.assemble(("loss ", muted), (loss, value), (f"  ✗ {state}", err)),
                           Text.assemble((loss, value), (" ✗ diverging", err)), Text("✗", err)]
        state = "" if status == "ready" else status
        if state:
            done = self._style("done")
            return state, [Text.assemble(("loss ", muted), (loss, value), (f"  ✓ {state}", done)),
                           Text.assemble((loss, value), (" ✓", done)), Text("✓", done)]
        return state, [Text.assemble(("loss ", muted), (loss, value)), Text(loss, value)]

    def _show_runs(self, comp, dark: bool) -> None:  # noqa: ANN001
        """One labelled row per run of the comparison ``comp``."""
        items: list[Text | None] = []
        parts = []
        rows, counters, states = [], [], []
        widest = 0
        for k, run in enumerate(comp.runs):
            sim = run.sim
            label = self._run_label(k, run.label, dark)
            citems = self._counter_texts(counter_items(sim))
            ctext = Text("  ").join(citems)
            state, tails = self._tails(sim)
            parts.append((label, ctext, citems, tails))
            items += [label, ctext, tails[0], None]
            text = sim.counters().text()
            rows.append(f"{run.label}{GAP}{text}{GAP}{tails[0].plain}")
            counters.append(text)
            states.append(state)
            widest = max(widest, len(longest_counters(sim)), ctext.cell_len)
        self.rows, self.counters, self.states = rows, counters, states
        if widest != self._widest:
            self._widest = widest
            self._rows = None        # the layout may change: repaint whole
        self._parts = parts
        self.set_items(items[:-1])

    # ------------------------------------------------------------------------------------
    def one_line(self, width: int) -> bool:
        """True when each run fits on one line at ``width`` (counters at their widest)."""
        if not self._parts:
            return True
        lw = max(p[0].cell_len for p in self._parts)
        return lw + len(GAP) + self._widest + len(GAP) + TAIL_MIN <= width

    def lines_are_items(self) -> bool:
        return not self._parts           # one run or a cloud: its counters as items

    def lines(self, width: int) -> list[Text]:
        if not self._parts:
            return super().lines(width)
        width = max(1, width)
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
