"""The four phases of an iteration (forward → loss → backward → update) and one iteration's
values phase by phase, for the phase view and the step-through keys."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .optimizers import UpdateTerms

if TYPE_CHECKING:
    from .plan import Position
    from .segment import Segment

PHASES: tuple[str, ...] = ("forward", "loss", "backward", "update")
PHASE_FORMULAS: dict[str, str] = {
    "forward": "ŷ_i = f(x_i; θ) for each sample i of the batch",
    "loss": "L_b = (1/n_b) Σ_i ℓ(ŷ_i, y_i)",
    "backward": "g_i = ∇θ ℓ_i;  ĝ = (1/n_b) Σ_i g_i",
    "update": "θ ← optimizer(θ, ĝ, lr)",
}


@dataclass
class PhaseData:
    """One iteration's values, phase by phase (for the phase view and the step-through keys).

    While stepping by phase it fills in as the phases run; for a finished iteration
    (:attr:`Simulation.last`) every field is computed on demand from the parameters it started from.
    """

    iteration: int                               # 0-based global iteration
    micro: int                                   # which micro-batch of its step (0-based)
    micro_count: int                             # micro-batches in its step
    indices: np.ndarray                          # the batch's sample indices
    X: np.ndarray
    y: np.ndarray
    segment: Segment
    phase: int = -1                              # index into PHASES of the last phase done
    outputs: np.ndarray | None = None            # forward: predictions (probabilities for bce)
    losses: np.ndarray | None = None             # loss: per-sample losses
    batch_loss: float = math.nan
    sample_grads: np.ndarray | None = None       # backward: (n_b, P)
    grad: np.ndarray | None = None               # backward: the batch gradient ĝ (mean over the batch)
    params_before: np.ndarray | None = None      # update: θ before this iteration
    update: np.ndarray | None = None             # update: θ_new − θ_old (zero on a non-final micro-batch)
    lr: float = math.nan
    terms: UpdateTerms | None = None             # update: the optimizer's rule with its numbers

    @property
    def position(self) -> Position:
        """Where this iteration sits: epoch, pass, batch, step (0-based, within its segment)."""
        return self.segment.locate(self.iteration)
