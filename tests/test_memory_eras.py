"""A live change leaves its stretch of settings behind (engine.simulation.apply_changes): it keeps
a few checkpoints for going back, but none of its pass's data. The MLP's batches hold [X 1] and
the pass's data in order (~N × 64 B for one run of 2 features); kept by every stretch left
behind, each change of the learning rate or the optimizer held that much more for good (N = 10⁶:
64 MB a key press). Going back into a left stretch makes them again: the run stays exact."""

from __future__ import annotations

import numpy as np

from mbsim.engine import Simulation, load_preset


def batch_bytes(runs) -> int:  # noqa: ANN001
    """Bytes of the arrays a Runs' batches hold (each base array once)."""
    b, seen, total = runs.batches, set(), 0
    arrays = [getattr(b, name, None) for name in ("_x1", "xo", "yo", "xs", "ys", "xb", "yb", "xt", "yt")]
    arrays += list(b._buffers or ())
    for a in arrays:
        if isinstance(a, np.ndarray):
            base = a if a.base is None else a.base
            if id(base) not in seen:
                seen.add(id(base))
                total += base.nbytes
    return total


def test_a_stretch_left_behind_keeps_no_pass_data_and_back_stays_exact() -> None:
    sc = load_preset("xor-mlp").replace(samples=5_000, batch_size=32)
    sim = Simulation(sc)
    sim.run_iterations(7)
    one_pass = batch_bytes(sim._eras[-1])
    assert one_pass >= sc.samples * 2 * 8            # at least the pass's inputs, in order
    lr = sc.lr
    for _ in range(4):
        lr *= 1.5
        sim.apply_changes(lr=lr)
        sim.run_iterations(5)
    assert len(sim._eras) == 5
    assert [batch_bytes(r) for r in sim._eras[:-1]] == [0, 0, 0, 0]
    assert [r.orders_.block is None for r in sim._eras[:-1]] == [True] * 4   # (drawn ahead: again on a goto)
    assert batch_bytes(sim._eras[-1]) <= one_pass

    # back into the first stretch (before its change at iteration 7) and on again: the same
    # numbers as a run that never changed its settings
    sim.goto_iteration(5)
    assert sim.iteration == 5 and len(sim._eras) == 1
    sim.run_iterations(35)
    plain = Simulation(sc)
    plain.run_iterations(40)
    assert np.array_equal(sim.params, plain.params)
