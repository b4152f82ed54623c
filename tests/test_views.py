"""The phase view and the lens view: the data behind the drawing, and that they render."""

from __future__ import annotations

import numpy as np
from textual.app import App, ComposeResult

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.tui.widgets.lens_view import LensView
from mbsim.tui.widgets.phase_view import PhaseView, phase_rows


def test_phase_rows_fill_in_phase_by_phase() -> None:
    sim = Simulation(Scenario(batch_size=12))
    sim.step_phase()
    pr = phase_rows(sim, sim.pending)
    assert pr.columns == ("i", "x", "y", "ŷ_i") and len(pr.rows) == 8 and pr.more == 4
    sim.step_phase()
    sim.step_phase()
    pr = phase_rows(sim, sim.pending)
    assert pr.columns[-2:] == ("ℓ_i", "g_i")
    # ĝ is the mean of the rows' per-sample gradients (all 12, not only the 8 shown)
    assert np.allclose(pr.batch_grad, sim.pending.sample_grads.mean(axis=0), rtol=1e-12)
    # and each row's loss is (prediction − target)², by hand
    for r in range(8):
        x, y = float(sim.pending.X[r, 0]), float(sim.pending.y[r])
        assert float(pr.rows[r][4]) == float(f"{(sim.params[0] * x + sim.params[1] - y) ** 2:.3g}")
    before = sim.params.copy()
    sim.step_phase()
    pr = phase_rows(sim, sim.last)
    assert np.allclose(pr.update, -0.05 * pr.batch_grad, rtol=1e-12)
    assert np.array_equal(pr.params_after, before + pr.update)
    assert np.allclose(pr.params_after, sim.params, rtol=1e-15)


def test_phase_rows_show_the_micro_batch_with_accumulation() -> None:
    sim = Simulation(load_preset("accumulate"))
    sim.step_iteration()
    sim.step_phase()
    pr = phase_rows(sim, sim.pending)
    assert "micro-batch 2/4 of step 1" in pr.title
    sim.step_phase(); sim.step_phase(); sim.step_phase()
    pr = phase_rows(sim, sim.last)
    assert not np.any(pr.update)


class Host(App[None]):
    def __init__(self, sim: Simulation) -> None:
        super().__init__()
        self.sim = sim

    def compose(self) -> ComposeResult:
        yield PhaseView(id="phase")
        yield LensView(id="lens")


async def test_views_render_for_three_losses() -> None:
    sim = Simulation(load_preset("three-losses"))
    app = Host(sim)
    async with app.run_test(size=(100, 40)) as pilot:
        phase, view = app.query_one(PhaseView), app.query_one(LensView)
        phase.show(sim)
        view.show(sim)
        await pilot.pause()
        L = view.current
        assert L is not None and L.per_sample.shape[0] == 3 and not L.sampled
        assert np.allclose(L.mean, L.per_sample.mean(axis=0))
        for _ in range(3):
            sim.step_phase()
        phase.show(sim)
        view.show(sim)
        await pilot.pause()
        assert view.current is not L
        app.save_screenshot("/tmp/views.svg")


async def test_phase_view_formats_only_the_rows_it_can_show(monkeypatch) -> None:
    """A whole-data batch (Batch GD) has as many rows as samples: the phase view formats no more
    of them than its height could show and counts the rest (issue 24: at N = 10⁶ it formatted a
    million rows, ~540 MB, for the ~30 on the screen), and says how many are not shown."""
    from mbsim.tui.widgets import phase_view as pv

    asked: list[int] = []
    real = pv.phase_rows

    def recording(sim, data, max_rows=pv.MAX_ROWS, grad_entries=2):  # noqa: ANN001
        asked.append(max_rows)
        return real(sim, data, max_rows=max_rows, grad_entries=grad_entries)

    monkeypatch.setattr(pv, "phase_rows", recording)
    sim = Simulation(Scenario(samples=3000, batch_size=3000, epochs=2))
    sim.step_iteration()
    app = Host(sim)
    async with app.run_test(size=(100, 40)) as pilot:
        phase = app.query_one(PhaseView)
        phase.show(sim)
        await pilot.pause()
        height = phase.content_size.height
        assert asked and max(asked) <= max(1, height) < 3000
        assert 0 < phase.rows_shown < height and phase.rows_shown + phase.more == 3000
        shown = "".join(seg.text for y in range(phase.size.height) for seg in phase.render_line(y))
        assert f"+ {phase.more} more" in shown
