"""The arithmetic line: the batch arithmetic of a plan written out with its numbers.

PROVISIONAL: a minimal stand-in written on the "lessons" branch so the lesson panel can show
the line; the "epochend" branch owns this module (with the epoch_end variants) and its version
replaces this one at merge. Only :func:`arithmetic_line` is relied on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sampling import Plan


def arithmetic_line(plan: Plan) -> str:
    """``N = 200, B = 5 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · 40 × 1000 epochs =
    40,000 updates`` (SCIENCE.md §1: M = ⌈N/B⌉, or ⌊N/B⌋ with drop_last; steps = iterations / K)."""
    n, b, m = plan.n_samples, plan.batch_size, plan.batches_per_pass
    if plan.drop_last:
        head = f"N = {n:,}, B = {b:,} → ⌊{n:,}/{b:,}⌋ = {m:,} batches per pass ({plan.leftover:,} left out)"
    else:
        head = f"N = {n:,}, B = {b:,} → ⌈{n:,}/{b:,}⌉ = {m:,} batches per pass (last one {plan.last_batch_size:,})"
    if plan.steps_per_epoch is not None:
        per = f"{plan.steps_per_epoch_count:,} steps per epoch (steps_per_epoch)"
    elif plan.accumulate > 1:
        per = f"⌈{m:,}/{plan.accumulate}⌉ = {plan.steps_per_epoch_count:,} steps per epoch (accumulate {plan.accumulate})"
    else:
        per = None
        head = head.replace("per pass", "per epoch")
    tail = f"{plan.steps_per_epoch_count:,} × {plan.epochs:,} epochs = {plan.total_steps:,} updates"
    return " · ".join(p for p in (head, per, tail) if p)
