"""Tests for the stratified sampler (engine/stratified.py, SCIENCE.md §1.1): every batch keeps
the class proportions; the order of a pass is the one the module docstring describes, worked out
sample by sample; at large N in pieces and with shared tables, the same orders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbsim.engine.sampling import make_sampler

FAST = settings(max_examples=150, deadline=None)


def assert_stratified(order: np.ndarray, labels: np.ndarray, b: int) -> None:
    n = len(labels)
    assert np.array_equal(np.sort(order), np.arange(n))
    classes, codes = np.unique(labels, return_inverse=True)
    fractions = np.bincount(codes, minlength=len(classes)) / n
    for start in range(0, n, b):
        batch = order[start : start + b]
        counts = np.bincount(codes[batch], minlength=len(classes))
        assert np.all(np.abs(counts - len(batch) * fractions) <= 1 + 1e-9), (start, counts)


@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=300),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
)
@FAST
def test_stratified_keeps_proportions(labels: list[int], data: st.DataObject, seed: int) -> None:
    labels_arr = np.array(labels)
    n = len(labels)
    b = data.draw(st.integers(1, n))
    sampler = make_sampler("stratified", n, batch_size=b, labels=labels_arr)
    rng = np.random.default_rng(seed)
    previous = None
    for _ in range(2):
        order = sampler.order(rng, previous)
        assert order.dtype == np.int64
        assert_stratified(order, labels_arr, b)
        previous = order


@pytest.mark.parametrize("n", [10, 97, 200, 500])
@pytest.mark.parametrize("minority", [0.1, 0.03, 0.5])
def test_stratified_imbalanced_all_batch_sizes(n: int, minority: float) -> None:
    labels = np.zeros(n, dtype=int)
    labels[: max(1, round(minority * n))] = 1
    rng = np.random.default_rng(7)
    labels = rng.permutation(labels)
    for b in range(1, n + 1):
        order = make_sampler("stratified", n, batch_size=b, labels=labels).order(rng, None)
        assert_stratified(order, labels, b)


def test_stratified_string_labels_and_randomness() -> None:
    labels = np.array(["cat", "dog", "dog", "dog"] * 25)
    sampler = make_sampler("stratified", 100, batch_size=8, labels=labels)
    rng = np.random.default_rng(3)
    a, b = sampler.order(rng, None), sampler.order(rng, None)
    assert_stratified(a, labels, 8)
    assert not np.array_equal(a, b)


def _stratified_reference(sampler, raw_row: np.ndarray) -> list[int]:  # noqa: ANN001
    """The order of one pass, element by element, as engine/stratified.py's docstring states it:
    π is the draw without the marker N, whose place p rotates the full batches by p·M_f // (N + 1);
    class c's samples go, in π's order, to the batches holding its places (the counts table's
    column c, batch by batch); each batch lists its samples in π's order."""
    n = sampler.n_samples
    draw = [int(v) for v in raw_row]
    place = draw.index(n)
    pi = [v for v in draw if v != n]
    table = sampler.counts_table()
    n_full = sampler._n_full
    shift = place * n_full // (n + 1) if n_full > 1 else 0
    codes = sampler._codes
    batch_of_sample = {}
    for c in range(table.shape[1]):
        slots = [j for j in range(table.shape[0]) for _ in range(int(table[j, c]))]
        of_class = [v for v in pi if codes[v] == c]
        for slot, v in zip(slots, of_class):
            batch_of_sample[v] = (slot + shift) % n_full if slot < n_full else slot
    return [v for j in range(table.shape[0]) for v in pi if batch_of_sample[v] == j]


@pytest.mark.parametrize("chunk", [1 << 14, 50])
def test_stratified_assembly_is_the_documented_order(chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many rows assembled at once (in chunks of rows, into a contiguous or a strided output)
    give, row by row, the order the module docstring describes, worked out sample by sample."""
    import mbsim.engine.stratified as strat
    monkeypatch.setattr(strat, "ASSEMBLE_ELEMENTS", chunk)
    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(1, 160))
        b = int(rng.integers(1, n + 1))
        labels = rng.integers(0, int(rng.integers(1, 8)), n) if trial % 3 else (rng.random(n) < 0.1).astype(int)
        sampler = make_sampler("stratified", n, batch_size=b, labels=labels)
        rows = int(rng.integers(1, 12))
        raw = np.stack([rng.permutation(n + 1) for _ in range(rows)]).astype(np.int64)
        wide = np.full((rows, n + 2), -1, dtype=np.int64)
        sampler.assemble(raw, wide[:, 1:n + 1])
        tight = np.empty((rows, n), dtype=np.int64)
        sampler.assemble(raw, tight)
        for r in range(rows):
            want = _stratified_reference(sampler, raw[r])
            assert tight[r].tolist() == want and wide[r, 1:n + 1].tolist() == want, (n, b, r)
        assert (wide[:, 0] == -1).all() and (wide[:, -1] == -1).all()


def _counts_table_reference(counts: list[int], n: int, b: int) -> np.ndarray:
    """The counts table as the module docstring states it, worked out entry by entry in Python:
    floor(b·f_c) each; the short batch's spare places to the largest remainders (ties: the
    smaller class); the extras owed, class after class, dealt round-robin over the full batches."""
    n_full, short = divmod(n, b)
    rows = n_full + (1 if short else 0)
    table = [[b * c // n for c in counts] for _ in range(n_full)]
    owed = [c - n_full * (b * c // n) for c in counts]
    if short:
        row = [short * c // n for c in counts]
        owed = [o - r for o, r in zip(owed, row)]
        spare = short - sum(row)
        order = sorted(range(len(counts)), key=lambda c: (-(short * counts[c] % n), c))
        for c in order[:spare]:
            row[c] += 1
            owed[c] -= 1
        table.append(row)
    slot = 0
    for c, k in enumerate(owed):
        for _ in range(k):
            table[slot % n_full][c] += 1
            slot += 1
    return np.array(table, dtype=np.int64).reshape(rows, len(counts))


@pytest.mark.parametrize("piece", [5, 64])
def test_stratified_in_pieces_is_the_documented_order(piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """At large N one pass is worked out a piece of places at a time (the class codes, the
    batches of the rotation, a counting sort instead of an N-long argsort: issue 24); with small
    pieces, every path of it gives the order and the counts table the docstring describes,
    worked out sample by sample."""
    import mbsim.engine.stratified as strat
    monkeypatch.setattr(strat, "PIECE_ELEMENTS", piece)
    rng = np.random.default_rng(24)
    for trial in range(60):
        n = int(rng.integers(2, 400))
        b = int(rng.integers(1, n + 1)) if trial % 4 else int(rng.integers(1, 4))
        labels = rng.integers(0, int(rng.integers(1, 8)), n) if trial % 3 else (rng.random(n) < 0.1).astype(int)
        labels = labels * 2 + 3                            # class labels need not be 0, 1, …
        sampler = make_sampler("stratified", n, batch_size=b, labels=labels)
        counts = [int((labels == v).sum()) for v in np.unique(labels)]
        assert np.array_equal(sampler.counts_table(), _counts_table_reference(counts, n, b)), (n, b)
        raw = np.empty((1, n + 1), dtype=np.int64)
        sampler.draw_ahead_into(np.random.default_rng(trial), raw)
        assert raw[0].tolist() == np.random.default_rng(trial).permutation(n + 1).tolist()
        out = np.full((1, n), -1, dtype=np.int32)
        sampler.assemble(raw, out)
        assert out[0].tolist() == _stratified_reference(sampler, raw[0]), (n, b, trial)


def test_stratified_samplers_of_the_same_labels_share_their_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """At large N the samplers of one labelling (compare mode's runs, the app's own) share the
    per-sample tables (issue 24: 1 to 5 bytes a sample each), and draw exactly the orders an
    unshared sampler draws; other labels or another batch size get tables of their own."""
    import mbsim.engine.stratified as strat
    n = strat.SHARE_ABOVE + 1234
    rng = np.random.default_rng(7)
    labels = (rng.random(n) < 0.3).astype(np.int8)
    a = make_sampler("stratified", n, batch_size=32, labels=labels)
    b = make_sampler("stratified", n, batch_size=32, labels=labels.astype(np.int8).copy())
    c = make_sampler("stratified", n, batch_size=7, labels=labels)
    flipped = labels.copy()
    flipped[123] ^= 1
    d = make_sampler("stratified", n, batch_size=32, labels=flipped)
    assert a._codes_ext is b._codes_ext and a._batch_of is b._batch_of
    assert c._codes_ext is a._codes_ext and c._batch_of is not a._batch_of
    assert d._codes_ext is not a._codes_ext and d._codes[123] != a._codes[123]
    monkeypatch.setattr(strat, "SHARE_ABOVE", 1 << 40)
    alone = make_sampler("stratified", n, batch_size=32, labels=labels)
    assert alone._codes_ext is not a._codes_ext
    for seed in range(2):
        want = alone.order(np.random.default_rng(seed), None)
        assert np.array_equal(a.order(np.random.default_rng(seed), None), want)
        assert np.array_equal(b.order(np.random.default_rng(seed), None), want)
    b.release()                                      # one run's view closed: the others draw on
    assert np.array_equal(a.order(np.random.default_rng(5), None), alone.order(np.random.default_rng(5), None))


def test_going_back_before_a_live_change_replays_with_its_sampler() -> None:
    """A live change thins the stretch it leaves (its block of orders and pass data go) but not
    its sampler: going back into that stretch replays it (a review found the stratified tables
    released there: IndexError on the first step back). The replay gives the same states."""
    from mbsim.engine import Scenario, Simulation
    from mbsim.engine.ensemble import Ensemble

    sc = Scenario(samples=200, batch_size=10, epochs=5, sampling="stratified", dataset="blobs")
    sim = Simulation(sc)
    sim.run_iterations(30)
    again = Simulation(sc)
    again.run_iterations(25)
    at25 = again.params.copy()
    sim.apply_changes(lr=0.05)
    sim.run_iterations(5)
    sim.goto_iteration(25)
    assert sim.iteration == 25 and np.array_equal(sim.params, at25)
    sim.run_iterations(10)                            # and on, through the change again
    assert sim.iteration == 35

    ens = Ensemble.seeds(sc, 3, align="steps")
    for _ in range(20):
        ens.tick()
    ens.apply_changes(lr=0.05)
    for _ in range(5):
        ens.tick()
    for _ in range(8):                                # back across the change
        assert ens.back()
    assert ens.ticks == 17


def test_more_classes_than_a_byte_holds_give_a_permutation() -> None:
    """Over 255 classes the codes are int32 and the rotation's marker is its own class (it was
    255 whatever the number of classes, the same as class 255: not a permutation)."""
    n = 3000
    labels = np.arange(n) % 300
    sampler = make_sampler("stratified", n, batch_size=30, labels=labels)
    order = sampler.order(np.random.default_rng(4), None)
    assert np.array_equal(np.sort(order), np.arange(n))
    assert_stratified(order, labels, 30)
