"""The steps–examples trade-off of batch size, and the regime a batch size is in.

**The trade-off** (McCandlish, Kaplan, Amodei et al. 2018, SCIENCE.md §4):
(S/S_min − 1)(E/E_min − 1) = 1, with B_crit = E_min/S_min. With E = B·S this is exactly

    S = S_min + E_min / B           (equivalently E = E_min + S_min · B)

so S is *linear in 1/B*: :func:`fit_hyperbola` fits (S_min, E_min) by least squares of the
relative residuals (S_i − S_min − E_min/B_i)/S_i (weights 1/S_i², since S spans decades),
constrained to S_min, E_min ≥ 0; exact on points of a hyperbola (tests/test_lab.py).
Regimes (:func:`regime`): B ≤ B_crit/4 **perfect scaling** (S within 25 % of E_min/B, since
S/(E_min/B) = 1 + B/B_crit), B ≥ 4·B_crit **maximal data parallelism** (S within 25 % of S_min,
since S/S_min = 1 + B_crit/B), between them **diminishing returns**.

The fitted curve and the regimes are what :mod:`engine.lab` reports for the batch sizes it ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Regime borders in units of B_crit (see the module docstring: 25 % from an asymptote).
REGIME_FACTOR = 4.0
REGIMES = ("perfect scaling", "diminishing returns", "maximal data parallelism")


@dataclass(frozen=True)
class Fit:
    """S_min, E_min of (S/S_min − 1)(E/E_min − 1) = 1 and B_crit = E_min/S_min."""

    s_min: float
    e_min: float
    points: int

    @property
    def b_crit(self) -> float:
        return self.e_min / self.s_min if self.s_min > 0 else math.inf

    def steps(self, batch_size: float) -> float:
        """S(B) = S_min + E_min/B on the fitted curve."""
        return self.s_min + self.e_min / batch_size

    def examples(self, batch_size: float) -> float:
        """E(B) = E_min + S_min·B on the fitted curve."""
        return self.e_min + self.s_min * batch_size

    def curve(self, count: int = 64, lo: float = 0.25, hi: float = 4096.0) -> list[tuple[float, float]]:
        """(E, S) points of the fitted hyperbola for B log-spaced in [lo, hi]."""
        return [(self.examples(b), self.steps(b)) for b in np.geomspace(lo, hi, count)]


def fit_hyperbola(batch_sizes: Sequence[float], steps: Sequence[float]) -> Fit | None:
    """Least squares of the relative residuals of S_i = S_min + E_min/B_i (see the module
    docstring), with S_min, E_min ≥ 0. None with fewer than 2 points or a degenerate fit."""
    b = np.asarray(batch_sizes, dtype=float)
    s = np.asarray(steps, dtype=float)
    ok = np.isfinite(b) & np.isfinite(s) & (b > 0) & (s > 0)
    b, s = b[ok], s[ok]
    if len(b) < 2 or len(np.unique(b)) < 2:
        return None
    w = 1.0 / s                          # rows scaled by 1/S_i: relative residuals
    A = np.column_stack([np.ones_like(b), 1.0 / b]) * w[:, None]
    rhs = s * w                          # = 1
    coef, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    s_min, e_min = float(coef[0]), float(coef[1])
    if s_min < 0 or e_min < 0:           # the constrained optimum is on an edge: one term only
        cands = []
        for col in (0, 1):
            a = A[:, col]
            c = float(a @ rhs / (a @ a))
            if c >= 0:
                r = rhs - c * a
                cands.append((float(r @ r), col, c))
        if not cands:
            return None
        _, col, c = min(cands)
        s_min, e_min = (c, 0.0) if col == 0 else (0.0, c)
    if s_min <= 0 and e_min <= 0:
        return None
    return Fit(s_min, e_min, int(len(b)))


def regime(batch_size: float, b_crit: float) -> str:
    """Which of :data:`REGIMES` the batch size is in (borders B_crit/4 and 4·B_crit)."""
    if batch_size <= b_crit / REGIME_FACTOR:
        return REGIMES[0]
    if batch_size >= b_crit * REGIME_FACTOR:
        return REGIMES[2]
    return REGIMES[1]
