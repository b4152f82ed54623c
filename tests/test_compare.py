"""Pilot tests of compare mode (``c``): Batch GD, mini-batch GD and SGD in lockstep.

A small host app pushes :class:`CompareScreen` for a given scenario (the main app does the same
on ``c``). The tests press keys as a user would and read what the widgets decided to show (the
rows' texts, the plotted series, the drawn paths) and compare it with the engine.
"""

from __future__ import annotations

import numpy as np
import pytest
from textual.app import App

from mbsim.engine import Scenario, load_preset
from mbsim.tui.screens.compare import (
    CompareHelp,
    CompareScreen,
    advance_toward,
)
from mbsim.engine.compare import Comparison

ROWS_AFTER_EPOCH = [
    "Epoch 1/1000  Batch 1/1  Iteration 1  Step 1  Samples 200",
    "Epoch 1/1000  Batch 40/40  Iteration 40  Step 40  Samples 200",
    "Epoch 1/1000  Batch 200/200  Iteration 200  Step 200  Samples 200",
]
LABELS = ["Batch GD (B=200)", "Mini-batch GD (B=5)", "SGD (B=1)"]


class Host(App):
    """The smallest app that opens compare mode on a scenario (as MbsimApp does on ``c``)."""

    TITLE = "mbsim"

    def __init__(self, scenario: Scenario, **options) -> None:  # noqa: ANN003
        super().__init__()
        self.scenario = scenario
        self.options = options

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.scenario, **self.options))


async def open_compare(pilot) -> CompareScreen:  # noqa: ANN001
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CompareScreen)
    return screen


async def wait_until(pilot, condition, timeout: float = 10.0) -> None:  # noqa: ANN001
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition not reached in time")


def params(screen: CompareScreen) -> list[np.ndarray]:
    return [r.sim.params.copy() for r in screen.comp.runs]


def steps(screen: CompareScreen) -> list[int]:
    return [r.sim.step for r in screen.comp.runs]


def shown_lines(widget) -> list[str]:  # noqa: ANN001
    """The text lines the rows widget lays out at its current width."""
    return [line.plain for line in widget.lines(widget.content_size.width)]


# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_one_epoch_by_epochs_gives_steps_1_40_200(size) -> None:
    app = Host(Scenario())
    async with app.run_test(size=size) as pilot:
        screen = await open_compare(pilot)
        assert not screen.running                       # starts paused
        assert screen.header.state_text == "paused — space to run"
        assert [r.label for r in screen.comp.runs] == LABELS
        await pilot.press("e")
        await wait_until(pilot, lambda: not screen.running)
        rows = screen.rows
        assert rows.counters == ROWS_AFTER_EPOCH
        assert [r.sim.counters().text() for r in screen.comp.runs] == ROWS_AFTER_EPOCH
        for label, counters, row in zip(LABELS, ROWS_AFTER_EPOCH, rows.rows):
            assert row.startswith(f"{label}  {counters}  loss ")
        assert [row.split("  ")[4] for row in rows.rows] == ["Step 1", "Step 40", "Step 200"]
        # what is laid out on screen holds the exact wording, labelled
        text = "\n".join(shown_lines(rows))
        for label, counters in zip(LABELS, ROWS_AFTER_EPOCH):
            assert label in text and counters in text
        if size == (120, 40):
            assert rows.one_line(rows.content_size.width)
            assert len(shown_lines(rows)) == 3
        else:                                           # 80 columns: label line, counters line
            assert len(shown_lines(rows)) == 6
        assert "in one epoch GD makes 1 update, mini-batch 40, SGD 200" in screen.header.explanation


async def test_step_back_returns_all_three_exactly() -> None:
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("n", "n", "right")
        assert steps(screen) == [0, 3, 15]
        before = params(screen)
        await pilot.press("n")
        assert steps(screen) == [0, 4, 20]
        await pilot.press("left")
        assert steps(screen) == [0, 3, 15]
        assert all(np.array_equal(a, b) for a, b in zip(params(screen), before))
        # after an epoch, one tick back: GD has not stepped yet, the others one batch less
        await pilot.press("e")
        await wait_until(pilot, lambda: not screen.running)
        assert steps(screen) == [1, 40, 200]
        await pilot.press("backspace")
        assert steps(screen) == [0, 39, 195]
        assert screen.rows.counters[0] == "Epoch 1/1000  Batch 0/1  Iteration 0  Step 0  Samples 0"
        # all the way back, then a bell rather than an error
        for _ in range(45):
            await pilot.press("left")
        assert steps(screen) == [0, 0, 0]
        assert all(np.array_equal(r.sim.params, r.sim.initial_params) for r in screen.comp.runs)


async def test_alignment_cycles_and_explains_itself() -> None:
    app = Host(Scenario(epochs=3))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        assert screen.comp.align == "epochs" and screen.plot.x_axis == "epochs"
        await pilot.press("n", "n")
        await pilot.press("a")
        assert screen.comp.align == "samples"
        assert steps(screen) == [0, 0, 0]               # a new alignment starts from the start
        assert screen.header.explanation.startswith("aligned by samples: each tick every run sees 5 more samples")
        assert screen.plot.x_axis == "samples"
        await pilot.press("n")
        assert [r.sim.samples_seen for r in screen.comp.runs] == [0, 5, 5]
        await pilot.press("a")
        assert screen.comp.align == "steps"
        assert screen.header.explanation == (
            "aligned by steps: each tick every run makes one update, so per tick GD sees 200 samples, "
            "mini-batch 5, SGD 1")
        await pilot.press("n", "n", "n", "n")
        assert steps(screen) == [3, 4, 4]                # GD has only 3 epochs = 3 steps
        assert "✓ finished" in screen.rows.rows[0]
        assert screen.rows.states == ["finished", "", ""]
        await pilot.press("a")
        assert screen.comp.align == "epochs"
        assert screen.header.explanation.startswith("aligned by epochs: each tick every run sees the same share")


async def test_loss_plot_has_three_curves_on_each_x_axis() -> None:
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: not screen.running)
        screen.settle()
        plot = screen.plot
        assert [label for label, _, _ in plot.series] == LABELS
        initial = screen.comp.runs[0].sim.initial_train_loss
        for run, (_, x, y) in zip(screen.comp.runs, plot.series):
            assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
            assert x[0] == 0 and y[0] == pytest.approx(initial)    # the same start
            assert x[-1] == pytest.approx(1.0)                     # one epoch each
            assert y[-1] == pytest.approx(run.sim.train_loss)
        assert len(plot.series[0][1]) == 2                         # GD: the start and one update
        assert "Batch GD" in plot.legend and "x: epochs" in plot.legend
        await pilot.press("x")
        assert plot.x_axis == "steps"
        assert [float(x[-1]) for _, x, _ in plot.series] == [1.0, 40.0, 200.0]
        await pilot.press("x")
        assert plot.x_axis == "samples"
        assert [float(x[-1]) for _, x, _ in plot.series] == [200.0, 200.0, 200.0]
        await pilot.press("x")
        assert plot.x_axis == "epochs"


async def test_landscape_draws_three_paths_from_one_start() -> None:
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: not screen.running)
        screen.settle()
        land = screen.landscape
        assert len(land.paths) == 3
        start = screen.comp.runs[0].sim.initial_params[:2]
        for run, path, now in zip(screen.comp.runs, land.paths, land.current):
            assert np.array_equal(path[0], start)
            assert np.array_equal(path[-1], run.sim.params[:2])
            assert now == (float(run.sim.params[0]), float(run.sim.params[1]))
        assert all(m is not None for m in land.marks)
        assert len(set(land.marks)) == 3                # three current points, three places
        assert "Batch GD" in land.legend and "SGD" in land.legend and "start" in land.legend
        assert land.title.startswith("Loss over w, b")
        assert land.levels is not None


async def test_space_runs_and_pauses_and_running_stops_when_all_are_done() -> None:
    app = Host(Scenario(samples=20, val_samples=0, epochs=3, batch_size=4))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("space")
        assert screen.running and screen.header.state_text.startswith("running ×10")
        await wait_until(pilot, lambda: screen.comp.target > 0)
        await pilot.press("space")
        assert not screen.running and screen._frame_worker is None
        moved = screen.comp.target
        await pilot.pause(0.2)
        assert screen.comp.target == moved              # paused: nothing moves
        await pilot.press("plus", "plus", "plus", "plus", "plus", "plus", "plus", "plus", "plus")
        assert screen.speed is None                     # max
        await pilot.press("space")
        await wait_until(pilot, lambda: not screen.running)
        assert screen.comp.done
        assert steps(screen) == [3, 15, 60]
        assert screen.rows.states == ["finished"] * 3
        assert screen.header.state_text == "all finished — r to start again"
        assert screen._frame_worker is None
        await pilot.press("n")                          # a bell, nothing else
        assert steps(screen) == [3, 15, 60]
        await pilot.press("r")
        assert steps(screen) == [0, 0, 0] and screen.comp.target == 0


async def test_diverged_runs_are_shown_per_row() -> None:
    app = Host(Scenario(lr=3.0, epochs=5))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        for _ in range(5):
            await pilot.press("e")
            await wait_until(pilot, lambda: not screen.running)
        comp = screen.comp
        diverged = [r.sim.status == "diverged" for r in comp.runs]
        assert any(diverged)
        for run, state, row in zip(comp.runs, screen.rows.states, screen.rows.rows):
            if run.sim.status == "diverged":
                assert state == f"diverged at step {run.sim.diverged_step}"
                assert f"✗ diverged at step {run.sim.diverged_step}" in row
        screen.settle()
        assert all(np.all(np.isfinite(y)) for _, _, y in screen.plot.series)
        assert "diverged" in screen.plot.legend


async def test_keys_act_on_all_three_and_c_goes_back() -> None:
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("p")                          # the main screen's phase key: no effect
        assert steps(screen) == [0, 0, 0] and all(r.sim.pending is None for r in screen.comp.runs)
        await pilot.press("question_mark")
        assert isinstance(app.screen, CompareHelp)
        await pilot.press("escape")
        assert app.screen is screen
        await pilot.press("c")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("space", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert not screen.running and screen._frame_worker is None


async def test_paused_means_no_timers() -> None:
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("n", "n", "n", "n")           # a burst: the plots follow once
        await pilot.pause(0.4)
        assert screen._frame_worker is None and screen._plot_timer is None
        draws = screen.plot_frames
        await pilot.pause(0.4)
        assert screen.plot_frames == draws
        assert screen.plot.series[1][1][-1] == pytest.approx(0.1)   # the last state is drawn


async def test_resizing_never_crashes_and_small_terminals_say_so() -> None:
    app = Host(Scenario())
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("e")
        await wait_until(pilot, lambda: not screen.running)
        for w, h in [(80, 24), (60, 20), (81, 25), (100, 30), (80, 40), (200, 60), (30, 8), (120, 40)]:
            await pilot.resize_terminal(w, h)
            await pilot.pause()
            screen.settle()
            await pilot.pause()
            small = w < 80 or h < 24
            assert screen.query_one("#cmp-too-small").display == small
            assert screen.query_one("#cmp-main").display != small
            if not small:
                text = "\n".join(shown_lines(screen.rows))
                assert all(c in text for c in ROWS_AFTER_EPOCH)
                assert screen.landscape.size.height >= 5 and screen.plot.size.height >= 6


@pytest.mark.parametrize("preset", ["three-losses", "xor-mlp"])
async def test_other_models(preset) -> None:
    app = Host(load_preset(preset))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("e", "e")
        await wait_until(pilot, lambda: not screen.running and not screen.busy)
        screen.settle()
        land = screen.landscape
        n = screen.comp.runs[0].sim.model.n_params
        if n == 1:                                      # w across, time (epochs) down
            assert land.pair == (0, None) and "time" in land.title
            assert [p[-1, 1] for p in land.paths] == [2.0, 2.0, 2.0]
        else:
            assert land.pair == (0, 1) and len(land.paths) == 3
        assert len(screen.plot.series) == 3


def test_epoch_helpers_match_tick_epoch() -> None:
    """Ticking toward ``epoch_target()`` ends where ``tick_epoch`` ends, in every alignment,
    also when B does not divide N (by samples the last stretch is shorter than a tick)."""
    for align in ("epochs", "samples", "steps"):
        sc = Scenario(samples=30, val_samples=0, batch_size=4, epochs=3)
        a, b = Comparison(sc, align=align), Comparison(sc, align=align)
        a.tick()
        b.tick()
        goal = a.epoch_target()
        b.tick_epoch()
        ticks = 0
        while advance_toward(a, goal):
            ticks += 1
        assert a.target == pytest.approx(b.target)
        assert [r.sim.iteration for r in a.runs] == [r.sim.iteration for r in b.runs]
        assert ticks >= 1 and a.unit() > 0


async def test_a_long_epoch_runs_in_slices_and_space_stops_it() -> None:
    """``e`` on a slow epoch hands over to the frame timer (keys keep answering) and ends
    exactly at the end of the epoch; space stops it where it is."""
    # SGD: 5,000 steps an epoch, at most 500 ticks a frame (the gate below): ten frames or more;
    # nothing here depends on the epoch being longer than that (it was 20,000: 40 redraws)
    sc = Scenario(samples=5_000, val_samples=0, batch_size=50, epochs=3)
    app = Host(sc)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        run_for = screen._run_for
        gate = {"ticks": 0}    # ticks the engine may run per frame: 0 holds the run in place

        def gated(budget: float, limit: int | None = None) -> int:
            # the test decides how far each frame may go, however fast the machine: a key
            # press cannot outrun the assertions that follow it
            cap = gate["ticks"] if limit is None else min(limit, gate["ticks"])
            return run_for(budget, cap) if cap else 0

        screen._run_for = gated
        await pilot.press("e")
        assert screen.running and screen.goal == 1.0       # handed over to the frames
        assert screen.header.state_text.startswith("running to the end of the epoch")
        gate["ticks"] = 500
        await wait_until(pilot, lambda: not screen.running, timeout=60)
        assert steps(screen) == [1, 100, 5_000]            # exactly at the end of the epoch
        assert screen.comp.target == pytest.approx(1.0)
        gate["ticks"] = 0
        await pilot.press("e")
        assert screen.running and screen.goal == 2.0
        gate["ticks"] = 20
        await wait_until(pilot, lambda: steps(screen)[2] >= 5_100)    # moving, far from done
        await pilot.press("space")
        assert not screen.running and screen.goal is None and screen._frame_worker is None
        stopped = steps(screen)
        assert stopped[1] < 200 and stopped[2] < 10_000
        await pilot.pause(0.2)
        assert steps(screen) == stopped
