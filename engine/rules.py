"""The rules a run follows besides its arithmetic, written once for one run and for K runs.

* **When the full losses are evaluated** (:class:`EvalPolicy`, issue 14): every
  ``eval_every`` steps (:meth:`Scenario.eval_interval`), at every epoch end and at the last
  step. ``eval_every = "auto"`` picks the interval from the cost of an evaluation; a caller
  may also ask for every step up to a data size (the TUI does: a teacher stepping an epoch
  at a time sees the loss of every step). The policy is a setting of each run (issue 25: it
  used to be a class attribute that importing the TUI changed for the whole process).
* **Diverging** (:func:`diverging_update`): a step whose batch loss L_b exceeds
  :data:`DIVERGING_FACTOR` = 10³ times the reference loss L_ref starts "diverging"; a batch
  loss back below L_ref ends it (the reasoning is in :func:`diverging_update`'s docstring).
* **The reference loss after a change** (:func:`loss_reference`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .plan import Plan
    from .scenario import Scenario

DIVERGING_FACTOR = 1e3
"""A step whose batch loss exceeds this many times the reference loss starts "diverging"."""

#: The TUI's policy: every step on data sets of up to this many samples (training +
#: validation). Its budget is 10,000 steps/s; an evaluation of 20,000 samples costs ~20 µs.
TUI_EVERY_STEP_UP_TO = 20_000


@dataclass(frozen=True)
class EvalPolicy:
    """When a run evaluates its full training and validation losses (and checks its target).

    ``every_step_up_to``: with ``eval_every = "auto"``, data sets of at most this many samples
    (training + validation) are evaluated after every step. 0 (the engine's and ``mbsim run``'s
    default): the interval the scenario's cost rule picks, so a step costs what its batch costs.
    """

    every_step_up_to: int = 0

    def interval(self, scenario: Scenario, n_eval: int, plan: Plan) -> int | None:
        """Steps between evaluations (None: only at epoch ends and at the last step)."""
        if scenario.eval_every == "auto" and n_eval <= self.every_step_up_to:
            return 1
        per_step = plan.total_samples / max(1, plan.total_steps)
        return scenario.eval_interval(n_eval, per_step)


#: The engine's default: evaluation at the scenario's eval points only.
ENGINE_POLICY = EvalPolicy()
#: What the TUI asks for (:data:`TUI_EVERY_STEP_UP_TO`).
TUI_POLICY = EvalPolicy(TUI_EVERY_STEP_UP_TO)


def eval_due(local: int, step: int, epoch_end: bool, every: int | None, total_local: int) -> bool:
    """True after a step at which the full losses are evaluated: at an epoch end, every
    ``every`` steps, and at the last step (``local``: iterations done in the stretch of
    settings, ``total_local`` of them in all)."""
    return epoch_end or (every is not None and step % every == 0) or local >= total_local


def loss_reference(initial: float, here: float) -> float:
    """The diverging rule's reference loss after a live change: the larger of the loss at the
    start, L(θ₀), and the loss where the change was made, so a rescued run is judged from where
    it is (the loss at the start alone when the loss here is not finite)."""
    return max(initial, here) if math.isfinite(here) else initial


def diverging_update(diverging_step: np.ndarray, step_loss: np.ndarray, reference: np.ndarray,
                     live: np.ndarray, step: int) -> np.ndarray | None:
    """The "diverging" state of K runs after step ``step`` (1-based): the new
    ``diverging_step`` array (0: not diverging; else the step at which it began), or None when
    nothing changed. A run starts diverging at the first step whose batch loss L_b (the step's
    loss before its update) exceeds DIVERGING_FACTOR = 10³ times its reference loss L_ref, and
    stops when a batch loss falls back below L_ref. Runs that are not ``live`` or have no
    positive reference are left as they are.

    L_ref is the full training loss at the start, L(θ₀) — after a live change of settings the
    larger of L(θ₀) and the loss where the change was made (:func:`loss_reference`).

    Why this rule (SCIENCE.md §5, §6). Gradient descent on a loss with curvature λ along a
    direction multiplies the error there by (1 − ηλ) per step: for ηλ > 2 the loss grows
    geometrically, |1 − ηλ|² per step, and passes any fixed multiple of L(θ₀) within a few
    steps (lr 1.6 on the worked example: L_b passes 10³·L(θ₀) at step 7, ~400 steps before
    the loss overflows). A stable run (0 < ηλ < 2) only settles into a noise floor around
    L* ≤ L(θ₀), so its loss stays below L(θ₀) apart from transients. Sampling noise alone
    cannot reach the threshold either: the per-sample losses are ≥ 0, so L_b ≤ (N/B)·L(θ);
    for N/B < 10³ a batch loss above 10³·L_ref means the full loss itself is above
    (10³·B/N)·L_ref > L_ref — the run has climbed above where it started, not wobbled.
    The batch loss is used (not the full loss) because every step computes it, so the onset
    does not depend on how often the full loss is evaluated. The hysteresis (leave below
    L_ref, not below the threshold) keeps the state from flickering around the threshold.
    Being part of the training state, it is exact under back/goto (replayed, not guessed).
    """
    live = live & (reference > 0)
    clear = live & (diverging_step > 0) & (step_loss < reference)
    start = live & (diverging_step == 0) & (step_loss > DIVERGING_FACTOR * reference)
    if not (clear.any() or start.any()):
        return None
    d = diverging_step.copy()    # a new array: checkpoints hold the old one
    d[clear] = 0
    d[start] = step
    return d
