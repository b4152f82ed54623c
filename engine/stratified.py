"""The stratified sampler: every batch keeps the class proportions of the whole set.

Each sample appears exactly once per pass. Cutting the order into consecutive blocks of
``batch_size`` (the last block possibly shorter), every block of size b holds, of each class c
with fraction f_c = n_c/N, either floor(b·f_c) or ceil(b·f_c) samples — so always within one
sample of b·f_c, for every batch size and however imbalanced the classes.

**The class counts of the batches** (a consistent rounding of the table b_j·f_c, whose row sums
b_j and column sums n_c are whole numbers, so such a rounding exists) are worked out once per
sampler: every batch gets floor(b·f_c) of class c; the short last batch (size s) gives its
s − Σ floor(s·f_c) spare places to the classes with the largest remainders frac(s·f_c) (equal
remainders: the smaller class first); every class c then owes the full batches
a_c − [c got a spare in the short batch] extra samples, where a_c = M_f·frac(B·f_c) +
frac(s·f_c) ≤ M_f, and each full batch has B − Σ floor(B·f_c) spare places. Writing the classes'
extras one after another and dealing them round-robin over the M_f full batches puts at most
one extra of each class in each batch and fills each batch exactly.

**A pass** draws one random permutation of N + 1 items, as the reshuffle sampler draws one of N
(so orders can be drawn several passes ahead in one call: ``Generator.permuted`` shuffles the
rows of a block one after another). Where the extra item N lands (uniform over N + 1 places,
and independent of the relative order of the others) rotates the full batches (which ones get
the extras changes from pass to pass); the other N items are a uniform random permutation π.
Each class's samples are dealt to the batches in the order π visits them (the first of class
c to the first batch with a place for class c, ...), and each batch lists its samples in the
order π visits them, so the classes interleave at random inside every batch. The order
follows from π and the rotation by two stable sorts on small integers (class codes, batch
indices) and a few gathers, the same for one run and, row by row, for K runs at once
(:meth:`StratifiedSampler.assemble`: the noise cloud draws K permutations and assembles all K
orders in one pass of array operations, issue 25).
"""

from __future__ import annotations

import hashlib
import weakref
from typing import Any

from mbsim.engine._lazy_numpy import LazyNumpy

from .sampler import Sampler

np = LazyNumpy(globals())   # `mbsim plan` imports the samplers' module without NumPy

#: The rows of passes assembled at once hold about this many places (temporaries of ~0.5 MB).
ASSEMBLE_ELEMENTS = 1 << 14
#: Work on N-long arrays is done this many elements at a time (temporaries of ~0.5 MB, not
#: several N-long int64 arrays at N = 10⁶: issue 24).
PIECE_ELEMENTS = 1 << 16
#: Up to this many classes a pass finds each class's places directly (one comparison each)
#: rather than by a sort.
FEW_CLASSES = 4


#: From this many samples on, samplers of the same labels share their per-sample tables.
SHARE_ABOVE = 1 << 16


class _Shared:
    """Arrays shared by the samplers that hold this (read only, once made)."""

    __slots__ = ("arrays", "__weakref__")

    def __init__(self, *arrays: Any) -> None:
        self.arrays = arrays


_SHARED: weakref.WeakValueDictionary[tuple, _Shared] = weakref.WeakValueDictionary()


def _labels_key(labels: np.ndarray) -> tuple:
    """The labels by content: their length, type and a 128-bit digest of their bytes."""
    return len(labels), labels.dtype.str, hashlib.blake2b(labels.data, digest_size=16).digest()


class StratifiedSampler(Sampler):
    """A permutation whose every batch keeps the class proportions (see the module docstring)."""

    name = "stratified"
    draws_ahead = True

    def __init__(self, n_samples: int, batch_size: int, labels: np.ndarray) -> None:
        super().__init__(n_samples)
        self.batch_size = batch_size
        labels = np.ascontiguousarray(labels).reshape(-1)
        self._n_full, self._short = divmod(n_samples, batch_size)
        # at large N the per-sample tables are shared by the samplers of the same labels (and
        # batch size): compare mode's runs, the app's own, the cloud's, the lab's (issue 24)
        key = _labels_key(labels) if n_samples >= SHARE_ABOVE and not labels.dtype.hasobject else None
        codes = _SHARED.get((key, "codes")) if key else None
        if codes is None:
            codes = _Shared(*self._class_codes(labels))
            if key:
                _SHARED[(key, "codes")] = codes
        self.classes, self._codes_ext, self.class_counts = codes.arrays
        self._codes = self._codes_ext[:-1]
        batches = _SHARED.get((key, batch_size)) if key else None
        if batches is None:
            batches = _Shared(*self._batch_of_places())
            if key:
                _SHARED[(key, batch_size)] = batches
        self._batch_of, self._rotations = batches.arrays
        self._key_type = self._batch_of.dtype.type
        self._shared = (codes, batches)

    @staticmethod
    def _class_codes(labels: np.ndarray) -> tuple:
        """The classes; each sample's class code (np.unique's inverse, found a piece at a time
        straight into a small integer type: NumPy's stable argsort sorts those by radix, in
        O(N)), with one place more for the rotation's marker N; the class counts."""
        classes = np.unique(labels)
        codes_ext = np.empty(len(labels) + 1, dtype=np.uint8 if len(classes) <= 255 else np.int32)
        codes = codes_ext[:-1]
        for a in range(0, len(labels), PIECE_ELEMENTS):
            codes[a:a + PIECE_ELEMENTS] = np.searchsorted(classes, labels[a:a + PIECE_ELEMENTS])
        # the extra item N (the rotation's marker) gets a class and a batch past every other
        # one, so the stable sorts put it last and it drops off the end
        codes_ext[-1] = len(classes)                  # (uint8 codes: at most 255 classes)
        counts = np.bincount(codes, minlength=len(classes)).astype(np.int64)
        return classes, codes_ext, counts

    def _batch_of_places(self) -> tuple:
        """The batch of each class-major place (the marker's past every batch), and every
        rotation's of them where that table is small (else None)."""
        n_samples, n_classes, n_full = self.n_samples, len(self.classes), self._n_full
        table = self.counts_table()
        rows = table.shape[0]
        # the batch keys sort by radix: one byte while the batches (and the marker's) fit in it
        key_type = np.uint8 if rows < (1 << 8) else np.int16 if rows < (1 << 15) else np.int32
        # the batch of the class-major t-th sample: class 0's in the order π visits them, then
        # class 1's, ...; class c's r-th goes to the batch holding its r-th place
        batch_of = np.empty(n_samples + 1, dtype=key_type)
        filled = 0
        for c in range(n_classes):                     # in pieces of batches (B = 1: N batches)
            for r in range(0, rows, PIECE_ELEMENTS):
                piece = np.repeat(np.arange(r, min(rows, r + PIECE_ELEMENTS), dtype=key_type),
                                  table[r:r + PIECE_ELEMENTS, c])
                batch_of[filled:filled + len(piece)] = piece
                filled += len(piece)
        batch_of[n_samples] = rows
        del table
        rotations = None
        if n_full > 1 and n_full * (n_samples + 1) <= (1 << 20):
            # every rotation's batch of each class-major place, worked out once (a gather a pass)
            shift = np.arange(n_full)[:, None]
            head = batch_of[:n_samples]
            rotated = np.where(head < n_full, (head + shift) % n_full, head).astype(key_type)
            rotations = np.hstack([rotated, np.full((n_full, 1), rows, dtype=key_type)])
        return batch_of, rotations

    @property
    def raw_width(self) -> int:
        """A pass draws a permutation of N + 1 items (see the module docstring)."""
        return self.n_samples + 1

    def counts_table(self) -> np.ndarray:
        """(batches × classes) how many samples of each class each batch holds (the rotation of
        a pass moves the full batches' rows; the short batch's stays last)."""
        counts, n = self.class_counts, self.n_samples
        n_classes = len(counts)
        n_full, short = self._n_full, self._short
        b = self.batch_size
        rows = n_full + (1 if short else 0)
        table = np.empty((rows, n_classes), dtype=np.int32 if n < 2**31 else np.int64)
        full_floor = (b * counts) // n                      # floor(b·n_c/N), exactly
        table[:n_full] = full_floor
        owed = counts - n_full * full_floor                 # extras still to place
        if short:
            short_floor = (short * counts) // n
            table[n_full] = short_floor
            owed = owed - short_floor
            spare = int(short - short_floor.sum())
            if spare:
                remainder = (short * counts) % n            # frac(s·f_c)·N
                rank = np.lexsort((np.arange(n_classes), -remainder))   # largest first
                winners = rank[:spare]
                table[n_full, winners] += 1
                owed[winners] -= 1
        if n_full and owed.sum():
            # the classes' extras one after another, slot t to batch t mod M_f: class c's
            # owed[c] <= M_f extras are consecutive slots, so distinct batches (a range that
            # wraps around the M_f batches at most once)
            start = 0
            for c, k in enumerate(owed.tolist()):
                first, end = start % n_full, start % n_full + k
                table[first:min(end, n_full), c] += 1
                table[:max(0, end - n_full), c] += 1
                start += k
        return table

    def draw_ahead_into(self, rng: np.random.Generator, raw: np.ndarray) -> None:
        """The random part of the next P passes: one permutation of N + 1 items per row of
        ``raw`` ((P, N + 1) int64), the rows shuffled one after another."""
        width = self.raw_width
        for a in range(0, width, PIECE_ELEMENTS):          # 0, 1, …, N (no N-long temporary)
            raw[:, a:a + PIECE_ELEMENTS] = np.arange(a, min(width, a + PIECE_ELEMENTS))
        rng.permuted(raw, axis=1, out=raw)

    def assemble(self, raw: np.ndarray, out: np.ndarray) -> None:
        """Each row of ``out`` ((R, N)) the order of one pass from its row of ``raw`` ((R, N + 1),
        from :meth:`draw_ahead_into`): R passes, of one run or of K runs, at once (in chunks of
        rows, so that the temporaries stay small and are reused rather than fresh pages)."""
        rows = raw.shape[0]
        step = max(1, ASSEMBLE_ELEMENTS // (self.n_samples + 1))
        for r in range(0, rows, step):
            self._assemble_rows(raw[r:r + step], out[r:r + step])

    def _assemble_rows(self, raw: np.ndarray, out: np.ndarray) -> None:
        n, rows = self.n_samples, raw.shape[0]
        width = n + 1
        n_full, n_classes = self._n_full, len(self.classes)
        codes = np.take(self._codes_ext, raw)
        # flat places: row r's place p is r·(N + 1) + p
        offsets = np.arange(0, rows * width, width, dtype=np.intp)
        key = np.empty((rows, width), dtype=self._key_type)
        if n_classes <= FEW_CLASSES:
            # every row holds n_c places of class c: their flat places, in order, row by row, are
            # class c's places in π's order (what the stable sort by class gives), found directly
            # (a boolean mask assignment: the places in row-major order, without the index
            # arrays and the copy of the strided values that np.put makes)
            marker = np.flatnonzero(codes == n_classes)      # the marker N, one per row
            batch = self._batches(marker - offsets, rows)
            first = 0
            for c, count in enumerate(self.class_counts.tolist()):
                key[codes == c] = batch[:, first:first + count].reshape(-1)
                first += count
            key.reshape(-1)[marker] = batch[:, n]
        else:
            # the places of π grouped by class, in π's order; the marker N (a class of its own,
            # the last) ends the row, so its place in the draw is the row's last entry
            by_class = np.argsort(codes, axis=1, kind="stable")
            batch = self._batches(by_class[:, n], rows)
            by_class += offsets[:, None]
            np.put(key, by_class, batch, mode="clip")     # the batch of each place of the draw
        del codes
        if rows == 1 and width > PIECE_ELEMENTS:
            self._sort_in_pieces(key[0], raw[0], out[0])
            return
        places = np.argsort(key, axis=1, kind="stable")
        places += offsets[:, None]
        flat = raw.reshape(-1)
        if out.flags.c_contiguous:                        # the marker, last, dropped
            np.take(flat, places[:, :n], out=out, mode="clip")
        else:
            out[...] = np.take(flat, places[:, :n], mode="clip")

    def _sort_in_pieces(self, key: np.ndarray, raw: np.ndarray, out: np.ndarray) -> None:
        """``out`` = ``raw`` stably sorted by ``key`` (one pass, N + 1 places; the marker, whose
        key is the largest and alone, dropped), as ``argsort(key, kind="stable")`` orders it, a
        piece of places at a time, so that no N-long index array is made: a counting sort. Key
        j (batch j) has B places (the short batch, last, fewer; the marker one), so its range
        of the sorted row starts at j·B; each piece's places of key j go to the next free places
        of that range, in the piece's order."""
        n, b = self.n_samples, self.batch_size
        taken = np.zeros(int(self._batch_of[-1]) + 1, dtype=np.int64 if n >= 2**31 else np.int32)
        for a in range(0, len(key), PIECE_ELEMENTS):
            piece = key[a:a + PIECE_ELEMENTS]
            by_key = np.argsort(piece, kind="stable")
            sorted_key = piece[by_key]
            starts = np.flatnonzero(np.diff(sorted_key, prepend=-1))   # where each key's run begins
            lengths = np.diff(starts, append=len(piece))
            place = sorted_key.astype(np.int64)        # (NumPy 1.x would keep the key's type)
            place *= b
            place += taken[sorted_key]
            place += np.arange(len(piece)) - np.repeat(starts, lengths)
            taken[sorted_key[starts]] += lengths.astype(taken.dtype)
            keep = place < n
            out[place[keep]] = raw[a + by_key[keep]]

    def _batches(self, marker_place: np.ndarray, rows: int) -> np.ndarray:
        """(rows, N + 1): the batch of each class-major place, the full batches rotated by where
        the marker landed in each row's draw (uniform over N + 1 places)."""
        n_full, width = self._n_full, self.n_samples + 1
        if n_full <= 1:
            return np.broadcast_to(self._batch_of, (rows, width))
        shift = marker_place * n_full // width
        if self._rotations is not None:
            return np.take(self._rotations, shift, axis=0)
        out = np.empty((rows, width), dtype=self._key_type)
        for a in range(0, width, PIECE_ELEMENTS):
            batch_of = self._batch_of[a:a + PIECE_ELEMENTS]
            out[:, a:a + PIECE_ELEMENTS] = np.where(batch_of < n_full,
                                                    (batch_of + shift[:, None]) % n_full, batch_of)
        return out

    def release(self) -> None:
        """The runs will not step on (a view that closed): the per-sample tables go (N to 5N
        bytes: the class codes and each class-major place's batch)."""
        empty = np.zeros(0, dtype=np.uint8)
        self._codes = self._codes_ext = self._batch_of = empty
        self._rotations = None
        self._shared = ()

    def orders_ahead_into(self, rng: np.random.Generator, out: np.ndarray) -> None:
        """The orders of the next P passes, one per row of ``out`` ((P, N))."""
        raw = np.empty((out.shape[0], self.raw_width), dtype=np.int64)
        self.draw_ahead_into(rng, raw)
        self.assemble(raw, out)

    def order(self, rng: np.random.Generator, previous: np.ndarray | None) -> np.ndarray:
        out = np.empty((1, self.n_samples), dtype=np.int64)
        self.orders_ahead_into(rng, out)
        return out[0]

    def __repr__(self) -> str:
        return (
            f"StratifiedSampler(n_samples={self.n_samples}, batch_size={self.batch_size}, "
            f"classes={self.classes.tolist()})"
        )
