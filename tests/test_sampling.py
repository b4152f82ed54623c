"""Tests for engine.sampling: the counting of SCIENCE.md §1 and the sampling orders of §1.1."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mbsim.engine.errors import ScenarioError
from mbsim.engine.sampling import (
    SAMPLINGS,
    Plan,
    Position,
    algorithm_name,
    make_plan,
    make_sampler,
)

FAST = settings(max_examples=150, deadline=None)


def cut(order: np.ndarray, plan: Plan) -> list[list[int]]:
    """Cut one pass's order into the plan's batches via locate()."""
    positions = [plan.locate(j) for j in range(plan.batches_per_pass)]  # pass 0
    return [order[p.start : p.stop].tolist() for p in positions]


# ---------------------------------------------------------------------------------------------
# the worked numbers of SCIENCE.md §1


def test_n200_b5_1000_epochs() -> None:
    plan = make_plan(200, 5, epochs=1000)
    assert plan.batches_per_pass == 40
    assert plan.iterations_per_epoch == 40
    assert plan.steps_per_epoch_count == 40
    assert plan.total_steps == 40_000
    assert plan.total_iterations == 40_000
    assert plan.total_samples == 200 * 1000
    assert plan.passes == 1000
    assert plan.algorithm == "Mini-batch GD"


def test_n1000_b400_sizes() -> None:
    plan = make_plan(1000, 400)
    assert plan.batches_per_pass == 3
    assert plan.batch_sizes == (400, 400, 200)
    assert [plan.batch_size_at(i) for i in range(6)] == [400, 400, 200] * 2
    assert plan.leftover == 0


def test_n50000_b64() -> None:
    plan = make_plan(50_000, 64)
    assert plan.batches_per_pass == 782
    assert plan.batch_sizes.count(64) == 781
    assert plan.batch_sizes[-1] == 16
    assert sum(plan.batch_sizes) == 50_000
    dropped = make_plan(50_000, 64, drop_last=True)
    assert dropped.batches_per_pass == 781
    assert dropped.batch_sizes == (64,) * 781
    assert dropped.leftover == 16
    assert dropped.total_samples == 781 * 64


def test_n10_b3_sequential() -> None:
    plan = make_plan(10, 3)
    order = make_sampler("sequential", 10, batch_size=3).order(np.random.default_rng(0), None)
    assert cut(order, plan) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    dropped = make_plan(10, 3, drop_last=True)
    assert cut(order, dropped) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_steps_per_epoch_keras_example() -> None:
    # N=1000, B=10, steps_per_epoch=20: the iterator is not reset at epoch boundaries
    plan = make_plan(1000, 10, steps_per_epoch=20, epochs=6)
    assert plan.batches_per_pass == 100
    assert plan.iterations_per_epoch == 20
    assert plan.steps_per_epoch_count == 20
    assert plan.total_samples == 6 * 200
    assert plan.passes == pytest.approx(1.2)
    # epoch 1 (0-based 0): positions 1–200 of pass 0
    first = [plan.locate(i) for i in range(20)]
    assert {p.epoch for p in first} == {0}
    assert (first[0].start, first[-1].stop) == (0, 200)
    # epoch 2 (0-based 1): positions 201–400 of pass 0
    second = [plan.locate(i) for i in range(20, 40)]
    assert {p.epoch for p in second} == {1}
    assert {p.pass_index for p in second} == {0}
    assert [p.batch_in_pass for p in second] == list(range(20, 40))
    assert (second[0].start + 1, second[-1].stop) == (201, 400)
    # 5 epochs per pass: epoch 6 (0-based 5) starts pass 1 at position 1
    sixth = plan.locate(100)
    assert (sixth.epoch, sixth.batch_in_epoch, sixth.pass_index, sixth.batch_in_pass) == (5, 0, 1, 0)
    assert sixth.start == 0


# ---------------------------------------------------------------------------------------------
# accumulation and small hand-checked cases


def test_accumulation_short_last_group() -> None:
    # M = 5 batches, K = 2: steps (0,1) (2,3) (4) per epoch
    plan = make_plan(10, 2, accumulate=2, epochs=2)
    assert plan.steps_per_epoch_count == 3
    assert plan.total_steps == 6
    assert plan.effective_batch == 4
    got = [(p.step, p.micro, p.micro_count, p.last_in_step) for p in map(plan.locate, range(10))]
    assert got == [
        (0, 0, 2, False), (0, 1, 2, True), (1, 0, 2, False), (1, 1, 2, True), (2, 0, 1, True),
        (3, 0, 2, False), (3, 1, 2, True), (4, 0, 2, False), (4, 1, 2, True), (5, 0, 1, True),
    ]


def test_accumulation_with_steps_per_epoch_spans_passes() -> None:
    # M = 3, K = 2, S = 2: epoch = 4 iterations; step 1 takes batch 2 of pass 0 and batch 0 of pass 1
    plan = make_plan(6, 2, accumulate=2, steps_per_epoch=2, epochs=2)
    assert plan.iterations_per_epoch == 4
    assert plan.total_iterations == 8
    assert plan.total_steps == 4
    p2, p3 = plan.locate(2), plan.locate(3)
    assert (p2.step, p2.pass_index, p2.batch_in_pass, p2.micro) == (1, 0, 2, 0)
    assert (p3.step, p3.pass_index, p3.batch_in_pass, p3.micro, p3.last_in_step) == (1, 1, 0, 1, True)
    assert plan.locate(4).epoch == 1


def test_total_samples_steps_per_epoch_with_short_batches() -> None:
    # N=1000, B=400: sizes 400,400,200; S=2 for 3 epochs = 6 iterations = 2 passes
    plan = make_plan(1000, 400, steps_per_epoch=2, epochs=3)
    assert plan.total_samples == 2000
    plan = make_plan(1000, 400, steps_per_epoch=2, epochs=2)  # 4 iterations: 400+400+200+400
    assert plan.total_samples == 1400
    assert plan.passes == pytest.approx(1.4)


def test_algorithm_names() -> None:
    assert algorithm_name(200, 200) == "Batch GD"
    assert algorithm_name(1, 200) == "SGD"
    assert algorithm_name(5, 200) == "Mini-batch GD"
    assert algorithm_name(1, 1) == "Batch GD"  # one sample: the whole set
    assert make_plan(200, 200).algorithm_long == "batch gradient descent"
    assert make_plan(200, 1).algorithm_long == "stochastic gradient descent"
    assert make_plan(200, 7).algorithm_long == "mini-batch gradient descent"
    # by the effective batch: 4 micro-batches of 50 = 200 = N
    assert make_plan(200, 50, accumulate=4).algorithm == "Batch GD"
    assert make_plan(200, 1, accumulate=4).algorithm == "Mini-batch GD"


@given(n=st.integers(2, 500), data=st.data())
@FAST
def test_algorithm_names_property(n: int, data: st.DataObject) -> None:
    b = data.draw(st.integers(2, n - 1)) if n > 2 else None
    assert make_plan(n, n).algorithm == "Batch GD"
    assert make_plan(n, 1).algorithm == "SGD"
    if b is not None:
        assert make_plan(n, b).algorithm == "Mini-batch GD"


# ---------------------------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        (dict(n_samples=0, batch_size=1), "n_samples"),
        (dict(n_samples=200, batch_size=0), "batch_size"),
        (dict(n_samples=200, batch_size=-3), "batch_size"),
        (dict(n_samples=200, batch_size=2.0), "batch_size"),
        (dict(n_samples=200, batch_size=True), "batch_size"),
        (dict(n_samples=200, batch_size="8"), "batch_size"),
        (dict(n_samples=200, batch_size=300), "batch_size"),
        (dict(n_samples=200, batch_size=5, accumulate=0), "accumulate"),
        (dict(n_samples=200, batch_size=5, steps_per_epoch=0), "steps_per_epoch"),
        (dict(n_samples=200, batch_size=5, epochs=0), "epochs"),
        (dict(n_samples=200, batch_size=5, drop_last="yes"), "drop_last"),
    ],
)
def test_make_plan_rejects(kwargs: dict, setting: str) -> None:
    with pytest.raises(ScenarioError) as err:
        make_plan(**kwargs)
    assert err.value.setting == setting


def test_batch_size_too_large_message() -> None:
    with pytest.raises(ScenarioError) as err:
        make_plan(200, 300)
    assert str(err.value) == (
        "batch_size 300: exceeds the 200 training samples; 200 is full-batch gradient descent"
    )
    assert err.value.as_option().startswith("--batch-size 300:")


def test_numpy_ints_accepted() -> None:
    plan = make_plan(np.int64(200), np.int32(5), epochs=np.int64(2))
    assert plan.total_steps == 80 and type(plan.batch_size) is int


def test_unknown_sampling_suggests_closest() -> None:
    with pytest.raises(ScenarioError) as err:
        make_sampler("reshufle", 10, batch_size=2)
    assert err.value.setting == "sampling"
    assert "'reshuffle'" in err.value.reason
    for name in SAMPLINGS:
        assert name in err.value.reason


def test_stratified_needs_labels() -> None:
    with pytest.raises(ScenarioError) as err:
        make_sampler("stratified", 10, batch_size=2)
    assert err.value.setting == "sampling" and err.value.value == "stratified"
    assert "regression" in err.value.reason
    with pytest.raises(ScenarioError):
        make_sampler("stratified", 3, batch_size=2, labels=np.array([0.5, 1.2, 3.3]))
    with pytest.raises(ScenarioError):
        make_sampler("stratified", 3, batch_size=2, labels=np.array([0, 1]))


def test_locate_rejects_negative() -> None:
    with pytest.raises(IndexError):
        make_plan(10, 3).locate(-1)


# ---------------------------------------------------------------------------------------------
# properties of the plan


plan_args = st.integers(1, 300).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(1, n),
        st.booleans(),
        st.integers(1, 6),
        st.one_of(st.none(), st.integers(1, 40)),
        st.integers(1, 5),
    )
)


def slow_locate(plan: Plan) -> list[Position]:
    """Reference: walk the iterations one by one, the way a training loop would."""
    out: list[Position] = []
    m, k = plan.batches_per_pass, plan.accumulate
    pass_index, batch_in_pass = 0, 0
    step = 0
    for epoch in range(plan.epochs):
        if plan.steps_per_epoch is None:
            pass_index, batch_in_pass = epoch, 0  # the DataLoader restarts every epoch
            groups = []
            j = 0
            while j < m:
                groups.append(min(k, m - j))
                j += k
        else:
            groups = [k] * plan.steps_per_epoch
        batch_in_epoch = 0
        for count in groups:
            for micro in range(count):
                start = batch_in_pass * plan.batch_size
                stop = min(start + plan.batch_size, plan.n_samples)
                out.append(
                    Position(epoch, batch_in_epoch, pass_index, batch_in_pass, start, stop,
                             step, micro, count, micro == count - 1)
                )
                batch_in_epoch += 1
                batch_in_pass += 1
                if batch_in_pass == m:  # the iterator runs out: next pass
                    batch_in_pass = 0
                    pass_index += 1
            step += 1
    return out


@given(plan_args)
@FAST
def test_locate_matches_slow_reference(args: tuple) -> None:
    n, b, drop, k, s, e = args
    plan = make_plan(n, b, drop_last=drop, accumulate=k, steps_per_epoch=s, epochs=e)
    reference = slow_locate(plan)
    assert len(reference) == plan.total_iterations
    assert [plan.locate(i) for i in range(plan.total_iterations)] == reference
    assert reference[-1].step == plan.total_steps - 1
    assert sum(p.last_in_step for p in reference) == plan.total_steps
    sizes = [plan.batch_size_at(i) for i in range(plan.total_iterations)]
    assert sizes == [p.stop - p.start for p in reference]
    assert sum(sizes) == plan.total_samples
    assert plan.passes == pytest.approx(plan.total_samples / (n - plan.leftover))


@given(plan_args)
@FAST
def test_batch_counts_follow_section_1(args: tuple) -> None:
    n, b, drop, k, s, e = args
    plan = make_plan(n, b, drop_last=drop, accumulate=k, steps_per_epoch=s, epochs=e)
    m = plan.batches_per_pass
    assert len(plan.batch_sizes) == m
    if drop:
        assert m == n // b
        assert plan.leftover == n % b
        assert set(plan.batch_sizes) == {b}
    else:
        assert m == math.ceil(n / b)
        assert plan.leftover == 0
        assert plan.batch_sizes[:-1] == (b,) * (m - 1)
        assert plan.batch_sizes[-1] == n - (m - 1) * b
        assert 1 <= plan.batch_sizes[-1] <= b
    assert sum(plan.batch_sizes) == n - plan.leftover
    assert plan.effective_batch == k * b
    # the slices cover the used part of a pass without gaps
    slices = plan.slices()
    assert slices[0].start == 0 and slices[-1].stop == n - plan.leftover
    assert all(a.stop == c.start for a, c in zip(slices, slices[1:]))
    if s is None:
        assert plan.iterations_per_epoch == m
        assert plan.steps_per_epoch_count == math.ceil(m / k)
        if m % k == 0:
            assert plan.total_iterations == k * plan.total_steps
    else:
        assert plan.total_iterations == k * plan.total_steps
        assert plan.steps_per_epoch_count == s


# ---------------------------------------------------------------------------------------------
# properties of the samplers


@given(n=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
@FAST
def test_reshuffle_uses_every_sample_once(n: int, seed: int) -> None:
    sampler = make_sampler("reshuffle", n, batch_size=1)
    rng = np.random.default_rng(seed)
    first = sampler.order(rng, None)
    second = sampler.order(rng, first)
    for order in (first, second):
        assert order.dtype == np.int64 and order.shape == (n,)
        assert np.array_equal(np.sort(order), np.arange(n))


@given(n=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
@FAST
def test_sequential_and_once(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    seq = make_sampler("sequential", n, batch_size=1)
    state = rng.bit_generator.state
    assert np.array_equal(seq.order(rng, None), np.arange(n))
    assert np.array_equal(seq.order(rng, np.arange(n)), np.arange(n))
    assert rng.bit_generator.state == state  # draws nothing
    once = make_sampler("once", n, batch_size=1)
    first = once.order(rng, None)
    assert np.array_equal(np.sort(first), np.arange(n))
    again = once.order(rng, first)
    assert np.array_equal(again, first) and again.dtype == np.int64
    assert np.array_equal(once.order(rng, again), first)


@given(n=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
@FAST
def test_replacement_draws(n: int, seed: int) -> None:
    order = make_sampler("replacement", n, batch_size=1).order(np.random.default_rng(seed), None)
    assert order.dtype == np.int64 and order.shape == (n,)
    assert order.min() >= 0 and order.max() < n
    counts = np.bincount(order, minlength=n)
    assert counts.sum() == n and len(counts) == n


def test_replacement_repeats_and_misses() -> None:
    order = make_sampler("replacement", 1000, batch_size=10).order(np.random.default_rng(1), None)
    counts = np.bincount(order, minlength=1000)
    assert (counts == 0).any() and (counts >= 2).any()
    # about 1/e of the samples are never drawn
    assert abs((counts == 0).mean() - math.exp(-1)) < 0.06


@pytest.mark.parametrize("name", SAMPLINGS)
def test_same_seed_same_orders(name: str) -> None:
    labels = np.arange(60) % 3
    sampler = make_sampler(name, 60, batch_size=7, labels=labels)

    def passes(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        out, prev = [], None
        for _ in range(4):
            prev = sampler.order(rng, prev)
            out.append(prev)
        return out

    first, second = passes(11), passes(11)
    assert all(np.array_equal(x, y) for x, y in zip(first, second))
    if name not in ("sequential", "once"):
        assert not np.array_equal(first[0], first[1])
        assert not all(np.array_equal(x, y) for x, y in zip(first, passes(12)))


@pytest.mark.parametrize("name", sorted(SAMPLINGS))
def test_order_into_draws_what_order_draws(name: str) -> None:
    """Every sampler's order_into writes the order that order returns, pass after pass, and
    leaves its generator in the same state (the ensemble's rows equal the lone runs')."""
    n, labels = 37, np.arange(37) % 3
    sampler = make_sampler(name, n, labels=labels, batch_size=5)
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    prev_a = prev_b = None
    out = np.empty(n, dtype=np.int64)
    for _ in range(6):
        prev_a = sampler.order(a, prev_a)
        sampler.order_into(b, prev_b, out)
        prev_b = out.copy()
        assert np.array_equal(prev_a, prev_b)
        assert a.bit_generator.state == b.bit_generator.state


@pytest.mark.parametrize("name", ["reshuffle", "stratified"])
@pytest.mark.parametrize("n", [1, 2, 37, 200, 1000])
@pytest.mark.parametrize("passes", [1, 3, 8])
def test_orders_ahead_are_the_successive_passes(name: str, n: int, passes: int) -> None:
    """Drawing P passes in one call (``orders_ahead_into``) gives the P orders that P calls of
    ``order`` give, and leaves the generator where they leave it; the samplers whose order
    depends on the previous pass, or that draw integers in bulk, do not offer it. Assembling
    many rows at once (the K runs of an ensemble) gives each row's own order."""
    labels = (np.arange(n) * 7 % 10 < 3).astype(int)            # 30 % of class 1, spread out
    sampler = make_sampler(name, n, labels=labels, batch_size=max(1, min(n, 6)))
    assert sampler.draws_ahead
    a, b = np.random.default_rng(n * 10 + passes), np.random.default_rng(n * 10 + passes)
    one_by_one = [sampler.order(a, None) for _ in range(passes)]
    block = np.full((passes, n), -1, dtype=np.int64)
    sampler.orders_ahead_into(b, block)
    assert np.array_equal(block, np.array(one_by_one))
    assert a.bit_generator.state == b.bit_generator.state
    assert all(sorted(row) == list(range(n)) for row in block.tolist())
    raws = [np.empty((passes, sampler.raw_width), dtype=np.int64) for _ in range(2)]
    for raw, seed in zip(raws, (1, 2)):
        sampler.draw_ahead_into(np.random.default_rng(seed), raw)
    stacked = np.empty((2 * passes, n), dtype=np.int64)
    sampler.assemble(np.vstack(raws), stacked)
    for i, raw in enumerate(raws):
        alone = np.empty((passes, n), dtype=np.int64)
        sampler.assemble(raw, alone)
        assert np.array_equal(stacked[i * passes:(i + 1) * passes], alone)
    for other in sorted(SAMPLINGS):
        if other not in ("reshuffle", "stratified"):
            assert not make_sampler(other, 12, labels=np.arange(12) % 2, batch_size=4).draws_ahead


@pytest.mark.parametrize("name", ["reshuffle", "stratified"])
def test_orders_blocks_reuse_their_array(name: str) -> None:
    """K runs' orders drawn ahead block after block (engine.orders.Orders): every block after
    the first of the same shape is drawn into the array of the one it replaces (a fresh ~1 MB
    array every AHEAD_PASSES passes cost the kernel its pages each time), and the orders are
    still each run's successive passes from its own generator (``order`` one pass at a time)."""
    from mbsim.engine.orders import AHEAD_PASSES, Orders
    from mbsim.engine.runs_state import RunsState

    n, k = 40, 3
    passes = 3 * AHEAD_PASSES + 2
    labels = (np.arange(n) % 4 == 0).astype(int)
    samplers = [make_sampler(name, n, labels=labels, batch_size=5) for _ in range(k)]
    orders = Orders(samplers, [np.random.default_rng(10 + r) for r in range(k)], n, passes)
    s = RunsState(np.zeros((k, 2)), [], [], np.zeros(k), np.zeros(k), np.zeros(k), np.zeros(k))
    s.ahead_states, s.ahead_from, s.drawn = [None] * k, np.full(k, -1), np.zeros(k, dtype=np.int64)
    live = np.ones(k, dtype=bool)
    full = {}                                          # the full blocks' arrays, by first pass
    got = []
    for p in range(passes):
        orders.draw(s, p, live, True)
        got.append(s.orders.copy())
        if orders.block.shape[1] == AHEAD_PASSES:
            full[s.ahead_first] = orders.block
    assert sorted(full) == [0, AHEAD_PASSES, 2 * AHEAD_PASSES]
    assert full[0] is full[AHEAD_PASSES] is full[2 * AHEAD_PASSES]
    assert s.ahead_first == 3 * AHEAD_PASSES and orders.block.shape[1] == 2   # then a short block
    for r in range(k):
        gen = np.random.default_rng(10 + r)
        expected = [samplers[r].order(gen, None) for _ in range(passes)]
        assert np.array_equal(np.array([g[r] for g in got]), np.array(expected))
