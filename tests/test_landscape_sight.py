"""A panel's background computation stops while another screen covers its own, and is asked for
again when the screen is back (issue 24: at N = 10⁶ the main screen's landscape grid, minutes of
an MLP's losses in pieces, went on under compare's and the cloud's own: two grids' pieces at
once, the session's peak). A modal screen (help, settings) leaves the panel in sight.
"""

from __future__ import annotations

import asyncio
import threading
import time

from textual.app import App, ComposeResult
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from mbsim.engine import Scenario, pieces
from mbsim.tui.app import MbsimApp
from mbsim.tui.widgets import _landscape_grid
from mbsim.tui.widgets._cells import CellCanvas
from pilot_helpers import hold_until, run_then_release, wait_for


class Recorder(CellCanvas):
    """A canvas that records the computations it was told were given up."""

    def __init__(self, id: str = "canvas") -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.given_up: list[tuple] = []

    def work_cancelled(self, key: tuple) -> None:
        self.given_up.append(key)


class Over(Screen):
    def compose(self) -> ComposeResult:
        yield Static("another view")


class Dialog(ModalScreen):
    def compose(self) -> ComposeResult:
        yield Static("a dialog")


def slow_job(pieces_done: list[int], release: threading.Event, limit: int = 1000):
    """A reading in pieces: one piece every 10 ms until ``release`` (at most ``limit``)."""
    def fn() -> str:
        for _ in range(limit):
            pieces.check()
            pieces_done.append(1)
            if release.is_set():
                return "finished"
            time.sleep(0.01)
        return "ran out"
    return fn


def test_a_covered_canvas_gives_its_computation_up_and_a_modal_one_does_not():
    done: list[str] = []

    class Host(App):
        def compose(self) -> ComposeResult:
            yield Recorder()

    async def script() -> None:
        app = Host()
        async with app.run_test(size=(40, 10)) as pilot:
            canvas = app.query_one(Recorder)
            # a dialog over the screen: the computation goes on, and ends when released
            release = threading.Event()
            counted: list[int] = []
            canvas.run_in_thread(("grid", 1), slow_job(counted, release), lambda k, r: done.append(r), "t")
            await pilot.pause(0.05)
            await app.push_screen(Dialog())
            await wait_for(pilot, lambda: len(counted) >= 20, "20 pieces under a dialog")
            assert canvas.pending_work and not canvas.out_of_sight() and canvas.given_up == []
            release.set()
            await wait_for(pilot, lambda: not canvas.pending_work, "the computation's end")
            assert done == ["finished"]
            app.pop_screen()
            await pilot.pause()

            # another screen over it: given up at the next piece, never finished
            release = threading.Event()
            counted = []
            canvas.run_in_thread(("grid", 2), slow_job(counted, release), lambda k, r: done.append(r), "t")
            canvas.run_in_thread(("grid", 3), slow_job([], release), lambda k, r: done.append(r), "t")  # queued
            await wait_for(pilot, lambda: len(counted) >= 2, "the computation under way")
            await app.push_screen(Over())
            assert canvas.out_of_sight()
            await wait_for(pilot, lambda: not canvas.pending_work, "the computation given up")
            n = len(counted)
            await pilot.pause(0.2)
            assert len(counted) == n < 1000, "it stopped"
            assert done == ["finished"], "the given-up computation delivered nothing"
            # the one in flight given up, and the one waiting behind it never started
            assert canvas.given_up == [("grid", 2), ("grid", 3)]
            release.set()
            app.pop_screen()
            await pilot.pause()
            assert not canvas.out_of_sight()

    asyncio.run(script())


def test_two_panels_grids_take_turns():
    """Two panels' grids never compute at once (each reading's pieces hold their arrays: two at
    once doubled the session's peak); the second starts when the first ends."""
    inside: list[str] = []
    overlapped: list[bool] = []
    done: list[str] = []

    def job(name: str, release: threading.Event):  # noqa: ANN202
        def fn() -> str:
            overlapped.append(bool(inside))
            inside.append(name)
            try:
                hold_until(release)
            finally:
                inside.remove(name)
            return name
        return fn

    class Host(App):
        def compose(self) -> ComposeResult:
            yield Recorder()
            yield CellCanvas(id="other")

    release_a, release_b = threading.Event(), threading.Event()

    async def script() -> None:
        app = Host()
        async with app.run_test(size=(40, 10)) as pilot:
            a, b = app.query_one(Recorder), app.query_one("#other", CellCanvas)
            a.run_in_thread(("grid", 1), job("a", release_a), lambda k, r: done.append(r), "t")
            await wait_for(pilot, lambda: inside == ["a"], "the first computation under way")
            b.run_in_thread(("grid", 1), job("b", release_b), lambda k, r: done.append(r), "t")
            await pilot.pause(0.3)
            assert inside == ["a"] and b.pending_work, "the second waits its turn"
            release_a.set()
            await wait_for(pilot, lambda: inside == ["b"], "the second's turn")
            release_b.set()
            await wait_for(pilot, lambda: done == ["a", "b"], "both delivered")
            assert overlapped == [False, False]

    run_then_release(script, release_b)


def test_a_grid_waiting_its_turn_is_given_up_when_no_longer_wanted():
    """A grid waiting behind another (which may take minutes) is given up while it waits, as
    at a piece, once its panel no longer wants it; the one computing is not disturbed."""
    done: list[str] = []
    release = threading.Event()

    class Other(Recorder):
        def __init__(self) -> None:
            super().__init__(id="other")
            self.gone = False

        def out_of_sight(self) -> bool:
            return self.gone

    class Host(App):
        def compose(self) -> ComposeResult:
            yield Recorder()
            yield Other()

    def holding() -> str:
        hold_until(release)
        return "first"

    async def script() -> None:
        app = Host()
        async with app.run_test(size=(40, 10)) as pilot:
            a, b = app.query_one("#canvas", Recorder), app.query_one("#other", Other)
            a.run_in_thread(("grid", 1), holding, lambda k, r: done.append(r), "t")
            await pilot.pause(0.1)
            b.run_in_thread(("grid", 1), lambda: "second", lambda k, r: done.append(r), "t")
            await pilot.pause(0.2)
            assert b.pending_work and b.given_up == []
            b.gone = True                           # its panel closed while it waited
            await wait_for(pilot, lambda: b.given_up == [("grid", 1)], "the waiting grid given up")
            assert a.pending_work and done == []
            release.set()
            await wait_for(pilot, lambda: done == ["first"], "the first grid delivered")

    run_then_release(script, release)


def test_the_main_landscape_stops_under_compare_and_draws_again_after(monkeypatch):
    """The real app: the main screen's grid (in a thread at N = 20,000) is given up when compare
    opens over it, and asked for and drawn again when compare closes."""
    release = threading.Event()
    calls: list[str] = []
    real = _landscape_grid.plane_grid

    def slow_plane_grid(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(threading.current_thread().name)
        hold_until(release)
        return real(*args, **kwargs)

    monkeypatch.setattr(_landscape_grid, "plane_grid", slow_plane_grid)
    app = MbsimApp(Scenario(samples=20_000, batch_size=32), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            land = app.landscape
            await wait_for(pilot, lambda: "grid" in getattr(land, "_work_running", {}),
                           "the main screen's grid computing in a thread")
            assert land.grid is None
            await pilot.press("c")
            await wait_for(pilot, lambda: "grid" not in land._work_running,
                           lambda: f"the covered grid given up (running {land._work_running})")
            assert land.out_of_sight() and land._waits_for_sight
            assert land._grid_key is None and land._grid_flight is None, "forgotten, to be asked again"
            assert land.grid is None, "the given-up grid delivered nothing"
            before = len(calls)
            release.set()                      # compare's own grid may now finish
            await pilot.press("c")             # back to the main screen
            await wait_for(pilot, lambda: land.grid is not None and not land.pending_work,
                           "the main screen's grid asked for again and drawn")
            assert len(calls) > before and not land._waits_for_sight
            assert land._grid_key is not None

    run_then_release(script, release)


def test_the_colour_scale_is_kept_only_for_the_same_picture():
    """The scale is kept while a grid of the same picture (held parameter, box, resolution)
    stays in range; a grid at another resolution, or a reset, fits it afresh to the grid shown
    (a snapshot of a finished run depended on the panel's size during its first frames)."""
    from types import SimpleNamespace

    import numpy as np

    from mbsim.tui.widgets.landscape import LandscapeView

    view = LandscapeView()
    view.box = "the box"
    wide = SimpleNamespace(i=None, loss=np.array([[1.0, 10.0, 100.0], [2.0, 20.0, 50.0]]))
    view._set_grid(wide)
    fresh = (0.0 - 0.04, 2.0 + 0.04)                      # log10 1 .. log10 100, padded 2 %
    assert np.allclose(view._scale, fresh)
    inside = SimpleNamespace(i=None, loss=np.array([[2.0, 10.0, 90.0], [3.0, 20.0, 50.0]]))
    view._set_grid(inside)
    assert np.allclose(view._scale, fresh), "the same picture, in range: kept"
    other = SimpleNamespace(i=None, loss=np.array([[2.0, 10.0], [3.0, 90.0]]))   # another resolution
    view._set_grid(other)
    lo, hi = np.log10(2.0), np.log10(90.0)
    assert np.allclose(view._scale, (lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo)))
    view._set_grid(inside)                                 # back to the first resolution: afresh
    lo, hi = np.log10(2.0), np.log10(90.0)
    assert np.allclose(view._scale, (lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo)))
    view._scale = fresh                                    # a scale kept from earlier grids...
    view.refit_scale()                                     # ...fitted afresh to the grid shown
    assert np.allclose(view._scale, (lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo)))


def test_a_closed_view_lets_its_runs_go():
    """Closing compare gives its runs back even while Textual keeps the panel's finished workers
    (issue 24: at N = 10⁶ the three runs' tables stayed resident after compare closed). The
    closed landscape forgets its simulations; a finished worker no longer holds the function it
    ran (whose closure held a run); and what a canvas had queued is dropped when it closes."""
    import gc
    import weakref

    class Holder:
        """Stands for a simulation a computation reads."""

    held = Holder()
    gone = weakref.ref(held)

    class Host(App):
        def compose(self) -> ComposeResult:
            yield Recorder()

    async def canvas_script() -> None:
        nonlocal held
        app = Host()
        async with app.run_test(size=(40, 10)) as pilot:
            canvas = app.query_one(Recorder)
            release = threading.Event()
            ended: list[bool] = []

            started = threading.Event()

            def job(h=held) -> Holder:  # noqa: ANN001
                started.set()
                release.wait(5)
                ended.append(True)
                return h

            canvas.run_in_thread(("grid", 1), job, lambda k, r: None, "t")
            canvas.run_in_thread(("grid", 2), lambda h=held: h, lambda k, r: None, "t")  # queued
            await wait_for(pilot, started.is_set, "the computation under way")
            assert canvas._work_queued
            await canvas.remove()
            assert canvas._work_queued == {}
            release.set()
            await wait_for(pilot, lambda: ended, "the computation's end")
            await pilot.pause(0.1)
            del job
            held = None
            gc.collect()
            assert gone() is None, "a finished worker (still referenced) kept its function's data"

    asyncio.run(canvas_script())

    async def app_script() -> None:
        app = MbsimApp(Scenario(samples=400, batch_size=10), paused=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("c")
            await wait_for(pilot, lambda: app.screen.query("#cmp-landscape"), "compare")
            view = app.screen.query_one("#cmp-landscape")
            await wait_for(pilot, lambda: view._sim is not None, "compare's landscape drawn")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not app.screen.query("#cmp-landscape"), "compare closed")
            assert view._sim is None and view._lead is None and view.grid is None and view.paths == []

    asyncio.run(app_script())
