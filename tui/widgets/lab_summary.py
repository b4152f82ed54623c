"""The lab's numbers under the plots: the fit, B_crit next to B_simple and the two-batch
estimate, the hardware model's formula and defaults, and what the lab cannot show.

Every number is read from the :class:`engine.lab.LabResult` (``show(result)``); the limits are
the README's "Honest limits" in one or two lines.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.widget import Widget

LIMITS_SHORT = "Limits: training loss only (no generalization gap); the flat part needs noise."
LIMITS_LONG = ("Limits: small convex models and the training loss only — linear regression has no "
               "generalization gap; the flat (perfect scaling) part needs enough gradient noise "
               "(B_simple ≫ 1); with a small N the top of the sweep is plain GD; a constant lr "
               "makes every B take the same steps (tune it: the default rule).")


def num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    return f"{x:.3g}"


class LabSummary(Widget):
    """Fit, noise scales, hardware model, limits (see the module docstring)."""

    COMPONENT_CLASSES = {"labsummary--label", "labsummary--value", "labsummary--muted"}
    DEFAULT_CSS = "LabSummary { height: auto; }"

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.result = None
        self.hardware = None

    def show(self, result, hardware=None) -> None:  # noqa: ANN001
        self.result = result
        if hardware is not None:
            self.hardware = hardware
        self.refresh(layout=True)

    def render(self) -> Text:
        label = self.get_component_rich_style("labsummary--label", partial=True)
        value = self.get_component_rich_style("labsummary--value", partial=True)
        muted = self.get_component_rich_style("labsummary--muted", partial=True)
        wide = (self.content_size.width or self.size.width or 80) >= 110
        r = self.result
        hw = self.hardware if r is None else r.hardware
        t = Text()
        # the fit: B_crit first, its two numbers after
        if r is None or r.fit is None:
            t.append("B_crit: ", label)
            t.append("waiting for the sweep…" if r is None else
                     "no fit (needs 2 batch sizes that at least half the runs reached)", muted)
        else:
            f = r.fit
            t.append("Fit (S/S_min−1)(E/E_min−1)=1: " if wide else "B_crit ", label)
            if wide:
                t.append(f"S_min {num(f.s_min)}", value)
                t.append(" steps, ", muted)
                t.append(f"E_min {num(f.e_min)}", value)
                t.append(" examples → ", muted)
                t.append(f"B_crit = E_min/S_min = {num(f.b_crit)}", value)
            else:
                t.append(f"= E_min/S_min = {num(f.b_crit)}", value)
                t.append(f"  (S_min {num(f.s_min)}, E_min {num(f.e_min)})", muted)
        if r is not None:
            t.append("\n" if wide else "  ·  ")
            t.append("B_simple = tr Σ/|G|²: " if wide else "B_simple ", label)
            t.append(num(r.b_simple_start), value)
            t.append(" at the start, " if wide else " → ", muted)
            t.append(num(r.b_simple_target), value)
            t.append(" at the target · two-batch estimate " if wide else "\ntwo-batch estimate ", muted)
            t.append(f"{num(r.two_batch_start)}" + (" / " if wide else " → ") + f"{num(r.two_batch_target)}", value)
        t.append("\n" if wide or r is None else "  ·  ")
        if hw is not None:
            t.append("Hardware: " if wide else "", label)
            t.append(f"P = {hw.parallel}", value)
            t.append(" in parallel, " if wide else ", ", muted)
            t.append(f"M = {hw.memory}", value)
            t.append(" in memory: time per step ceil(B/P), to target S × ceil(B/P); "
                     "B > M does not fit" if wide else ": step = ceil(B/P)", muted)
            t.append("\n")
        t.append(LIMITS_LONG if wide else LIMITS_SHORT, muted)
        return t
