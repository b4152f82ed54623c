"""Numbers and names in the students' words: how a value is written on a slide and in a working.

NumPy-free (``mbsim lesson --check`` of a lesson without claims imports no NumPy).
"""

from __future__ import annotations

import math
from typing import Any

#: The singular of the units a quantity's value is written with ("1 batch", "40 batches").
SINGULAR: dict[str, str] = {
    "batches": "batch", "samples": "sample", "steps": "step", "iterations": "iteration",
    "epochs": "epoch", "micro-batches": "micro-batch", "passes": "pass", "runs": "run",
    "examples": "example", "updates": "update",
}


def number(value: Any) -> str:
    """A number for a person: 40,000 · 0.5 · 0.6931 · 1.3e-04 · ∞ (whole numbers with thousands
    separators, others to 4 significant digits)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
        return f"{int(value):,}"
    v = float(value)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def signed(value: float) -> str:
    """:func:`number` with a real minus sign (−0.5), as slides write it."""
    return number(value).replace("-", "−")


def with_unit(value: Any, unit: str) -> str:
    """``40 batches``, ``1 batch``; the bare number without a unit."""
    text = number(value)
    if not unit:
        return text
    if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) == 1:
        unit = SINGULAR.get(unit, unit)
    return f"{text} {unit}"


def percent(fraction: float) -> str:
    """0.575 → ``57.5 %`` (to 3 significant digits, at most one decimal below 100)."""
    p = 100.0 * float(fraction)
    if p == int(p):
        return f"{int(p)} %"
    return f"{p:.3g} %" if p < 10 else f"{p:.1f} %"


def listing(values: list[Any] | tuple[Any, ...], limit: int = 8) -> str:
    """``400, 400, 200``; a long list of equal values as ``781 × 64, then 16``."""
    values = list(values)
    if len(values) <= limit:
        return ", ".join(signed(v) if isinstance(v, float) else number(v) for v in values)
    head = values[:-1]
    if all(v == head[0] for v in head):
        last = values[-1]
        if last == head[0]:
            return f"{len(values):,} × {number(last)}"
        return f"{len(head):,} × {number(head[0])}, then {number(last)}"
    return ", ".join(number(v) for v in values[:limit]) + f", … ({len(values):,} in all)"


def vector(values: list[float], names: tuple[str, ...] | None = None) -> str:
    """``w = −0.537`` or ``w = 1.98, b = −1.01`` with names; ``(0.1, −0.2)`` without."""
    if names and len(names) == len(values) and len(values) <= 6:
        return ", ".join(f"{n} = {signed(v)}" for n, v in zip(names, values))
    if len(values) == 1:
        return signed(values[0])
    shown = ", ".join(signed(v) for v in values[:6])
    return f"({shown}{', …' if len(values) > 6 else ''})"
