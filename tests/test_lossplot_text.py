"""The loss plot reads plotext's cell matrix instead of parsing its ANSI output
(tui.widgets._plotext_text): the same Text, line for line and span for span."""

from __future__ import annotations

import pytest
from rich.text import Text

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import load_preset
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets import _plotext_text


def parsed(plt) -> Text:  # noqa: ANN001
    """What plotext prints, parsed by Rich (the way the plot was read before)."""
    return Text.from_ansi(plt.build())


def assert_same(a: Text, b: Text) -> None:
    assert a.plain == b.plain
    assert a.spans == b.spans
    assert a.style == b.style


@pytest.mark.parametrize("preset,steps,size", [
    ("worked-example", 0, (120, 40)),
    ("worked-example", 300, (120, 40)),
    ("xor-mlp", 120, (120, 40)),          # accuracy on a right axis
    ("momentum", 50, (80, 24)),
])
async def test_the_matrix_gives_the_text_plotext_prints(preset: str, steps: int, size: tuple[int, int],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    sim = Simulation(load_preset(preset))
    sim.run_iterations(steps)
    app = MbsimApp(sim, paused=True, throttle=False)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        plot = app.lossplot
        made = []
        original = _plotext_text.figure_text

        def both(plt):  # noqa: ANN001, ANN202
            text = original(plt)
            made.append((text, parsed(plt)))     # plotext rebuilds from the same settings
            return text

        monkeypatch.setattr("mbsim.tui.widgets.lossplot.figure_text", both)
        plot.show(sim, force=True)
        assert made, "the plot was drawn"
        for direct, reference in made:
            assert len(direct.plain.splitlines()) >= 6    # a figure, not an error line
            assert_same(direct, reference)


async def test_compare_and_cloud_plots_too(monkeypatch: pytest.MonkeyPatch) -> None:
    app = MbsimApp(Scenario(samples=40, val_samples=0, batch_size=4, epochs=50), paused=True,
                   throttle=False, runs=8)
    async with app.run_test(size=(120, 40)) as pilot:
        made = []
        original = _plotext_text.figure_text

        def both(plt):  # noqa: ANN001, ANN202
            text = original(plt)
            made.append((text, parsed(plt)))
            return text

        monkeypatch.setattr("mbsim.tui.widgets.lossplot.figure_text", both)
        for key in ("c", "k"):
            await pilot.press(key)
            await pilot.pause()
            for _ in range(15):
                await pilot.press("n")
            await pilot.pause()
            app.screen.settle()
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
        assert len(made) >= 2
        for direct, reference in made:
            assert_same(direct, reference)
