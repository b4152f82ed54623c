"""The phase view: one iteration laid open, phase by phase (forward → loss → backward → update).

For the batch in progress (or the last one done) it shows a small table — sample index, inputs,
target, prediction, loss, per-sample gradient — the batch gradient as the mean of the rows, the
optimizer's update and the new parameters, with the formula of the current phase above it.
Every number is read from the engine's :class:`engine.simulation.PhaseData`; nothing is
recomputed here.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from mbsim.engine.simulation import PHASE_FORMULAS, PHASES, PhaseData, Simulation

from ._runs import current_or_last

MAX_ROWS = 8


def fmt(value: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits."""
    if not np.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def fmt_vector(v: np.ndarray, limit: int = 3, digits: int = 4, count: bool = True) -> str:
    """A short vector: its first ``limit`` entries, then "…" and (``count``) how many there are."""
    parts = [fmt(float(x), digits) for x in v[:limit]]
    more = (f", … ({v.size})" if count else ", …") if v.size > limit else ""
    return "(" + ", ".join(parts) + more + ")"


@dataclass(frozen=True)
class PhaseRows:
    """What the table shows, as plain data (tested without drawing)."""

    title: str
    phase: int                     # index into PHASES of the last phase done (−1: none yet)
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    more: int                      # rows not shown
    batch_grad: np.ndarray | None  # ĝ, the mean of the per-sample gradients
    update: np.ndarray | None
    params_after: np.ndarray | None


def phase_rows(sim: Simulation, data: PhaseData, max_rows: int = MAX_ROWS, grad_entries: int = 2) -> PhaseRows:
    """Lay out one iteration's values for the table (``grad_entries``: entries of each g_i shown)."""
    d = data
    pos = d.position
    names = sim.dataset.feature_names
    # say whether this batch is done (the counters include it) or in progress (they do not yet)
    in_progress = sim.pending is not None and sim.pending.iteration == d.iteration
    state = "in progress" if in_progress else "done"
    title = f"Iteration {d.iteration + 1} {state} · epoch {pos.epoch + 1 + d.segment.start_epoch}, batch {pos.batch_in_epoch + 1}"
    if d.micro_count > 1:
        title += f" · micro-batch {d.micro + 1}/{d.micro_count} of step {pos.step + 1 + d.segment.start_step}"
    columns = ["i", *names, sim.dataset.target_name]
    if d.phase >= 0:
        columns.append("ŷ_i")
    if d.phase >= 1:
        columns.append("ℓ_i")
    if d.phase >= 2:
        columns.append("g_i")
    shown = min(d.rows, max_rows)          # the rows whose values the engine kept (its first)
    rows = []
    for r in range(shown):
        row = [str(int(d.indices[r])), *(fmt(float(x), 3) for x in d.X[r]), fmt(float(d.y[r]), 3)]
        if d.phase >= 0 and d.outputs is not None:
            row.append(fmt(float(d.outputs[r]), 3))
        if d.phase >= 1 and d.losses is not None:
            row.append(fmt(float(d.losses[r]), 3))
        if d.phase >= 2 and d.sample_grads is not None:
            row.append(fmt_vector(d.sample_grads[r], grad_entries, 3, count=grad_entries > 1))
        rows.append(tuple(row))
    grad = d.grad if d.phase >= 2 else None
    update = d.update if d.phase >= 3 else None
    after = (d.params_before + d.update) if (update is not None and d.params_before is not None) else None
    return PhaseRows(title, d.phase, tuple(columns), tuple(rows), len(d.indices) - shown, grad, update, after)


def update_lines(sim: Simulation, pr: PhaseRows, data: PhaseData, compact: bool = False) -> list[str]:
    """The update written out with its numbers, from the engine (:class:`UpdateTerms`):
    ĝ, the optimizer's own intermediate values (velocity b, m̂, v̂, effective step size),
    and θ_new = θ_old − lr·(…) with the vectors. ``compact`` drops the full rule and b_old.
    Lines starting "rule: " are the optimizer's rule (drawn in italics)."""
    out: list[str] = []
    digits = 3 if compact else 4
    limit = 2 if compact and len(data.params_before if data.params_before is not None else ()) > 3 else 4
    vec = lambda v: fmt_vector(v, limit, digits)  # noqa: E731
    if pr.batch_grad is not None:
        out.append(f"ĝ = mean of the rows = {vec(pr.batch_grad)}")
    if pr.update is None or pr.params_after is None or data.params_before is None:
        return out
    terms = data.terms
    if terms is None:
        out.append("gradient kept for accumulation: no update until the step's last micro-batch")
        return out
    old, delta, new = data.params_before, pr.update, pr.params_after
    parts = terms.formula.split(";  ")
    last = parts[-1]
    if not compact and len(parts) > 1:
        out.append("rule: " + terms.formula)
    named = dict(terms.terms)
    for name, v in terms.terms:
        if compact and name in ("b_old", "v̂", "v", "s"):
            continue            # the step size (or the velocity) says what they do
        out.append(f"{name} = {vec(v)}")
    lr = fmt(data.lr)
    if last.endswith("lr·ĝ") and pr.batch_grad is not None:
        x = pr.batch_grad
    elif last.endswith("lr·g") and "g = ĝ + λθ_old" in named:
        x = named["g = ĝ + λθ_old"]
    elif last.endswith("lr·b") and terms.velocity is not None:
        x = terms.velocity
    else:
        x = None
    if x is not None:
        out.append(f"{last} = {vec(old)} − {lr}·{vec(x)} = {vec(new)}")
    elif compact:
        out.append(f"{last} = {vec(old)} + {vec(delta)} = {vec(new)}")
    else:
        out.append(f"{last}:  Δθ = {vec(delta)}")
        out.append(f"θ_new = {vec(old)} + Δθ = {vec(new)}")
    return out


_MEASURE = Console(file=io.StringIO(), width=200, color_system=None)


def _lines_of(text: str, width: int) -> int:
    """Rows a line of text takes when Rich wraps it at ``width`` cells (measured, not guessed:
    word wrapping breaks earlier than the cell count says)."""
    options = _MEASURE.options.update_width(max(1, width))
    return max(1, len(_MEASURE.render_lines(Text(text), options, pad=False)))


class PhaseView(Static):
    """The table of the current iteration, with the phase's formula above it.

    Built to fit its height: the lines about ĝ and the update always show, the table gets the
    rows left (then "+ k more").
    """

    DEFAULT_CSS = """
    PhaseView {
        height: 1fr;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    def show(self, sim: Simulation) -> None:
        """Redraw from the batch in progress, or else the last batch done."""
        data = current_or_last(sim)
        if data is None:
            self.update(Text("No batch yet: press p to run one phase, n for a whole batch.", style="dim"))
            return
        height = self.content_size.height or 20
        width = self.content_size.width or 60
        self._sim = sim
        self.update(self._render_rows(sim, data, height, width))

    def on_resize(self) -> None:
        sim = getattr(self, "_sim", None)
        if sim is not None:
            self.show(sim)

    def _render_rows(self, sim: Simulation, data: PhaseData, height: int, width: int) -> Group:
        narrow = width < 70 and sim.model.n_params > 2
        # no more rows than the panel could show (Batch GD at N = 10⁶: a million rows formatted
        # for ~30 on the screen took ~540 MB and seconds; issue 24); the rest are counted
        pr = phase_rows(sim, data, max_rows=min(len(data.indices), max(1, height)),
                        grad_entries=1 if narrow else 2)
        n_rows = len(pr.rows) + pr.more              # the batch's samples, shown or not
        steps = Text()
        for k, name in enumerate(PHASES):
            style = "bold reverse" if k == pr.phase else ("" if k < pr.phase else "dim")
            steps.append(f" {name} ", style=style)
            if k < len(PHASES) - 1:
                steps.append(" → ", style="dim")
        formula_text = PHASE_FORMULAS[PHASES[pr.phase]] if pr.phase >= 0 else "the batch is drawn; nothing computed yet"
        head = [Text(pr.title, style="bold"), steps]
        footer = update_lines(sim, pr, data)
        if data.terms is not None:
            formula_text = ""            # the update lines say it, with the optimizer's own rule
        if formula_text:
            head.append(Text(formula_text, style="italic"))
        used = sum(_lines_of(t.plain, width) for t in head) + sum(_lines_of(f, width) for f in footer)
        if height - used - 1 < min(3, n_rows) + 1:
            footer = update_lines(sim, pr, data, compact=True)
            used = sum(_lines_of(t.plain, width) for t in head) + sum(_lines_of(f, width) for f in footer)
        legend = "i sample · ŷ_i prediction · ℓ_i its loss · g_i its gradient"
        room = height - used - 1                     # − the table's header row
        show_legend = room - _lines_of(legend, width) >= min(n_rows, 4) + (1 if n_rows > 4 else 0)
        if show_legend:
            room -= _lines_of(legend, width)
        rows = pr.rows
        more = 0
        if n_rows > room:
            keep = max(0, room - 1)                  # one row for "+ k more"
            rows, more = rows[:keep], n_rows - keep
        table = Table(box=None, pad_edge=False, expand=False, show_edge=False, header_style="bold",
                      padding=(0, 1, 0, 0))
        for col in pr.columns:
            table.add_column(col, justify="right" if col != "g_i" else "left", no_wrap=True)
        for row in rows:
            table.add_row(*row)
        parts: list = list(head)
        if show_legend:
            parts.append(Text(legend, style="dim"))
        if rows:
            parts.append(table)
        if more and (rows or room >= 1):
            parts.append(Text(f"+ {more} more" if rows else f"{more} samples (a taller window shows them)", style="dim"))
        for line in footer:
            if line.startswith("rule: "):
                parts.append(Text(line[6:], style="italic"))
            elif line.startswith("gradient kept"):
                parts.append(Text(line, style="dim"))
            else:
                parts.append(Text(line))
        self.rows_shown, self.more, self.footer = len(rows), more, footer
        return Group(*parts)
