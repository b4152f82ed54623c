"""The follow journal (engine/journal.py, issue 22): a follower that replays the teacher's
journal reaches the very same state — counters, parameters, optimizer state, losses and the
recorded history equal, not approximately — however the teacher got there (stepping, running,
phases, live changes, going back, several runs), and a journal it receives is checked strictly.

The reference is always the teacher's own simulation, stepped by its own methods; the followers
only ever see the encoded JSON text."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.journal import (
    MAX_CHANGES, MAX_ITERATION, MAX_JOURNAL_BYTES, Follower, Journal, JournalError, journal_of, pending_phases,
    recorder, replay,
)
from mbsim.engine.rules import TUI_POLICY


def recorded(sc: Scenario, **kw: object) -> Simulation:
    """A simulation recorded from its start (as the class app records every run it shows)."""
    sim = Simulation(sc, **kw)  # type: ignore[arg-type]
    recorder(sim)
    return sim


def small(**kw: object) -> Scenario:
    base = dict(samples=40, batch_size=5, epochs=6, val_samples=10)
    base.update(kw)
    return Scenario(**base)  # type: ignore[arg-type]


def same_state(a: Simulation, b: Simulation) -> None:
    """Every reading a panel shows, equal to the last bit."""
    assert a.counters().text() == b.counters().text()
    assert (a.iteration, a.step, a.samples_seen, a.status) == (b.iteration, b.step, b.samples_seen, b.status)
    assert pending_phases(a) == pending_phases(b)
    assert np.array_equal(a.params, b.params)
    assert a.scenario == b.scenario
    assert [(s.start_iteration, s.scenario, s.note) for s in a.segments] == \
        [(s.start_iteration, s.scenario, s.note) for s in b.segments]
    for name in ("train_loss", "val_loss", "epoch_loss"):
        x, y = getattr(a, name), getattr(b, name)
        assert (math.isnan(x) and math.isnan(y)) or x == y, name
    sa, sb = a.optimizer_state, b.optimizer_state
    assert sa.keys() == sb.keys() if isinstance(sa, dict) else True
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    if a.order is None:
        assert b.order is None
    else:
        assert np.array_equal(a.order, b.order)
    assert np.array_equal(a.current_batch(), b.current_batch())


def same_history(a: Simulation, b: Simulation) -> None:
    ha, hb = a.history.decimated(10**6), b.history.decimated(10**6)
    assert np.array_equal(ha.step, hb.step)
    for part in ("mean", "low", "high", "params", "param_step"):
        assert np.array_equal(getattr(ha, part), getattr(hb, part), equal_nan=True), part


class Class:
    """A teacher's simulations (one per 'slide') and three followers: one told of every change,
    one told now and then, one that joins late; each sees only the encoded text."""

    def __init__(self, scenario: Scenario) -> None:
        self.sims = [recorded(scenario, eval_policy=TUI_POLICY)]
        self.shown = 0
        self.every, self.sometimes, self.late = Follower(), Follower(), None
        self.ticks = 0

    @property
    def sim(self) -> Simulation:
        return self.sims[self.shown]

    def text(self) -> str:
        return journal_of(self.sim).encode()

    def tell(self) -> None:
        text = self.text()
        self.every.follow(Journal.decode(text))
        self.ticks += 1
        if self.ticks % 3 == 0:
            self.sometimes.follow(Journal.decode(text))

    def check(self) -> None:
        text = self.text()
        for f in (self.every, self.sometimes):
            got = f.follow(Journal.decode(text))
            same_state(self.sim, got)
            same_history(self.sim, got)
        late = replay(Journal.decode(text))
        same_state(self.sim, late)
        same_history(self.sim, late)


def test_json_text_is_small_and_names_only_what_made_the_run() -> None:
    sim = recorded(small())
    sim.run_iterations(17)
    sim.apply_changes(lr=0.1)
    sim.step_phase()
    text = journal_of(sim).encode()
    data = json.loads(text)
    assert data["iteration"] == 17 and data["phases"] == 1
    assert data["changes"] == [[17, 0, {"lr": 0.1}, ""]]
    assert data["scenario"]["samples"] == 40
    assert len(text) < 1000       # a few hundred bytes, not a picture of the state


def test_three_followers_through_paging_stepping_running_changes_and_back() -> None:
    c = Class(small(epochs=40))
    sim = c.sim
    sim.step_iteration(); c.tell()
    sim.step_phase(); c.tell()               # forward: a pending phase
    sim.step_phase(); c.tell()
    c.check()
    sim.step_iteration(); c.tell()           # the pending iteration finished
    sim.run_epoch(); c.tell()
    sim.run_iterations(13); c.tell()
    c.check()
    sim.apply_changes(batch_size=8); c.tell()     # a live change mid-epoch
    sim.run_iterations(9); c.tell()
    sim.apply_changes(optimizer="momentum"); c.tell()
    sim.run_iterations(25); c.tell()
    c.check()
    sim.back(1); c.tell()
    sim.back(25); c.tell()                    # back before the momentum change: it is forgotten
    assert len(sim.segments) == 2
    c.check()
    sim.apply_changes(lr=0.2); c.tell()       # another change from there
    sim.run_iterations(4); c.tell()
    c.check()
    # paging: a fresh run on the next slide, then back to the first slide's run
    c.sims.append(recorded(small(dataset="blobs", model="logistic", batch_size=4), eval_policy=TUI_POLICY))
    c.shown = 1
    c.sim.run_iterations(11); c.tell()
    c.check()
    c.shown = 0
    c.sim.goto_iteration(30); c.tell()
    c.check()
    c.sim.reset(); c.tell()
    c.check()
    assert c.every.replays >= 3 and c.every.replays < c.ticks   # mostly followed, not replayed


def test_two_changes_at_one_iteration_are_not_one_change() -> None:
    """sgd(momentum) → adam → momentum at one iteration: the optimizer starts afresh twice; the
    net change (none) would keep the buffer. The journal keeps both, so the follower agrees."""
    sc = small(optimizer="momentum", lr=0.02)
    sim = recorded(sc)
    sim.run_iterations(10)
    sim.apply_changes(optimizer="adam")
    sim.apply_changes(optimizer="momentum")
    sim.run_iterations(5)
    follower = replay(Journal.decode(journal_of(sim).encode()))
    same_state(sim, follower)
    # and it matters: a run with no change at all is elsewhere
    plain = Simulation(sc)
    plain.run_iterations(15)
    assert not np.array_equal(plain.params, sim.params)


def test_a_phase_before_a_change_at_a_pass_start_is_replayed() -> None:
    """p at the start of a pass draws the pass's order; a change made then starts from the
    generator as it is after that draw."""
    sim = recorded(small())
    sim.run_iterations(8)                     # an epoch boundary: the next batch opens a pass
    sim.step_phase()
    sim.apply_changes(batch_size=10)
    sim.run_iterations(6)
    j = Journal.decode(journal_of(sim).encode())
    assert j.changes[0].phases == 1
    same_state(sim, replay(j))
    without = Simulation(small())
    without.run_iterations(8)
    without.apply_changes(batch_size=10)
    without.run_iterations(6)
    assert not np.array_equal(without.params, sim.params)


def test_a_change_undone_by_going_back_and_one_at_iteration_zero() -> None:
    sim = recorded(small())
    f = Follower()
    sim.apply_changes(lr=0.01)                # at iteration 0: going back never forgets it
    sim.run_iterations(12)
    sim.apply_changes(batch_size=4)
    sim.run_iterations(3)
    f.follow(Journal.decode(journal_of(sim).encode()))
    sim.goto_iteration(11)                    # forgets the batch-size change, keeps the lr
    assert [s.start_iteration for s in sim.segments] == [0, 0]
    got = f.follow(Journal.decode(journal_of(sim).encode()))
    same_state(sim, got)
    assert f.replays == 1                     # followed back, not replayed
    sim.reset()
    sim.apply_changes(lr=0.3)                 # a second change at 0 replaces the first
    sim.run_iterations(7)
    got = f.follow(Journal.decode(journal_of(sim).encode()))
    same_state(sim, got)
    same_history(sim, got)


def test_the_end_of_a_run_a_divergence_and_back_from_it() -> None:
    sim = recorded(small(lr=50.0, epochs=40))
    f = Follower()
    sim.run_to_end()
    assert sim.status == "diverged"
    same_state(sim, f.follow(Journal.decode(journal_of(sim).encode())))
    sim.apply_changes(lr=1e-6)               # on the diverged run: from its last finite state
    assert journal_of(sim).changes[-1].phases == 4
    sim.run_iterations(2)
    same_state(sim, f.follow(Journal.decode(journal_of(sim).encode())))
    sim.back(70)
    sim.apply_changes(lr=0.01)
    sim.run_to_end()
    assert sim.status == "finished"
    same_state(sim, f.follow(Journal.decode(journal_of(sim).encode())))
    same_history(sim, f.sim)


def test_accumulation_and_steps_per_epoch_changes() -> None:
    sim = recorded(small(accumulate=2, steps_per_epoch=3, epoch_end="cut"), eval_policy=TUI_POLICY)
    f = Follower()
    for n in (1, 2, 5, 7):
        sim.run_iterations(n)
        sim.step_phase()
        f.follow(Journal.decode(journal_of(sim).encode()))
    sim.apply_changes(accumulate=1, epoch_end="restart")
    sim.run_epoch()
    got = f.follow(Journal.decode(journal_of(sim).encode()))
    same_state(sim, got)
    same_history(sim, got)


def test_a_simulation_changed_before_it_was_recorded() -> None:
    """Recording that starts late (a run rebuilt by replaying a lesson's slides) reads the
    stretches of settings: exact for one change per iteration."""
    sim = Simulation(small(optimizer="momentum", momentum=0.5))
    sim.run_iterations(9)
    sim.apply_changes(optimizer="nesterov", momentum=0.5)
    sim.run_iterations(4)
    sim.apply_changes(batch_size=8)
    sim.run_iterations(3)
    same_state(sim, replay(Journal.decode(journal_of(sim).encode())))


# ------------------------------------------------------------------------------------------------
# what a follower receives is checked
def good() -> dict:
    sim = recorded(small())
    sim.run_iterations(3)
    sim.apply_changes(lr=0.1)
    sim.run_iterations(2)
    return json.loads(journal_of(sim).encode())


def bad(mutate) -> str:  # noqa: ANN001
    data = good()
    mutate(data)
    return json.dumps(data)


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d.pop("policy"), "lacks the field 'policy'"),
    (lambda d: d.update(extra=1), "unknown field 'extra'"),
    (lambda d: d.update(iteration=-1), "iteration -1 is out of range"),
    (lambda d: d.update(iteration=MAX_ITERATION + 1), "out of range"),
    (lambda d: d.update(iteration="5"), "must be a whole number"),
    (lambda d: d.update(iteration=True), "must be a whole number"),
    (lambda d: d.update(phases=5), "the phases 5 is out of range"),
    (lambda d: d["scenario"].update(dataset="csv:/etc/passwd"), "CSV file"),
    (lambda d: d["scenario"].update(batch_size=0), "scenario cannot be used: batch_size"),
    (lambda d: d["scenario"].update(colour="red"), "unknown setting 'colour'"),
    (lambda d: d["scenario"].update(lr=[1]), "must be a number, text"),
    (lambda d: d["scenario"].update(name="x" * 3000), "at most 2,000"),
    (lambda d: d["changes"].append([4, 0, {"seed": 3}, ""]), "'seed', which is not a live setting"),
    (lambda d: d["changes"].append([1, 0, {"lr": 0.2}, ""]), "before the change ahead of it"),
    (lambda d: d["changes"].append([3, 0, {}, ""]), "non-empty object"),
    (lambda d: d["changes"].append([3, 0, {"lr": 1}]), "list of [iteration, phases, settings, note]"),
    (lambda d: d["changes"].append([9, 0, {"lr": 0.2}, ""]), "before the last change"),
    (lambda d: d["changes"].append([5, 0, {"lr": {"a": 1}}, ""]), "must be a number"),
    (lambda d: d.update(changes=[[5, 0, {"lr": 0.1}, ""]] * (MAX_CHANGES + 1)), "at most 2,048"),
])
def test_bad_journals_are_refused_in_one_sentence(mutate, words) -> None:  # noqa: ANN001
    with pytest.raises(JournalError) as err:
        Journal.decode(bad(mutate))
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_not_json_too_big_and_nan() -> None:
    with pytest.raises(JournalError, match="not JSON"):
        Journal.decode("{")
    with pytest.raises(JournalError, match="at most"):
        Journal.decode("[" * (MAX_JOURNAL_BYTES + 1))
    with pytest.raises(JournalError, match="not JSON|must be finite"):
        Journal.decode(bad(lambda d: d["scenario"].update(lr=float("nan"))).replace("NaN", "NaN"))
    with pytest.raises(JournalError):
        Journal.decode("[" * 100_000 + "]" * 100_000)


def test_a_change_the_engine_refuses_is_one_sentence() -> None:
    text = bad(lambda d: d["changes"].__setitem__(0, [3, 0, {"batch_size": 999}, ""]))
    j = Journal.decode(text)                  # well formed: refused when it is made
    with pytest.raises(JournalError, match="change at iteration 3 cannot be made: batch_size 999"):
        replay(j)


def test_a_position_past_the_end_of_the_run_is_refused() -> None:
    text = bad(lambda d: d.update(iteration=10_000))
    # the change at iteration 3 restarts epoch 1 there: 3 + 6 epochs x 8 batches = 51
    with pytest.raises(JournalError, match="the run ends at iteration 51, before iteration 10000"):
        replay(Journal.decode(text))
