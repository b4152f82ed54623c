"""plotext's per-point helpers in NumPy (tui.widgets._plotext_fast) give what plotext's own give:
each helper on random and edge-case inputs, and the loss plot's text with and without them."""

from __future__ import annotations

import random

import plotext._utility as ut
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import load_preset
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets import _plotext_fast as fast

ORIGINAL = {name: fast._original(name) for name in ("get_matrix_data", "get_lines", "hd_group")}


def random_data(rng: random.Random, n: int) -> tuple[list[float], list[float]]:
    scale = rng.choice([1e-9, 1e-3, 1.0, 7.3, 1e4, 1e12])
    data = [rng.uniform(-scale, scale) for _ in range(n)]
    if rng.random() < 0.3:                 # values on tick-like round numbers: the rounding's edges
        data = [round(v, rng.randint(0, 3)) for v in data]
    lo, hi = min(data), max(data)
    lim = [lo - rng.random() * scale * rng.choice([0, 1]), hi + rng.random() * scale * rng.choice([0, 1])]
    if rng.random() < 0.1 and hi > lo:     # data outside the limits: negative coordinates
        lim = [lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo)]
    if lim[0] == lim[1]:
        lim[1] += 1.0
    return data, lim


def test_matrix_data_is_plotexts() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        data, lim = random_data(rng, rng.randint(1, 80))
        bins = rng.randint(1, 500)
        assert fast.get_matrix_data(data, lim, bins) == ORIGINAL["get_matrix_data"](data, lim, bins)


def test_matrix_data_rounds_halves_as_plotext() -> None:
    # 0.5 + (bins - 1) * v exactly on .5 and a hair below: plotext's round(., 8) then floor
    data = [0.0, 0.25, 0.5, 0.75, 1.0, 0.1 + 0.2, 1 / 3, 2 / 3, 0.49999999999, 0.999999999]
    for bins in (2, 3, 4, 5, 11, 101):
        assert fast.get_matrix_data(data, [0.0, 1.0], bins) == ORIGINAL["get_matrix_data"](data, [0.0, 1.0], bins)


def test_matrix_data_leaves_what_it_was_not_written_for_to_plotext() -> None:
    nan = float("nan")
    for data in ([1.0, nan, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [None] * 9, [True] * 9, [1.0] * 8 + [None]):
        got = fast.get_matrix_data(list(data), [0.0, 10.0], 50)
        want = ORIGINAL["get_matrix_data"](list(data), [0.0, 10.0], 50)
        assert repr(got) == repr(want)


def test_lines_and_cells_are_plotexts() -> None:
    rng = random.Random(2)
    for _ in range(60):  # ~3 s: 60 random plots of up to 60 points, lines up to 300 cells long
        n = rng.randint(1, 60)
        x = ([rng.randint(-5, 300) for _ in range(n)] if rng.random() < 0.5
             else sorted(rng.randint(0, 240) for _ in range(n)))
        y = [rng.randint(-3, 160) for _ in range(n)]
        marker = ["braille"] * n
        color = [(1, 2, 3)] * n if rng.random() < 0.7 else [rng.choice([(1, 2, 3), (4, 5, 6)]) for _ in range(n)]
        style = ["default"] * n
        got = fast.get_lines(list(x), list(y), marker, color, style)
        want = ORIGINAL["get_lines"](list(x), list(y), marker, color, style)
        assert got == want
        xl, yl = want[0], want[1]
        for fx, fy in ((2, 4), (2, 2), (2, 3), (1, 1)):
            args = (list(xl), list(yl), [fx] * len(xl), [fy] * len(xl))
            assert fast.hd_group(*args) == ORIGINAL["hd_group"](*args)


def test_a_braille_cell_names_its_dots() -> None:
    # one cell, dots at (0, 0) bottom-left and (1, 3) top-right: rows top down, left to right
    x, y, m = fast.hd_group([0, 1], [0, 3], [2, 2], [4, 4])
    assert (x, y) == ([0], [0])
    assert m == [(0, 1, 0, 0, 0, 0, 1, 0)]
    assert m == ORIGINAL["hd_group"]([0, 1], [0, 3], [2, 2], [4, 4])[2]


@pytest.mark.parametrize("preset,steps,size", [
    ("worked-example", 0, (120, 40)),
    ("worked-example", 300, (120, 40)),
    ("xor-mlp", 120, (120, 40)),          # accuracy on a right axis
    ("momentum", 50, (80, 24)),
])
async def test_the_loss_plot_is_the_same_with_them(preset: str, steps: int, size: tuple[int, int]) -> None:
    sim = Simulation(load_preset(preset))
    sim.run_iterations(steps)
    app = MbsimApp(sim, paused=True, throttle=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        plot = app.lossplot
        try:
            fast.disable_fast_plotext()
            plain = plot._build()
            assert ut.hd_group is ORIGINAL["hd_group"]
            fast.enable_fast_plotext()
            assert ut.hd_group is fast.hd_group
            quick = plot._build()
        finally:
            fast.enable_fast_plotext()
        assert len(plain.plain.splitlines()) >= 6
        assert quick.plain == plain.plain
        assert quick.spans == plain.spans


async def test_the_cloud_and_compare_plots_too() -> None:
    app = MbsimApp(Scenario(samples=40, val_samples=0, batch_size=4, epochs=50), paused=True,
                   throttle=False, runs=8)
    async with app.run_test(size=(120, 40)) as pilot:
        for key in ("k", "c"):
            await pilot.press(key)
            await pilot.pause()
            screen = app.screen
            for _ in range(3):
                await pilot.press("n")
            await pilot.pause()
            plot = screen.plot
            try:
                fast.disable_fast_plotext()
                plain = plot._build()
                fast.enable_fast_plotext()
                quick = plot._build()
            finally:
                fast.enable_fast_plotext()
            assert len(plain.plain.splitlines()) >= 6
            assert (quick.plain, quick.spans) == (plain.plain, plain.spans)
            await pilot.press("escape")
            await pilot.pause()
