"""What K runs stepped together hold (:class:`RunsState`, everything a checkpoint keeps) and
what one run hands to the next stretch of settings (:class:`MemberState`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A run's code: running (ready or diverging), finished, target reached, diverged, stopped by
#: its caller (:meth:`engine.runs.Runs.stop_rows`: the lab's tuned rule stops a learning rate
#: that can no longer win).
RUNNING, FINISHED, TARGET_REACHED, DIVERGED, STOPPED = 0, 1, 2, 3, 4


@dataclass
class MemberState:
    """One run's state where a new stretch of settings starts (a live change): what it keeps
    (parameters, optimizer state or None for a fresh one, counters, its last order and
    generator, the last epoch's loss, its last rate and batch loss) and its diverging rule's
    new reference loss."""

    params: np.ndarray
    opt_state: dict | None
    iteration: int
    step: int
    samples: int
    order: np.ndarray | None
    generator: np.random.Generator
    finished_epoch_loss: float
    lr: float
    loss_ref: float
    batch_loss: float = math.nan


@dataclass(slots=True)
class RunsState:
    """Everything that changes while K runs train (what a checkpoint keeps)."""

    params: np.ndarray                   # (K, P); one run: (P,)
    opt_states: list[dict]               # one per update set (one run: its (P,) buffers)
    last_lrs: list[Any]                  # one per update set: the last step's rate
    loss_ref: np.ndarray                 # (K,) the diverging rule's reference loss
    start_lr: np.ndarray                 # (K,) each run's rate before this stretch's first step
    batch_loss: Any                      # (K,) the last step's loss (before its update); one run: a float
    finished_epoch_loss: Any             # (K,); one run: a float
    iteration: int = 0                   # counters of the running runs (stopped ones: frozen)
    step: int = 0
    samples: int = 0
    orders: np.ndarray | None = None     # (K, N) this pass's orders
    order_pass: int = -1
    accum: np.ndarray | None = None      # the step's gradient sum over its micro-batches
    accum_n: int = 0
    accum_loss: Any = None               # (K,); one run: a float
    epoch_loss_sum: Any = 0.0            # (K,); one run: a float
    epoch_n: int = 0
    code: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    diverged_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    diverging_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    frozen: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), dtype=np.int64))
    eval_params: np.ndarray | None = None    # the parameters ``evaluation`` was computed at
    evaluation: tuple | None = None          # (train, val, train acc, val acc), each (K,)
    anchor: np.ndarray | None = None     # engine.target: where each run's loss was last evaluated
    anchor_loss: np.ndarray | None = None
    anchor_grad: np.ndarray | None = None   # (convex models) the full gradient there
    target_evaluations: int = 0          # runs evaluated by the every-step target check
    ahead_first: int = 0                 # engine.orders: the block of orders drawn ahead
    ahead_passes: int = 0
    ahead_states: list = field(default_factory=list)
    ahead_from: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    drawn: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
