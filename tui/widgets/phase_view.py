"""The phase view: one iteration laid open, phase by phase (forward → loss → backward → update).

For the batch in progress (or the last one done) it shows a small table — sample index, inputs,
target, prediction, loss, per-sample gradient — the batch gradient as the mean of the rows, the
optimizer's update and the new parameters, with the formula of the current phase above it.
Every number is read from the engine's :class:`engine.simulation.PhaseData`; nothing is
recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.simulation import PHASE_FORMULAS, PHASES, PhaseData, Simulation

MAX_ROWS = 8


def fmt(value: float, digits: int = 4) -> str:
    """A number with ``digits`` significant digits."""
    if not np.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def fmt_vector(v: np.ndarray, limit: int = 3, digits: int = 4) -> str:
    """A short vector: its first ``limit`` entries, then "…" and the count."""
    parts = [fmt(float(x), digits) for x in v[:limit]]
    more = f", … ({v.size})" if v.size > limit else ""
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


def phase_rows(sim: Simulation, data: PhaseData, max_rows: int = MAX_ROWS) -> PhaseRows:
    """Lay out one iteration's values for the table."""
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
    shown = min(len(d.indices), max_rows)
    rows = []
    for r in range(shown):
        row = [str(int(d.indices[r])), *(fmt(float(x), 3) for x in d.X[r]), fmt(float(d.y[r]), 3)]
        if d.phase >= 0 and d.outputs is not None:
            row.append(fmt(float(d.outputs[r]), 3))
        if d.phase >= 1 and d.losses is not None:
            row.append(fmt(float(d.losses[r]), 3))
        if d.phase >= 2 and d.sample_grads is not None:
            row.append(fmt_vector(d.sample_grads[r], 2, 3))
        rows.append(tuple(row))
    grad = d.grad if d.phase >= 2 else None
    update = d.update if d.phase >= 3 else None
    after = (d.params_before + d.update) if (update is not None and d.params_before is not None) else None
    return PhaseRows(title, d.phase, tuple(columns), tuple(rows), len(d.indices) - shown, grad, update, after)


class PhaseView(Static):
    """The table of the current iteration, with the phase's formula above it."""

    DEFAULT_CSS = """
    PhaseView {
        height: 1fr;
        padding: 0 1;
        overflow-y: auto;
    }
    """

    def show(self, sim: Simulation) -> None:
        """Redraw from the batch in progress, or else the last batch done."""
        data = sim.pending if sim.pending is not None else sim.last
        if data is None:
            self.update(Text("No batch yet: press p to run one phase, n for a whole batch.", style="dim"))
            return
        self.update(self._render_rows(sim, phase_rows(sim, data)))

    def _render_rows(self, sim: Simulation, pr: PhaseRows) -> Group:
        steps = Text()
        for k, name in enumerate(PHASES):
            style = "bold reverse" if k == pr.phase else ("" if k < pr.phase else "dim")
            steps.append(f" {name} ", style=style)
            if k < len(PHASES) - 1:
                steps.append(" → ", style="dim")
        formula = Text(PHASE_FORMULAS[PHASES[pr.phase]] if pr.phase >= 0 else "the batch is drawn; nothing computed yet",
                       style="italic")
        table = Table(box=None, pad_edge=False, expand=False, show_edge=False, header_style="bold",
                      padding=(0, 1, 0, 0))
        for col in pr.columns:
            table.add_column(col, justify="right" if col != "g_i" else "left", no_wrap=True)
        for row in pr.rows:
            table.add_row(*row)
        legend = Text("i sample · ŷ_i prediction · ℓ_i its loss · g_i its gradient", style="dim")
        parts: list = [Text(pr.title, style="bold"), steps, formula, legend, table]
        if pr.more:
            parts.append(Text(f"+ {pr.more} more", style="dim"))
        names = sim.model.param_names
        if pr.batch_grad is not None:
            parts.append(Text(f"ĝ = mean of the rows = {fmt_vector(pr.batch_grad, 4)}"))
        if pr.update is not None and pr.params_after is not None:
            if np.any(pr.update):
                parts.append(Text(f"update Δθ = {fmt_vector(pr.update, 4)}"))
                parts.append(Text(f"new θ ({', '.join(names[:4])}{', …' if len(names) > 4 else ''}) = "
                                  f"{fmt_vector(pr.params_after, 4)}"))
            else:
                parts.append(Text("gradient kept for accumulation: no update until the step's last micro-batch",
                                  style="dim"))
        return Group(*parts)
