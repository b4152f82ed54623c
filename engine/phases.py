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


#: A batch's per-sample values (x_i, y_i, ŷ_i, ℓ_i, g_i) are kept for its first this many
#: samples, the rows a phase view can show; the batch-wide ones (L_b, ĝ) are of the whole batch
#: (Batch GD at N = 10⁶ kept 56 MB of rows for the ~30 shown; issue 24).
ROWS_KEPT = 256


@dataclass
class PhaseData:
    """One iteration's values, phase by phase (for the phase view and the step-through keys).

    While stepping by phase it fills in as the phases run; for a finished iteration
    (:attr:`Simulation.last`) every field is computed on demand from the parameters it started from.
    ``X``, ``y``, ``outputs``, ``losses`` and ``sample_grads`` are of the batch's first
    :attr:`rows` samples (all of them up to :data:`ROWS_KEPT`); ``indices`` is the whole batch.
    """

    iteration: int                               # 0-based global iteration
    micro: int                                   # which micro-batch of its step (0-based)
    micro_count: int                             # micro-batches in its step
    indices: np.ndarray                          # the batch's sample indices
    X: np.ndarray                                # inputs of the first :attr:`rows` samples
    y: np.ndarray                                # their targets
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
    def rows(self) -> int:
        """How many of the batch's samples have their per-sample values here (its first ones)."""
        return int(self.X.shape[0])

    @property
    def position(self) -> Position:
        """Where this iteration sits: epoch, pass, batch, step (0-based, within its segment)."""
        return self.segment.locate(self.iteration)
