"""epoch_end = continue | cut | restart (SCIENCE.md §1.3): the plan against the numbers measured
in Keras 3.15 and against a step-by-step model of each framework's loop; the simulation's
counters, exact step-back across a cut, and the totals actually run."""

from __future__ import annotations

import numpy as np
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.errors import ScenarioError
from mbsim.engine.sampling import EPOCH_ENDS, make_plan


def epoch_steps(plan) -> list[int]:
    return [plan.epoch_steps(e) for e in range(plan.epochs)]


# --------------------------------------------------------------------------------------------
# Keras 3.15 reference numbers (arrays, cut), measured (issue 9, SCIENCE.md §1.3)
@pytest.mark.parametrize(
    ("n", "b", "s", "epochs", "expected"),
    [
        (1000, 10, 30, 5, [30, 30, 30, 10, 30]),
        (1000, 400, 2, 4, [2, 1, 2, 1]),
        (47, 5, 4, 5, [4, 4, 2, 4, 4]),
        (100, 10, 25, 3, [10, 10, 10]),
    ],
)
def test_cut_matches_keras(n: int, b: int, s: int, epochs: int, expected: list[int]) -> None:
    plan = make_plan(n, b, steps_per_epoch=s, epochs=epochs, epoch_end="cut")
    assert epoch_steps(plan) == expected
    assert plan.total_steps == sum(expected)
    assert plan.total_iterations == sum(expected)


def test_continue_is_s_steps_every_epoch() -> None:
    plan = make_plan(1000, 10, steps_per_epoch=30, epochs=5, epoch_end="continue")
    assert epoch_steps(plan) == [30] * 5
    assert plan.total_steps == 150


def test_restart_uses_the_first_s_batches() -> None:
    plan = make_plan(1000, 10, steps_per_epoch=30, epochs=5, epoch_end="restart")
    assert epoch_steps(plan) == [30] * 5
    assert plan.total_samples == 5 * 30 * 10
    # S larger than the pass: every epoch is the whole pass (N=47, B=5: 10 batches, last of 2)
    plan = make_plan(47, 5, steps_per_epoch=25, epochs=3, epoch_end="restart")
    assert epoch_steps(plan) == [10, 10, 10]
    assert plan.total_samples == 3 * 47


def test_cut_and_continue_coincide_when_s_divides_m() -> None:
    cut = make_plan(1000, 10, steps_per_epoch=20, epochs=7, epoch_end="cut")
    cont = make_plan(1000, 10, steps_per_epoch=20, epochs=7, epoch_end="continue")
    assert [cut.locate(i) for i in range(cut.total_iterations)] == \
           [cont.locate(i) for i in range(cont.total_iterations)]
    assert cut.total_samples == cont.total_samples == 7 * 200


def test_epoch_end_without_steps_per_epoch_changes_nothing() -> None:
    base = make_plan(47, 5, epochs=3, accumulate=2)
    for choice in EPOCH_ENDS:
        plan = make_plan(47, 5, epochs=3, accumulate=2, epoch_end=choice)
        assert [plan.locate(i) for i in range(plan.total_iterations)] == \
               [base.locate(i) for i in range(base.total_iterations)]
        assert plan.total_steps == base.total_steps == 3 * 5


def test_unknown_epoch_end_is_refused() -> None:
    with pytest.raises(ScenarioError, match="epoch_end 'stop': unknown; choose one of continue, cut, restart"):
        make_plan(10, 2, steps_per_epoch=3, epoch_end="stop")
    with pytest.raises(ScenarioError, match=r"epoch_end 'cutt': allowed: continue, cut, restart \(did you mean 'cut'\?\)"):
        Scenario(epoch_end="cutt").validate()


# --------------------------------------------------------------------------------------------
# an independent model: each framework's loop, batch by batch
def reference_loop(m: int, s: int, k: int, epochs: int, mode: str) -> list[tuple[int, int, int, int]]:
    """(epoch, pass, batch in pass, step) for every iteration, by playing the loop.

    A pass is an iterator over batches 0..M−1. An epoch asks for S·K batches (S steps of K
    micro-batches); ``continue`` takes the next pass when one runs out; ``cut`` ends the epoch
    when the pass runs out and the next epoch starts a fresh pass; ``restart`` starts a fresh
    pass every epoch. An epoch's end ends a step (a last step of fewer micro-batches)."""
    out: list[tuple[int, int, int, int]] = []
    pass_index, pos, step, micro = 0, 0, 0, 0
    for epoch in range(epochs):
        if mode == "restart" and epoch > 0:
            pass_index, pos = pass_index + 1, 0
        taken = 0
        while taken < s * k:
            if pos == m:
                if mode == "continue":
                    pass_index, pos = pass_index + 1, 0
                else:
                    break  # the pass ran out: the epoch ends here
            out.append((epoch, pass_index, pos, step))
            pos += 1
            taken += 1
            micro += 1
            if micro == k:
                step, micro = step + 1, 0
        if micro:  # the epoch's end ends a short step
            step, micro = step + 1, 0
        if mode == "cut" and pos == m:
            pass_index, pos = pass_index + 1, 0  # the next epoch starts a fresh pass
    return out


CASES = [
    (1000, 10, 30, 1, 5), (1000, 400, 2, 1, 4), (47, 5, 4, 1, 5), (100, 10, 25, 1, 3),
    (47, 5, 2, 3, 7), (47, 5, 1, 4, 6), (100, 10, 3, 2, 9), (23, 2, 5, 3, 8), (9, 9, 3, 1, 4),
]


@pytest.mark.parametrize("mode", EPOCH_ENDS)
@pytest.mark.parametrize(("n", "b", "s", "k", "epochs"), CASES)
def test_locate_matches_the_loop(mode: str, n: int, b: int, s: int, k: int, epochs: int) -> None:
    plan = make_plan(n, b, steps_per_epoch=s, accumulate=k, epochs=epochs, epoch_end=mode)
    ref = reference_loop(plan.batches_per_pass, s, k, epochs, mode)
    assert plan.total_iterations == len(ref)
    got = [(p.epoch, p.pass_index, p.batch_in_pass, p.step)
           for p in (plan.locate(i) for i in range(plan.total_iterations))]
    assert got == ref
    assert plan.total_steps == ref[-1][3] + 1
    # the steps the positions say are taken are the plan's total
    assert sum(plan.locate(i).last_in_step for i in range(plan.total_iterations)) == plan.total_steps
    # epoch_start / epoch_iterations agree with the positions
    for e in range(epochs):
        its = [i for i, r in enumerate(ref) if r[0] == e]
        assert plan.epoch_start(e) == its[0]
        assert plan.epoch_iterations(e) == len(its)
    # the pass table agrees with locate
    table = plan.pass_table()
    for i in range(plan.total_iterations):
        p = plan.locate(i)
        j = i % (plan.batches_per_pass if plan.continues else plan.iterations_per_pass)
        assert (table.start[j], table.stop[j]) == (p.start, p.stop)
        if table.micro is not None:
            assert (table.micro[j], table.micro_count[j]) == (p.micro, p.micro_count)
    # samples: each position's batch size, summed
    assert plan.total_samples == sum(plan.locate(i).size for i in range(plan.total_iterations))


@pytest.mark.parametrize(("n", "b", "s", "k", "epochs"), CASES)
def test_properties_of_each_choice(n: int, b: int, s: int, k: int, epochs: int) -> None:
    cut = make_plan(n, b, steps_per_epoch=s, accumulate=k, epochs=epochs, epoch_end="cut")
    m = cut.batches_per_pass
    for e in range(epochs):
        first, length = cut.epoch_start(e), cut.epoch_iterations(e)
        passes = {cut.locate(i).pass_index for i in range(first, first + length)}
        assert len(passes) == 1, "a cut epoch never crosses a pass boundary"
        if e and cut.epoch_iterations(e - 1) < s * k:
            assert cut.locate(first).batch_in_pass == 0, "after a cut the next epoch starts a fresh pass"
        assert length == s * k or cut.locate(first + length - 1).batch_in_pass == m - 1
    restart = make_plan(n, b, steps_per_epoch=s, accumulate=k, epochs=epochs, epoch_end="restart")
    for e in range(epochs):
        p = restart.locate(restart.epoch_start(e))
        assert (p.pass_index, p.batch_in_pass, p.batch_in_epoch) == (e, 0, 0)
    cont = make_plan(n, b, steps_per_epoch=s, accumulate=k, epochs=epochs, epoch_end="continue")
    assert epoch_steps(cont) == [s] * epochs


def test_cut_with_accumulation_ends_a_short_step_at_the_cut() -> None:
    # N=47, B=5: M=10 batches; S=2 steps of K=3: epochs of 6 and 4 iterations, so the
    # cut epoch has ceil(4/3) = 2 steps, the second of 1 micro-batch (SCIENCE.md §1.2)
    plan = make_plan(47, 5, steps_per_epoch=2, accumulate=3, epochs=4, epoch_end="cut")
    assert [plan.epoch_iterations(e) for e in range(4)] == [6, 4, 6, 4]
    assert epoch_steps(plan) == [2, 2, 2, 2]
    last = plan.locate(9)
    assert (last.epoch, last.micro, last.micro_count, last.last_in_step) == (1, 0, 1, True)


def test_epoch_pattern_run_lengths() -> None:
    plan = make_plan(1000, 10, steps_per_epoch=30, epochs=102, epoch_end="cut")
    cycle, repeats, tail = plan.epoch_pattern()
    assert (cycle, repeats, tail) == ((30, 30, 30, 10), 25, (30, 30))
    assert plan.total_steps == 25 * 100 + 60


# --------------------------------------------------------------------------------------------
# the simulation
def cut_sim(**kw: object) -> Simulation:
    base = dict(samples=47, batch_size=5, steps_per_epoch=4, epochs=5, epoch_end="cut", val_samples=5)
    base.update(kw)
    return Simulation(Scenario(**base))  # type: ignore[arg-type]


def test_counters_follow_the_cut_epochs() -> None:
    sim = cut_sim()
    lengths = [4, 4, 2, 4, 4]  # Keras: N=47, B=5, S=4
    expected = [(e + 1, b + 1, lengths[e]) for e, n in enumerate(lengths) for b in range(n)]
    seen = []
    while sim.step_iteration():
        c = sim.counters()
        seen.append((c.epoch, c.batch, c.batches))
    assert seen == expected
    assert sim.counters().text().startswith("Epoch 5/5  Batch 4/4  Iteration 18  Step 18")


@pytest.mark.parametrize("mode", EPOCH_ENDS)
def test_total_steps_of_the_plan_are_the_steps_run(mode: str) -> None:
    sim = cut_sim(epoch_end=mode, accumulate=3, steps_per_epoch=2, epochs=7)
    plan = sim.plan
    sim.run_to_end()
    assert sim.status == "finished"
    assert (sim.step, sim.iteration, sim.samples_seen) == \
           (plan.total_steps, plan.total_iterations, plan.total_samples)
    assert sim.history.count == plan.total_steps
    assert sim.history.last("epoch") == 7.0  # the x axis ends at the last epoch


def test_run_epoch_stops_at_each_cut() -> None:
    sim = cut_sim()
    ends = []
    while sim.run_epoch():
        ends.append(sim.iteration)
    assert ends == [4, 8, 10, 14, 18]


def test_back_and_goto_are_exact_across_a_cut() -> None:
    sim = cut_sim(epochs=9)
    sim.run_iterations(13)  # epoch 4, past the cut at iteration 10
    params, counters = sim.params.copy(), sim.counters()
    sim.back(5)  # back into epoch 2, before the cut
    assert sim.counters().text().startswith("Epoch 2/9  Batch 4/4  Iteration 8")
    sim.run_iterations(5)
    assert np.array_equal(sim.params, params)
    assert sim.counters() == counters
    fresh = cut_sim(epochs=9)
    fresh.run_iterations(11)
    sim.goto_iteration(11)
    assert np.array_equal(sim.params, fresh.params)
    assert sim.counters() == fresh.counters()
    assert np.array_equal(sim.order, fresh.order)


def test_cut_starts_a_fresh_order_and_covers_every_sample_once_per_pass() -> None:
    sim = cut_sim(epochs=6)
    used: list[np.ndarray] = []
    orders = []
    while sim.step_iteration():
        used.append(sim.current_batch())
        orders.append(sim.order.copy())
    first_pass = np.concatenate(used[:10])  # epochs 1-3: 4 + 4 + 2 batches = one pass
    assert sorted(first_pass.tolist()) == list(range(47))
    assert np.array_equal(orders[0], orders[9])  # one order within the pass
    assert not np.array_equal(orders[9], orders[10])  # epoch 4 begins a fresh pass


def test_restart_draws_a_new_permutation_every_epoch() -> None:
    sim = cut_sim(epoch_end="restart", samples=40, epochs=4)
    starts = []
    while sim.step_iteration():
        c = sim.counters()
        if c.batch == 1:
            starts.append(sim.order.copy())
            assert sim.current_batch().tolist() == sim.order[:5].tolist()
    assert len(starts) == 4
    for a in range(4):
        assert sorted(starts[a].tolist()) == list(range(40))
        for b in range(a):
            assert not np.array_equal(starts[a], starts[b])


def test_restart_with_sequential_sampling_repeats_the_first_batches() -> None:
    sim = cut_sim(epoch_end="restart", sampling="sequential", samples=40, epochs=3, steps_per_epoch=2)
    batches = []
    while sim.step_iteration():
        batches.append(sim.current_batch().tolist())
    assert batches == [list(range(5)), list(range(5, 10))] * 3


def test_epoch_end_is_a_live_setting() -> None:
    sim = cut_sim(epoch_end="continue", epochs=6)
    sim.run_iterations(4)  # the end of epoch 1 (continue: 4 steps)
    sim.apply_changes(epoch_end="cut")
    # the change starts a fresh pass at epoch 2: 4, 4, 2 then 4, 4 steps
    ends = []
    while sim.run_epoch():
        ends.append(sim.iteration)
    assert ends == [8, 12, 14, 18, 22]
    assert sim.step == 4 + 18


# --------------------------------------------------------------------------------------------
# the command line: mbsim plan and mbsim run
KERAS_ARGS = ["--samples", "1000", "--batch-size", "10", "--steps-per-epoch", "30", "--epochs", "5"]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    from mbsim.tui.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_shows_the_steps_of_every_epoch_for_each_choice(capsys) -> None:
    code, out, err = _cli(capsys, "plan", *KERAS_ARGS, "--epoch-end", "cut")
    assert code == 0 and err == ""
    assert "  continue: 30, 30, 30, 30, 30 = 150 steps\n" in out
    assert "  cut:      30, 30, 30, 10, 30 = 130 steps  ← this run\n" in out
    assert "  restart:  30, 30, 30, 30, 30 = 150 steps\n" in out
    assert "In total (5 epochs): 130 iterations, 130 steps, 1,300 samples seen" in out
    assert "Arithmetic: N = 1000, B = 10 → ⌈1000/10⌉ = 100 batches per pass" in out


def test_plan_json_gives_the_epoch_steps_as_run_lengths(capsys) -> None:
    import json

    code, out, _ = _cli(capsys, "plan", "--json", *KERAS_ARGS[:-1], "102", "--epoch-end", "cut")
    d = json.loads(out)
    assert d["epoch_end"] == "cut"
    # a pass of 100 batches is cut into 30, 30, 30, 10: 25 whole passes, then 30, 30
    assert d["epoch_steps"] == {"cycle": [{"steps": 30, "epochs": 3}, {"steps": 10, "epochs": 1}],
                                "repeats": 25, "tail": [{"steps": 30, "epochs": 2}]}
    assert d["total_steps"] == 25 * 100 + 60
    assert d["epoch_steps_by_choice"]["continue"]["total_steps"] == 102 * 30
    assert d["epoch_steps_by_choice"]["restart"]["text"] == "30 × 102 = 3,060 steps"


def test_run_prints_each_epoch_with_its_own_batch_count(capsys) -> None:
    code, out, err = _cli(capsys, "run", "--samples", "47", "--batch-size", "5", "--steps-per-epoch", "4",
                          "--epochs", "5", "--epoch-end", "cut")
    assert code == 0
    counts = [line.split()[2] for line in out.splitlines() if line.startswith("Epoch ")]
    assert counts == ["4/4", "4/4", "2/2", "4/4", "4/4"]


def test_a_bad_epoch_end_is_one_line(capsys) -> None:
    code, out, err = _cli(capsys, "plan", "--epoch-end", "stop")
    assert code == 2
    assert err.strip() == "mbsim: --epoch-end 'stop': allowed: continue, cut, restart"


def test_compare_mode_aligns_cut_epochs_by_their_own_lengths() -> None:
    from mbsim.engine.compare import Comparison

    comp = Comparison(Scenario(samples=47, batch_size=5, steps_per_epoch=4, epochs=5, epoch_end="cut",
                               val_samples=5), align="epochs")
    ends = []
    for _ in range(3):
        comp.tick_epoch()
        ends.append([r.sim.counters().epoch for r in comp.runs])
    # after each whole epoch every run stands at the end of that epoch (its own cut lengths)
    for k, epochs in enumerate(ends, start=1):
        assert epochs == [k, k, k]
    mid = comp.runs[1].sim
    assert mid.counters().text().startswith("Epoch 3/5  Batch 2/2  Iteration 10")


def test_the_trace_records_epoch_end_and_each_epochs_own_batches(capsys, tmp_path) -> None:
    import json

    trace = tmp_path / "t.jsonl"
    code, _, _ = _cli(capsys, "run", "--quiet", "--samples", "47", "--batch-size", "5", "--steps-per-epoch", "4",
                      "--epochs", "5", "--epoch-end", "cut", "--trace", str(trace))
    assert code == 0
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert lines[0]["scenario"]["epoch_end"] == "cut"
    lengths = [4, 4, 2, 4, 4]
    assert [(r["epoch"], r["batch"]) for r in lines[1:]] == \
           [(e + 1, b + 1) for e, n in enumerate(lengths) for b in range(n)]
    # epochs 1-3 are one pass: every sample exactly once
    first_pass = [i for r in lines[1:11] for i in r["indices"]]
    assert sorted(first_pass) == list(range(47))


def test_cut_with_drop_last_cuts_the_shorter_pass() -> None:
    # drop_last: ⌊47/5⌋ = 9 batches of 5 per pass (2 samples left out): epochs 4, 4, 1, then
    # a fresh pass 4, 4 = 17 steps, every batch full: 85 samples
    plan = make_plan(47, 5, drop_last=True, steps_per_epoch=4, epochs=5, epoch_end="cut")
    assert epoch_steps(plan) == [4, 4, 1, 4, 4]
    assert (plan.total_steps, plan.total_samples) == (17, 85)


def test_random_plans_match_the_loop() -> None:
    rng = np.random.default_rng(9)
    for _ in range(60):
        n = int(rng.integers(1, 60))
        b = int(rng.integers(1, n + 1))
        s, k, epochs = int(rng.integers(1, 9)), int(rng.integers(1, 4)), int(rng.integers(1, 9))
        drop = bool(rng.integers(0, 2))
        for mode in EPOCH_ENDS:
            plan = make_plan(n, b, drop_last=drop, steps_per_epoch=s, accumulate=k, epochs=epochs,
                             epoch_end=mode)
            ref = reference_loop(plan.batches_per_pass, s, k, epochs, mode)
            got = [(p.epoch, p.pass_index, p.batch_in_pass, p.step)
                   for p in (plan.locate(i) for i in range(plan.total_iterations))]
            assert got == ref, (n, b, s, k, epochs, drop, mode)
            assert plan.total_steps == ref[-1][3] + 1
