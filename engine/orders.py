"""The sampling orders of K runs, pass after pass, each drawn from its run's own generator.

A run's order for a pass is what its :class:`~engine.sampling.Sampler` draws from its
generator; K runs draw K orders (rows of a (K, N) array). Where every sampler allows it
(``draws_ahead``: reshuffle), each run's orders are drawn a few passes ahead in one call
(:meth:`Sampler.orders_ahead_into`), which is what made the noise cloud cheap (stop 19). A
generator that drew ahead is past the state a run drawing one pass at a time would be in, so
each run also keeps the state its block started from and how many passes of the block it has
used; :meth:`Orders.generator` rebuilds the one-pass-at-a-time generator from them (what a
live change hands on). A run that has stopped draws no more and keeps its last order.

What changes while stepping is in :class:`~engine.runs.RunsState` (``orders``,
``order_pass`` and the ``ahead_*`` fields, snapshotted with the rest); the block drawn ahead
itself is not kept by a checkpoint (it can be ~1 MB): after a restore it is drawn again from
the states it started from (:meth:`Orders.redraw`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .sampling import Sampler, draw_orders, order_dtype

if TYPE_CHECKING:
    from .runs import RunsState

#: Reshuffled orders drawn ahead: at most this many passes per call, and this many indices.
AHEAD_PASSES = 8
AHEAD_ELEMENTS = 1 << 20


class Orders:
    """The samplers and generators of K runs and the block of orders drawn ahead."""

    def __init__(self, samplers: list[Sampler], generators: list[np.random.Generator], n: int,
                 passes: int) -> None:
        self.samplers = samplers
        self.generators = generators
        self.n = n
        self.k = len(samplers)
        self.passes = passes                      # passes the stretch of settings has in all
        self.ahead_ok = all(s.draws_ahead for s in samplers)
        # the runs of one plan sample alike (the plan fixes the sampling): one assembles for all
        self.width = samplers[0].raw_width
        self.block: np.ndarray | None = None      # (k, P, N): pass s.ahead_first + p in [:, p]
        # the draws' array of the block before (int64; the block keeps the orders as
        # order_dtype), reused by the next block of the same shape, as the block is: ~1 MB for
        # 100 runs of N = 200, and a fresh one every AHEAD_PASSES passes cost the kernel ~300 page
        # faults each time (a third of the sampling's time in ``mbsim run --runs 100``)
        self._spare: np.ndarray | None = None
        # the pass whose orders the state holds are, every row, its row of the block drawn
        # ahead (so a checkpoint need not keep them: :meth:`redrawable`); -1 when not known
        self.whole = -1

    def draw(self, s: RunsState, pass_index: int, live: np.ndarray, all_live: bool) -> None:
        """Put the orders of pass ``pass_index`` into the state (a stopped run keeps its own)."""
        self.whole = -1
        if self.ahead_ok:
            s.orders = self._from_block(s, pass_index, live, all_live)
            if all_live:
                self.whole = pass_index
        else:
            s.orders = draw_orders(self.samplers, self.generators, s.orders, None if all_live else live)
        s.order_pass = pass_index

    def redrawable(self, s: RunsState) -> bool:
        """True when the state's orders are, in every row, the rows of pass ``s.order_pass`` of
        the block drawn ahead, every row's block drawn from ``s.ahead_states``: a checkpoint can
        then keep the generators' states alone and :meth:`redraw` gives the orders back (a lone
        run's checkpoints kept one order of N per pass: 2,048 of them at most, 16 KB × N)."""
        return (self.whole == s.order_pass >= 0 and s.orders is not None
                and 0 <= s.order_pass - s.ahead_first < s.ahead_passes
                and bool(np.all(s.ahead_from == s.ahead_first)))

    def _from_block(self, s: RunsState, pass_index: int, live: np.ndarray, all_live: bool) -> np.ndarray:
        row = pass_index - s.ahead_first
        if self.block is None or not 0 <= row < s.ahead_passes:
            self._new_block(s, pass_index, live)
            row = 0
        if all_live:
            s.drawn = s.drawn + 1
            if s.ahead_passes == 1:              # the block is this pass: hand it over
                orders, self.block = self.block[:, 0], None
                return orders
            return self.block[:, row].copy()     # a copy: a checkpoint keeps it, not the block
        s.drawn = np.where(live, s.drawn + 1, s.drawn)
        return np.where(live[:, None], self.block[:, row], s.orders)

    def _new_block(self, s: RunsState, pass_index: int, live: np.ndarray) -> None:
        """Draw the orders of passes ``pass_index`` on (as many as remain, at most
        AHEAD_PASSES, within AHEAD_ELEMENTS indices) for every running run: each run's random
        draws from its own generator, then every row put together at once (``assemble``)."""
        k, n = self.k, self.n
        p = max(1, min(AHEAD_PASSES, self.passes - pass_index, AHEAD_ELEMENTS // max(1, k * n)))
        states = list(s.ahead_states)
        start, drawn = s.ahead_from.copy(), s.drawn.copy()
        old, self.block = self.block, None       # nothing else refers to it (rows are copied out)
        raw = self._raw(k, p, old)
        for i, (sampler, gen) in enumerate(zip(self.samplers, self.generators)):
            if live[i]:
                states[i] = gen.bit_generator.state
                self._draw_into(sampler, gen, raw[i])
                start[i], drawn[i] = pass_index, 0
            else:
                raw[i] = 0 if raw.shape[2] == n else np.arange(raw.shape[2])   # replaced below
        self.block = self._assemble(raw, k, p, old)
        for i in np.flatnonzero(~live).tolist():
            self.block[i] = 0 if s.orders is None else s.orders[i]
        s.ahead_first, s.ahead_passes = pass_index, p
        s.ahead_states, s.ahead_from, s.drawn = states, start, drawn

    #: the draws' int64 array is kept for the next block of the same shape up to this many
    #: indices (the blocks of 100 runs of N = 200; not the 8 MB of one run of N = 10⁶ held for good)
    SPARE_ELEMENTS = 1 << 18

    def _draw_is_order(self) -> bool:
        return self.width == self.n and type(self.samplers[0]).assemble is Sampler.assemble

    def _int64(self, shape: tuple[int, ...]) -> np.ndarray:
        """An int64 array of ``shape`` for draws: the spare one when it has this shape, else a
        new one. Every element is written by the draws."""
        spare, self._spare = self._spare, None
        if spare is not None and spare.shape == shape:
            return spare
        return np.empty(shape, dtype=np.int64)

    def _keep(self, draws: np.ndarray) -> None:
        if draws.dtype == np.int64 and draws.size <= self.SPARE_ELEMENTS:
            self._spare = draws

    def _raw(self, k: int, p: int, old: np.ndarray | None = None) -> np.ndarray:
        """The (k, p, width) draws of a block. Where the draw is the order (reshuffle): the
        block itself, in :func:`~engine.sampling.order_dtype` (``old``, the block being
        replaced, when it has this shape and type; each run drawn in int64 and copied in:
        :meth:`_draw_into`). Else int64 (:meth:`_int64`), put together by :meth:`_assemble`."""
        if not self._draw_is_order():
            return self._int64((k, p, self.width))
        shape, dtype = (k, p, self.n), order_dtype(self.n)
        if old is not None and old.shape == shape and old.dtype == dtype:
            return old
        return np.empty(shape, dtype=dtype)

    def _draw_into(self, sampler: Sampler, gen: np.random.Generator, row: np.ndarray) -> None:
        """One run's P passes drawn into ``row`` ((P, width)): in int64 as the sampler draws them
        (the same generator draws, the same values), through one run's int64 array when the
        block keeps another type (one run's 8 B a sample, not K runs')."""
        if row.dtype == np.int64:
            sampler.draw_ahead_into(gen, row)
            return
        buf = self._int64(row.shape)
        sampler.draw_ahead_into(gen, buf)
        row[...] = buf
        self._keep(buf)

    def _assemble(self, raw: np.ndarray, k: int, p: int, old: np.ndarray | None = None) -> np.ndarray:
        """(k, p, N) orders from the (k, p, width) draws, every row at once, kept as
        :func:`~engine.sampling.order_dtype` (drawn in int64: the same draws and values), into
        ``old`` (the block being replaced) when it has this shape and type."""
        if self._draw_is_order():
            return raw                            # the draw is the order (reshuffle)
        shape, dtype = (k, p, self.n), order_dtype(self.n)
        block = (old if old is not None and old.shape == shape and old.dtype == dtype
                 else np.empty(shape, dtype=dtype))
        self.samplers[0].assemble(raw.reshape(k * p, self.width), block.reshape(k * p, self.n))
        self._keep(raw)
        return block

    def release(self, samplers: bool = True) -> None:
        """Drop the block drawn ahead and the spare array; with ``samplers``, also the samplers'
        tables (the runs will not step on again: a view that closed). A stretch a live change
        left behind keeps its samplers (``samplers=False``): going back into it replays it."""
        self.block = None
        self._spare = None
        if samplers:
            for sampler in self.samplers:
                sampler.release()

    def redraw(self, s: RunsState) -> None:
        """After a restore: the block drawn ahead, drawn again from the states it started from
        (the caller then sets the generators to the checkpoint's states); and the orders of the
        pass in work when the checkpoint left them out (:meth:`redrawable`: ``s.orders`` None
        with ``s.order_pass`` set), taken from it as :meth:`draw` took them."""
        self.block = None
        self.whole = -1
        if not self.ahead_ok or s.ahead_passes == 0:
            return
        self._redraw_block(s)
        if s.orders is None and s.order_pass >= 0:
            row = s.order_pass - s.ahead_first
            if s.ahead_passes == 1:
                s.orders, self.block = self.block[:, 0], None
            else:
                s.orders = self.block[:, row].copy()
            self.whole = s.order_pass

    def _redraw_block(self, s: RunsState) -> None:
        k, p = self.k, s.ahead_passes
        old, self.block = self.block, None
        raw = self._raw(k, p, old)
        again = s.ahead_from == s.ahead_first
        for i, (sampler, gen) in enumerate(zip(self.samplers, self.generators)):
            if again[i]:
                gen.bit_generator.state = s.ahead_states[i]
                self._draw_into(sampler, gen, raw[i])
            else:
                raw[i] = 0 if raw.shape[2] == self.n else np.arange(raw.shape[2])
        self.block = self._assemble(raw, k, p, old)
        for i in np.flatnonzero(~again).tolist():
            self.block[i] = 0 if s.orders is None else s.orders[i]

    def generator(self, s: RunsState, row: int) -> np.random.Generator:
        """Run ``row``'s generator in the state a run drawing one pass at a time would be in
        now. Drawn ahead, the shared one is past it: then a new generator, wound to the start of
        the run's block and through the passes it has used (the shared one stays as it is)."""
        gen = self.generators[row]
        if s.ahead_from[row] < 0:
            return gen
        lone = np.random.Generator(type(gen.bit_generator)())
        lone.bit_generator.state = s.ahead_states[row]
        used = int(s.drawn[row])
        if used:
            self.samplers[row].draw_ahead_into(lone, np.empty((used, self.width), dtype=np.int64))
        return lone

    def generator_states(self) -> list[dict]:
        """The generators' states now (a checkpoint keeps them beside the state)."""
        return [g.bit_generator.state for g in self.generators]

    def set_generator_states(self, states: list[dict]) -> None:
        for g, st in zip(self.generators, states):
            g.bit_generator.state = st
