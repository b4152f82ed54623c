"""The samplers (SCIENCE.md §1.1): the order in which one pass over the data visits the samples.

``reshuffle`` (a new permutation every pass), ``once`` (one permutation, kept), ``sequential``
(0, 1, …, N−1), ``replacement`` (N independent draws); ``stratified`` is
:mod:`engine.stratified`. :func:`engine.sampling.make_sampler` makes one by name.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod

from mbsim.engine._lazy_numpy import LazyNumpy

np = LazyNumpy(globals())


class Sampler(ABC):
    """The order in which one pass over the data visits the samples.

    Stateless: :meth:`order` gets the random generator and the previous pass's order, and
    draws everything it needs from them, so replaying a pass with the same generator state
    gives the same order.
    """

    name: str = ""

    def __init__(self, n_samples: int) -> None:
        self.n_samples = n_samples

    @abstractmethod
    def order(self, rng: np.random.Generator, previous: np.ndarray | None) -> np.ndarray:
        """The sample indices (int64, length N) for ONE pass over the data.

        ``previous`` is the previous pass's order, ``None`` on the first pass. The plan cuts
        the order into batches with :meth:`Plan.locate` (``order[start:stop]``).
        """

    def order_into(self, rng: np.random.Generator, previous: np.ndarray | None, out: np.ndarray) -> None:
        """:meth:`order` written into ``out`` (an int64 row of length N), drawing exactly what
        :meth:`order` draws: the ensemble fills one row per run this way."""
        out[...] = self.order(rng, previous)

    #: True where a pass's order does not depend on the previous pass and P passes can be
    #: drawn in one call (:meth:`draw_ahead_into`), drawing exactly what P calls of :meth:`order`
    #: draw
    draws_ahead: bool = False

    @property
    def raw_width(self) -> int:
        """Numbers a pass draws into a row of :meth:`draw_ahead_into` (N unless said otherwise)."""
        return self.n_samples

    def release(self) -> None:
        """The runs using this sampler will not step on: give back what it holds that grows
        with N (subclasses; most hold nothing of their own)."""

    def draw_ahead_into(self, rng: np.random.Generator, raw: np.ndarray) -> None:
        """The random part of the next P passes, one row of ``raw`` ((P, raw_width) int64) each,
        drawing exactly what P successive calls of :meth:`order` draw. Only where
        :attr:`draws_ahead`."""
        raise NotImplementedError(f"{type(self).__name__} draws one pass at a time")

    def assemble(self, raw: np.ndarray, out: np.ndarray) -> None:
        """The orders (rows of ``out``, (R, N)) of R passes from their rows of ``raw`` (one run's
        passes or K runs' at once): for reshuffle the permutation is the order."""
        out[...] = raw

    def orders_ahead_into(self, rng: np.random.Generator, out: np.ndarray) -> None:
        """The orders of the next P passes, one per row of ``out`` ((P, N) int64), drawing
        exactly what P successive calls of :meth:`order` draw. Only where :attr:`draws_ahead`."""
        if self.raw_width == self.n_samples and type(self).assemble is Sampler.assemble:
            self.draw_ahead_into(rng, out)
            return
        raw = np.empty((out.shape[0], self.raw_width), dtype=np.int64)
        self.draw_ahead_into(rng, raw)
        self.assemble(raw, out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_samples={self.n_samples})"


#: 0..N−1 for each N in use, shared by every sampler of that N (read-only; dropped with them).
_IDENTITIES: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()


def identity(n: int) -> np.ndarray:
    """The read-only array 0, 1, …, n−1, one per n for all the runs that use it (the noise
    cloud's 100 reshuffling runs and compare mode's three share one, not 8n bytes each); int32
    below 2³¹ (4 bytes a sample: it is only copied into the int64 rows that are shuffled, so
    the draws and their values are the same)."""
    a = _IDENTITIES.get(n)
    if a is None:
        a = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        a.flags.writeable = False
        _IDENTITIES[n] = a
    return a


class ReshuffleSampler(Sampler):
    """A fresh random permutation every pass (PyTorch ``DataLoader(shuffle=True)``,
    Keras ``fit(shuffle=True)``): every sample is used exactly once per pass."""

    name = "reshuffle"

    def __init__(self, n_samples: int) -> None:
        super().__init__(n_samples)
        self._identity = identity(n_samples)

    def order(self, rng: np.random.Generator, previous: np.ndarray | None) -> np.ndarray:
        return rng.permutation(self.n_samples).astype(np.int64, copy=False)

    def order_into(self, rng: np.random.Generator, previous: np.ndarray | None, out: np.ndarray) -> None:
        """``rng.permutation(N)`` is ``arange(N)`` shuffled in place: the same draws, without
        the temporary arrays."""
        out[...] = self._identity
        rng.shuffle(out)

    draws_ahead = True

    def draw_ahead_into(self, rng: np.random.Generator, raw: np.ndarray) -> None:
        """P passes in one call: ``Generator.permuted(axis=1)`` shuffles the rows one after
        another, each as ``shuffle`` does, so row p is the (p+1)-th ``permutation(N)``."""
        raw[...] = self._identity
        rng.permuted(raw, axis=1, out=raw)


class OnceSampler(Sampler):
    """One permutation drawn on the first pass and reused for every later pass
    (TensorFlow Playground shuffles its data once)."""

    name = "once"

    def order(self, rng: np.random.Generator, previous: np.ndarray | None) -> np.ndarray:
        if previous is None:
            return rng.permutation(self.n_samples).astype(np.int64, copy=False)
        # A copy, so a caller that edits one pass's order cannot change the others.
        return np.array(previous, dtype=np.int64, copy=True)


class SequentialSampler(Sampler):
    """0, 1, ..., N−1 every pass (PyTorch's default ``shuffle=False``); draws nothing."""

    name = "sequential"

    def order(self, rng: np.random.Generator, previous: np.ndarray | None) -> np.ndarray:
        return np.arange(self.n_samples, dtype=np.int64)


class ReplacementSampler(Sampler):
    """N independent uniform draws with replacement (PyTorch
    ``RandomSampler(replacement=True)``): a "pass" is N draws, so some samples appear
    twice or more and some never (``np.bincount(order, minlength=N)`` gives the counts)."""

    name = "replacement"

    def order(self, rng: np.random.Generator, previous: np.ndarray | None) -> np.ndarray:
        return rng.integers(0, self.n_samples, size=self.n_samples, dtype=np.int64)
