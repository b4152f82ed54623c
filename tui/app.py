"""The mbsim app: the animated teaching screen (DESIGN.md "The TUI").

The app owns no science: it holds one :class:`engine.Simulation`, calls its stepping methods on
keys and in a frame loop, and asks each panel to ``show(sim)``.

Timing is :mod:`tui.runloop`'s (the one run loop, shared with compare mode and the noise
cloud): header, counters and strip update every frame in which something changed;
the landscape and the loss plot at most as often as its ``PLOT_INTERVALS`` (running:
``RUNNING_INTERVALS``, and their measured cost) says, one of them per frame, and the
gradient-noise readout at most every ``DetailLine.NOISE_INTERVAL`` seconds (running: every
``DetailLine.RUNNING_NOISE_INTERVAL`` or as often as its cost allows, the detail line drawn with it
and saying its step).
The engine runs in chunks sized to ~``CHUNK_TIME``.
"""

from __future__ import annotations

import asyncio
import signal
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from mbsim.engine import Scenario, ScenarioError, Simulation
from mbsim.engine.errors import visible

from .commands import MbsimCommands
from .live import LiveActions
from .memory_views import (cloud_runs, give_back_freed_memory, give_back_if_busy, give_back_soon, tune_malloc,
                           view_refusal)
from .messages import RunStateChanged, SimulationChanged
from .runloop import (CHUNK_TIME, DEFAULT_SPEED, EVAL_POLICY, FRAME_INTERVAL, MIN_SPEED, SLICE,  # noqa: F401
                      SPEEDS, RunLoop, parse_speed, tune_gc)
from .screens.cloud import DEFAULT_RUNS, CloudScreen
from .screens.compare import CompareScreen
from .screens.help import HelpScreen
from .widgets._cells import enable_partial_line_updates
from .widgets.arithmetic import ArithmeticLine
from .widgets.counters import CountersLine
from .widgets.detail import DetailLine
from .widgets.header import StatusHeader
from .widgets.keybar import KeyBar
from .widgets.landscape import LandscapeView
from .widgets.lens_view import LensView
from .widgets.lossplot import LossPlot
from .widgets.phase_view import PhaseView
from .widgets.strip import SampleStrip

MIN_WIDTH, MIN_HEIGHT = 80, 24
SPEED_GROUP = Binding.Group("speed")
BATCH_GROUP = Binding.Group("batch size")
LR_GROUP = Binding.Group("lr")


class TooSmall(Static):
    """Shown instead of the panels when the terminal is smaller than 80×24."""

    def render(self) -> str:
        w, h = self.app.size
        return (
            f"mbsim needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT};\n"
            f"this one is {w}×{h}.\n\nPlease enlarge the window (q quits)."
        )


class MbsimApp(RunLoop, LiveActions, App[int]):
    """Mini-batch training, step by step."""

    CSS_PATH = "app.tcss"
    RUNNING_SLOWER = True      # the plots at tui.runloop.RUNNING_INTERVALS while running
    COMMANDS = App.COMMANDS | {MbsimCommands}
    TITLE = "mbsim"
    HORIZONTAL_BREAKPOINTS = [(0, "-too-narrow"), (MIN_WIDTH, "-w80"), (100, "-w100"), (120, "-w120")]
    VERTICAL_BREAKPOINTS = [(0, "-too-short"), (MIN_HEIGHT, "-h24"), (36, "-h36")]

    BINDINGS = [
        Binding("space", "toggle_run", "run"),
        Binding("n", "step_batch", "batch"),
        Binding("right", "step_batch", "batch", show=False),
        Binding("e", "step_epoch", "epoch"),
        Binding("p", "step_phase", "phase"),
        Binding("left", "step_back", "back", key_display="←"),
        Binding("backspace", "step_back", "back", show=False),
        Binding("plus,equals_sign", "faster", "faster", key_display="+",
                group=SPEED_GROUP),
        Binding("minus", "slower", "slower", key_display="-",
                group=SPEED_GROUP),
        Binding("left_square_bracket", "batch_smaller", "batch size", key_display="[",
                group=BATCH_GROUP),
        Binding("right_square_bracket", "batch_larger", "batch size", key_display="]",
                group=BATCH_GROUP),
        Binding("less_than_sign", "lr_half", "lr", key_display="<", group=LR_GROUP),
        Binding("greater_than_sign", "lr_double", "lr", key_display=">", group=LR_GROUP),
        Binding("o", "cycle_optimizer", "optimizer"),
        Binding("m", "cycle_sampling", "sampling"),
        Binding("r", "reset", "reset"),
        Binding("s", "settings", "settings"),
        Binding("c", "compare", "compare"),
        Binding("k", "cloud", "cloud"),
        Binding("b", "lab", "batch-size lab", show=False),
        Binding("l", "toggle_lens", "lens"),
        Binding("d", "toggle_phase_view", "detail"),
        Binding("a", "toggle_arithmetic", "arithmetic"),
        Binding("S", "screenshot", "screenshot", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "interrupt", "quit", show=False),  # by reflex: quits, exit code 130
    ]

    def __init__(self, scenario: Scenario | Simulation | None = None, *, paused: bool = True,
                 speed: int | float | str | None = None, animate: bool = True,
                 throttle: bool = True, runs: int | None = None) -> None:
        """``animate=False`` turns the reshuffle animation off and ``throttle=False`` draws the
        plots on every change (both for tests and snapshots, which must not depend on timing)."""
        super().__init__()
        tune_malloc()                  # one malloc arena for every thread (memory_views)
        tune_gc()                      # the young generation collected less often (runloop)
        enable_partial_line_updates()  # send only the changed cells of partly refreshed lines
        self.animate = animate
        self.throttle = throttle
        if isinstance(scenario, Simulation):
            self.sim = scenario
            self.sim.eval_policy = EVAL_POLICY     # the TUI's: every step on small data
        else:
            self.sim = Simulation(scenario if scenario is not None else Scenario(), eval_policy=EVAL_POLICY)
        give_back_freed_memory()       # what making the data set let go (memory_views)
        self.speed: float | None = parse_speed(speed)
        self.start_paused = paused
        self.cloud_runs = runs or DEFAULT_RUNS   # K of the noise cloud (k; --runs)
        self.cloud_runs_asked = runs is not None  # asked for: not fewer to fit the view's share
        self.handle_signals = False           # run_app: SIGINT/SIGTERM/SIGHUP end with 130/143/129
        self.init_run_loop()                  # self.goal: an iteration to run to at max speed (e)
        self._per_iteration = 1e-4            # running estimate of the engine's time per iteration
        self._key: tuple | None = None

    def get_driver_class(self) -> type:
        """Textual's choice, except that its web driver becomes :class:`tui.web_driver.SessionDriver`
        (a browser session ends when its server is gone)."""
        driver = super().get_driver_class()
        if (driver.__module__, driver.__name__) == ("textual.drivers.web_driver", "WebDriver"):
            from .web_driver import SessionDriver

            return SessionDriver
        return driver

    # ------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="main"):
            yield StatusHeader(id="header")
            yield CountersLine(id="counters")
            yield ArithmeticLine(id="arithmetic")
            yield SampleStrip(id="strip", animate=self.animate)
            with Horizontal(id="panels"):
                yield LandscapeView(id="landscape")
                yield LensView(id="lens")
                yield LossPlot(id="lossplot")
                yield PhaseView(id="phase")
            yield DetailLine(id="detail")
        yield from self.compose_extra()
        yield TooSmall(id="too-small")
        yield KeyBar(id="keys")

    def compose_extra(self) -> ComposeResult:
        """Widgets a mode adds under the panels (lesson mode: the lesson panel); none here."""
        return iter(())

    def on_mount(self) -> None:
        if self.handle_signals:
            self.install_signal_handlers()
        self.set_interval(1.0, give_back_if_busy)   # freed arrays back while it works (memory_views)
        self.header = self.query_one("#header", StatusHeader)
        self.counters_line = self.query_one("#counters", CountersLine)
        self.arithmetic = self.query_one("#arithmetic", ArithmeticLine)
        self.strip = self.query_one("#strip", SampleStrip)
        self.landscape = self.query_one("#landscape", LandscapeView)
        self.lossplot = self.query_one("#lossplot", LossPlot)
        self.detail = self.query_one("#detail", DetailLine)
        self.lens = self.query_one("#lens", LensView)
        self.phase_view = self.query_one("#phase", PhaseView)
        self._phase_auto = False
        self.watch_plots(self.landscape, self.lossplot, self.lens)
        self.landscape.border_title = "loss landscape"
        self.lossplot.border_title = "loss"
        self.lens.border_title = "one-dimensional lens (l)"
        self.phase_view.border_title = "phase view (d)"
        self._lens_for_one_parameter()
        self.redraw(force=True)
        if not self.start_paused:
            self.start_running()

    def _lens_for_one_parameter(self) -> None:
        """A one-parameter model has no two-parameter landscape: the lens opens by itself (and
        closes again for a model with more, unless l opened it)."""
        one = self.sim.model.n_params == 1
        if one and not self.lens.display:
            self._lens_auto = True
        elif not one and getattr(self, "_lens_auto", False):
            self._lens_auto = False
        else:
            return
        self.query_one("#panels").set_class(one, "-lens")
        self._key = None
        self._plot_dirty[self.lens] = True
        self._plot_dirty[self.landscape] = True

    # ------------------------------------------------------------------------------------------
    # drawing
    def _sim_key(self) -> tuple:
        """What the counters, strip, detail line and phase view show depends on: the simulation
        shown and its :attr:`~engine.Simulation.revision` (bumped by every change of it), the
        panels shown and the theme. One rule for every change, whatever made it."""
        return (id(self.sim), self.sim.revision, self.phase_view.display, self.lens.display, self.theme)

    def redraw(self, *, force: bool = False, plots: bool = True) -> None:
        """Show the simulation: every panel whose input changed; the plots when they are due.

        ``force`` redraws everything now (first frame, reset, tests); ``plots=False`` leaves the
        plots to the frame loop, which draws at most one of them per frame.
        """
        sim = self.sim
        self.header.show(sim, running=self.running, speed=self.speed,
                         goal="to the end of the epoch" if self.goal is not None else "")
        if self.arithmetic.display:
            self.arithmetic.show(sim)  # cheap: rewritten only when the plan in force changes
        key = self._sim_key()
        if force or key != self._key:
            self._key = key
            self.counters_line.show(sim)
            self.strip.show(sim, force=force)
            self.detail.show(sim, force=force)
            if self.phase_view.display:
                self.phase_view.show(sim)
            self.mark_plots_dirty()
            self.frames += 1
        elif self.detail.due:
            self.detail.show(sim)      # the noise readout left for a later frame (DetailLine.stale)
        if plots:
            self.draw_due_plots(force)

    def plot_source(self) -> Simulation:
        return self.sim

    def settle(self, *, refit: bool = True) -> None:
        """Draw everything that is waiting for its interval (tests and snapshots: no timers).

        With ``refit`` the plots first forget the axes they kept from earlier draws (as after a
        reset), so the picture depends only on the state, not on which states were drawn before.
        """
        if refit:
            message = SimulationChanged("reset")
            for panel in (self.landscape, self.lossplot):
                handler = getattr(panel, "on_simulation_changed", None)
                if callable(handler):
                    handler(message)
        self.redraw(force=True)
        self.detail.settle()

    @property
    def busy(self) -> bool:
        """True while a panel computes something in the background (tests wait for it)."""
        return any(getattr(p, "pending_work", False) for p in (self.strip, self.landscape, self.lossplot))

    def _jumped(self, kind: str) -> None:
        """Tell the panels the simulation jumped (back or reset), then redraw.

        A reset redraws everything at once; stepping back (a key often held down) keeps the
        plots to their rate, the last state drawn when the key is released.
        """
        message = SimulationChanged(kind)
        for panel in (self.strip, self.landscape, self.lossplot, self.lens):
            # delivered at once (not queued), so each panel knows before it is redrawn below
            handler = getattr(panel, "on_simulation_changed", None)
            if callable(handler):
                handler(message)
        self.redraw(force=kind == "reset")

    # ------------------------------------------------------------------------------------------
    # running (the loop itself is tui.runloop's)
    def run_done(self) -> bool:
        return self.sim.done

    def _goal_limit(self) -> int | None:
        return self.goal - self.sim.iteration

    def _goal_reached(self) -> bool:
        return self.sim.iteration >= self.goal

    def _onset(self) -> int:
        return self.sim.diverging_step

    def _stops_here(self, onset: int) -> bool:
        sim = self.sim
        return sim.done or bool(sim.diverging_step and not onset)

    def on_run_state_changed(self, message: RunStateChanged) -> None:
        message.stop()
        if not message.running:
            self._plot_dirty[self.lossplot] = True   # its x axis fits the data again when paused
        # running says which step the noise readout is of; paused, its own timer brings the last
        # state's readout if it is older (DetailLine)
        self.detail.show(self.sim)
        self.redraw()

    def _run_for(self, budget: float, limit: int | None = None) -> int:
        """Run up to ``limit`` iterations (no limit: until ``budget`` seconds have passed).

        Work goes in chunks of about :data:`CHUNK_TIME` so a slow scenario (one iteration over
        200,000 samples) still hands control back on time.
        """
        sim = self.sim
        start = time.perf_counter()
        deadline = start + budget
        ran = 0
        while limit is None or ran < limit:
            chunk = max(1, int(CHUNK_TIME / self._per_iteration))
            if limit is not None:
                chunk = min(chunk, limit - ran)
            t0 = time.perf_counter()
            onset = sim.diverging_step
            got = sim.run_iterations(chunk, stop_at_diverging=True)
            t1 = time.perf_counter()
            if sim.diverging_step and not onset:   # the run began to diverge: stop to show it
                ran += got
                break
            ran += got
            if got:
                self._per_iteration = 0.8 * self._per_iteration + 0.2 * max((t1 - t0) / got, 1e-7)
            if got < chunk or t1 >= deadline:
                break
        self.iterations_run += ran
        return ran

    # ------------------------------------------------------------------------------------------
    # actions (keys)
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # compare mode has its own runs and keys: the main run's keys must not act behind it
        # (a screenshot works on every screen: it pictures the screen shown)
        if isinstance(self.screen, (CompareScreen, CloudScreen)) and action not in ("quit", "command_palette", "screenshot"):
            return False
        # the help screen is modal: keys of the main screen wait until it is closed
        if isinstance(self.screen, HelpScreen) and action not in ("quit", "command_palette", "help", "screenshot"):
            return False
        return True

    def action_toggle_run(self) -> None:
        if self.running:
            self.pause()
        else:
            if self._phase_auto:
                self._phase_auto = False
                self._show_panel("phase", False)
            self.start_running()

    def _step(self, do) -> None:  # noqa: ANN001
        self.pause()
        if self.sim.done:
            self.bell()
        else:
            do()
        self.redraw()

    def action_step_batch(self) -> None:
        """One iteration (finishes the iteration in progress after ``p``)."""
        self._step(self.sim.step_iteration)

    def action_step_phase(self) -> None:
        """One phase: forward, loss, backward or update (the phase view opens to show it)."""
        if not self.phase_view.display:
            self._phase_auto = True
            self._show_panel("phase", True)
        self._step(self.sim.step_phase)

    def action_step_epoch(self) -> None:
        """Run to the end of the epoch: at once if quick, else at max speed with the screen following."""
        sim = self.sim
        self.run_to_goal(sim.iteration + sim.iterations_to_epoch_end())

    def action_step_back(self) -> None:
        """Undo one iteration exactly (across epoch boundaries too)."""
        self.pause()
        if self.sim.back(1):
            self._jumped("back")
        else:
            self.bell()
            self.redraw()

    def action_reset(self) -> None:
        """Back to the start (same data, same initial parameters)."""
        self.pause()
        self.sim.reset()
        self._jumped("reset")

    # ------------------------------------------------------------------------------------------
    # views: compare mode, the lens, the phase view
    def view_class(self, cls: type) -> type:
        """The screen class a view key opens (lesson mode adds its panel under it)."""
        return cls

    def action_compare(self) -> None:
        """Compare mode: Batch GD, this batch size and SGD in lockstep (c or escape comes back)."""
        self.pause()
        refused = view_refusal("compare", self.sim.scenario, self.sim.dataset)   # past the memory budget
        if refused:
            self.bell()
            self.notify(visible(f"no compare mode: {refused}"), severity="error", markup=False)
            return
        self.push_screen(self.view_class(CompareScreen)(self.sim.scenario))

    def action_cloud(self) -> None:
        """The noise cloud: K runs of this scenario with different sampling seeds (k or escape
        comes back)."""
        self.pause()
        runs, note = cloud_runs(self.sim.scenario, self.cloud_runs, self.cloud_runs_asked, self.sim.dataset)
        if not runs:                       # not even one run fits the memory: say so
            self.bell()
            self.notify(visible(f"no noise cloud: {note}"), severity="error", markup=False)
            return
        try:
            screen = self.view_class(CloudScreen)(self.sim.scenario, runs=runs, speed=self.speed)
        except ScenarioError as err:       # e.g. too many runs: the ensemble refuses, with why
            self.bell()
            self.notify(visible(f"no noise cloud: {err}"), severity="error", markup=False)
            return
        self.push_screen(screen)
        if note:                           # fewer runs than asked, to fit the view's memory share
            self.notify(visible(note), markup=False, timeout=8)

    def action_lab(self) -> None:
        """The batch-size lab: steps vs examples over batch sizes (escape or b comes back)."""
        from .screens.lab import LabScreen

        self.pause()
        self.push_screen(self.view_class(LabScreen)(self.sim.scenario))

    def _show_panel(self, name: str, on: bool) -> None:
        """Show the lens instead of the landscape, or the phase view instead of the loss plot."""
        self.query_one("#panels").set_class(on, f"-{name}")
        self._key = None
        if not on:
            give_back_soon(self)        # the hidden panel's arrays (memory_views)
        if name == "lens":
            self._plot_dirty[self.lens] = True
            self._plot_dirty[self.landscape] = True
        else:
            self._plot_dirty[self.lossplot] = True
        self.redraw(force=True)

    def action_toggle_lens(self) -> None:
        """The loss along one line through θ: each sample's own curve and their mean."""
        self._lens_auto = False
        self._show_panel("lens", not self.lens.display)

    def action_toggle_phase_view(self) -> None:
        """The current batch laid open: inputs, predictions, losses, gradients, the update."""
        self._phase_auto = False
        self._show_panel("phase", not self.phase_view.display)

    def action_toggle_arithmetic(self) -> None:
        """The batch arithmetic of the plan in force, written out with numbers (engine.arithmetic)."""
        self.arithmetic.display = not self.arithmetic.display
        self.redraw()

    # ------------------------------------------------------------------------------------------
    # what the live actions (tui.live.LiveActions) need
    def replace_simulation(self, sim: Simulation) -> None:
        """Show a new run (new data, model, seed or a preset): pause, reset the panels, redraw."""
        self.pause()
        self.sim = sim
        sim.eval_policy = EVAL_POLICY
        self._lens_for_one_parameter()
        self._jumped("reset")

    def refresh_all(self) -> None:
        """Redraw every panel after a live change of settings."""
        self._jumped("settings")

    def action_interrupt(self) -> None:
        """ctrl+c (a key here: the terminal is in raw mode) quits as Ctrl+C would: exit 130."""
        self.exit(return_code=130)

    def install_signal_handlers(self) -> None:
        """SIGINT, SIGTERM and SIGHUP end the app cleanly (terminal restored) with exit code
        130, 143 or 129 (only for a real run: :func:`run_app` calls this from on_mount)."""
        loop = asyncio.get_running_loop()
        for signum, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
            try:
                loop.add_signal_handler(signum, self.exit, None, code)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
                pass

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        else:
            self.clear_notifications()   # no toast piles over the help's text
            self.push_screen(HelpScreen())


def run_app(scenario: Scenario | Simulation | None = None, *, paused: bool = True,
            speed: int | float | str | None = None, runs: int | None = None) -> int:
    """Open the TUI on ``scenario``; return the exit code.

    ``paused=False`` starts running at once (``--run``); ``speed`` is batches per second, or
    "max" (``--speed``; None is the default, 10). A bad scenario raises before the screen opens.
    """
    app = MbsimApp(scenario, paused=paused, speed=speed, runs=runs)
    app.handle_signals = True
    result = app.run()
    if app.return_code:
        return app.return_code
    return int(result or 0)
