"""History: the per-step measurements of a simulation, in bounded memory.

Every optimizer step appends one row of scalar series (:data:`SERIES`) and the parameters.
Up to ``cap`` rows the record is exact (a bucket is one step). When it fills, neighbouring
buckets merge in pairs (min, max and count-weighted mean), so the bucket width doubles and
memory stays flat: ten million steps keep at most ``cap`` buckets.

Reading for a plot of width W picks a level of a lazily built pyramid of merged buckets with at
most ~2W rows, so the cost of a read is proportional to W, not to the length of the history.
Parameters are kept as a strided sample (the value at the end of every ``param_width``-th step).

The full-data series (``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``) are measured only
where the simulation evaluates them (every ``eval_every`` steps, and whenever they are read), so
most rows hold NaN there. Means ignore NaN: a bucket's mean is that of its measured values (NaN
if none), its min/max likewise (``np.fmin``/``np.fmax``); :meth:`History.fill_last` records a
value measured after the row was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SERIES: tuple[str, ...] = (
    "iteration",   # iterations done after this step
    "samples",     # samples seen after this step
    "epoch",       # epochs done, fractional: iterations / iterations per epoch
    "lr",          # learning rate used by this step
    "batch_loss",  # mean loss of the step's batch, before the update
    "epoch_loss",  # Keras running mean of batch losses over the epoch so far (weighted by batch size)
    "train_loss",  # full training-set loss after the update
    "val_loss",    # validation loss after the update (NaN without a validation set)
    "train_acc",   # training accuracy after the update (NaN for regression)
    "val_acc",     # validation accuracy after the update (NaN without one, or for regression)
)
INDEX: dict[str, int] = {name: i for i, name in enumerate(SERIES)}
#: The series measured on the whole data set (sparse: NaN where no evaluation ran).
EVALUATED: tuple[str, ...] = ("train_loss", "val_loss", "train_acc", "val_acc")
_EVAL_COLS = [INDEX[name] for name in EVALUATED]

DEFAULT_CAP = 32_768
BLOCK_ROWS = 256          # exact rows gathered in a list before one copy into the arrays
PARAM_BUDGET = 2_000_000  # floats kept for the parameter path, whatever the model size
MAX_PARAMS = 100_000      # the widest model a simulation takes (engine.simulation checks it)


@dataclass(frozen=True)
class Decimated:
    """A read of the history for drawing: one row per bucket, oldest first.

    ``step`` is the number of steps done at the end of each bucket; ``mean``, ``low`` and
    ``high`` are arrays of shape (rows, len(SERIES)); ``params`` holds the parameter path
    with the initial parameters first, shape (k + 1, P), and ``param_step`` its step numbers.
    """

    step: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    params: np.ndarray
    param_step: np.ndarray

    def series(self, name: str) -> np.ndarray:
        """The bucket means of one series."""
        return self.mean[:, INDEX[name]]

    def envelope(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The bucket minima and maxima of one series (the noisy band of the batch loss)."""
        i = INDEX[name]
        return self.low[:, i], self.high[:, i]


class History:
    """Bounded record of the scalar series and the parameter path of one simulation."""

    def __init__(self, initial_params: np.ndarray, cap: int = DEFAULT_CAP) -> None:
        if cap < 4 or cap % 2:
            raise ValueError("cap must be an even number >= 4")
        self.cap = cap
        self.n_series = len(SERIES)
        self.initial_params = np.array(initial_params, dtype=float)
        n_params = self.initial_params.size
        # the parameter path holds at most PARAM_BUDGET floats: fewer rows for a wider model
        # (at least 16 rows; models are capped at MAX_PARAMS parameters, which keeps 20)
        self.param_cap = max(16, min(cap, PARAM_BUDGET // max(n_params, 1)))
        self.param_cap -= self.param_cap % 2
        self.clear()

    def clear(self) -> None:
        """Forget every step (back to step 0)."""
        s = self.n_series
        self.width = 1
        self.count = 0
        self._rows = 0
        self._mean = np.empty((self.cap, s))
        self._low = self._mean
        self._high = self._mean
        self._acc_low = np.empty(s)
        self._acc_high = np.empty(s)
        self._acc_sum = np.empty(s)
        self._acc_count = np.empty(s)
        self._staged = 0
        self._pyramid: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        n_params = self.initial_params.size
        self.param_width = 1
        self._params = np.empty((self.param_cap, n_params))
        self._param_rows = 0
        self._pending_values: list = []   # exact rows not yet copied into the arrays (a block)
        self._pending_params: list = []
        self._block = 0                   # rows the pending block may take before it is copied

    # ------------------------------------------------------------------------------------
    def append(self, values: Sequence[float] | np.ndarray, params: np.ndarray) -> None:
        """Record one step: ``values`` in the order of :data:`SERIES`, then the parameters after it.

        Rows are kept in a short Python list and copied into the preallocated arrays a block
        at a time (a few NumPy calls per block instead of several per step): while the record
        is exact in one copy, once it is bucketed by reducing the block's buckets together
        (:meth:`_add_rows`). Every read copies the pending block first. ``params`` must not be
        modified afterwards (the simulation's parameter vectors never are).
        """
        if self._block:
            self.count += 1
            self._pending_values.append(values)
            self._pending_params.append(params)
            if len(self._pending_values) == self._block:
                self._flush_block()
            return
        room = min(BLOCK_ROWS, self._room())
        if room > 1:
            self._block = room
            self.append(values, params)
            return
        self._append_row(values, params)

    def _flush_block(self) -> None:
        """Copy the pending rows into the arrays (while exact they always fit: see ``_block``)."""
        k = len(self._pending_values)
        self._block = 0
        if not k:
            return
        values, params = self._pending_values, self._pending_params
        self._pending_values, self._pending_params = [], []
        if self.width > 1 or self.param_width > 1:
            self.count -= k
            self._add_rows(np.array(values, dtype=float), params)
            return
        r, pr = self._rows, self._param_rows
        self._mean[r : r + k] = values
        self._params[pr : pr + k] = params
        self._rows = r + k
        self._param_rows = pr + k
        if self._rows == self.cap:
            self._merge_level0()
        if self._param_rows == self.param_cap:
            self._halve_params()

    def _room(self) -> int:
        """Steps that fit before level 0 fills or the parameter path does (then the buckets or
        the stride double): a block never crosses that, so ``width`` is always current."""
        c, pw = self.count, self.param_width
        fits = (self.cap - self._rows) * self.width - self._staged
        return min(fits, (c // pw + self.param_cap - self._param_rows) * pw - c)

    def _add_rows(self, rows: np.ndarray, params: list) -> None:
        """Record several steps at once, as that many :meth:`_append_row` calls would (bucket
        sums may differ in the last bits: NumPy sums a block pairwise). Works in chunks within
        which neither the bucket width nor the parameter stride changes."""
        i, k = 0, len(rows)
        while i < k:
            c, pw = self.count, self.param_width
            take = min(k - i, self._room())
            self._add_values(rows[i : i + take])
            first = (pw - (c + 1) % pw) % pw                           # the first count ≡ 0 mod pw
            picked = params[i + first : i + take : pw]
            if picked:
                pr = self._param_rows
                self._params[pr : pr + len(picked)] = picked
                self._param_rows = pr + len(picked)
            self.count = c + take
            i += take
            if self._rows == self.cap:
                self._merge_level0()
            if self._param_rows == self.param_cap:
                self._halve_params()

    def _add_values(self, part: np.ndarray) -> None:
        """Add consecutive rows to level 0 (they fit): complete the staged bucket, write the
        whole buckets, stage the rest."""
        w = self.width
        self._last_values = part[-1].copy()
        if w == 1:
            r = self._rows
            self._mean[r : r + len(part)] = part
            self._rows = r + len(part)
            return
        j = 0
        if self._staged:
            j = min(w - self._staged, len(part))
            self._stage(part[:j])
            if self._staged == w:
                self._flush_stage()
        n = (len(part) - j) // w
        if n:
            b = part[j : j + n * w].reshape(n, w, -1)
            measured = b == b
            r = self._rows
            with np.errstate(invalid="ignore", divide="ignore"):
                self._mean[r : r + n] = np.where(measured, b, 0.0).sum(axis=1) / measured.sum(axis=1)
            self._low[r : r + n] = np.fmin.reduce(b, axis=1)
            self._high[r : r + n] = np.fmax.reduce(b, axis=1)
            self._rows = r + n
            j += n * w
        if j < len(part):
            self._stage(part[j:])

    def _stage(self, part: np.ndarray) -> None:
        """Add rows to the bucket being filled (min, max, sum and count of the measured values)."""
        measured = part == part
        low, high = np.fmin.reduce(part, axis=0), np.fmax.reduce(part, axis=0)
        total = np.where(measured, part, 0.0).sum(axis=0)
        if self._staged == 0:
            self._acc_low[:], self._acc_high[:] = low, high
            self._acc_sum[:] = total
            self._acc_count[:] = measured.sum(axis=0)
        else:
            np.fmin(self._acc_low, low, out=self._acc_low)
            np.fmax(self._acc_high, high, out=self._acc_high)
            self._acc_sum += total
            self._acc_count += measured.sum(axis=0)
        self._staged += len(part)

    def _halve_params(self) -> None:
        self._params[: self.param_cap // 2] = self._params[1 : self.param_cap : 2]
        self._param_rows = self.param_cap // 2
        self.param_width *= 2

    def _append_row(self, values: Sequence[float] | np.ndarray, params: np.ndarray) -> None:
        self.count += 1
        self._last_values = np.array(values, dtype=float) if self.width > 1 else values
        if self.width == 1:
            self._mean[self._rows] = values
            self._rows += 1
        else:
            v = self._last_values
            measured = v == v
            if self._staged == 0:
                self._acc_low[:] = v
                self._acc_high[:] = v
                self._acc_sum[:] = 0.0
                self._acc_count[:] = 0.0
            else:
                np.fmin(self._acc_low, v, out=self._acc_low)
                np.fmax(self._acc_high, v, out=self._acc_high)
            np.add(self._acc_sum, v, out=self._acc_sum, where=measured)
            self._acc_count += measured
            self._staged += 1
            if self._staged == self.width:
                self._flush_stage()
        if self._rows == self.cap:
            self._merge_level0()
        if self.count % self.param_width == 0:
            self._params[self._param_rows] = params
            self._param_rows += 1
            if self._param_rows == self.param_cap:
                self._halve_params()

    def _flush_stage(self) -> None:
        r = self._rows
        with np.errstate(invalid="ignore", divide="ignore"):
            self._mean[r] = self._acc_sum / self._acc_count   # NaN where nothing was measured
        self._low[r] = self._acc_low
        self._high[r] = self._acc_high
        self._rows += 1
        self._staged = 0

    def _merge_level0(self) -> None:
        """Halve the resolution of the exact-or-bucketed level 0 (the bucket width doubles)."""
        half = self.cap // 2
        mean = _pair_mean(self._mean[0::2], self._mean[1::2])
        low = np.fmin(self._low[0::2], self._low[1::2])
        high = np.fmax(self._high[0::2], self._high[1::2])
        self._mean = np.empty_like(self._mean)
        self._low = np.empty_like(self._mean)
        self._high = np.empty_like(self._mean)
        self._mean[:half], self._low[:half], self._high[:half] = mean, low, high
        self._rows = half
        self.width *= 2
        self._staged = 0
        self._pyramid = []

    def fill_last(self, step: int, values: Sequence[float]) -> None:
        """Record the :data:`EVALUATED` series measured at ``step`` after its row was written
        (only if ``step`` is the newest row and those cells are still NaN)."""
        self._flush_block()
        if step != self.count or step == 0:
            return
        if self._staged:                       # the step sits in the bucket being filled
            last = self._last_values
            for col, x in zip(_EVAL_COLS, values):
                if last[col] != last[col] and x == x:
                    last[col] = x
                    self._acc_sum[col] += x
                    self._acc_count[col] += 1
                    self._acc_low[col] = min(self._acc_low[col], x) if self._acc_low[col] == self._acc_low[col] else x
                    self._acc_high[col] = max(self._acc_high[col], x) if self._acc_high[col] == self._acc_high[col] else x
            return
        r = self._rows - 1
        if r < 0:
            return
        changed = False
        for col, x in zip(_EVAL_COLS, values):
            if self._mean[r, col] != self._mean[r, col] and x == x:
                self._mean[r, col] = x             # the bucket's only measured value
                if self._low is not self._mean:
                    self._low[r, col] = x
                    self._high[r, col] = x
                changed = True
        if changed:
            self._pyramid = [(m, lo, hi, min(n, r >> (level + 1)))
                             for level, (m, lo, hi, n) in enumerate(self._pyramid)]

    # ------------------------------------------------------------------------------------
    def truncate(self, steps: int) -> int:
        """Forget steps after ``steps``; return the step count actually kept.

        Buckets cannot be split, so the count kept is the largest bucket boundary at or below
        ``steps`` (exactly ``steps`` while the history is exact); the caller replays the rest.
        """
        self._flush_block()
        if steps >= self.count:
            return self.count
        steps = max(0, steps)
        rows = steps // self.width
        self._rows = rows
        self._staged = 0
        kept = rows * self.width
        self.count = kept
        self._param_rows = kept // self.param_width
        self._pyramid = [
            (m, lo, hi, min(n, rows >> (level + 1))) for level, (m, lo, hi, n) in enumerate(self._pyramid)
        ]
        return kept

    # ------------------------------------------------------------------------------------
    def last(self, name: str) -> float:
        """The most recent value of a series (NaN before the first step)."""
        self._flush_block()
        i = INDEX[name]
        if self._staged:
            return float(np.asarray(self._last_values)[i])
        if self._rows:
            return float(self._mean[self._rows - 1, i])
        return float("nan")

    def _level(self, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Level ``level`` of the pyramid (0 is the stored buckets), extended to the newest rows."""
        if level == 0:
            return self._mean, self._low, self._high, self._rows
        below_mean, below_low, below_high, below_rows = self._level(level - 1)
        rows = below_rows // 2
        while len(self._pyramid) < level:
            size = max(1, self.cap >> len(self._pyramid) + 1)
            s = self.n_series
            self._pyramid.append((np.empty((size, s)), np.empty((size, s)), np.empty((size, s)), 0))
        mean, low, high, done = self._pyramid[level - 1]
        if done < rows:
            a, b = 2 * done, 2 * rows
            mean[done:rows] = _pair_mean(below_mean[a:b:2], below_mean[a + 1 : b : 2])
            low[done:rows] = np.fmin(below_low[a:b:2], below_low[a + 1 : b : 2])
            high[done:rows] = np.fmax(below_high[a:b:2], below_high[a + 1 : b : 2])
            self._pyramid[level - 1] = (mean, low, high, rows)
        return mean, low, high, rows

    def decimated(self, max_points: int) -> Decimated:
        """The history at a resolution of at most about ``max_points`` buckets (>= 2)."""
        self._flush_block()
        max_points = max(2, int(max_points))
        level = 0
        rows = self._rows
        while rows > max_points:
            rows //= 2
            level += 1
        mean, low, high, rows = self._level(level)
        width = self.width << level
        step = np.arange(1, rows + 1) * width
        p_rows = self._param_rows
        stride = max(1, -(-p_rows // max_points))
        picked = self._params[stride - 1 : p_rows : stride]
        params = np.vstack([self.initial_params[None, :], picked])
        param_step = np.concatenate([[0], np.arange(1, len(picked) + 1) * stride * self.param_width])
        return Decimated(step, mean[:rows].copy(), low[:rows].copy(), high[:rows].copy(), params, param_step)

    def exact(self) -> bool:
        """True while every step has its own row (no merging yet)."""
        return self.width == 1

    def nbytes(self) -> int:
        """Memory held by the arrays of this history."""
        arrays = [self._mean, self._acc_low, self._acc_high, self._acc_sum, self._params]
        if self._low is not self._mean:
            arrays += [self._low, self._high]
        for m, lo, hi, _ in self._pyramid:
            arrays += [m, lo, hi]
        return sum(a.nbytes for a in arrays)


def _pair_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of two equal-width buckets, ignoring NaN (a bucket where nothing was measured)."""
    mean = 0.5 * (a + b)
    np.copyto(mean, b, where=np.isnan(a))
    np.copyto(mean, a, where=np.isnan(b))
    return mean
