"""The noise cloud (``k``): K runs of the current scenario from the same start, differing only in
the sampling seed (:meth:`engine.ensemble.Ensemble.seeds`), stepped together.

The same panels as the main screen and compare mode, given an Ensemble: the landscape draws the
K runs' current parameters as a cloud of points that moves as they step, their mean ✚, the
full-batch GD reference path (``Ensemble.reference_path``) and the minimum ◆; the loss plot the
band of the K runs' training losses (median, 10–90 %). The readout beside them: the measured
spread tr Cov of the K parameter vectors (``Ensemble.spread``) and the stationary spread
predicted by the Lyapunov equation of SCIENCE.md §5 (``Ensemble.predicted_spread``), or the
engine's note why there is none (``Ensemble.prediction_note``).

The run loop is :mod:`tui.runloop`'s (a unit is one step of every run). ``[ ] < >``, ``o`` and
``m`` change all K runs live (``Ensemble.apply_changes``): double B and the cloud shrinks. The
screen redraws from ``Ensemble.revision`` (the one refresh rule).
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from mbsim.engine import Scenario, ScenarioError
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.rules import TUI_POLICY as EVAL_POLICY
from mbsim.engine.errors import visible
from mbsim.engine.live import next_optimizer, next_sampling

from ..live import BatchTrail
from ..memory_views import give_back_soon
from ..runloop import DEFAULT_SPEED, TickLoop
from ..widgets.cloud_readout import CloudReadout
from ..widgets.counters import CountersLine
from ..widgets.header import StatusHeader, speed_label
from ..widgets.landscape import LandscapeView
from ..widgets.lossplot import LossPlot
from .help import HelpScreen

DEFAULT_RUNS = 100
MIN_WIDTH, MIN_HEIGHT = 80, 24
SPEED_GROUP = Binding.Group("speed")
BATCH_GROUP = Binding.Group("batch size")
LR_GROUP = Binding.Group("lr")

HELP_KEYS = (
    ("space", "run or pause all K runs together."),
    ("n  →", "one step of every run."),
    ("e", "to the end of the epoch."),
    ("←  backspace", "one step back, exactly, for all K runs."),
    ("+  -", "faster or slower, in steps per second."),
    ("[  ]", "batch size of every run to the previous / next power of two: the cloud grows / shrinks."),
    ("<  >", "halve / double the learning rate of every run."),
    ("o  m", "next optimizer / next sampling for every run."),
    ("r", "all K runs back to the same start."),
    ("k  escape", "back to the main screen."),
    ("?", "this help (escape or ? closes it)."),
)
HELP_PANELS = (
    ("Cloud", "K runs of this scenario from the same start, differing only in which samples "
              "each batch draws (the sampling seed). Each point • is one run's parameters now, "
              "✚ their mean, ━ full-batch GD, ◆ the minimum, ○ the common start."),
    ("Spread", "measured: tr Cov of the K parameter vectors (divisor K − 1). Predicted: the "
               "stationary tr Σ_θ of SGD on least squares, Σ_θ = (I − ηH) Σ_θ (I − ηH)ᵀ + η² c C "
               "(the Lyapunov equation of the stationary state), c = 1/B with replacement. It "
               "grows with η and shrinks with B."),
    ("Loss band", "the median of the K runs' full training loss, and its 10 % and 90 % quantiles."),
)


class CloudHelp(HelpScreen):
    """Help for the noise cloud (a :class:`HelpScreen`, so the app treats it as its help)."""

    BOX_TITLE = "noise cloud help"
    SECTIONS = (("Noise cloud", HELP_PANELS), ("Keys", HELP_KEYS))


class CloudScreen(TickLoop, Screen[None]):
    """The noise cloud (see the module docstring)."""

    SPEED_UNIT = "steps per second"
    HELP = CloudHelp
    NO_PHASE = "the cloud steps whole steps (n); p steps one phase on the main screen"

    DEFAULT_CSS = """
    CloudScreen { layout: vertical; background: $background; }
    CloudScreen #cloud-main { height: 1fr; }
    CloudScreen #cloud-header, CloudScreen #cloud-readout {
        height: auto; padding: 0 1; background: $panel; color: $foreground;
    }
    CloudScreen StatusHeader > .header--title { text-style: bold; color: $accent; }
    CloudScreen StatusHeader > .header--name { text-style: bold; color: $text; }
    CloudScreen StatusHeader > .header--muted, CloudScreen StatusHeader > .header--batch { color: $text-muted; }
    CloudScreen StatusHeader > .header--plain { color: $foreground; }
    CloudScreen StatusHeader > .header--running { text-style: bold; color: $accent; }
    CloudScreen StatusHeader > .header--paused { text-style: bold; color: $warning; }
    CloudScreen StatusHeader > .header--done { text-style: bold; color: $success; }
    CloudScreen StatusHeader > .header--error { text-style: bold reverse; color: $error; }
    CloudScreen #cloud-counters { height: auto; padding: 0 1; }
    CloudScreen #cloud-panels { height: 1fr; min-height: 8; }
    CloudScreen #cloud-landscape, CloudScreen #cloud-plot {
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-title-align: left;
    }
    CloudScreen #cloud-landscape { width: 1fr; }
    CloudScreen #cloud-plot { width: 1fr; }
    CloudScreen #cloud-too-small {
        display: none; width: 1fr; height: 1fr; content-align: center middle; text-align: center;
        color: $warning; text-style: bold;
    }
    CloudScreen.-narrow #cloud-main, CloudScreen.-short #cloud-main,
    CloudScreen.-narrow Footer, CloudScreen.-short Footer { display: none; }
    CloudScreen.-narrow #cloud-too-small, CloudScreen.-short #cloud-too-small { display: block; }
    CloudScreen Footer.-compact FooterLabel { margin: 0 1 0 0; }
    CloudScreen.-w80 FooterKey.-command-palette,
    CloudScreen.-w80 Footer KeyGroup, CloudScreen.-w80 Footer FooterLabel { display: none; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (MIN_WIDTH, "-w80"), (110, "-w110")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (MIN_HEIGHT, "-h24")]

    BINDINGS = [
        Binding("space", "toggle_run", "run"),
        Binding("n", "tick", "step"),
        Binding("right", "tick", "step", show=False),
        Binding("e", "epoch", "epoch"),
        Binding("left", "back", "back", key_display="←"),
        Binding("backspace", "back", "back", show=False),
        Binding("plus,equals_sign", "faster", "faster", key_display="+", group=SPEED_GROUP),
        Binding("minus", "slower", "slower", key_display="-", group=SPEED_GROUP),
        Binding("left_square_bracket", "batch_smaller", "batch size", key_display="[", group=BATCH_GROUP),
        Binding("right_square_bracket", "batch_larger", "batch size", key_display="]", group=BATCH_GROUP),
        Binding("less_than_sign", "lr_half", "lr", key_display="<", group=LR_GROUP),
        Binding("greater_than_sign", "lr_double", "lr", key_display=">", group=LR_GROUP),
        Binding("o", "cycle_optimizer", "optimizer", show=False),
        Binding("m", "cycle_sampling", "sampling", show=False),
        Binding("r", "reset", "reset"),
        Binding("k", "close", "main"),
        Binding("escape", "close", "main", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("p", "no_phase", "phase", show=False),
    ]

    def __init__(self, scenario: Scenario, *, runs: int = DEFAULT_RUNS, speed: float | None = DEFAULT_SPEED,
                 name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.ens = Ensemble.seeds(scenario, runs, align="steps", band=True, eval_policy=EVAL_POLICY)   # ScenarioError: the caller says it
        self.collection = self.ens
        self.batch_trail = BatchTrail()      # [ and ] as on the main screen
        self.init_tick_loop(speed)

    def on_unmount(self) -> None:
        """Closed: the runs' K × N arrays go back now (the widgets' worker threads may keep the
        collection itself a while; issue 24)."""
        self.ens.release()
        give_back_soon(self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="cloud-main"):
            yield StatusHeader(id="cloud-header")
            yield CloudReadout(id="cloud-readout")
            yield CountersLine(id="cloud-counters")
            with Horizontal(id="cloud-panels"):
                yield LandscapeView(id="cloud-landscape")
                yield LossPlot(id="cloud-plot", x_axis="steps")
        yield Static(f"the noise cloud needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT} (k goes back)",
                     id="cloud-too-small")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.header = self.query_one("#cloud-header", StatusHeader)
        self.readout = self.query_one("#cloud-readout", CloudReadout)
        self.counters = self.query_one("#cloud-counters", CountersLine)
        self.landscape = self.query_one("#cloud-landscape", LandscapeView)
        self.plot = self.query_one("#cloud-plot", LossPlot)
        self.landscape.border_title = f"{self.ens.runs} runs on the loss landscape"
        self.plot.border_title = "loss band of the runs (full training set)"
        self.watch_plots(self.landscape, self.plot)
        self._ready = True
        self.redraw(force=True)

    # --- drawing ------------------------------------------------------------------------------
    def run_state(self) -> tuple[str, str]:
        """The state text and its kind (a header style: running, paused, done, error)."""
        ens = self.ens
        if ens.done:
            diverged = sum(s == "diverged" for s in ens.status)
            if diverged:
                return f"{diverged} of {ens.runs} diverged — r to start again", "error"
            return "finished — r to start again", "done"
        if self.running:
            if self.goal is not None:
                return "running to the end of the epoch ×max — space to stop", "running"
            return f"running {speed_label(self.speed)} — space to pause", "running"
        return "paused — space to run", "paused"

    def redraw(self, *, force: bool = False, plots: bool = True) -> None:
        """Readout and counters now; the plots when due. Everything derives from the revision."""
        if not self._ready:
            return
        ens = self.ens
        key = (ens.revision, self.app.theme)
        state, kind = self.run_state()
        self.header.show(ens, state=state, kind=kind)
        self.readout.show(ens)
        if force or key != self._key:
            self._key = key
            self.counters.show(ens)
            self.mark_plots_dirty()
            self.frames += 1
        if plots:
            self.draw_due_plots(force)

    # --- keys (the run keys are TickLoop's; a tick is one step of every run) ----------------------
    def _change(self, what: str, **changes: Any) -> None:
        """One live change for all K runs (the engine refuses a bad one with the lone run's
        message); the screen redraws from the new revision."""
        self.pause()
        try:
            self.ens.check_changes(**changes)
            self.ens.apply_changes(**changes)
        except ScenarioError as err:
            self.app.bell()
            self.notify(visible(str(err)), severity="error", markup=False)
            return
        self.forget("settings")
        self.redraw(force=True)
        self.notify(visible(f"all {self.ens.runs} runs: {what}"), timeout=3, markup=False)

    def _batch(self, new: int) -> None:
        b = self.ens.scenario.batch_size
        if new == b:
            self.app.bell()
            self.notify(f"B = {b} already", severity="warning", timeout=3)
            return
        self._change(f"B {b} → {new}", batch_size=new)

    def action_batch_smaller(self) -> None:
        """``[``: as on the main screen (tui.live.BatchTrail: back to where ``]`` came from)."""
        self._batch(self.batch_trail.target(self.ens.scenario.batch_size, self.ens.n_samples, -1))

    def action_batch_larger(self) -> None:
        """``]``: as on the main screen (tui.live.BatchTrail)."""
        self._batch(self.batch_trail.target(self.ens.scenario.batch_size, self.ens.n_samples, +1))

    def action_lr_half(self) -> None:
        lr = self.ens.scenario.lr
        self._change(f"lr {lr:g} → {lr / 2:g}", lr=lr / 2)

    def action_lr_double(self) -> None:
        lr = self.ens.scenario.lr
        self._change(f"lr {lr:g} → {lr * 2:g}", lr=lr * 2)

    def action_cycle_optimizer(self) -> None:
        new = next_optimizer(self.ens.scenario.optimizer)
        self._change(f"optimizer {new} (fresh state)", optimizer=new)

    def action_cycle_sampling(self) -> None:
        new = next_sampling(self.ens.scenario.sampling, self.ens.dataset.task == "classification")
        self._change(f"sampling {new}", sampling=new)
