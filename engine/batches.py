"""The batches of K runs: each run's data in its pass order, and each step's loss and gradient.

At a pass start each run's samples are put in its order once (a batch is then a slice, as a
lone run's always was; for many runs each batch is one contiguous (K, n, d) block); one feature
with squared error on many runs keeps x and y sample-major (:meth:`engine.models.LinearModel.loss_and_grad_runs_by_sample`). Past
:data:`GATHER_ABOVE` numbers nothing is kept in pass order: each step gathers its batch, in
chunks of runs (a row does not depend on the others: the same numbers, in memory bounded
whatever N and the batch size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .models import Model
from .prepare import TrainingData

#: Past this many numbers (K runs × N samples × (d + 1)) the runs' data are not kept in pass
#: order: each step gathers its batch instead (the same values; memory bounded whatever N).
GATHER_ABOVE = 1 << 20


class Batches:
    """The data of K runs for the pass in work (``xo``/``yo``: run-major, or for one run its
    (N, d) and (N,) arrays; ``xs``/``ys``: sample-major), derived from the orders: nothing here
    is kept by a checkpoint, :meth:`forget` drops it and the next pass start makes it again."""

    def __init__(self, model: Model, data: TrainingData, k: int, batch_size: int) -> None:
        self.model = model
        self.data = data
        self.k = k
        self.one = k == 1
        self.batch_size = batch_size
        self.gather = k * data.n * (data.X.shape[1] + 1) > GATHER_ABOVE
        # one feature, squared error, many runs: the sample-major product (engine.models)
        self.by_sample = bool(getattr(model, "runs_by_sample", False)) and k > 1 and not self.gather
        # many runs otherwise: each batch of the pass one contiguous (K, n, d) block (a slice
        # [:, a:b] of run-major (K, N, d) data is K separate pieces: every operation on it
        # loops over the runs; a block is one piece, the same numbers)
        self.blocked = k > 1 and not self.gather and not self.by_sample
        # the model's step takes its inputs with a column of ones (the MLP's b1 in its first
        # product, engine.models.mlp): the pass's data, kept in pass order, carry it, for one run
        # and for K runs alike (gathered batches do not: the model's plain path)
        self.ones = bool(getattr(model, "ones_column", False)) and not self.gather and not self.by_sample
        # [X 1], made once: the gathers write into their arrays whole (a gather into every column
        # but the last would go through a temporary the size of the pass's data, fresh pages
        # for the kernel at every pass start). Rows of 3 numbers are padded to 4 (a zero, never
        # read: the model gets the first 3 columns, a view): NumPy's take copies rows of 8, 16
        # or 32 bytes by fast paths, 24 bytes one memmove each, 3× the time
        # (made at the first pass start, given back by :meth:`release`: a stretch of settings a
        # live change left behind keeps none, and makes it again if it steps on after a goto)
        self._x1: np.ndarray | None = None
        self._cols = data.X.shape[1] + 1 if self.ones else data.X.shape[1]
        self._full = data.n // batch_size            # batches of B in a pass (then the rest)
        # the blocks' arrays, made once and filled again at every pass start (new arrays of
        # this size every pass cost the kernel fresh pages each time)
        self._buffers: tuple[np.ndarray, ...] | None = None
        self.forget()

    def forget(self) -> None:
        """No pass's data (after a restore)."""
        self.xo = self.yo = self.xs = self.ys = None
        self.xb = self.yb = self.xt = self.yt = None
        self.orders: np.ndarray | None = None
        self.pass_index = -1

    def release(self) -> None:
        """No pass's data, and the arrays kept for the next pass's given back too ([X 1] and
        the blocks' arrays: made again at the next pass start, should the runs step on)."""
        self.forget()
        self._buffers = None
        self._x1 = None

    def _ones_data(self) -> np.ndarray:
        """[X 1] (rows of 3 padded to 4: see ``__init__``), made once until :meth:`release`."""
        if self._x1 is None:
            X = self.data.X
            x1 = np.zeros((X.shape[0], 4 if self._cols == 3 else self._cols))
            x1[:, :self._cols - 1] = X
            x1[:, self._cols - 1] = 1.0
            self._x1 = x1
        return self._x1

    def start_pass(self, orders: np.ndarray, pass_index: int) -> None:
        """The runs' data in the orders of pass ``pass_index`` ((K, N))."""
        self.orders = orders
        self.pass_index = pass_index
        if self.gather:
            return
        d = self.data
        if self.one:
            order = orders[0]
            if not self.ones:
                self.xo, self.yo = d.X[order], d.y[order]
            else:
                self.xo, self.yo = self._ones_data()[order][:, :self._cols], d.y[order]
        elif self.by_sample:      # x run-major for the dots, x and y sample-major
            x = d.X[:, 0]
            self.xo = np.take(x, orders)
            by_sample = orders.T
            self.xs = np.take(x, by_sample)
            self.ys = np.take(d.y, by_sample)
        else:                     # batch j of every run: xb[j] (K, B, d), yb[j] (K, B); the rest: xt, yt
            b, full, k = self.batch_size, self._full, self.k
            x = self._ones_data() if self.ones else d.X
            cut = b * full
            if self._buffers is None:
                rest = orders.shape[1] - cut
                cols = x.shape[1]
                self._buffers = (np.empty((full, k, b), dtype=np.intp), np.empty((full, k, b, cols)),
                                 np.empty((full, k, b)), np.empty((k, rest), dtype=np.intp),
                                 np.empty((k, rest, cols)), np.empty((k, rest)))
            idx, xb, yb, idx_t, xt, yt = self._buffers
            # the indices batch-major in one contiguous array first: a gather through strided
            # indices is slower; 'clip' (the indices are valid) spares the copy 'raise' makes
            np.copyto(idx, orders[:, :cut].reshape(k, full, b).transpose(1, 0, 2))
            self.xb = np.take(x, idx, axis=0, out=xb, mode="clip")[..., :self._cols]
            self.yb = np.take(d.y, idx, out=yb, mode="clip")
            if cut < orders.shape[1]:
                np.copyto(idx_t, orders[:, cut:])
                self.xt = np.take(x, idx_t, axis=0, out=xt, mode="clip")[..., :self._cols]
                self.yt = np.take(d.y, idx_t, out=yt, mode="clip")

    def loss_and_grad(self, params: np.ndarray, a: int, b: int) -> tuple[Any, np.ndarray]:
        """The mean loss and gradient of every run's batch at [a, b) of its order: (K,) and
        (K, P) — for one run a float and (P,)."""
        model = self.model
        if self.gather:
            return self._gathered(params, a, b)
        if self.one:
            return model.loss_and_grad(params, self.xo[a:b], self.yo[a:b])
        if self.by_sample:
            return model.loss_and_grad_runs_by_sample(params, self.xs[a:b], self.ys[a:b], self.xo[:, a:b])
        j = a // self.batch_size          # the plan's batch j is [j·B, min(j·B + B, N))
        if j < self._full:
            return model.loss_and_grad_runs(params, self.xb[j], self.yb[j])
        return model.loss_and_grad_runs(params, self.xt, self.yt)

    def _gathered(self, params: np.ndarray, a: int, b: int) -> tuple[Any, np.ndarray]:
        d, orders, model = self.data, self.orders, self.model
        if self.one:
            return model.loss_and_grad_of(params, d.X, d.y, orders[0, a:b])
        rows = max(1, GATHER_ABOVE // ((b - a) * (d.X.shape[1] + 1)))
        if rows >= self.k:
            return model.loss_and_grad_runs_of(params, d.X, d.y, orders[:, a:b])
        loss, grad = np.empty(self.k), np.empty_like(params)
        for r in range(0, self.k, rows):
            loss[r:r + rows], grad[r:r + rows] = model.loss_and_grad_runs_of(
                params[r:r + rows], d.X, d.y, orders[r:r + rows, a:b])
        return loss, grad
