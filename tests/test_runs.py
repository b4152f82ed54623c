"""Rewind that cannot silently break (issue 25): the stepping state of engine.runs is snapshotted
whole, every other attribute of a Runs is declared a setting or derived from the state, and an
in-place write into an array a checkpoint holds raises.

These tests fail when a field is added without being accounted for: a new attribute set on a
Runs while it steps must be put in ``RunsState`` (then every checkpoint keeps it) or declared in
``Runs.SETTINGS`` / ``Runs.DERIVED`` (then a restore must give it back).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mbsim.engine import Scenario, load_preset
from mbsim.engine.ensemble import Ensemble, Member
from mbsim.engine.runs import Runs, RunsState
from mbsim.engine.simulation import Simulation
from mbsim.engine.snapshot import Checkpoints, restore, snapshot

SCENARIOS = {
    "worked": Scenario(samples=40, val_samples=10, epochs=6, batch_size=5),
    "accumulate-cut": Scenario(samples=47, val_samples=5, batch_size=5, accumulate=2, steps_per_epoch=3,
                               epoch_end="cut", epochs=8, optimizer="adam", lr=0.05),
    "stratified-mlp": load_preset("imbalanced").replace(samples=60, val_samples=10, epochs=4, model="mlp",
                                                        hidden=3, optimizer="momentum"),
    "target": Scenario(samples=40, val_samples=10, epochs=50, target_loss=0.12),
}


def all_runs_of(obj: Simulation | Ensemble) -> list[Runs]:
    if isinstance(obj, Simulation):
        return [obj._eras[-1]]
    return [g.runs for g in obj.groups]


def drive(obj: Simulation | Ensemble) -> None:
    """Step, go back, change a setting, diverge a member: every path that sets attributes."""
    if isinstance(obj, Simulation):
        obj.run_iterations(23)
        obj.goto_iteration(7)
        obj.run_iterations(40)
        return
    for _ in range(23):
        obj.tick()
    obj.goto_tick(7)
    obj.run_to_end()


def subjects() -> list[tuple[str, Simulation | Ensemble]]:
    out: list[tuple[str, Simulation | Ensemble]] = []
    for name, sc in SCENARIOS.items():
        out.append((f"{name}-lone", Simulation(sc)))
        out.append((f"{name}-cloud", Ensemble.seeds(sc, 3)))
    # a member that diverges while the other goes on (the stopped-member paths)
    out.append(("diverging", Ensemble(SCENARIOS["worked"], [Member("a", {"lr": 0.05}), Member("b", {"lr": 9.0})])))
    return out


@pytest.mark.parametrize("name,obj", subjects(), ids=[n for n, _ in subjects()])
def test_every_attribute_is_state_setting_or_derived(name: str, obj: Simulation | Ensemble) -> None:
    declared = Runs.SETTINGS | Runs.DERIVED
    assert not Runs.SETTINGS & Runs.DERIVED
    drive(obj)
    for runs in all_runs_of(obj):
        found = set(vars(runs))
        assert found <= declared, f"undeclared attributes of Runs (state, setting or derived?): {sorted(found - declared)}"
        assert declared <= found, f"declared but never set: {sorted(declared - found)}"


def test_settings_stay_the_same_objects_while_stepping_and_rewinding() -> None:
    """A setting is fixed for the life of a Runs: stepping and going back never rebind one (a
    value that changes belongs in the state, where checkpoints keep it)."""
    sim = Simulation(SCENARIOS["accumulate-cut"])
    runs = sim._eras[-1]
    before = {name: getattr(runs, name) for name in Runs.SETTINGS}
    sim.run_iterations(30)
    sim.goto_iteration(11)
    sim.run_iterations(5)
    for name, value in before.items():
        assert getattr(runs, name) is value, name


def _same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (a != a and b != b)
    return a == b


@pytest.mark.parametrize("name", ["worked", "accumulate-cut", "stratified-mlp"])
def test_a_restore_gives_back_the_state_and_what_derives_from_it(name: str) -> None:
    """Go to iteration 9 from iteration 31 (a checkpoint restored, the rest replayed): every field
    of the state and every derived attribute equals those of a fresh run stepped straight to 9."""
    sc = SCENARIOS[name]
    a, b = Ensemble.seeds(sc, 2), Ensemble.seeds(sc, 2)
    for _ in range(31):
        a.tick()
    a.goto_tick(9)
    for _ in range(9):
        b.tick()
    ra, rb = a.groups[0].runs, b.groups[0].runs
    for f in dataclasses.fields(RunsState):
        if f.name in ("eval_params", "evaluation"):      # a cache: computed again on demand
            continue
        assert _same(getattr(ra.state, f.name), getattr(rb.state, f.name)), f.name
    for attr in ("_live", "_all_live", "_done", "_diverging_at", "_diverging_low", "_diverging"):
        assert _same(getattr(ra, attr), getattr(rb, attr)), attr
    for attr in ("xo", "yo", "xs", "ys", "orders", "pass_index"):
        assert _same(getattr(ra.batches, attr), getattr(rb.batches, attr)), attr


def test_a_snapshot_keeps_every_field_whatever_it_is() -> None:
    """Generic: a snapshot keeps each field of the dataclass, and a restore gives each back, even
    after every field of the live state has been replaced."""
    sim = Simulation(SCENARIOS["accumulate-cut"])
    sim.run_iterations(13)
    state = sim._eras[-1].state
    frozen = snapshot(state)
    for f in dataclasses.fields(RunsState):
        setattr(state, f.name, "replaced")
    back = restore(frozen)
    for f in dataclasses.fields(RunsState):
        assert not isinstance(getattr(back, f.name), str), f.name
    @dataclasses.dataclass
    class Later:                       # a state class with a field nobody listed anywhere
        values: np.ndarray
        extra: dict
    later = Later(np.arange(3.0), {"buffer": np.ones(2)})
    kept = snapshot(later)
    later.values = np.zeros(3)
    later.extra["buffer"] = np.zeros(2)
    assert np.array_equal(restore(kept).values, np.arange(3.0))
    assert np.array_equal(restore(kept).extra["buffer"], np.ones(2))


def test_an_in_place_write_into_a_checkpointed_array_raises_and_back_stays_exact() -> None:
    """The loop replaces arrays; a write into one a checkpoint holds (a bug) raises at once
    instead of changing what back() gives."""
    sim = Simulation(SCENARIOS["worked"].replace(optimizer="momentum"))
    sim.run_iterations(32)              # a checkpoint at iteration 32 holds the state's arrays
    expected = sim.params.copy()
    state = sim._eras[-1].state
    with pytest.raises(ValueError, match="read-only"):
        state.params[0] = 123.0
    with pytest.raises(ValueError, match="read-only"):
        state.opt_states[0]["momentum_buffer"][:] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        state.orders[0, 0] = 0
    sim.run_iterations(10)
    sim.goto_iteration(32)
    assert np.array_equal(sim.params, expected)


def test_checkpoints_thin_and_keep_the_first() -> None:
    cps: Checkpoints = Checkpoints(every=2, limit=4)

    @dataclasses.dataclass
    class S:
        i: int
    for i in range(0, 20, 2):
        cps.add(i, S(i))
    assert cps.items[0].iteration == 0 and len(cps) <= 5 and cps.every > 2
    assert cps.latest(13).iteration <= 13
    assert cps.latest(13, before=True).iteration < 13


def test_large_runs_gather_their_batches_and_equal_lone_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past GATHER_ABOVE numbers a Runs gathers each batch instead of keeping its runs' data in
    pass order (memory bounded whatever N): the same numbers as the lone runs."""
    import mbsim.engine.batches as batches_module

    monkeypatch.setattr(batches_module, "GATHER_ABOVE", 10)
    for sc in (SCENARIOS["worked"], SCENARIOS["stratified-mlp"]):
        ens = Ensemble.seeds(sc.replace(epochs=2), 3)
        assert ens.groups[0].runs.batches.gather
        ens.run_to_end()
        for k in range(3):
            lone = ens.member_simulation(k)
            lone.run_to_end()
            assert np.array_equal(lone.params, ens.params[k])
