"""What a lone run shows besides its counters: its last iteration laid open phase by phase, with
the optimizer's step written out, and the measurements the panels draw (the gradient noise, the
loss landscape, the full-batch reference path, the batch and full gradients), computed on
demand, never in the step loop. Mixed into :class:`engine.simulation.Simulation`; reads only its
public ``params``, ``iteration``, ``model``, ``data``, ``scenario``, ``initial_params``,
``segments`` and :meth:`current_batch`, and the Runs that ran last (``_last_runs``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .chunks import mean_gradient
from .optimizers import UpdateTerms
from .phases import ROWS_KEPT, PhaseData

if TYPE_CHECKING:  # imported where used: a run without the TUI needs neither
    from .landscape import Grid
    from .noise import NoiseReport


class RunReadings:
    """The lone run's readings (see the module docstring)."""

    params: np.ndarray
    iteration: int
    model: Any
    data: Any
    initial_params: np.ndarray
    _last_runs: Any
    _reference_cache: dict

    def current_batch(self) -> np.ndarray: ...   # Simulation's

    # --- the last iteration ---------------------------------------------------------------
    @property
    def last(self) -> PhaseData | None:
        """The last finished iteration, every phase's values computed from the θ it started from."""
        last = self._last_runs.last_iteration()
        if last is None:
            return None
        iteration, micro, count, indices, params, loss, grad, step_grad, _opt, lr = last
        head = indices[:ROWS_KEPT]
        X, y = self.data.X[head], self.data.y[head]
        p = PhaseData(iteration, micro, count, indices, X, y, self._last_runs.segment, phase=3)
        p.outputs = self.model.predict(params, X)
        p.losses = self.model.per_sample_loss(params, X, y)
        p.batch_loss, p.grad = loss, grad
        p.sample_grads = self.model.per_sample_grads(params, X, y)
        p.params_before = params
        final = step_grad is not None
        p.update = (self.params - params) if final and self.iteration == iteration + 1 else np.zeros_like(params)
        p.lr = lr if final else math.nan
        p.terms = self.last_update() if final else None
        return p

    def last_brief(self) -> PhaseData | None:
        """The same iteration as :attr:`last`, without recomputing its per-sample values: where it
        sits (``position``), its batch (``indices``; ``X``, ``y`` of its first rows), its batch loss L_b, its batch
        gradient ĝ, θ before it and its rate, as recorded when it ran; ``outputs``, ``losses``,
        ``sample_grads``, ``update`` and ``terms`` are None (read :attr:`last` for those). For a
        display that needs only where the last batch was and its loss, every frame (the strip, the
        detail line): :attr:`last` evaluates the model on the batch again (predictions, per-sample
        losses and per-sample gradients of up to :data:`~engine.phases.ROWS_KEPT` samples) each
        time it is read."""
        last = self._last_runs.last_iteration()
        if last is None:
            return None
        iteration, micro, count, indices, params, loss, grad, step_grad, _opt, lr = last
        head = indices[:ROWS_KEPT]
        p = PhaseData(iteration, micro, count, indices, self.data.X[head], self.data.y[head],
                      self._last_runs.segment, phase=3)
        p.batch_loss, p.grad, p.params_before = loss, grad, params
        p.lr = lr if step_grad is not None else math.nan
        return p

    def last_update(self) -> UpdateTerms | None:
        """The last optimizer step written out (formula, intermediate values, Δθ, effective step
        size, velocity), recomputed by the optimizer from the state it started from; None
        before any step or after a non-final micro-batch."""
        last = self._last_runs.last_iteration()
        if last is None:
            return None
        iteration, _, _, _, params, _, _, step_grad, opt_before, lr = last
        if step_grad is None or self.iteration != iteration + 1 or not math.isfinite(lr):
            return None
        with np.errstate(all="ignore"):
            return self._last_runs.segment.optimizer.explain(step_grad, opt_before, params, lr)


    # --- measurements computed on demand (never in the step loop) ---------------------------
    def noise(self) -> NoiseReport:
        """Gradient noise at the current θ for the current batch size (SCIENCE.md §3).

        The batch gradient is that of the batch in progress, or else of the last batch done.
        """
        from .noise import model_noise_report

        with np.errstate(all="ignore"):   # after a divergence θ may be finite but huge: ∞ is the answer
            batch = self.current_batch()
            return model_noise_report(self.model, self.params, self.data.X, self.data.y,
                                      self.scenario.batch_size * self.scenario.accumulate,
                                      batch if len(batch) else None)

    def reference_path(self, max_steps: int = 2000) -> np.ndarray:
        """Full-batch GD from the same start with the same learning rate, one update per epoch
        (cached); shape (k + 1, P)."""
        first = self._eras[0].segment.scenario
        key = (first.lr, max_steps)
        cache = self._reference_cache
        if key not in cache:
            steps = min(max_steps, max(first.epochs, 50))
            from .landscape import gd_path

            cache[key] = gd_path(self.model, self.data.X, self.data.y, self.initial_params, first.lr, steps)
        return cache[key]

    def landscape(self, i: int, j: int, xs: np.ndarray, ys: np.ndarray,
                  batch: np.ndarray | None = None, params: np.ndarray | None = None) -> Grid:
        """Loss over parameters i, j on the grid xs × ys, the others held at ``params``
        (default: the current parameters).

        With ``batch`` (indices), the loss of that batch only; else the full training loss.
        """
        X, y = (self.data.X, self.data.y) if batch is None else (self.data.X[batch], self.data.y[batch])
        held = self.params if params is None else np.asarray(params, dtype=float)
        from .landscape import loss_grid

        return loss_grid(self.model, X, y, held, i, j, np.asarray(xs), np.asarray(ys))

    def batch_gradient(self) -> np.ndarray | None:
        """ĝ of the batch in progress, or of the last batch done, at the current θ."""
        batch = self.current_batch()
        if not len(batch):
            return None
        return mean_gradient(self.model, self.params, self.data.X, self.data.y, batch)

    def full_gradient(self) -> np.ndarray:
        """G = ∇L(θ) over the whole training set at the current θ."""
        return mean_gradient(self.model, self.params, self.data.X, self.data.y)
