"""Memory that does not grow with N or with the run's length, beyond the data (issue 24):
checkpoints, the loss band, data shared by the runs of one data set, a pass's batch table."""

from __future__ import annotations

import tracemalloc

import numpy as np

import mbsim.engine.plan as plan_module
from mbsim.engine import Scenario, Simulation
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.plan import Column, make_plan
from mbsim.engine.rules import TUI_POLICY


def _orders_kept(sim: Simulation) -> int:
    """Bytes of distinct order arrays the checkpoints of the run's current stretch hold."""
    seen = {}
    for cp in sim._eras[-1].checkpoints.items:
        if cp.state.orders is not None:
            seen[id(cp.state.orders)] = cp.state.orders.nbytes
    return sum(seen.values())


def test_a_long_run_keeps_no_order_per_pass_and_back_stays_exact() -> None:
    # 60 passes of 20 batches (a checkpoint every 32 iterations): before, the checkpoints held
    # one order of N per pass they spanned (up to 2,048 of them: 16 KB × N)
    sc = Scenario(samples=2_000, batch_size=100, epochs=1000)
    sim = Simulation(sc, eval_policy=TUI_POLICY)
    sim.run_iterations(1_200)
    assert len(sim._eras[-1].checkpoints) > 30
    assert _orders_kept(sim) == 0
    for target in (1_199, 777, 20, 41, 640):
        sim.goto_iteration(target)
        lone = Simulation(sc, eval_policy=TUI_POLICY)
        lone.run_iterations(target)
        assert np.array_equal(sim.params, lone.params)
        assert np.array_equal(sim._eras[-1].state.orders, lone._eras[-1].state.orders)
    # and it goes on from there as the lone run does
    sim.run_iterations(300)
    lone.run_iterations(300)
    assert np.array_equal(sim.params, lone.params)


def test_orders_not_drawn_ahead_are_still_kept() -> None:
    # with replacement the orders are drawn one pass at a time: the checkpoints keep them
    sc = Scenario(samples=500, batch_size=100, epochs=100, sampling="replacement")
    sim = Simulation(sc, eval_policy=TUI_POLICY)
    sim.run_iterations(200)
    assert _orders_kept(sim) > 0
    sim.goto_iteration(123)
    lone = Simulation(sc, eval_policy=TUI_POLICY)
    lone.run_iterations(123)
    assert np.array_equal(sim.params, lone.params)


def test_runs_of_one_data_set_share_its_arrays() -> None:
    sc = Scenario(samples=3_000, batch_size=30)
    a = Simulation(sc)
    b = Simulation(sc.replace(batch_size=7, lr=0.01))      # other settings, the same data
    c = Simulation(sc.replace(seed=1))                     # other data
    assert a.dataset is b.dataset and a.data is b.data
    assert c.dataset is not a.dataset and not np.array_equal(c.X, a.X)
    # the training and validation arrays are the two parts of the stacked pair, held once
    assert np.shares_memory(a.data.X_all, a.dataset.X) and np.shares_memory(a.data.X_all, a.dataset.X_val)
    # and the runs are those of separately drawn data: the same parameters step for step
    a.run_iterations(50)
    alone = Simulation(sc)
    assert alone.dataset is a.dataset
    del a, b, alone
    import gc
    gc.collect()
    fresh = Simulation(sc)               # the data set was dropped with its runs: drawn again
    fresh.run_iterations(50)
    again = Simulation(sc)
    again.run_iterations(50)
    assert np.array_equal(fresh.params, again.params)


def test_a_pass_of_many_batches_is_computed_not_listed() -> None:
    plan = make_plan(1_000_000, 1, epochs=1)
    table = plan.pass_table()
    assert isinstance(table.start, range) and isinstance(table.stop, range)
    assert len(table.start) == 1_000_000 and table.stop[-1] == 1_000_000
    assert isinstance(plan.batch_sizes, Column) and len(plan.batch_sizes) == 1_000_000
    uneven = make_plan(1_000_001, 2, accumulate=3, steps_per_epoch=100_000, epoch_end="cut", epochs=1)
    t = uneven.pass_table()
    assert t.stop[-1] == 1_000_001 and uneven.batch_sizes[-1] == 1
    assert uneven.batch_sizes[:3] == (2, 2, 2)


def test_computed_tables_equal_the_listed_ones(monkeypatch) -> None:  # noqa: ANN001
    # the same entries as the lists, for every kind of plan, with the threshold lowered
    cases = [(n, b, k, drop, s, end) for n in (7, 100, 257) for b in (1, 3, 50) for k in (1, 2, 3)
             for drop in (False, True) for s in (None, 3, 20) for end in ("continue", "cut", "restart")]
    checked = 0
    for n, b, k, drop, s, end in cases:
        try:
            listed = make_plan(n, b, drop_last=drop, accumulate=k, steps_per_epoch=s, epochs=3, epoch_end=end)
        except Exception:  # noqa: BLE001 - an impossible combination: refused either way
            continue
        monkeypatch.setattr(plan_module, "LISTED_BATCHES", 0)
        computed = make_plan(n, b, drop_last=drop, accumulate=k, steps_per_epoch=s, epochs=3, epoch_end=end)
        monkeypatch.setattr(plan_module, "LISTED_BATCHES", 1 << 16)
        a, c = listed.pass_table(), computed.pass_table()
        for name in ("start", "stop", "micro", "micro_count"):
            x, y = getattr(a, name), getattr(c, name)
            assert (x is None) == (y is None)
            if x is not None:
                assert list(x) == list(y), (n, b, k, drop, s, end, name)
        assert list(computed.batch_sizes) == list(listed.batch_sizes)
        assert computed.batch_sizes == listed.batch_sizes
        checked += 1
    assert checked > 100


def test_the_band_evaluates_in_groups_of_runs() -> None:
    # 40 runs × 20 recorded ticks over 50,000 samples: one array of their outputs was 320 MB
    sc = Scenario(samples=50_000, batch_size=500, val_samples=50)
    ens = Ensemble.seeds(sc, 40, align="steps", band=True, eval_policy=TUI_POLICY)
    for _ in range(20):
        ens.tick()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        x, values = ens.band("train_loss", (0.1, 0.5, 0.9))
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"{peak / 2**20:.1f} MB"
    # each run's last value is its own full training loss
    k = ens.runs
    last = [ens.model.loss(ens.params[i], ens.X, ens.y) for i in range(k)]
    assert np.isclose(values[1, -1], np.median(last), rtol=0, atol=1e-12)
