"""The batch-size lab (key ``b``): steps against examples to reach a loss, over batch sizes.

The screen runs :class:`engine.lab.Lab` on the app's scenario in a worker thread (Textual
workers), so the UI answers while it works: the thread posts :class:`~tui.messages.LabProgress`
(a progress bar: the batch size in work, runs done of all, ETA) and, at the end,
:class:`~tui.messages.LabFinished`. Escape while it runs stops it and keeps the batch sizes
done (the lab checks ``cancelled()`` every 64 steps); escape (or ``b``) then returns to the main
screen; ``r`` runs the sweep again.

Then it shows two plots — steps against examples, log–log, with the fitted hyperbola, the three
regimes and B_simple's ray (:class:`~tui.widgets.lab_tradeoff.TradeoffPlot`), and the time per
step and to the target under the hardware model (:class:`~tui.widgets.lab_hardware.HardwarePlot`)
— and the numbers (:class:`~tui.widgets.lab_summary.LabSummary`): the fit, B_crit next to
B_simple and the two-batch estimate, the hardware formula with its defaults, and the limits.
The science is the engine's; this screen only draws it.
"""

from __future__ import annotations

import threading
from typing import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, Static

from mbsim.engine.errors import ScenarioError, visible
from mbsim.engine.lab import DEFAULT_RUNS, TUNED_FACTORS, Hardware, Lab, LabResult, Progress
from mbsim.engine.scenario import Scenario

from ..memory_views import give_back_soon, lab_runs
from ..messages import LabFinished, LabProgress
from ..widgets.lab_hardware import HardwarePlot
from ..widgets.lab_header import LabHeader
from ..widgets.lab_summary import LabSummary
from ..widgets.lab_tradeoff import TradeoffPlot


def eta_text(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    return f"{s}s" if s < 60 else f"{s // 60}:{s % 60:02d}"


def rule_text(rule: str, lr: float, batch: int) -> str:
    """The learning-rate rule in a few words, with the scenario's lr and B (engine.lab.LR_RULES)."""
    if rule == "tuned":
        return f"lr tuned per B (best of {lr:g} × {TUNED_FACTORS[0]:g} … {TUNED_FACTORS[-1]:g})"
    return {"constant": f"lr {lr:g} for every B", "linear": f"lr {lr:g}·B/{batch} (Goyal et al.)",
            "sqrt": f"lr {lr:g}·√(B/{batch})"}[rule]


class LabScreen(Screen[None]):
    """The batch-size lab (see the module docstring)."""

    CSS_PATH = "lab.tcss"
    BINDINGS = [
        Binding("escape", "stop_or_close", "stop / back"),
        # the main screen's keys act on its run, which is not shown here: they wait
        Binding("space,n,right,e,p,left,backspace,plus,equals_sign,minus,left_square_bracket,"
                "right_square_bracket,less_than_sign,greater_than_sign,o,m,s,c,l,d,a,k",
                "main_only", show=False),
        Binding("b", "close", "main"),
        Binding("r", "rerun", "run again"),
    ]

    def __init__(self, scenario: Scenario, *, runs: int = DEFAULT_RUNS, lr_rule: str = "tuned",
                 batch_sizes: Sequence[int] | None = None, target_loss: float | None = None,
                 hardware: Hardware | None = None, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.scenario = scenario
        self.options = dict(runs=runs, lr_rule=lr_rule, batch_sizes=batch_sizes,
                            target_loss=target_loss if target_loss else None)
        self.hardware = hardware or Hardware()
        self.lab: Lab | None = None
        self.result: LabResult | None = None
        self.running = False
        self.progress_seen = 0                 # progress messages received (tests)
        self._cancel = threading.Event()
        self._error = ""

    def compose(self) -> ComposeResult:
        with Vertical(id="lab-main"):
            yield LabHeader(id="lab-header")
            with Horizontal(id="lab-progress-row"):
                yield ProgressBar(id="lab-progress", show_eta=False, show_percentage=True)
                yield Static("", id="lab-progress-text", markup=False)
            with Horizontal(id="lab-plots"):
                yield TradeoffPlot(id="lab-tradeoff")
                yield HardwarePlot(id="lab-hardware")
            yield LabSummary(id="lab-summary")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#lab-tradeoff").border_title = "steps vs examples to the target (log–log, ● B)"
        self.query_one("#lab-hardware").border_title = "time vs B (hardware model)"
        self.start()

    def on_unmount(self) -> None:
        self._cancel.set()
        give_back_soon(self.app)      # the lab's runs, once its worker has stopped (memory_views)

    # ------------------------------------------------------------------------------------------
    def _settings_text(self) -> str:
        lab = self.lab
        n = lab.n_samples if lab is not None else self.scenario.samples
        name = visible(self.scenario.name or "scenario")
        sc = self.scenario
        return (f"{name} · N={n} · {self.options['runs']} runs per B · "
                f"{rule_text(self.options['lr_rule'], sc.lr, sc.batch_size * sc.accumulate)}")

    def _target_text(self) -> str:
        lab = self.lab
        if lab is None or lab.target_loss is None:
            return "target loss: choosing (a pilot run per batch size)…"
        how = "given" if lab.target_rule == "given" else "chosen: the slowest B's pilot level + ½ spread"
        return f"target loss {lab.target_loss:.4g}, checked after every step ({how})"

    def _show_header(self, state: str, kind: str) -> None:
        self.query_one(LabHeader).show(self._settings_text(), self._target_text(), state, kind)

    def start(self) -> None:
        """(Re)start the sweep in a worker thread."""
        self._cancel = threading.Event()
        self.result = None
        cands = len(TUNED_FACTORS) if self.options["lr_rule"] == "tuned" else 1
        runs, note = lab_runs(self.scenario, self.options["runs"], cands)   # the view's memory share
        if not runs:
            self._error = note
            self._show_header(f"cannot run: {visible(note)}", "error")
            return
        if note:
            self.options["runs"] = runs
            self.notify(visible(note), markup=False, timeout=8)
        try:
            self.lab = Lab(self.scenario, hardware=self.hardware, **self.options)
        except ScenarioError as err:
            self._error = str(err)
            self._show_header(f"cannot run: {visible(self._error)}", "error")
            return
        self.running = True
        bar = self.query_one(ProgressBar)
        bar.update(total=self.lab.runs_total(), progress=0)
        self.query_one("#lab-progress-text", Static).update("choosing the target loss…")
        self._show_header("running", "running")
        self.query_one(TradeoffPlot).show(None)
        self.query_one(HardwarePlot).show(None)
        self.query_one(LabSummary).show(None, self.hardware)
        lab, cancel = self.lab, self._cancel
        self.run_worker(lambda: self._sweep(lab, cancel), thread=True, exclusive=True, group="lab",
                        name="batch-size lab")

    def _sweep(self, lab: Lab, cancel: threading.Event) -> None:
        """The worker thread: run the lab, post progress and the result (never touches widgets)."""
        try:
            lab.run(progress=lambda p: self.post_message(LabProgress(p)), cancelled=cancel.is_set)
        except KeyboardInterrupt:
            pass
        except ScenarioError as err:
            self.post_message(LabFinished(None, str(err)))
            return
        self.post_message(LabFinished(lab.result()))

    # ------------------------------------------------------------------------------------------
    def on_lab_progress(self, message: LabProgress) -> None:
        p: Progress = message.progress  # type: ignore[assignment]
        if not self.running:
            return
        self.progress_seen += 1
        bar = self.query_one(ProgressBar)
        bar.update(total=p.runs_total, progress=p.runs_done)
        if p.phase == "pilot":
            text = f"choosing the target loss: pilot run B = {p.batch_size} ({p.point + 1}/{p.points})"
        else:
            text = f"B = {p.batch_size} ({p.point + 1}/{p.points}) · runs {p.runs_done}/{p.runs_total} · ETA {eta_text(p.eta)}"
            self._show_header("running", "running")
        self.query_one("#lab-progress-text", Static).update(text)

    def on_lab_finished(self, message: LabFinished) -> None:
        self.running = False
        if message.result is None:
            self._show_header(f"cannot run: {visible(message.error)}", "error")
            return
        r: LabResult = message.result  # type: ignore[assignment]
        self.result = r
        done = len(r.points)
        bar = self.query_one(ProgressBar)
        total = len(r.batch_sizes)
        if r.complete:
            bar.update(progress=bar.total)
            text = f"done: {done} batch sizes × {r.runs} runs"
            state, kind = "finished", "done"
        else:
            text = f"stopped: {done} of {total} batch sizes done (r runs again)"
            state, kind = f"stopped after {done} of {total} batch sizes", "error"
        self.query_one("#lab-progress-text", Static).update(text)
        self._show_header(state, kind)
        plot = self.query_one(TradeoffPlot)
        plot.show(r)
        plot.border_subtitle = (f"─ fit · ┼ B_crit/4, 4·B_crit · ··· B_simple {r.b_simple_start:.3g} (start), "
                                f"{r.b_simple_target:.3g} (target)" if r.b_simple_target is not None else
                                f"─ fit · ┼ B_crit/4, 4·B_crit · ··· B_simple {r.b_simple_start:.3g} (start)")
        self.query_one(HardwarePlot).show(r)
        self.query_one(LabSummary).show(r)

    # ------------------------------------------------------------------------------------------
    def action_stop_or_close(self) -> None:
        """Escape: stop a running sweep (keeping what is done), else back to the main screen."""
        if self.running:
            self._cancel.set()
            self.query_one("#lab-progress-text", Static).update("stopping… (keeping the batch sizes done)")
            return
        self.action_close()

    def action_close(self) -> None:
        self._cancel.set()
        if self.app.screen is self:
            self.app.pop_screen()

    def action_main_only(self) -> None:
        self.notify("that key works on the main screen (b or escape goes back)", timeout=2)

    def action_rerun(self) -> None:
        if self.running:
            return
        self.start()
