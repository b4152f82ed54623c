"""The loss band of K runs: quantiles over the runs of their losses, tick by tick, in bounded
memory (what the noise cloud's loss plot draws).

Each run's batch loss is kept at every recorded tick (K floats a tick, up to
:data:`BAND_POINTS` // K ticks); sparser (up to :data:`BAND_EVAL_POINTS` ticks, fewer for large
models) the runs' parameters, from which the full training and validation losses are evaluated
only when asked for (one stacked evaluation of the new points; never, if nobody asks). A record
that is full drops every other point and records every 2nd, 4th, ... tick from then on
(:class:`BandRecord`), so it is the same however the ticks were reached: back and replay give
the same points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .chunks import by_rows, rows_per_piece
from .errors import ScenarioError

if TYPE_CHECKING:
    from .ensemble import Ensemble

#: The loss band keeps about this many batch losses (K per recorded tick, 64 to 2,048 ticks):
#: 2,048 ticks of 100 runs, 1.6 MB.
BAND_POINTS = 1 << 18
#: The full losses of the band: at most this many ticks (their K parameter vectors kept until
#: evaluated, at most BAND_PARAM_FLOATS floats, so fewer ticks for large models; 16 at least).
BAND_EVAL_POINTS = 256
BAND_PARAM_FLOATS = 1 << 21


class BandRecord:
    """Values of the K runs at recorded ticks, decimated: tick n is recorded when n is a
    multiple of ``stride``; when full, the ticks that are not multiples of 2·stride are dropped
    and the stride doubles. ``fields``: name → the shape of one point's array."""

    def __init__(self, cap: int, fields: dict[str, tuple[int, ...]], fill: dict[str, Any]) -> None:
        self.cap = int(cap)
        self.stride = 1
        self.n = 0
        self.ticks = np.zeros(self.cap, dtype=np.int64)
        self.steps = np.zeros(self.cap, dtype=np.int64)
        self.data = {name: np.full((self.cap,) + shape, fill[name]) for name, shape in fields.items()}

    def wants(self, tick: int) -> bool:
        """True when tick ``tick`` is to be recorded (making room first when full)."""
        if self.n == self.cap and tick % self.stride == 0:
            keep = np.flatnonzero(self.ticks[:self.n] % (2 * self.stride) == 0)
            m = len(keep)
            self.ticks[:m] = self.ticks[keep]
            self.steps[:m] = self.steps[keep]
            for arr in self.data.values():
                arr[:m] = arr[keep]
            self.n = m
            self.stride *= 2
        return tick % self.stride == 0

    def add(self, tick: int, step: int, **values: Any) -> int:
        i = self.n
        self.ticks[i], self.steps[i] = tick, step
        for name, v in values.items():
            self.data[name][i] = v
        self.n = i + 1
        return i

    def truncate(self, ticks: int) -> None:
        """Keep the points of ticks 0..ticks−1."""
        self.n = int(np.searchsorted(self.ticks[:self.n], ticks))


def band_quantiles(steps: np.ndarray, values: np.ndarray, qs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(x, quantiles over the runs (len(qs), len(x))) of ``values`` (points, K), leaving out
    non-finite values and the points where none is finite."""
    v = np.where(np.isfinite(values), values, np.nan)
    ok = ~np.isnan(v).all(axis=1)
    x = steps[ok]
    if not x.size:
        return x, np.empty((len(qs), 0))
    with np.errstate(all="ignore"):
        return x, np.nanquantile(v[ok], qs, axis=1)


class LossBand:
    """The band's two records (batch losses; parameters for the full losses) of an ensemble,
    read through its public API."""

    def __init__(self, ens: Ensemble) -> None:
        k, p = len(ens.members), ens.initial_params.size
        self.ens = ens
        self.batch = BandRecord(min(2048, max(64, BAND_POINTS // k)), {"loss": (k,)}, {"loss": np.nan})
        cap = min(BAND_EVAL_POINTS, max(16, BAND_PARAM_FLOATS // (k * p)))
        self.full = BandRecord(cap, {"params": (k, p), "gone": (k,), "train": (k,), "val": (k,), "done": ()},
                               {"params": 0.0, "gone": False, "train": np.nan, "val": np.nan, "done": False})
        self._cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}

    def record(self, tick: int) -> None:
        ens = self.ens
        want_batch, want_full = self.batch.wants(tick), self.full.wants(tick)
        if not (want_batch or want_full):
            return
        gone = ens.diverged
        step = int(ens.step[ens.reference])
        if want_batch:
            loss = ens.batch_loss
            self.batch.add(tick, step, loss=np.where(gone, np.nan, loss) if gone.any() else loss)
        if want_full:
            if tick == 0:   # every run at its start: the lone run's L(θ₀)
                k = len(ens.members)
                self.full.add(tick, step, params=ens.params, gone=gone, done=True,
                              train=np.full(k, ens.initial_train_loss), val=np.full(k, ens.initial_val_loss))
            else:
                self.full.add(tick, step, params=ens.params, gone=gone, done=False)

    def truncate(self, ticks: int) -> None:
        self.batch.truncate(ticks)
        self.full.truncate(ticks)

    def _evaluate(self) -> None:
        rec = self.full
        d = rec.data
        todo = np.flatnonzero(~d["done"][:rec.n])
        if not todo.size:
            return
        ens = self.ens
        k, p = d["params"].shape[1:]
        stacked = d["params"][todo].reshape(len(todo) * k, p)
        model = ens.model
        rows = rows_per_piece(model, len(ens.y_all))       # (rows, N) outputs at a time
        with np.errstate(all="ignore"):
            train, val = by_rows(lambda p: model.split_loss_runs(p, ens.X_all, ens.y_all, ens.n_samples),
                                 stacked, rows)
        gone = d["gone"][todo]
        d["train"][todo] = np.where(gone, np.nan, train.reshape(len(todo), k))
        d["val"][todo] = np.where(gone, np.nan, val.reshape(len(todo), k))
        d["done"][todo] = True

    def quantiles(self, quantity: str, qs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        if quantity == "batch_loss":
            rec = self.batch
            return band_quantiles(rec.steps[:rec.n], rec.data["loss"][:rec.n], qs)
        self._evaluate()
        rec = self.full
        name = "train" if quantity == "train_loss" else "val"
        return band_quantiles(rec.steps[:rec.n], rec.data[name][:rec.n], qs)

    def band(self, quantity: str, qs: Sequence[float], revision: int) -> tuple[np.ndarray, np.ndarray]:
        """The band of the members' losses: (x, values) with x the reference member's step at
        each recorded tick (1-D) and values (len(qs), len(x)) the quantiles ``qs`` over the
        members of ``quantity`` there — "batch_loss" (each member's last step), "train_loss" or
        "val_loss" (the full losses, evaluated at the recorded ticks). Non-finite members are
        left out (a diverged member is left out from its divergence on); ticks where no member
        is finite are left out.

        Recorded at every tick (in step alignment: every step), decimated to keep memory
        bounded (:mod:`engine.band`): the batch losses of at most :data:`BAND_POINTS` // K ticks
        (64..2,048), the parameters of at most :data:`BAND_EVAL_POINTS` ticks (fewer for large
        models) for the full losses, which are evaluated when first asked for (so a run that
        never asks pays nothing). When a record is full every other point is dropped and only
        every 2nd, 4th, ... tick is recorded from then on. Quantiles are computed when asked
        and cached per :attr:`revision`. Truncated by back, goto_tick and reset."""
        names = ("batch_loss", "train_loss", "val_loss")
        if quantity not in names:
            raise ScenarioError("quantity", quantity, "allowed: " + ", ".join(names))
        qs = tuple(float(q) for q in qs)
        if not qs or not all(0.0 <= q <= 1.0 for q in qs):
            raise ScenarioError("quantiles", qs, "each must be from 0 to 1")
        key = (revision, quantity, qs)
        hit = self._cache.get(key)
        if hit is None:
            hit = self.quantiles(quantity, qs)
            self._cache = {key: hit}
        return hit[0].copy(), hit[1].copy()
