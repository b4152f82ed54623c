"""The noise cloud's readout: the measured spread of the K runs against the spread predicted
for the stationary state (SCIENCE.md §5), and the prediction's note where there is one.

``spread tr Cov[θ] measured 0.001794  ·  predicted (Lyapunov) 0.001774  ·  measured/predicted 1.01``

Each line is its own Static, repainted only when its text changes (a repaint costs its cells'
bytes on the wire).
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


def fmt_spread(v: float | None) -> str:
    """A spread, 4 significant digits (— when there is none)."""
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.4g}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.3e}"


class CloudReadout(Vertical):
    """The spread readout (measured vs predicted) and the prediction's note."""

    DEFAULT_CSS = """
    CloudReadout { height: auto; }
    CloudReadout > Static { height: auto; }
    CloudReadout > .-empty { display: none; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = ""
        self.measured = math.nan
        self.predicted: float | None = None
        self.note = ""
        self._shown: list[Text | None] = [None, None]

    def compose(self) -> ComposeResult:
        for _ in range(2):
            yield Static(classes="-empty")

    def show(self, ens) -> None:  # noqa: ANN001 (an engine.ensemble.Ensemble)
        """Redraw from the ensemble (each line only if it changed)."""
        measured = ens.spread()
        floor = ens.predicted_spread()
        self.measured = measured
        self.predicted = floor.spread if floor is not None else None
        self.note = ens.prediction_note()
        parts = [("spread tr Cov[θ] ", ""), (f"measured {fmt_spread(measured)}", "bold")]
        if floor is not None:
            ratio = measured / floor.spread if floor.spread > 0 and math.isfinite(measured) else math.nan
            parts += [("  ·  predicted (Lyapunov) ", ""), (fmt_spread(floor.spread), "bold"),
                      (f"  ·  measured/predicted {ratio:.2f}" if math.isfinite(ratio) else "", "")]
        lines = [Text.assemble(*parts), Text(self.note, style="italic") if self.note else None]
        self.text = "\n".join(t.plain for t in lines if t is not None)
        for static, line, before in zip(self.query(Static), lines, self._shown):
            if line == before:
                continue
            static.set_class(line is None, "-empty")
            static.update(line if line is not None else "")
        self._shown = lines
