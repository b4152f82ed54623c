"""Learning-rate schedules that count optimizer **steps** (SCIENCE.md §1.2).

:func:`make_schedule` returns a function ``lr(t)`` where ``t`` is the 1-based index of the
optimizer step about to be taken (1 for the first update). With gradient accumulation one step
spans several iterations; the schedule still advances once per step, as a PyTorch LR scheduler
whose ``scheduler.step()`` is called once after every ``optimizer.step()``.

The returned functions do no checking (they are called once per step); ``t`` must be ≥ 1.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Callable
from typing import Any

from mbsim.engine.errors import ScenarioError

from mbsim.engine.names import SCHEDULES  # noqa: E402  (the one list of names)

Schedule = Callable[[int], float]


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_count(setting: str, value: Any) -> int:
    if not _is_int(value) or value < 1:
        raise ScenarioError(setting, value, "must be a whole number >= 1")
    return int(value)


def make_schedule(
    name: str,
    base_lr: float,
    total_steps: int,
    *,
    decay_steps: int = 1000,
    decay_rate: float = 0.5,
    warmup_steps: int = 100,
) -> Schedule:
    """Return ``lr(t)``, the learning rate of optimizer step ``t`` (1-based), for schedule ``name``.

    * ``constant``: γ.
    * ``step``: γ · decay_rate^⌊(t − 1)/decay_steps⌋ — ``torch.optim.lr_scheduler.StepLR``
      (step_size = decay_steps, gamma = decay_rate) stepped once per optimizer step.
    * ``cosine``: γ · ½(1 + cos(π (t − 1)/total_steps)) — ``CosineAnnealingLR`` with
      T_max = total_steps and eta_min = 0 (its closed form; past total_steps it rises again,
      as torch's does).
    * ``warmup``: γ · min(1, t/warmup_steps) — linear warm-up, then constant.

    ``total_steps`` (≥ 1) is validated for every schedule but only cosine uses it.

    Raises :class:`ScenarioError` for an unknown name (suggesting the closest), a learning
    rate that is not a finite number > 0 (setting ``lr``), ``decay_steps``/``warmup_steps``/
    ``total_steps`` < 1, or ``decay_rate`` outside (0, 1].
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in SCHEDULES:
        close = difflib.get_close_matches(key, SCHEDULES, n=1) if isinstance(key, str) else []
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ScenarioError("schedule", name, f"unknown schedule; {hint}choose one of {', '.join(SCHEDULES)}")
    if not _is_number(base_lr) or not math.isfinite(base_lr) or base_lr <= 0:
        raise ScenarioError("lr", base_lr, "must be a finite number > 0")
    gamma = float(base_lr)
    total = _check_count("total_steps", total_steps)
    every = _check_count("decay_steps", decay_steps)
    warm = _check_count("warmup_steps", warmup_steps)
    if not _is_number(decay_rate) or not (0 < decay_rate <= 1):
        raise ScenarioError("decay_rate", decay_rate, "must be in (0, 1]")
    rate = float(decay_rate)

    if key == "constant":
        def constant(t: int) -> float:
            return gamma
        return constant

    if key == "step":
        def step(t: int) -> float:
            return gamma * rate ** ((t - 1) // every)
        return step

    if key == "cosine":
        def cosine(t: int) -> float:
            return gamma * 0.5 * (1.0 + math.cos(math.pi * (t - 1) / total))
        return cosine

    def warmup(t: int) -> float:
        return gamma * (t / warm) if t < warm else gamma
    return warmup
