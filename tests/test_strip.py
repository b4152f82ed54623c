"""The sample strip: the data behind the drawing, not the pixels (which samples are used, current,
to come or sitting out, per position; its layout in batches; the reshuffle animation), compared
with the engine.
"""

from __future__ import annotations

import math

import numpy as np

from mbsim.engine import Scenario, Simulation, load_preset
from mbsim.tui.widgets.strip import CURRENT, GLYPHS, SITS_OUT, TO_COME, USED, SampleStrip, make_layout, occurrences

from widget_host import run, screen_text


# ================================================================================ sample strip
def test_layout_puts_gaps_between_batches_and_keeps_batches_whole() -> None:
    lay = make_layout(200, (5,) * 40, 100, 4)
    assert lay.gaps and lay.per_cell == 1 and lay.cells == 200
    # positions in order, each batch on one row, one free column before every batch
    assert np.array_equal(lay.p0, np.arange(200))
    for b in range(40):
        rows = lay.row[5 * b : 5 * b + 5]
        cols = lay.col[5 * b : 5 * b + 5]
        assert len(set(rows.tolist())) == 1
        assert np.array_equal(np.diff(cols), np.ones(4))
        assert cols[0] >= 1
    assert lay.rows <= 4 and lay.col.max() < 100


def test_layout_aggregates_fifty_thousand_samples_into_the_cells_available() -> None:
    lay = make_layout(50_000, (64,) * 781 + (16,), 100, 4)
    assert lay.per_cell == math.ceil(50_000 / 400)
    assert lay.cells <= 400 and lay.rows <= 4 and lay.col.max() < 100
    # every position belongs to exactly one cell
    assert lay.p0[0] == 0 and lay.p1[-1] == 50_000
    assert np.array_equal(lay.p0[1:], lay.p1[:-1])


def test_occurrences_counts_each_draw_of_a_sample() -> None:
    order = np.array([3, 1, 3, 3, 0, 1])
    assert occurrences(order).tolist() == [1, 1, 2, 3, 1, 2]


def test_strip_marks_the_current_batch_and_the_used_samples() -> None:
    sim = Simulation(Scenario())                    # N = 200, B = 5, reshuffled
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        for k in (1, 7, 40):
            sim.run_iterations(k - sim.iteration)
            strip.show(sim, force=True)
            await pilot.pause()
            states = strip.position_states()
            order = strip.order_shown
            assert order is sim.order
            assert sorted(order[states == CURRENT].tolist()) == sorted(sim.current_batch().tolist())
            assert np.array_equal(order[states == USED], sim.order[: 5 * (k - 1)])
            assert (states == TO_COME).sum() == 200 - 5 * k
            # on screen: one full block per sample of the current batch, in brackets
            text = "\n".join(screen_text(strip))
            assert text.count(GLYPHS[CURRENT]) == 5 + 1     # + the legend's swatch
            assert "[" + GLYPHS[CURRENT] * 5 + "]" in text

    run(strip, script)


def test_strip_aggregates_a_large_data_set() -> None:
    sim = Simulation(Scenario(samples=50_000, batch_size=64, epochs=2))
    strip = SampleStrip(max_rows=4, animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(300)
        strip.show(sim, force=True)
        await pilot.pause()
        lay = strip.layout_
        assert lay.per_cell > 1
        assert lay.cells * lay.per_cell >= 50_000
        assert lay.cells <= strip.size.width * 4
        assert f"1 cell = {lay.per_cell} samples" in strip.caption
        cells = strip.cell_states()
        # the current batch (positions 19136..19199) lies in one or two cells
        pos = sim.last.position
        want = np.flatnonzero((lay.p0 < pos.stop) & (lay.p1 > pos.start))
        assert np.array_equal(np.flatnonzero(cells == CURRENT), want)
        assert np.all(cells[: want[0]] == USED) and np.all(cells[want[-1] + 1 :] == TO_COME)

    run(strip, script, size=(100, 12))


def test_strip_shows_repeats_under_replacement() -> None:
    sim = Simulation(load_preset("with-replacement"))
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(10)
        strip.show(sim, force=True)
        await pilot.pause()
        counts = np.bincount(sim.order, minlength=sim.dataset.n_samples)
        assert np.array_equal(strip.replacement_counts(), counts)
        twice, never = int((counts >= 2).sum()), int((counts == 0).sum())
        assert f"{twice} samples drawn 2+ times" in strip.caption
        assert f"{never} never" in strip.caption
        # one digit per repeated draw (the 2nd, 3rd, ... draw of a sample in this pass)
        repeats = len(sim.order) - len(np.unique(sim.order))
        cell_rows = screen_text(strip)[1:-1]
        assert sum(ch.isdigit() or ch == "+" for line in cell_rows for ch in line) == repeats

    run(strip, script, size=(120, 10))


def test_strip_greys_out_the_drop_last_leftover() -> None:
    sim = Simulation(load_preset("drop-last"))      # 200 samples, B = 32: 8 sit out
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(2)
        strip.show(sim, force=True)
        await pilot.pause()
        states = strip.position_states()
        assert np.all(states[192:] == SITS_OUT) and (states == SITS_OUT).sum() == 8
        assert "drop_last: 8 sit out" in strip.caption
        assert "· sits out" in strip.legend
        assert "".join(screen_text(strip)[1:-1]).count(GLYPHS[SITS_OUT]) == 8

    run(strip, script)


def test_reshuffle_is_animated_and_sequential_order_is_not() -> None:
    for sampling, animates in (("reshuffle", True), ("sequential", False), ("once", False)):
        sim = Simulation(Scenario(sampling=sampling))
        strip = SampleStrip(animate=True)

        async def script(pilot, strip) -> None:  # noqa: ANN001
            sim.run_iterations(2)          # "once" draws its single permutation on the first batch
            strip.show(sim, force=True)
            sim.run_iterations(38)
            strip.show(sim)
            await pilot.pause()
            assert not strip.animating
            sim.step_iteration()           # first batch of epoch 2: a new order (or the same)
            strip.show(sim)
            assert strip.animating == animates, sampling
            if sampling != "reshuffle":
                assert "same order every epoch" in strip.caption
            for _ in range(40):
                if not strip.animating:
                    break
                await pilot.pause(0.05)
            assert not strip.animating
            strip.show(sim)
            assert strip.order_shown is sim.order
            assert (strip.position_states() == CURRENT).sum() == 5

        run(strip, script)


def test_stepping_back_over_an_epoch_boundary_does_not_animate() -> None:
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=True)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(41)
        strip.show(sim, force=True)
        sim.back()
        strip.show(sim)
        assert not strip.animating
        assert strip.order_shown is sim.order
        assert (strip.position_states() == USED).sum() == 195

    run(strip, script)


def test_states_read_without_colour() -> None:
    glyphs = [GLYPHS[s] for s in (CURRENT, USED, TO_COME, SITS_OUT)]
    assert len(set(glyphs)) == 4
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        strip.show(sim, force=True)
        await pilot.pause()
        assert strip.legend.startswith("█ current batch  ▁ used  ▄ to come")

    run(strip, script)


def test_strip_before_the_first_batch() -> None:
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        strip.show(sim, force=True)
        await pilot.pause()
        assert strip.order_shown is None
        assert np.all(strip.position_states() == TO_COME)
        assert "index order" in strip.caption

    run(strip, script)


def test_strip_repaints_only_what_changed() -> None:
    sim = Simulation(Scenario())
    strip = SampleStrip(animate=False)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        sim.run_iterations(3)
        strip.show(sim, force=True)
        await pilot.pause()
        sim.step_iteration()
        strip.show(sim, force=True)
        # the batch done becomes used, the next one current: two short spans (+ the caption)
        assert 0 < strip.painted_cells < 60
        strip.show(sim)
        assert strip.painted_cells < 60

    run(strip, script)


def test_orders_flying_by_drop_the_colours_then_bring_them_back() -> None:
    sim = Simulation(load_preset("full-batch"))        # B = N: every step is a new epoch
    strip = SampleStrip(animate=True)

    async def script(pilot, strip) -> None:  # noqa: ANN001
        for _ in range(8):                              # a running app at 10 steps/s
            sim.step_iteration()
            strip.show(sim)
            await pilot.pause(0.1)
        await pilot.pause(0.2)                          # (after a full repaint the strip rests 0.5 s)
        assert strip.fast and "colours return" in strip.caption
        await pilot.pause(1.8)                          # paused: the colours come back
        assert not strip.fast
        assert "colours return" not in strip.caption

    run(strip, script)


def test_cell_states_from_the_current_range_are_the_per_position_ones():
    """The strip's cell states from the current batch's position range (O(cells), what it draws
    every frame) equal the definition over every position (a cell is current if any of its
    positions is, else the state of its first): random data sizes, batch sizes, widths, batches."""
    from mbsim.tui.widgets._strip_layout import make_layout
    from mbsim.tui.widgets.strip import CURRENT, SITS_OUT, TO_COME, USED, SampleStrip

    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(1, 5000)) if rng.random() < 0.8 else int(rng.integers(5000, 300_000))
        b = int(rng.integers(1, n + 1))
        full, rest = divmod(n, b)
        drop = rng.random() < 0.3 and full > 0
        sizes = (b,) * full + ((rest,) if rest and not drop else ())
        per_pass = sum(sizes)
        lay = make_layout(n, sizes, int(rng.integers(20, 200)), int(rng.integers(1, 6)))
        k = int(rng.integers(0, len(sizes)))
        cs = sum(sizes[:k])
        ce = cs + sizes[k]
        states = np.full(n, TO_COME, dtype=np.int8)
        states[per_pass:] = SITS_OUT
        states[:cs] = USED
        states[cs:ce] = CURRENT
        want = SampleStrip._cell_states(lay, states)
        assert np.array_equal(SampleStrip._cell_states(lay, states, (cs, ce)), want), (n, sizes[:3], k)
        none = np.where(states == CURRENT, TO_COME, states).astype(np.int8)
        assert np.array_equal(SampleStrip._cell_states(lay, none, (0, 0)), SampleStrip._cell_states(lay, none))


def test_a_frame_drawn_from_the_last_one_is_the_whole_drawing() -> None:
    """Frame by frame the strip redraws only the cells whose state changed (and their rows' gaps
    and the brackets) from its last picture (issue 24: a light running app). That picture must be
    the one a whole drawing gives, every step, in every layout: gaps and brackets, aggregated
    cells, repeats under replacement, a drop_last leftover, across epochs."""
    import random

    cases = [Scenario(),                                                    # gaps, brackets
             Scenario(samples=5000, batch_size=32, epochs=5),              # aggregated cells
             Scenario(samples=60, batch_size=7, epochs=9, sampling="replacement"),
             Scenario(samples=63, batch_size=8, epochs=9, drop_last=True)]
    rng = random.Random(3)
    for sc in cases:
        sim = Simulation(sc)
        strip = SampleStrip(animate=False)
        kept = []

        async def script(pilot, strip) -> None:  # noqa: ANN001
            redraw = strip._redraw_changed

            def counting(*a):  # noqa: ANN002, ANN202
                got = redraw(*a)
                kept.append(got is not None)
                return got

            strip._redraw_changed = counting
            for k in range(120):
                sim.run_iterations(rng.choice((1, 1, 1, 2, 3)))
                strip.show(sim)
                if k % 15 == 0:
                    await pilot.pause()
                cell_state = strip._cell_states(strip.layout_, strip._states, strip._current)
                whole = strip._draw_all(strip.layout_, cell_state, strip._levels)
                assert np.array_equal(strip._chars, whole[0]), (sc, k)
                assert np.array_equal(strip._sids, whole[1]), (sc, k)

        run(strip, script)
        assert len(kept) > 30 and sum(kept) >= 0.7 * len(kept), (sc.samples, sum(kept), len(kept))   # most frames


def test_a_canvas_line_is_cut_into_the_same_segments() -> None:
    """CellCanvas._line_strip cuts a row into runs of one style from the joined row (one
    character a cell), or cell by cell when a cell is empty: the segments of joining each run."""
    import random

    from rich.segment import Segment

    from mbsim.tui.widgets._cells import CellCanvas

    rng = random.Random(9)
    canvas = CellCanvas()
    styles = canvas.table.styles
    from rich.style import Style
    sids = [canvas.table.index(Style(color=c)) for c in ("red", "blue", "#123456")]
    for _ in range(300):
        w = rng.randint(1, 40)
        n = rng.randint(0, w)
        chars = np.array([rng.choice(["a", "▀", " ", "█", ""]) if rng.random() < 0.1 else rng.choice("ab▀█ ")
                          for _ in range(n)], dtype="<U1")
        sid = np.array([rng.choice(sids) for _ in range(n)], dtype=np.int32)
        got = canvas._line_strip(chars, sid, w)
        want = []
        k = 0
        while k < n:
            j = k
            while j < n and sid[j] == sid[k]:
                j += 1
            want.append(Segment("".join(chars[k:j].tolist()), styles[int(sid[k])]))
            k = j
        if n < w:
            want.append(Segment(" " * (w - n), canvas.base_style))
        assert list(got) == want
