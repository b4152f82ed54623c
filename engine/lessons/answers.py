"""Judging what a student typed against a quantity's value."""

from __future__ import annotations

import math
import re
from typing import Any

from .quantities import format_quantity


def check_answer(typed: str, value: Any) -> bool:
    """Does what a student typed match the quantity? Whole numbers exactly, other numbers to
    0.5 % (or to the digits shown), lists item by item, names ignoring case and spaces."""
    text = typed.strip().replace("−", "-")
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return check_answer(typed, value[0])
        parts = [p for p in re.split(r"[,;\s]+", text) if p]
        return len(parts) == len(value) and all(check_answer(p, v) for p, v in zip(parts, value))
    if isinstance(value, str):
        norm = lambda s: re.sub(r"[\s_-]+", "", s).lower()  # noqa: E731
        return norm(text) == norm(value)
    try:
        got = float(text.replace(",", "").replace("_", "").replace(" ", ""))
    except ValueError:
        return False
    v = float(value)
    if not math.isfinite(v):
        return got == v
    if v == int(v):
        return got == v
    return abs(got - v) <= 0.005 * abs(v) or format_quantity(got) == format_quantity(v)
