"""The batch arithmetic of mini-batch training (SCIENCE.md §1): the *batcher*.

A :class:`Plan` (:func:`make_plan`, or :func:`plan_for` a scenario) holds the counting of
SCIENCE.md §1: batches per pass M = ceil(N/B) (floor with ``drop_last``, PyTorch
``BatchSampler.__len__``), gradient accumulation (§1.2: iterations = K × steps) and Keras'
``steps_per_epoch`` with what ends an epoch (§1.3: ``continue``, ``cut``, ``restart``).
:meth:`Plan.locate` places any global iteration in its epoch, pass, batch, optimizer step and
micro-batch with O(1) arithmetic; :meth:`Plan.pass_table` cuts a pass's order into batches.

Pure arithmetic: NumPy is imported on first use only (``mbsim plan`` needs none).
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mbsim.engine._lazy_numpy import LazyNumpy

from mbsim.engine.errors import ScenarioError

from mbsim.engine.names import EPOCH_ENDS, SAMPLINGS  # noqa: E402  (the one list of names, NumPy-free)

__all__ = ["Plan", "Position", "PassTable", "make_plan", "plan_for", "algorithm_name", "ALGORITHMS",
           "check_n_samples", "check_batch_size"]

np = LazyNumpy(globals())

#: short name -> long name of the three gradient-descent variants (SCIENCE.md §1).
ALGORITHMS: dict[str, str] = {
    "Batch GD": "batch gradient descent",
    "SGD": "stochastic gradient descent",
    "Mini-batch GD": "mini-batch gradient descent",
}


# --------------------------------------------------------------------------------------------
# validation helpers


def _whole(setting: str, value: Any, *, minimum: int, reason: str) -> int:
    """``value`` as an ``int`` >= ``minimum``; bools, floats and strings are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ScenarioError(setting, value, f"must be a whole number; {reason}")
    value = int(value)
    if value < minimum:
        raise ScenarioError(setting, value, reason)
    return value


def check_n_samples(n_samples: Any) -> int:
    return _whole(
        "n_samples", n_samples, minimum=1, reason="needs at least 1 training sample"
    )


def check_batch_size(batch_size: Any, n_samples: int) -> int:
    batch_size = _whole(
        "batch_size",
        batch_size,
        minimum=1,
        reason="must be at least 1; 1 is stochastic gradient descent",
    )
    if batch_size > n_samples:
        noun = "sample" if n_samples == 1 else "samples"
        raise ScenarioError(
            "batch_size",
            batch_size,
            f"exceeds the {n_samples} training {noun}; {n_samples} is full-batch gradient descent",
        )
    return batch_size



def algorithm_name(effective_batch: int, n_samples: int) -> str:
    """Name of the gradient-descent variant for the samples behind one update (SCIENCE.md §1).

    ``"Batch GD"`` when one update sees all N samples (effective batch ≥ N: with gradient
    accumulation an effective batch larger than N still covers the whole set per step),
    ``"SGD"`` for an effective batch of 1, ``"Mini-batch GD"`` in between.
    """
    n_samples = check_n_samples(n_samples)
    effective_batch = _whole(
        "effective_batch", effective_batch, minimum=1, reason="must be at least 1"
    )
    if effective_batch >= n_samples:
        return "Batch GD"
    if effective_batch == 1:
        return "SGD"
    return "Mini-batch GD"


@dataclass(frozen=True)
class Position:
    """Where one global iteration (one forward + backward pass over a micro-batch) sits."""

    epoch: int  # 0-based epoch
    batch_in_epoch: int  # 0-based index of the iteration within its epoch
    pass_index: int  # 0-based pass over the data (differs from epoch with steps_per_epoch)
    batch_in_pass: int  # 0-based batch index within the pass (0 .. M−1)
    start: int  # order[start:stop] of the pass holds this batch's samples
    stop: int
    step: int  # 0-based global optimizer step this iteration contributes to
    micro: int  # 0-based index of this micro-batch within its step
    micro_count: int  # micro-batches in this step (accumulate, or fewer at an epoch's end)
    last_in_step: bool  # the optimizer step is taken after this iteration

    @property
    def size(self) -> int:
        """Samples in this batch (``stop − start``)."""
        return self.stop - self.start


#: Past this many batches in a pass, a pass's batch table and its batch sizes are computed
#: when read instead of listed (issue 24: batches of one sample over 10⁶ samples were 10⁶-entry
#: lists, ~100 MB a run); below it, plain lists and tuples as always. 4,096: N = 10⁶ at B = 32
#: (31,250 batches) listed its starts and stops as Python ints, 2.9 MB a run, four runs with the
#: noise cloud open; ranges cost nothing and read as fast.
LISTED_BATCHES = 1 << 12


class Column(Sequence):
    """A read-only sequence of ``length`` ints, entry j = ``entry(j)``, computed when read:
    a pass's column of :class:`PassTable` or :attr:`Plan.batch_sizes` with more than
    :data:`LISTED_BATCHES` batches. Equal to (and hashed as) the tuple of its entries' formula
    ``key`` (two columns of one formula and length are equal)."""

    __slots__ = ("length", "entry", "key")

    def __init__(self, length: int, entry: Any, key: tuple) -> None:
        self.length, self.entry, self.key = int(length), entry, key

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, j: Any) -> Any:
        if isinstance(j, slice):
            return tuple(self.entry(i) for i in range(*j.indices(self.length)))
        j = int(j)
        if j < 0:
            j += self.length
        if not 0 <= j < self.length:
            raise IndexError("index out of range")
        return self.entry(j)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Column):
            return self.key == other.key and self.length == other.length
        if isinstance(other, (tuple, list)):
            return len(other) == self.length and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.length, self.key))

    def __repr__(self) -> str:
        return f"Column(length={self.length}, key={self.key!r})"


def batch_sizes_of(m: int, b: int, last: int) -> tuple[int, ...] | Column:
    """The sizes of a pass's m batches: b each, the last ``last`` (a tuple; a :class:`Column`
    past :data:`LISTED_BATCHES` batches)."""
    if m <= 0:
        return ()
    if m <= LISTED_BATCHES:
        return (b,) * (m - 1) + (last,)
    return Column(m, lambda j: b if j < m - 1 else last, ("sizes", b, last))


@dataclass(frozen=True)
class PassTable:
    """One pass's batches as lists (see :meth:`Plan.pass_table`; past
    :data:`LISTED_BATCHES` batches, ranges and :class:`Column` s computed when read)."""

    start: Sequence[int]
    stop: Sequence[int]
    micro: Sequence[int] | None
    micro_count: Sequence[int] | None


@dataclass(frozen=True)
class Plan:
    """The counting of SCIENCE.md §1 for N samples, batch size B, accumulation K,
    optional Keras ``steps_per_epoch`` S with its ``epoch_end`` and a number of epochs — no
    training.

    * Batches per pass M = ceil(N/B), or floor(N/B) with ``drop_last`` (PyTorch
      ``BatchSampler.__len__``; Keras uses ceil(N/B) for arrays). Without ``drop_last`` the
      last batch has N − (M−1)·B samples; with it, N mod B samples are left over each pass.
    * Without S an epoch is one pass: its M iterations form steps of K consecutive
      micro-batches, the last group shorter when K does not divide M (the epoch boundary ends
      a step), so an epoch has ceil(M/K) steps (§1.2). ``epoch_end`` then changes nothing.
    * With S ("total number of steps before declaring one epoch finished", §1.3), by
      ``epoch_end``:

      - ``continue`` (tf.data ``.repeat()``, a Keras generator): the data iterator is not reset
        at epoch boundaries: global iteration i is batch i mod M of pass i // M, and every epoch
        is exactly S·K iterations = S steps of K micro-batches (a step may span two passes).
      - ``cut`` (Keras 3 with arrays): the iterator runs on across epochs, but an epoch also
        ends where the pass runs out, and the next epoch starts a fresh pass. So a pass is cut
        into q = ceil(M/(S·K)) epochs of S·K iterations, the last one M − (q−1)·S·K; this
        pattern repeats every pass. As at the end of a pass without S, the end of a cut epoch
        ends a step: a short epoch of r iterations has ceil(r/K) steps, its last step of
        fewer micro-batches (§1.2). N=1000, B=10, S=30: 30, 30, 30, 10, 30, … steps.
      - ``restart`` (a PyTorch loop that breaks after S batches; Lightning's
        ``limit_train_batches``): every epoch starts a fresh pass (a new order) and uses its
        first L = min(S·K, M) batches: ceil(L/K) steps per epoch.

    Every choice but ``continue`` repeats with each pass: one pass of ``iterations_per_pass``
    iterations (M, or L for restart) holds ``cycle_epochs`` epochs (q for cut, else 1) and
    ``cycle_steps`` steps. With ``continue`` passes (M iterations) and epochs (S·K) are out of
    step: ``cycle_epochs`` is 1 and ``cycle_steps`` is S.
    """

    n_samples: int
    batch_size: int
    drop_last: bool
    accumulate: int
    steps_per_epoch: int | None
    epochs: int
    batches_per_pass: int
    batch_sizes: tuple[int, ...] | Column   # a Column past LISTED_BATCHES batches
    leftover: int
    iterations_per_epoch: int  # the first (and longest) epoch's iterations
    steps_per_epoch_count: int  # the first (and longest) epoch's steps
    effective_batch: int
    total_iterations: int
    total_steps: int
    total_samples: int
    passes: float
    algorithm: str
    algorithm_long: str
    epoch_end: str = "continue"
    sampling: str = "reshuffle"  # with "replacement" a pass is N independent draws
    cycle_epochs: int = 1
    iterations_per_pass: int = 0
    cycle_steps: int = 0

    @property
    def last_batch_size(self) -> int:
        """Size of the last batch of a pass (B, or N − (M−1)·B when it is short)."""
        return self.batch_sizes[-1]

    @property
    def samples_per_pass(self) -> int:
        """Samples used per pass: N − leftover."""
        return self.n_samples - self.leftover

    @property
    def continues(self) -> bool:
        """True when the iterator runs on across epochs with S steps each (``continue`` with S)."""
        return self.steps_per_epoch is not None and self.epoch_end == "continue"

    @property
    def mode(self) -> str:
        """``"pass"`` (no steps_per_epoch: an epoch is one pass), else the ``epoch_end`` choice."""
        return "pass" if self.steps_per_epoch is None else self.epoch_end

    @property
    def uneven_epochs(self) -> bool:
        """True when epochs differ in length (``cut`` with a short last epoch in each pass)."""
        return self.epoch_iterations(self.cycle_epochs - 1) != self.iterations_per_epoch

    def _check_iteration(self, iteration: int) -> int:
        if isinstance(iteration, bool) or not isinstance(iteration, numbers.Integral):
            raise TypeError(f"iteration must be an int, got {iteration!r}")
        iteration = int(iteration)
        if iteration < 0:
            raise IndexError(f"iteration {iteration} is negative")
        return iteration

    def _check_epoch(self, epoch: int) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral):
            raise TypeError(f"epoch must be an int, got {epoch!r}")
        if epoch < 0:
            raise IndexError(f"epoch {epoch} is negative")
        return int(epoch)

    def epoch_iterations(self, epoch: int) -> int:
        """Iterations (batches) in 0-based ``epoch``: S·K, M, min(S·K, M), or for ``cut`` the
        short remainder M − (q−1)·S·K on the last epoch of each pass (SCIENCE.md §1.3)."""
        epoch = self._check_epoch(epoch)
        if self.mode == "cut":
            j = epoch % self.cycle_epochs
            return min(self.iterations_per_epoch, self.batches_per_pass - j * self.iterations_per_epoch)
        return self.iterations_per_epoch

    def epoch_steps(self, epoch: int) -> int:
        """Optimizer steps in 0-based ``epoch``: ceil(iterations / K) (an epoch's end ends a step)."""
        return -(-self.epoch_iterations(epoch) // self.accumulate)

    def epoch_start(self, epoch: int) -> int:
        """The first 0-based iteration of 0-based ``epoch`` (= iterations of the epochs before)."""
        epoch = self._check_epoch(epoch)
        if self.continues:
            return epoch * self.iterations_per_epoch
        cycle, j = divmod(epoch, self.cycle_epochs)
        return cycle * self.iterations_per_pass + j * self.iterations_per_epoch

    def epochs_done(self, iterations: int) -> float:
        """Epochs completed after ``iterations`` iterations, as a fraction (for the x axis)."""
        pos = self.locate(iterations)
        return pos.epoch + pos.batch_in_epoch / self.epoch_iterations(pos.epoch)

    def epoch_pattern(self) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
        """The steps of every epoch as ``(cycle, repeats, tail)``: the epochs' step counts are
        ``cycle`` repeated ``repeats`` times, then ``tail`` (fewer than a cycle's epochs)."""
        q = self.cycle_epochs
        # every epoch of a pass is as long as the first but the last (cut: the remainder)
        cycle = (self.steps_per_epoch_count,) * (q - 1) + (self.epoch_steps(q - 1),)
        repeats, rest = divmod(self.epochs, q)
        return cycle, repeats, cycle[:rest]

    def batch_size_at(self, iteration: int) -> int:
        """Size of the batch of 0-based global ``iteration`` (O(1)).

        Iterations past :attr:`total_iterations` continue the same pattern.
        """
        return self.locate(iteration).size

    def locate(self, iteration: int) -> Position:
        """Where 0-based global ``iteration`` sits: epoch, pass, batch, step, micro-batch.

        O(1) arithmetic (SCIENCE.md §1.2, §1.3). Iterations past :attr:`total_iterations`
        continue the same pattern (as when training is extended by more epochs).
        """
        i = self._check_iteration(iteration)
        m, k, b = self.batches_per_pass, self.accumulate, self.batch_size
        if self.continues:
            # Keras generator: the iterator runs on across epochs; every step has K micro-batches
            pass_index, batch_in_pass = divmod(i, m)
            epoch, batch_in_epoch = divmod(i, self.iterations_per_epoch)
            step, micro = divmod(i, k)
            micro_count = k
        else:
            # one cycle of epochs per pass (one epoch, or q for cut); steps are groups of K
            # inside an epoch, the last group maybe shorter
            pass_index, batch_in_pass = divmod(i, self.iterations_per_pass)
            chunk, batch_in_epoch = divmod(batch_in_pass, self.iterations_per_epoch)
            epoch = pass_index * self.cycle_epochs + chunk
            length = min(self.iterations_per_epoch, m - chunk * self.iterations_per_epoch)
            group, micro = divmod(batch_in_epoch, k)
            step = pass_index * self.cycle_steps + chunk * self.steps_per_epoch_count + group
            micro_count = min(k, length - group * k)
        start = batch_in_pass * b
        stop = min(start + b, self.n_samples)
        return Position(
            epoch=epoch,
            batch_in_epoch=batch_in_epoch,
            pass_index=pass_index,
            batch_in_pass=batch_in_pass,
            start=start,
            stop=stop,
            step=step,
            micro=micro,
            micro_count=micro_count,
            last_in_step=micro == micro_count - 1,
        )

    def pass_table(self) -> PassTable:
        """The batches of one pass as plain lists, for the simulation's step loop.

        Row j (0 ≤ j < :attr:`iterations_per_pass`) gives what :meth:`locate` gives for batch
        j of any pass: its slice of the pass's order and, unless the iterator continues across
        epochs, its micro-batch index and the number of micro-batches of its step (with
        ``continue`` these are i mod K and K for global iteration i, so the lists are None).
        Vectorised; tested equal to :meth:`locate`.
        """
        k, b, n = self.accumulate, self.batch_size, self.n_samples
        rows = self.batches_per_pass if self.continues else self.iterations_per_pass
        if rows > LISTED_BATCHES:
            return self._computed_table(rows)
        if self.continues:
            j = np.arange(self.batches_per_pass, dtype=np.int64)
            start = j * b
            stop = np.minimum(start + b, n)
            return PassTable(start.tolist(), stop.tolist(), None, None)
        j = np.arange(self.iterations_per_pass, dtype=np.int64)
        start = j * b
        stop = np.minimum(start + b, n)
        per = self.iterations_per_epoch
        chunk, inside = np.divmod(j, per)
        length = np.minimum(per, self.batches_per_pass - chunk * per)
        micro = inside % k
        count = np.minimum(k, length - (inside // k) * k)
        return PassTable(start.tolist(), stop.tolist(), micro.tolist(), count.tolist())

    def _computed_table(self, rows: int) -> PassTable:
        """:meth:`pass_table` of many batches, its entries computed when read (the same
        formulas, entry by entry)."""
        k, b, n = self.accumulate, self.batch_size, self.n_samples
        start = range(0, rows * b, b)
        if rows * b <= n:
            stop: Sequence[int] = range(b, rows * b + b, b)
        else:
            stop = Column(rows, lambda j: min(j * b + b, n), ("stop", b, n))
        if self.continues:
            return PassTable(start, stop, None, None)
        per, m = self.iterations_per_epoch, self.batches_per_pass

        def micro(j: int) -> int:
            return (j % per) % k

        def count(j: int) -> int:
            chunk, inside = divmod(j, per)
            length = min(per, m - chunk * per)
            return min(k, length - (inside // k) * k)

        return PassTable(start, stop, Column(rows, micro, ("micro", per, k)),
                         Column(rows, count, ("count", per, k, m)))

    def slices(self) -> list[slice]:
        """The M slices that cut one pass's order into its batches."""
        b, n = self.batch_size, self.n_samples
        return [slice(j * b, min(j * b + b, n)) for j in range(self.batches_per_pass)]


def _is_bool(value: Any) -> bool:
    """True for a Python or NumPy bool (without importing NumPy for the check)."""
    if isinstance(value, bool):
        return True
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.bool_)


def make_plan(
    n_samples: int,
    batch_size: int,
    *,
    drop_last: bool = False,
    accumulate: int = 1,
    steps_per_epoch: int | None = None,
    epochs: int = 1,
    epoch_end: str = "continue",
    sampling: str = "reshuffle",
) -> Plan:
    """Work out the batch arithmetic of SCIENCE.md §1 (see :class:`Plan`).

    Raises :class:`ScenarioError` naming the setting for N < 1, a batch size that is not a
    whole number in 1..N, accumulate < 1, steps_per_epoch < 1, epochs < 1 and an unknown
    ``epoch_end`` (one of :data:`EPOCH_ENDS`; it only matters with ``steps_per_epoch``) or
    ``sampling`` (one of :data:`SAMPLINGS`; it changes no count, only what a pass is).

    ``total_samples`` counts every sample that goes through the model, short batches
    included; with ``steps_per_epoch`` the positions cycle through the passes' batch sizes.
    ``passes`` = total_samples / (N − leftover): passes over the (used part of the) data
    (with ``restart`` a partly used pass counts as its fraction).
    """
    n = check_n_samples(n_samples)
    b = check_batch_size(batch_size, n)
    if not _is_bool(drop_last):
        raise ScenarioError("drop_last", drop_last, "must be true or false")
    drop_last = bool(drop_last)
    k = _whole(
        "accumulate",
        accumulate,
        minimum=1,
        reason="must be at least 1 (1 means no gradient accumulation)",
    )
    s: int | None = None
    if steps_per_epoch is not None:
        s = _whole(
            "steps_per_epoch",
            steps_per_epoch,
            minimum=1,
            reason="must be at least 1, or unset for one pass over the data per epoch",
        )
    e = _whole("epochs", epochs, minimum=1, reason="must be at least 1")
    if epoch_end not in EPOCH_ENDS:
        raise ScenarioError(
            "epoch_end", epoch_end, f"unknown; choose one of {', '.join(EPOCH_ENDS)}"
        )
    if sampling not in SAMPLINGS:
        raise ScenarioError("sampling", sampling, f"unknown; choose one of {', '.join(SAMPLINGS)}")

    # PyTorch BatchSampler.__len__: N // B with drop_last, else ceil(N / B)
    if drop_last:
        m = n // b
        leftover = n % b
        sizes = batch_sizes_of(m, b, b)
    else:
        m = -(-n // b)
        leftover = 0
        sizes = batch_sizes_of(m, b, n - (m - 1) * b)
    per_pass = n - leftover

    cycle_epochs = 1
    if s is None:
        # an epoch is one pass
        iterations_per_epoch = m
        steps_per_epoch_count = -(-m // k)  # a short last accumulation group still steps
        cycle_iterations, cycle_steps = m, steps_per_epoch_count
        total_iterations = e * m
        total_steps = e * steps_per_epoch_count
        total_samples = e * per_pass
    elif epoch_end == "continue":
        iterations_per_epoch = s * k
        steps_per_epoch_count = s
        cycle_iterations, cycle_steps = m, s  # a pass is M iterations, out of step with epochs
        total_iterations = e * iterations_per_epoch
        total_steps = e * s
        full_passes, rest = divmod(total_iterations, m)
        # rest < M, so the partial pass only has full-size batches
        total_samples = full_passes * per_pass + rest * b
    elif epoch_end == "cut":
        # a pass is cut into q epochs of S·K iterations, the last one shorter (Keras arrays)
        iterations_per_epoch = min(s * k, m)
        steps_per_epoch_count = -(-iterations_per_epoch // k)
        cycle_epochs = -(-m // iterations_per_epoch)
        last = m - (cycle_epochs - 1) * iterations_per_epoch
        cycle_iterations = m
        cycle_steps = (cycle_epochs - 1) * steps_per_epoch_count + -(-last // k)
        cycles, rest = divmod(e, cycle_epochs)
        # the rest (< q epochs) are full S·K epochs that stop before the pass's last batch
        total_iterations = cycles * m + rest * iterations_per_epoch
        total_steps = cycles * cycle_steps + rest * steps_per_epoch_count
        total_samples = cycles * per_pass + rest * iterations_per_epoch * b
    else:  # restart: every epoch is the first min(S·K, M) batches of a fresh pass
        iterations_per_epoch = min(s * k, m)
        steps_per_epoch_count = -(-iterations_per_epoch // k)
        cycle_iterations, cycle_steps = iterations_per_epoch, steps_per_epoch_count
        total_iterations = e * iterations_per_epoch
        total_steps = e * steps_per_epoch_count
        used = per_pass if iterations_per_epoch == m else iterations_per_epoch * b
        total_samples = e * used
    effective = k * b
    algorithm = algorithm_name(effective, n)
    return Plan(
        n_samples=n,
        batch_size=b,
        drop_last=drop_last,
        accumulate=k,
        steps_per_epoch=s,
        epochs=e,
        batches_per_pass=m,
        batch_sizes=sizes,
        leftover=leftover,
        iterations_per_epoch=iterations_per_epoch,
        steps_per_epoch_count=steps_per_epoch_count,
        effective_batch=effective,
        total_iterations=total_iterations,
        total_steps=total_steps,
        total_samples=total_samples,
        passes=total_samples / per_pass,
        algorithm=algorithm,
        algorithm_long=ALGORITHMS[algorithm],
        epoch_end=epoch_end,
        sampling=sampling,
        cycle_epochs=cycle_epochs,
        iterations_per_pass=cycle_iterations,
        cycle_steps=cycle_steps,
    )


def plan_for(sc: Any, n_samples: int, start_epoch: int = 0) -> Plan:
    """The batch arithmetic of scenario ``sc`` on ``n_samples`` training samples, for its epochs
    from ``start_epoch`` on (the one place a Scenario becomes a Plan: the Simulation's segments
    and ``mbsim plan`` both use it)."""
    return make_plan(
        n_samples, sc.batch_size, drop_last=sc.drop_last, accumulate=sc.accumulate,
        steps_per_epoch=sc.steps_per_epoch_or_none, epochs=max(1, sc.epochs - start_epoch),
        epoch_end=sc.epoch_end, sampling=sc.sampling,
    )
