"""Compare mode (``c``): Batch GD, mini-batch GD and SGD side by side, in lockstep.

Three runs of the app's current scenario that differ only in the batch size (N, the scenario's
B, and 1), from the same data and the same initial parameters
(:class:`engine.compare.Comparison`). Every key acts on all three together: a *tick* advances
each run by one unit of the alignment — by epochs (default) the same share of the data, by
samples the same number of samples, by steps one update each.

The screen shows a header with the alignment explained in a sentence, one counters row per run
(exact DESIGN.md wording, labelled with the run's name, its loss and its state), one landscape
with the three paths and one loss plot with the three full-training-loss curves.

Timing is :mod:`tui.runloop`'s, the app's one run loop (here a unit is a tick): paused,
nothing runs; a key redraws the counters at once and the plots at once unless they were drawn
less than :data:`PLOT_INTERVAL` ago (then once, when it has passed); running, each frame runs
ticks for at most ``SLICE`` seconds and draws at most one plot.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from mbsim.engine import Scenario
from mbsim.engine.compare import ALIGNMENTS, Comparison
from mbsim.engine.rules import TUI_POLICY as EVAL_POLICY

from ..widgets._runs import short_names
from ..widgets.counters import CountersLine
from ..widgets.header import StatusHeader, speed_label
from ..widgets.landscape import LandscapeView
from ..widgets.lossplot import LossPlot
from ..memory_views import give_back_soon
from ..runloop import DEFAULT_SPEED, TickLoop, advance_toward  # noqa: F401 (advance_toward: tests)
from .help import HelpScreen

PLOT_INTERVAL = 0.25
X_ORDER = ("epochs", "steps", "samples")    # x to cycle through: compare counts by data seen first
MIN_WIDTH, MIN_HEIGHT = 80, 24
SPEED_GROUP = Binding.Group("speed")


# ------------------------------------------------------------------------------------------------
# the alignment arithmetic the keys need (what one tick is, where the epoch ends)
def middle_batch_size(n: int) -> int:
    """A mini-batch size to compare with when the scenario's own is already N or 1: the power of
    two nearest √N, between 2 and N − 1."""
    b = 2 ** round(math.log2(math.sqrt(n))) if n > 1 else 1
    return int(min(max(b, 2), n - 1))


def make_comparison(scenario: Scenario, batch_sizes: tuple[int, int, int] | None = None,
                    align: str = "epochs") -> tuple[Comparison, str]:
    """The comparison of ``scenario``, and a note when its middle run had to be chosen.

    When the scenario is itself Batch GD (B = N) or SGD (B = 1), its own batch size would repeat
    one of the ends, so the middle run takes :func:`middle_batch_size` instead (unless
    ``batch_sizes`` are given).
    """
    comp = Comparison(scenario, batch_sizes=batch_sizes, align=align, eval_policy=EVAL_POLICY)
    n = comp.runs[0].sim.dataset.n_samples
    b = comp.batch_sizes[1]
    if batch_sizes is None and n >= 3 and b in (1, n):
        mid = middle_batch_size(n)
        comp = Comparison(scenario, batch_sizes=(n, mid, 1), align=align, eval_policy=EVAL_POLICY)
        what = "Batch GD" if b == n else "SGD"
        return comp, f"this scenario is {what} (B={b}) already: compared with a mini-batch of B={mid}"
    return comp, ""


# ------------------------------------------------------------------------------------------------
HELP_KEYS = (
    ("space", "run or pause all three together (the header shows which)."),
    ("n  →", "one tick: each run advances by one unit of the alignment."),
    ("e", "run to the end of the epoch (of the alignment's measure)."),
    ("←  backspace", "one tick back, exactly, for all three."),
    ("+  -", "faster or slower, in ticks per second."),
    ("r", "all three back to the same start."),
    ("x", "the loss plot's x axis: epochs, steps or samples seen."),
    ("a", "align by epochs, samples or steps (starts again from the same start)."),
    ("c  escape", "back to the main screen."),
    ("?", "this help (escape or ? closes it)."),
)
HELP_ALIGN = (
    ("by epochs", "each tick every run sees the same share of the data: in one epoch of N "
                  "samples Batch GD makes 1 update, mini-batch N/B, SGD N."),
    ("by samples", "each tick every run sees the same number of samples (one mini-batch), "
                   "so the runs have used the same data at every moment."),
    ("by steps", "each tick every run makes one update: SGD has then seen far fewer samples, "
                 "and Batch GD runs out of epochs first."),
)
HELP_PANELS = (
    ("Rows", "one per run, in the same words as the main screen's counters, with the loss on "
             "the whole training set and, once a run stops, finished or diverged."),
    ("Landscape", "the loss on the whole training set over two parameters (dark is low) and the "
                  "three paths from the common start ○: Batch GD solid white ■, mini-batch "
                  "dotted orange ◆, SGD dotted magenta ●. One parameter: w across, time down."),
    ("Loss plot", "the loss on the whole training set of each run, on the chosen x axis."),
)


class CompareHelp(HelpScreen):
    """Help for compare mode (a :class:`HelpScreen`, so the app treats it as its help)."""

    BOX_TITLE = "compare mode help"
    SECTIONS = (("Compare mode", HELP_PANELS), ("Alignment", HELP_ALIGN), ("Keys", HELP_KEYS))


class CompareTooSmall(Static):
    """Shown instead of the panels when the terminal is smaller than 80×24."""

    def render(self) -> str:
        w, h = self.app.size
        return (f"compare mode needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT};\n"
                f"this one is {w}×{h}.\n\nPlease enlarge the window (c goes back).")


class CompareScreen(TickLoop, Screen[None]):
    """Batch GD, mini-batch GD and SGD in lockstep (see the module docstring)."""

    PLOT_INTERVALS = {"landscape": (PLOT_INTERVAL, PLOT_INTERVAL), "lossplot": (PLOT_INTERVAL, PLOT_INTERVAL)}
    SPEED_UNIT = "ticks per second"
    NO_PHASE = "compare mode steps whole ticks (n); p steps one phase on the main screen"
    HELP = CompareHelp

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_WIDTH, "-w80"), (100, "-w100"), (110, "-w110")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_HEIGHT, "-h24"), (34, "-h34")]

    DEFAULT_CSS = """
    CompareScreen {
        layout: vertical;
        background: $background;
    }
    CompareScreen #cmp-main { height: 1fr; }
    CompareScreen #cmp-header {
        height: auto;
        padding: 0 1;
        background: $panel;
        color: $foreground;
    }
    CompareScreen StatusHeader > .header--title { text-style: bold; color: $accent; }
    CompareScreen StatusHeader > .header--name { text-style: bold; color: $text; }
    CompareScreen StatusHeader > .header--align { text-style: bold; color: $primary-lighten-2; }
    CompareScreen StatusHeader > .header--muted { color: $text-muted; }
    CompareScreen StatusHeader > .header--running { text-style: bold; color: $accent; }
    CompareScreen StatusHeader > .header--paused { text-style: bold; color: $warning; }
    CompareScreen StatusHeader > .header--done { text-style: bold; color: $success; }
    CompareScreen StatusHeader > .header--error { text-style: bold reverse; color: $error; }
    CompareScreen #cmp-rows {
        height: auto;
        padding: 0 1;
    }
    CompareScreen CountersLine > .counters--run { text-style: bold; color: $text; }
    CompareScreen CountersLine > .counters--value { text-style: bold; color: $text; }
    CompareScreen CountersLine > .counters--label { color: $text-muted; }
    CompareScreen CountersLine > .counters--done { text-style: bold; color: $success; }
    CompareScreen CountersLine > .counters--error { text-style: bold reverse; color: $error; }
    CompareScreen #cmp-panels { height: 1fr; min-height: 8; }
    CompareScreen #cmp-landscape, CompareScreen #cmp-plot {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-title-align: left;
    }
    CompareScreen #cmp-landscape { width: 2fr; }
    CompareScreen #cmp-plot { width: 3fr; }
    CompareScreen.-w110 #cmp-landscape { width: 1fr; }
    CompareScreen.-w110 #cmp-plot { width: 1fr; }
    /* narrow but tall: the panels one above the other, full width */
    CompareScreen.-w80.-h34 #cmp-panels { layout: vertical; }
    CompareScreen.-w80.-h34 #cmp-landscape, CompareScreen.-w80.-h34 #cmp-plot { width: 1fr; }
    CompareScreen #cmp-too-small {
        display: none;
        width: 1fr;
        height: 1fr;
        content-align: center middle;
        text-align: center;
        color: $warning;
        text-style: bold;
    }
    CompareScreen.-narrow #cmp-main, CompareScreen.-short #cmp-main,
    CompareScreen.-narrow Footer, CompareScreen.-short Footer { display: none; }
    CompareScreen.-narrow #cmp-too-small, CompareScreen.-short #cmp-too-small { display: block; }
    CompareScreen Footer.-compact FooterLabel { margin: 0 1 0 0; }
    /* below 100 columns the footer needs the whole line: speed (+ -) and ctrl+p are in the help */
    CompareScreen.-w80 FooterKey.-command-palette,
    CompareScreen.-w80 Footer KeyGroup, CompareScreen.-w80 Footer FooterLabel { display: none; }
    """

    BINDINGS = [
        Binding("space", "toggle_run", "run"),
        Binding("n", "tick", "tick"),
        Binding("right", "tick", "tick", show=False),
        Binding("e", "epoch", "epoch"),
        Binding("left", "back", "back", key_display="←"),
        Binding("backspace", "back", "back", show=False),
        Binding("plus,equals_sign", "faster", "faster", key_display="+", group=SPEED_GROUP),
        Binding("minus", "slower", "slower", key_display="-", group=SPEED_GROUP),
        Binding("r", "reset", "reset"),
        Binding("x", "x_axis", "x axis"),
        Binding("a", "align", "align"),
        Binding("c", "close", "main"),
        Binding("escape", "close", "main", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        # the main screen's phase key has no meaning here: say so rather than step the hidden run
        Binding("p", "no_phase", "phase", show=False),
    ]

    def __init__(self, scenario: Scenario, *, batch_sizes: tuple[int, int, int] | None = None,
                 align: str = "epochs", x_axis: str = "epochs", speed: int | None = DEFAULT_SPEED,
                 name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.comp, self.note = make_comparison(scenario, batch_sizes, align)
        self.collection = self.comp
        self.init_tick_loop(speed)
        self._x_axis = x_axis

    # ------------------------------------------------------------------------------------------
    def on_unmount(self) -> None:
        """Closed: the runs' K × N arrays go back now (the widgets' worker threads may keep the
        collection itself a while; issue 24)."""
        self.comp.release()
        give_back_soon(self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="cmp-main"):
            yield StatusHeader(id="cmp-header")
            yield CountersLine(id="cmp-rows")
            with Horizontal(id="cmp-panels"):
                yield LandscapeView(id="cmp-landscape")
                yield LossPlot(id="cmp-plot", x_axis=self._x_axis)
        yield CompareTooSmall(id="cmp-too-small")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.header = self.query_one("#cmp-header", StatusHeader)
        self.rows = self.query_one("#cmp-rows", CountersLine)
        self.landscape = self.query_one("#cmp-landscape", LandscapeView)
        self.plot = self.query_one("#cmp-plot", LossPlot)
        self.landscape.border_title = "loss landscape"
        self.plot.border_title = "loss on the whole training set"
        self.watch_plots(self.landscape, self.plot)
        self._ready = True
        self.redraw(force=True)
        if self.note:
            self.notify(self.note, timeout=6)

    # ------------------------------------------------------------------------------------------
    # drawing
    def run_state(self) -> tuple[str, str]:
        """The state text on the right of the header, and its style kind."""
        comp = self.comp
        if comp.done:
            diverged = [n for n, r in zip(short_names([r.label for r in comp.runs]), comp.runs)
                        if r.sim.status == "diverged"]
            if diverged:
                return f"{' and '.join(diverged)} diverged — r to start again", "error"
            return "all finished — r to start again", "done"
        if self.running:
            if self.goal is not None:
                return "running to the end of the epoch ×max — space to stop", "running"
            return f"running {speed_label(self.speed)} ticks/s — space to pause", "running"
        return "paused — space to run", "paused"

    def redraw(self, *, force: bool = False, plots: bool = True) -> None:
        """Header and rows now; the plots now if forced or due, else once they are due."""
        if not self._ready:
            return
        state, kind = self.run_state()
        dark = self.app.current_theme.dark
        self.header.show(self.comp, state=state, kind=kind)
        self.rows.show(self.comp, dark=dark)
        key = (tuple((id(r.sim), r.sim.revision) for r in self.comp.runs), self.comp.align, self.app.theme)
        if force or key != self._key:     # the one refresh rule: the runs' revisions
            self._key = key
            self.mark_plots_dirty()
            self.frames += 1
        if plots:
            self.draw_due_plots(force)

    # ------------------------------------------------------------------------------------------
    # actions (keys)
    def action_x_axis(self) -> None:
        """The loss plot's x axis: epochs → steps → samples."""
        axis = self.plot.cycle_x_axis(X_ORDER)
        self._x_axis = axis
        self.notify(f"x axis: {axis}", timeout=2)

    def action_align(self) -> None:
        """Align by epochs → samples → steps; the runs start again from the same start."""
        self.pause()
        comp = self.comp
        new = ALIGNMENTS[(ALIGNMENTS.index(comp.align) + 1) % len(ALIGNMENTS)]
        moved = comp.target > 0
        comp.align = new
        comp.reset()
        self.forget("reset")
        self.plot.set_x_axis(new)         # the plot counts in the unit the runs are aligned by
        self._x_axis = new
        self.redraw(force=True)
        if moved:
            self.notify(f"aligned by {new} — all three runs restarted from the same start", timeout=4)
        else:
            self.notify(f"aligned by {new} — all three runs start from the same start", timeout=4)
