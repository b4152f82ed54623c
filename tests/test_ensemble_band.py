"""The ensemble's loss band: the quantiles of the members at every tick (following back), its
memory bounded by decimation, and lone members' histories left as a lone run's.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mbsim.engine import Scenario
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.errors import ScenarioError
from mbsim.engine.simulation import Simulation

from ensemble_helpers import SMALL


# ------------------------------------------------------------------------------------------------
# the loss band


def test_band_is_the_quantiles_of_the_members_at_every_tick_and_follows_back() -> None:
    sc = SMALL["linear"].replace(epochs=20, val_samples=10)
    ens = Ensemble.vary(sc, "lr", [0.01, 0.02, 0.05, 0.1, 10.0])   # lr 10 diverges
    seen: list[tuple[int, np.ndarray, np.ndarray]] = []
    while ens.tick():
        gone = np.array([s == "diverged" for s in ens.status])
        seen.append((int(ens.step[0]), np.where(gone, np.nan, ens.batch_loss),
                     np.where(gone, np.nan, ens.train_loss)))
    assert "diverged" in ens.status
    for q_index, name in ((1, "batch_loss"), (2, "train_loss")):
        x, values = ens.band(name, (0.1, 0.5, 0.9))
        assert values.shape == (3, len(x))
        expect_x = [s for s, *v in seen if np.isfinite(v[q_index - 1]).any()]
        if name == "train_loss":
            expect_x = [0] + expect_x                   # the start: every member at L(θ₀)
        assert list(x) == expect_x
        for s, *v in seen:
            vals = v[q_index - 1]
            finite = vals[np.isfinite(vals)]
            col = list(x).index(s)
            # np.percentile's default (linear) rule, by hand: position q·(n − 1) in the sorted values
            srt = np.sort(finite)
            for row, q in enumerate((0.1, 0.5, 0.9)):
                pos = q * (len(srt) - 1)
                lo, hi = int(math.floor(pos)), int(math.ceil(pos))
                expect = srt[lo] + (srt[hi] - srt[lo]) * (pos - lo)
                assert values[row, col] == pytest.approx(expect, rel=1e-12)
    n_before = len(ens.band("batch_loss")[0])
    for _ in range(5):
        ens.back()
    x, _ = ens.band("batch_loss")
    assert len(x) == n_before - 5 and x[-1] == ens.step[0]
    ens.reset()
    x, values = ens.band("train_loss")
    assert list(x) == [0] and np.allclose(values, ens.initial_train_loss)
    with pytest.raises(ScenarioError, match="quantity"):
        ens.band("loss")


def test_band_memory_is_bounded_by_decimation(monkeypatch: pytest.MonkeyPatch) -> None:
    """With room for 64 ticks: ticks 0..63 fill it, tick 64 keeps the even ones (stride 2),
    tick 128 the multiples of 4: after 200 ticks the record holds ticks 0, 4, ..., 200."""
    import mbsim.engine.band as band_module

    monkeypatch.setattr(band_module, "BAND_POINTS", 2 * 64)
    monkeypatch.setattr(band_module, "BAND_EVAL_POINTS", 64)
    ens = Ensemble.seeds(SMALL["linear"].replace(epochs=30), 2)
    steps_at = [0]
    losses_at = [ens.train_loss]
    for _ in range(200):
        ens.tick()
        steps_at.append(int(ens.step[0]))
        losses_at.append(ens.train_loss)
    expect = [steps_at[t] for t in range(0, 201, 4)]
    x, _ = ens.band("train_loss")
    assert list(x) == expect
    x, _ = ens.band("batch_loss")
    assert list(x) == expect[1:]                       # no batch loss before the first step
    x, values = ens.band("train_loss", (0.0, 1.0))     # the min and max of the two runs
    for col, t in enumerate(range(0, 201, 4)):
        assert values[0, col] == pytest.approx(losses_at[t].min(), rel=1e-12)
        assert values[1, col] == pytest.approx(losses_at[t].max(), rel=1e-12)
    assert ens._band.batch.data["loss"].shape == (64, 2)
    assert ens._band.full.data["params"].shape == (64, 2, 2)


def test_the_band_of_lone_members_leaves_their_histories_as_a_lone_run_would() -> None:
    """Recording the band reads a lone member's batch loss at every tick without evaluating
    (and so recording) its full losses: its History equals a plain Simulation's."""
    from mbsim.engine.history import SERIES

    sc = Scenario(samples=40, val_samples=10, epochs=3)
    ens = Ensemble.seeds(sc, 1, lone="always")
    plain = Simulation(sc)
    while ens.tick():
        plain.step_update()
    a, b = ens.simulation(0).history.decimated(1000), plain.history.decimated(1000)
    for name in SERIES:
        assert np.array_equal(a.series(name), b.series(name), equal_nan=True), name
    x, values = ens.band("batch_loss", (0.5,))
    assert len(x) == plain.step and values[0, -1] == plain.history.last("batch_loss")
