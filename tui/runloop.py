"""The run loop, once: timer, speed, slice, plot throttling and the pause/step/back keys' common
part, shared by the main screen (the app), compare mode and the noise cloud.

Timing, so that keys always answer and the wire stays quiet:

* a frame loop (an async worker on the event loop, one frame every :data:`FRAME_INTERVAL`)
  runs only while running; paused, nothing ticks;
* each frame runs the engine for at most :data:`SLICE` seconds (at "max" speed, that is the
  whole slice, in chunks the host sizes), so the event loop is never blocked for much longer
  than a frame;
* the cheap lines update every frame in which something changed; the plot panels at most as
  often as :attr:`RunLoop.PLOT_INTERVALS` says, one of them per frame, and a running plot that
  repainted many cells waits longer (its share of the wire stays within
  :data:`PLOT_BYTE_RATE`); on the main screen, running at a set speed, at most as often as
  :data:`RUNNING_INTERVALS` and their measured cost (:data:`PLOT_CPU_SHARE`) allow.

A host (an App or a Screen) mixes :class:`RunLoop` in and provides what differs: how the
engine advances (:meth:`RunLoop._run_for`, in the host's unit: iterations or ticks), what the
plots show (:meth:`RunLoop.plot_source`) and how it redraws (:meth:`RunLoop.redraw`).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from textual.app import ScreenStackError
from textual.timer import Timer
from textual.worker import Worker

from mbsim.engine.rules import TUI_POLICY

from .memory_views import give_back_freed_memory
from .messages import RunStateChanged
from .web_priority import PRIORITY

#: When the TUI's runs evaluate their full losses (eval_every = auto: after every step on small
#: data, issue 14). A setting of each run the TUI makes or shows (engine.rules.EvalPolicy), so
#: every screen with a run loop (main, compare, cloud) sees the same curves and importing the
#: TUI changes nothing for other runs in the process (issue 25).
EVAL_POLICY = TUI_POLICY

SPEEDS: tuple[float | None, ...] = (0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, None)
"""Units per second (the main screen: batches; compare and the cloud: ticks); None is "max".
Below 1 for narrating one batch at a time."""
MIN_SPEED = SPEEDS[0]
DEFAULT_SPEED = 10
FRAME_INTERVAL = 1 / 20
PLOT_INTERVALS = {            # seconds between two draws of a plot: (at a set speed, flat out)
    "landscape": (0.5, 0.5),    # as its own DRAW_THROTTLE: a draw it refused came by a timer, off-frame
    "lossplot": (0.5, 1.0),   # the costliest on the wire and in time; a history changes slowly
    "lens": (0.25, 0.5),
}
#: While running at a set speed, the plots come at most this often (seconds): the eye follows a
#: path or a curve that moves once a second as well as twice, and each draw is a plot's whole
#: cost (its build, Textual rendering its changed lines, the write): issue 24, ≤ 5 % of a core
#: at the default speed. A key while paused still draws at once (the intervals above).
RUNNING_INTERVALS = {"landscape": 1.0, "lossplot": 1.0, "lens": 0.5}
PLOT_BYTE_RATE = {"landscape": 4000, "lossplot": 6000, "lens": 4000}   # bytes/s each may write, running
BYTES_PER_CELL = 8        # a repainted cell on the wire, measured: 3 bytes of UTF-8 braille, plus colour codes
#: At a set speed, the share of a core each plot may take (its draw, and Textual rendering and
#: writing it, estimated as :data:`DRAW_TO_SCREEN` times the draw, measured at 120×40: the loss
#: plot's ~7 ms build, ~2.5 ms of Textual's line rendering, the write): a costly plot is drawn
#: less often, so a running app stays light (issue 24: ≤ 5 % of a core at the default speed,
#: of which the counters, strip and detail line take ~3 %). Flat out the intervals above rule.
#: At 120×40 the loss plot comes every ~1.7 s, the landscape (1–3 ms) every second.
PLOT_CPU_SHARE = 0.012
DRAW_TO_SCREEN = 3.0
SLICE = 0.040
MIN_SLICE = 0.005
CHUNK_TIME = 0.004
MIN_YIELD = 0.003   # seconds the frame loop always leaves to Textual (keys, screen updates)
MAX_FRAME_GAP = 0.25  # at a slow speed, frames still come this often (plots due, a speed change)


#: The cyclic garbage collector's first threshold in the app (Python's default is 700): the
#: running app allocates and frees many small containers a frame (Textual's messages, strips,
#: segments), so at 700 the young generation was collected ~4 times a second and every ~20 s the
#: whole heap (~30 ms: every widget, style and cache, walked); measured at 120×40, xor-mlp
#: running ×10: 3.3 ms of CPU a second (7 % of the main thread) at 700, ~0.9 at 7000. What is
#: collected is the same garbage, a little later (it is only reference cycles: the rest is
#: freed at once by reference counting).
GC_THRESHOLD = 7000


def tune_gc() -> None:
    """Raise the collector's first threshold to :data:`GC_THRESHOLD` (a higher one set by the
    user or the host is kept)."""
    import gc

    first, *rest = gc.get_threshold()
    if 0 < first < GC_THRESHOLD:
        gc.set_threshold(GC_THRESHOLD, *rest)


def parse_speed(speed: int | float | str | None) -> float | None:
    """The speed of ``--speed``: batches per second (at least 0.2; whole numbers from 1 up), or
    "max" (None).

    ``None`` (not given) is the default, :data:`DEFAULT_SPEED`. Raises ValueError otherwise.
    """
    if speed is None:
        return DEFAULT_SPEED
    if isinstance(speed, str):
        text = speed.strip().lower()
        if text == "max":
            return None
        try:
            speed = float(text)
        except ValueError:
            raise ValueError(f"speed must be a positive number of batches per second or 'max', not {speed!r}") from None
    if isinstance(speed, bool) or not math.isfinite(speed) or speed < MIN_SPEED:
        raise ValueError(f"speed must be at least {MIN_SPEED:g} batches per second or 'max', not {speed!r}")
    return int(speed) if speed >= 1 else float(speed)


def next_speed(speed: float | None, direction: int) -> float | None:
    """The next speed of :data:`SPEEDS` up (``direction`` > 0) or down from ``speed``."""
    order = [math.inf if s is None else s for s in SPEEDS]
    now = math.inf if speed is None else speed
    if direction > 0:
        faster = [s for s in order if s > now]
        new = faster[0] if faster else math.inf
    else:
        slower = [s for s in order if s < now]
        new = slower[-1] if slower else order[0]
    return None if new == math.inf else (int(new) if new >= 1 else float(new))


def plot_kind(panel: Any) -> str:
    """The kind of a plot panel ("landscape", "lossplot" or "lens"): its timing row."""
    return getattr(panel, "PLOT_KIND", panel.id)


class RunLoop:
    """The frame loop and the plot throttle of a host (see the module docstring).

    The host sets :attr:`speed`, :attr:`throttle` and calls :meth:`init_run_loop` in its
    ``__init__`` and :meth:`watch_plots` once its plot panels are mounted.
    """

    PLOT_INTERVALS = PLOT_INTERVALS
    RUNNING_SLOWER = False       # RUNNING_INTERVALS apply (the main screen; compare and the cloud keep theirs)
    SPEED_UNIT = "batches per second"

    speed: float | None
    throttle: bool

    def init_run_loop(self) -> None:
        self.running = False
        self.goal: Any = None                  # where ``e`` runs to at max speed (host's unit)
        self._frame_worker: Worker | None = None
        self._plot_timer: Timer | None = None
        self._last_tick = 0.0
        self._credit = 0.0
        self._plot_dirty: dict = {}            # plot panel → its input changed since drawn
        self._plot_time: dict = {}             # plot panel → when it was last drawn
        self._plot_cost: dict = {}             # plot panel → seconds per show(), recent peak
        self._plot_mean: dict = {}             # plot panel → CPU seconds per show(), running mean
        self._plot_cells: dict = {}            # plot panel → cells its last draw repainted
        # measured by bench/tui.py and bench/cloud.py
        self.iterations_run = 0
        self.frames = 0
        self.plot_frames = 0

    def watch_plots(self, *panels: Any) -> None:
        """The plot panels the loop throttles (drawn with ``panel.show(self.plot_source())``)."""
        for panel in panels:
            self._plot_dirty[panel] = True
            self._plot_time[panel] = -math.inf

    # --- what the host provides ---------------------------------------------------------------
    def plot_source(self) -> Any:
        """What the plot panels draw: a Simulation, a Comparison or an Ensemble."""
        raise NotImplementedError

    def redraw(self, *, force: bool = False, plots: bool = True) -> None:
        raise NotImplementedError

    def run_done(self) -> bool:
        """True when nothing can run any more (finished or diverged)."""
        raise NotImplementedError

    def _run_for(self, budget: float, limit: int | None = None) -> int:
        """Advance by up to ``limit`` units (toward :attr:`goal` if set; no limit: until
        ``budget`` seconds have passed); how many ran."""
        raise NotImplementedError

    def _goal_limit(self) -> int | None:
        """With a goal: how many units at most are left to it (None: the host's _run_for knows)."""
        return None

    def _goal_reached(self) -> bool:
        raise NotImplementedError

    def _onset(self) -> Any:
        """A mark taken before a frame's work; :meth:`_stops_here` compares with it."""
        return None

    def _stops_here(self, onset: Any) -> bool:
        """True when the frame's work must end the run (finished, began to diverge)."""
        return self.run_done()

    # --- plots ----------------------------------------------------------------------------------
    def mark_plots_dirty(self) -> None:
        for panel in self._plot_dirty:
            self._plot_dirty[panel] = True

    def draw_due_plots(self, force: bool = False) -> None:
        """Draw the plots whose input changed and whose interval passed (all when ``force``);
        the others once their interval has passed (a timer, so a burst of keys ends drawn)."""
        now = time.monotonic()
        waits = []
        for panel, dirty in self._plot_dirty.items():
            if not dirty or not panel.display:
                continue
            wait = self._plot_wait(panel, now)
            if force or wait <= 0:
                self._draw_plot(panel, force)
            else:
                waits.append(wait)
        if waits and self._plot_timer is None:
            self._plot_timer = self.set_timer(min(waits), self._plots_due)

    def _plot_wait(self, panel: Any, now: float) -> float:
        """Seconds until ``panel`` may be drawn again."""
        if not self.throttle:
            return 0.0
        kind = plot_kind(panel)
        flat_out = self.running and (self.speed is None or self.goal is not None)
        interval = self.PLOT_INTERVALS[kind][1 if flat_out else 0]
        if self.running:
            # a redraw that repainted many cells (a big panel, a curve that shifted) waits longer
            # before the next, so the panel's share of the wire stays within PLOT_BYTE_RATE at
            # 200×60 as at 120×40 (DESIGN.md: ≤ 20 KB/s in all)
            cells = self._plot_cells.get(panel, 0)
            interval = max(interval, cells * BYTES_PER_CELL / PLOT_BYTE_RATE[kind])
            if not flat_out:
                interval = max(interval, RUNNING_INTERVALS.get(kind, 0.0) if self.RUNNING_SLOWER else 0.0,
                               DRAW_TO_SCREEN * self._plot_mean.get(panel, 0.0) / PLOT_CPU_SHARE)
        return self._plot_time[panel] + interval - now

    def _draw_plot(self, panel: Any, force: bool = False) -> None:
        """Draw one plot panel, keeping an estimate of what it costs (for the frame budget)."""
        # (marked drawn first: a panel that refuses this draw by a throttle of its own marks
        # itself again, so the loop, or the paused app's plot timer, brings the draw later)
        self._plot_dirty[panel] = False
        t, c = time.perf_counter(), time.thread_time()
        panel.show(self.plot_source(), force=force or not self.throttle)
        cost, cpu = time.perf_counter() - t, time.thread_time() - c
        # a slowly decaying peak: one slow draw keeps the engine's share small for a while
        self._plot_cost[panel] = max(cost, 0.8 * self._plot_cost.get(panel, cost))
        # the CPU it took (not the wall time: on a busy machine that is longer, not costlier)
        self._plot_mean[panel] = 0.7 * self._plot_mean.get(panel, cpu) + 0.3 * cpu
        self._plot_cells[panel] = getattr(panel, "painted_cells", 0)
        self._plot_time[panel] = time.monotonic()
        self.plot_frames += 1

    def _plots_due(self) -> None:
        self._plot_timer = None
        if self.running:      # while running the frame loop draws them
            return
        try:
            self.app.screen
        except ScreenStackError:
            return            # the app is closing: its screens are gone, nothing to draw on
        self.redraw()

    def _plot_for_this_frame(self) -> Any:
        """While running: the plot panel to draw in this frame, if any (one per frame)."""
        now = time.monotonic()
        due = [(self._plot_wait(p, now), plot_kind(p), id(p), p)
               for p, dirty in self._plot_dirty.items() if dirty and p.display]
        due = [d for d in due if d[0] <= 0]
        return min(due)[3] if due else None

    # --- running --------------------------------------------------------------------------------
    def start_running(self) -> None:
        """Run at the current speed until paused, finished or diverged."""
        if self.run_done():
            self.app.bell()
            self.redraw()
            return
        self.running = True
        PRIORITY.running_changed(self)
        self._credit = 0.0
        self._start_frames()
        self.post_message(RunStateChanged(True, self.speed))

    def _start_frames(self) -> None:
        if self._frame_worker is None or self._frame_worker.is_finished:
            self._frame_worker = self.run_worker(self._frames(), name="frames", group="frames",
                                                 exclusive=True, exit_on_error=True)

    def pause(self) -> None:
        """Stop running: the frame loop ends, nothing redraws until the next key."""
        was = self.running
        self.running = False
        if was:
            PRIORITY.running_changed(self)  # under mbsim serve: our claim on the CPU back to 0
        self.goal = None
        if self._frame_worker is not None:
            self._frame_worker.cancel()
            self._frame_worker = None
        if was:
            give_back_freed_memory()     # the run's readings let go (memory_views)
            self.post_message(RunStateChanged(False, self.speed))

    def run_to_goal(self, goal: Any) -> None:
        """``e``: run toward ``goal`` now for one slice; if not there, at max speed with the
        screen following (the frame loop), until there or paused."""
        self.pause()
        if self.run_done():
            self.app.bell()
            self.redraw()
            return
        self.goal = goal
        onset = self._onset()
        self._run_for(SLICE, self._goal_limit())
        if not self._goal_reached() and not self._stops_here(onset):
            self.running = True
            PRIORITY.running_changed(self)  # under mbsim serve: keys elsewhere go first
            self._credit = 0.0
            self._start_frames()
            self.post_message(RunStateChanged(True, self.speed))
        else:
            self.goal = None
        self.redraw()

    async def _frames(self) -> None:
        """The frame loop: one :meth:`_tick` per frame, always yielding to Textual in between.

        At a set speed a frame starts when the next unit is due (every :data:`FRAME_INTERVAL` at
        the fastest, :data:`MAX_FRAME_GAP` at the slowest); flat out (max, or ``e``
        running to the end of an epoch) the next frame starts as soon as Textual has drawn this
        one and handled the keys that came in meanwhile.
        """
        self._last_tick = time.perf_counter()
        while self.running:
            start = time.perf_counter()
            self._tick()
            if self.speed is None or self.goal is not None:
                await self._drawn()
                await asyncio.sleep(MIN_YIELD)
            else:
                # the next frame when the next unit is due (a frame without one would redraw
                # nothing new): every FRAME_INTERVAL at 20 units/s and more, every 0.1 s at the
                # default 10/s, at most MAX_FRAME_GAP apart so a speed key takes effect at once
                due = (1.0 - self._credit) / self.speed + 0.002 if self.speed else FRAME_INTERVAL
                gap = min(max(FRAME_INTERVAL, due), MAX_FRAME_GAP)
                await asyncio.sleep(max(MIN_YIELD, start + gap - time.perf_counter()))

    async def _drawn(self, timeout: float = 0.25) -> None:
        """Wait until Textual has refreshed the screen and gone idle (keys handled)."""
        done = asyncio.get_running_loop().create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        self.call_after_refresh(resolve)
        try:
            await asyncio.wait_for(done, timeout)
        except asyncio.TimeoutError:
            pass

    def _tick(self) -> None:
        """One frame: run the engine for this frame's share of time, then redraw.

        A frame that draws a plot gives the engine less time (by twice what that plot's ``show``
        recently cost at most, once for ``show`` and once for Textual rendering it), so no frame
        holds the event loop much longer than :data:`SLICE` and keys keep answering.
        """
        now = time.perf_counter()
        dt = min(now - self._last_tick, 0.25)
        self._last_tick = now
        onset = self._onset()
        plot = self._plot_for_this_frame()
        budget = SLICE if plot is None else SLICE - 2 * self._plot_cost.get(plot, SLICE)
        if budget < MIN_SLICE:
            # a costly plot (a big panel) takes the whole frame: the engine waits for the next
            # one, so the frame stays about one plot long and a key waits at most that (issue 23)
            budget = 0.0 if self.speed is None or self.goal is not None else MIN_SLICE
        if self.goal is not None:
            self._run_for(budget, self._goal_limit())
            if self._goal_reached():
                self.pause()
        elif self.speed is None:
            self._run_for(budget)
        else:
            self._credit += self.speed * dt
            n = int(self._credit)
            if n:
                ran = self._run_for(budget, n)
                self._credit = self._credit - n if ran == n else 0.0
        if self._stops_here(onset):
            self.pause()           # finished, diverged, or began to diverge (space goes on)
        self.redraw(plots=not self.running)
        if plot is not None and self.running:
            self._draw_plot(plot)

    # --- the keys every host shares --------------------------------------------------------------
    def action_faster(self) -> None:
        self._change_speed(+1)

    def action_slower(self) -> None:
        self._change_speed(-1)

    def _change_speed(self, direction: int) -> None:
        from .widgets.header import speed_label

        self.speed = next_speed(self.speed, direction)
        self._credit = 0.0
        if self.running:
            self.post_message(RunStateChanged(True, self.speed))
        else:
            self.notify(f"speed {speed_label(self.speed)} ({self.SPEED_UNIT}) — space to run", timeout=2)

    def on_run_state_changed(self, message: RunStateChanged) -> None:
        message.stop()        # a screen's own run: the app behind it has nothing to redraw
        self.redraw()


EPS = 1e-9


def advance_toward(collection: Any, goal: float) -> bool:
    """One tick of ``collection`` (a Comparison or an Ensemble) toward ``goal`` (the last,
    shorter stretch exactly to it); False when there."""
    if collection.done or collection.target >= goal - EPS:
        return False
    if collection.target + collection.unit() <= goal + EPS:
        collection.tick()
    else:
        collection.tick_epoch()   # only by samples when B does not divide N: tick_epoch goes to goal
    return True


class TickLoop(RunLoop):
    """A screen whose unit is a *tick* of a collection of runs stepped together (compare mode's
    Comparison, the noise cloud's Ensemble: ``tick``, ``tick_epoch``, ``back``, ``reset``,
    ``target``, ``epoch_target``, ``done``): the keys and the frame work they share.

    The host sets :attr:`collection`, :attr:`landscape`, :attr:`plot` and ``_ready``;
    :data:`HELP` is its help screen's class, :data:`NO_PHASE` what ``p`` says there."""

    HELP: Any = None
    NO_PHASE = "this screen steps whole ticks (n); p steps one phase on the main screen"
    collection: Any

    def init_tick_loop(self, speed: float | None) -> None:
        self.speed = speed
        self.throttle = True
        self.init_run_loop()                 # self.goal: a target to run to at max speed (e)
        self._tick_cost = 1e-4               # running estimate of the time per tick
        self._key: tuple | None = None
        self._ready = False

    def plot_source(self) -> Any:
        return self.collection

    def run_done(self) -> bool:
        return self.collection.done

    def _goal_reached(self) -> bool:
        return self.collection.done or self.collection.target >= self.goal - EPS

    def _run_for(self, budget: float, limit: int | None = None) -> int:
        """Ticks (toward :attr:`goal` if set) until ``limit`` or ``budget`` seconds; how many ran."""
        col = self.collection
        deadline = time.perf_counter() + budget
        ran = 0
        while limit is None or ran < limit:
            t0 = time.perf_counter()
            moved = advance_toward(col, self.goal) if self.goal is not None else col.tick()
            if not moved:
                break
            ran += 1
            t1 = time.perf_counter()
            self._tick_cost = 0.8 * self._tick_cost + 0.2 * (t1 - t0)
            if t1 + self._tick_cost > deadline:
                break
        self.iterations_run += ran
        return ran

    def forget(self, kind: str = "reset") -> None:
        """Tell the plots the runs jumped (reset) or changed settings: axes and map fit afresh."""
        from .messages import SimulationChanged

        message = SimulationChanged(kind)
        self.landscape.on_simulation_changed(message)
        self.plot.on_simulation_changed(message)

    def settle(self) -> None:
        """Draw everything now, with the axes and the map fitted afresh to the present state, so
        the picture does not depend on which frames happened to be drawn before (tests and
        snapshots)."""
        self.forget("reset")
        self.redraw(force=True)

    @property
    def busy(self) -> bool:
        """True while the landscape computes in the background (tests wait for it)."""
        return self.landscape.pending_work

    def on_screen_suspend(self) -> None:
        self.pause()

    def on_unmount(self) -> None:
        self._ready = False
        self.pause()

    # --- keys -----------------------------------------------------------------------------------
    def action_toggle_run(self) -> None:
        if self.running:
            self.pause()
        else:
            self.start_running()

    def action_tick(self) -> None:
        """One tick: every run advances by one unit of the alignment."""
        self.pause()
        if not self.collection.tick():
            self.app.bell()
        self.redraw()

    def action_epoch(self) -> None:
        """To the end of the epoch: at once if quick, else at max speed with the screen following."""
        self.run_to_goal(self.collection.epoch_target())

    def action_back(self) -> None:
        """Undo the last tick on every run, exactly."""
        self.pause()
        if not self.collection.back():
            self.app.bell()
        self.redraw()

    def action_reset(self) -> None:
        """Every run back to the start (same data, same initial parameters)."""
        self.pause()
        self.collection.reset()
        self.forget("reset")
        self.redraw(force=True)

    def action_close(self) -> None:
        """Back to the main screen (the runs are dropped; the key builds fresh ones)."""
        self.pause()
        self.dismiss(None)

    def action_help(self) -> None:
        self.pause()
        self.app.push_screen(self.HELP())

    def action_no_phase(self) -> None:
        self.app.bell()
        self.notify(self.NO_PHASE, timeout=3)
