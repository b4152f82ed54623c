"""Changing the run from inside the app: live keys, settings, presets, files and screenshots.

Two halves:

* functions that take a :class:`~engine.Simulation`, change one setting live with
  ``sim.apply_changes`` (the parameters are kept) and return the notification text saying what
  changed and what it means: :func:`batch_smaller` / :func:`batch_larger` (keys ``[`` ``]``),
  :func:`lr_half` / :func:`lr_double` (``<`` ``>``), :func:`cycle_optimizer` (``o``) and
  :func:`cycle_sampling` (``m``). A value the engine refuses raises its
  :class:`~engine.ScenarioError`; at an end (B = 1 and ``[``) nothing changes and the text says so;
* :class:`LiveActions`, a mixin for the App with one ``action_*`` per key and per command of the
  palette (tui/commands.py). It needs from the App: ``self.sim``, ``self.replace_simulation(sim)``
  (a new run: data, model, seed, a preset), ``self.refresh_all()`` (redraw after a live change),
  ``self.running`` / ``self.pause()`` / ``self.start_running()``, and the panels
  ``self.lossplot`` (``set_x_axis``) and ``self.landscape`` (``set_params``).

Nothing a user does here can end the app or lose the run: every refusal is a notification.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mbsim.engine import ScenarioError, Simulation
from mbsim.engine.errors import visible
from mbsim.engine.live import (
    next_batch_size, next_optimizer, next_sampling, previous_batch_size,
)
from mbsim.engine.rules import TUI_POLICY as EVAL_POLICY
from mbsim.engine.scenario import load_preset

# the words for settings and changes live in tui.changes (the settings screen uses them too)
from .changes import algorithm_words, batching_summary, check_live, describe_changes, fmt, plural  # noqa: F401

if TYPE_CHECKING:
    from .screens.settings import SettingsResult

#: What each sampling means, in a few words (notifications and the settings screen).
SAMPLING_MEANING: dict[str, str] = {
    "reshuffle": "a new random order every epoch",
    "once": "shuffled once, then the same order every epoch",
    "sequential": "the same order every epoch, never shuffled",
    "replacement": "random draws with replacement: some samples twice, some not at all",
    "stratified": "every batch keeps the class proportions",
}

X_AXIS_MEANING: dict[str, str] = {
    "steps": "optimizer steps (parameter updates)",
    "epochs": "epochs (fractions within an epoch)",
    "samples": "samples seen (repeats counted)",
}


# ---------------------------------------------------------------------------------------------
# the live keys: each changes one setting from the next iteration on and says what it means
def _apply(sim: Simulation, **changes: Any) -> None:
    check_live(sim, changes)
    sim.apply_changes(**changes)


def set_batch_size(sim: Simulation, batch_size: int) -> str:
    """Change B live; the text says what B gives: "B = 8: 25 batches per epoch, mini-batch GD"."""
    _apply(sim, batch_size=batch_size)
    return f"B = {batch_size}: {batching_summary(sim.plan)}"


def batch_larger(sim: Simulation) -> str:
    """``]``: B to the next power of two, or to N (then it stays at N and says so)."""
    n = sim.dataset.n_samples
    b = sim.scenario.batch_size
    new = next_batch_size(b, n)
    if new == b:
        return f"B = {b} already: all {n:,} samples in one batch ({algorithm_words(sim.plan.algorithm)})"
    return set_batch_size(sim, new)


def batch_smaller(sim: Simulation) -> str:
    """``[``: B to the previous power of two (at 1 it stays 1 and says so)."""
    n = sim.dataset.n_samples
    b = sim.scenario.batch_size
    new = previous_batch_size(b, n)
    if new == b:
        return f"B = 1 already: one sample per batch ({algorithm_words(sim.plan.algorithm)}), the smallest"
    return set_batch_size(sim, new)


class BatchTrail:
    """What ``[`` and ``]`` do to a batch size, wherever they are pressed (the main screen, the
    noise cloud): the next power of two that way, but after the other key, back to the batch
    size it left (5 → ] → 8 → ] → 16 → [ → 8 → [ → 5, not 4). One trail per run shown."""

    def __init__(self) -> None:
        self.moves: list[tuple[int, int, int]] = []      # (B after, B before, direction)

    def target(self, batch_size: int, n_samples: int, direction: int) -> int:
        """The batch size ``[`` (direction −1) or ``]`` (+1) goes to from ``batch_size``
        (``batch_size`` itself at an end: B = 1, B = N). Remembers the move."""
        moves = self.moves
        if moves and moves[-1][0] == batch_size and moves[-1][2] == -direction:
            return moves.pop()[1]
        step = next_batch_size if direction > 0 else previous_batch_size
        new = step(batch_size, n_samples)
        if new != batch_size:
            moves.append((new, batch_size, direction))
        return new


def set_lr(sim: Simulation, lr: float) -> str:
    """Change the learning rate live (the engine refuses one out of range): "lr 0.05 → 0.1"."""
    old = sim.scenario.lr
    _apply(sim, lr=lr)                          # the engine refuses a bad lr with its message
    text = f"lr {old:g} → {lr:g}"
    if sim.scenario.schedule != "constant":
        text += f" (the base of the {sim.scenario.schedule} schedule)"
    return text


def lr_double(sim: Simulation) -> str:
    """``>``: twice the learning rate."""
    return set_lr(sim, sim.scenario.lr * 2)


def lr_half(sim: Simulation) -> str:
    """``<``: half the learning rate."""
    return set_lr(sim, sim.scenario.lr / 2)


def cycle_optimizer(sim: Simulation) -> str:
    """``o``: the next optimizer (its default momentum), from a fresh state; parameters kept."""
    _apply(sim, optimizer=next_optimizer(sim.scenario.optimizer))
    return f"optimizer: {sim.optimizer.describe()} (fresh state; parameters kept)"


def cycle_sampling(sim: Simulation) -> str:
    """``m``: the next sampling (stratified only for a classification)."""
    new = next_sampling(sim.scenario.sampling, sim.dataset.task == "classification")
    _apply(sim, sampling=new)
    return f"sampling: {new} — {SAMPLING_MEANING.get(new, new)}"


def scenario_to_save(sim: Simulation) -> Any:
    """The scenario in force, described truthfully: after live changes the first description
    (written for the first settings, e.g. "batches of 5") gives way to what changed."""
    from mbsim.engine.scenario import LIVE_SETTINGS

    first, now = sim.segments[0].scenario, sim.scenario
    changes = {k: getattr(now, k) for k in sorted(LIVE_SETTINGS) if getattr(first, k) != getattr(now, k)}
    if not changes:
        return now
    return now.replace(description=f"{first.name} with {describe_changes(first, changes)} (changed live)")


def screenshot_name(now: datetime | None = None, folder: str | Path = ".") -> str:
    """``mbsim-2025-01-31-142501.svg``, with ``-2``, ``-3``… if that name is taken in ``folder``
    (a link counts, dangling or not). Only a proposal: the file is created exclusively."""
    stamp = (now or datetime.now()).strftime("%Y-%m-%d-%H%M%S")
    name = f"mbsim-{stamp}.svg"
    k = 2
    while os.path.lexists(Path(folder) / name):
        name = f"mbsim-{stamp}-{k}.svg"
        k += 1
    return name


def restart_note(before: Any, sim: Simulation) -> str:
    """What a live change did to the epoch in progress, when it cut one short: the engine starts
    every change of settings on a fresh epoch (a new segment: its plan, its order), so the
    counters go back to Batch 0 of the same epoch. "" when no epoch was in progress."""
    if before.batch in (0, before.batches) or sim.counters().batch != 0:
        return ""
    return (f" · new settings start epoch {sim.counters().epoch} afresh: Batch 0/{sim.plan.iterations_per_epoch},"
            f" a new order (the {plural(before.batch, 'batch', 'batches')} done stay done)")


# ---------------------------------------------------------------------------------------------
class LiveActions:
    """Actions for the App (inherit it first: ``class MbsimApp(LiveActions, App)``).

    Keys to bind (DESIGN.md): ``[`` batch_smaller, ``]`` batch_larger, ``<`` lr_half,
    ``>`` lr_double, ``o`` cycle_optimizer, ``m`` cycle_sampling, ``s`` settings; the command
    palette (tui.commands.MbsimCommands) calls load_preset(name), x_axis(name),
    landscape_params(i, j), save_scenario, screenshot and settings.
    """

    sim: Simulation
    NOTIFY_TIMEOUT = 4.0

    # -- what the App provides ------------------------------------------------------------
    def replace_simulation(self, sim: Simulation) -> None:  # pragma: no cover - the App's
        """Make ``sim`` the run shown (pause, tell the panels "reset", redraw)."""
        raise NotImplementedError

    def refresh_all(self) -> None:  # pragma: no cover - the App's
        """Redraw every panel after a live change (tell them "settings")."""
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------
    def _tell(self, text: str, severity: str = "information", replace: bool = True) -> None:
        if replace:
            self.clear_notifications()  # type: ignore[attr-defined]
        self.notify(visible(text), severity=severity, timeout=self.NOTIFY_TIMEOUT, markup=False)  # type: ignore[attr-defined]

    def _refuse(self, text: str) -> None:
        self.bell()  # type: ignore[attr-defined]
        self._tell(text, severity="error", replace=False)

    def _live(self, change: Callable[[Simulation], str]) -> None:
        """Apply one live key: notify what it did, or why not (nothing else changes)."""
        sim = self.sim
        before = sim.segment
        done = sim.counters()
        try:
            text = change(sim)
        except ScenarioError as err:
            self._refuse(str(err))
            return
        if sim.segment is before:          # at an end: nothing changed
            self.bell()  # type: ignore[attr-defined]
            self._tell(text, severity="warning")
            return
        self.refresh_all()
        self._tell(text + restart_note(done, sim))

    def _new_simulation(self, scenario: Any, what: str) -> bool:
        """Start a new run of ``scenario``; a refusal (bad file, bad settings) keeps the old one."""
        try:
            sim = Simulation(scenario, eval_policy=EVAL_POLICY)
        except ScenarioError as err:
            self._refuse(str(err))
            return False
        except Exception as err:  # noqa: BLE001 - never lose the run to a bad input
            self._refuse(f"{what} could not start: {type(err).__name__}: {err}")
            return False
        self.replace_simulation(sim)
        return True

    # -- live keys -------------------------------------------------------------------------
    def action_batch_smaller(self) -> None:
        """``[``: batch size to the previous power of two (or back to where ``]`` came from)."""
        self._live(lambda sim: self._batch_step(sim, -1))

    def action_batch_larger(self) -> None:
        """``]``: batch size to the next power of two, N at the end (or back to where ``[``
        came from)."""
        self._live(lambda sim: self._batch_step(sim, +1))

    def _batch_step(self, sim: Simulation, direction: int) -> str:
        """``[`` / ``]`` through the run's :class:`BatchTrail` (a new run starts a new trail)."""
        b = sim.scenario.batch_size
        trail = getattr(self, "_batch_trail", None)        # (simulation, its trail)
        if trail is None or trail[0] is not sim:
            trail = self._batch_trail = (sim, BatchTrail())
        new = trail[1].target(b, sim.dataset.n_samples, direction)
        if new == b:       # at an end: the text says so
            return batch_larger(sim) if direction > 0 else batch_smaller(sim)
        return set_batch_size(sim, new)

    def action_lr_half(self) -> None:
        """``<``: half the learning rate."""
        self._live(lr_half)

    def action_lr_double(self) -> None:
        """``>``: twice the learning rate."""
        self._live(lr_double)

    def action_cycle_optimizer(self) -> None:
        """``o``: the next optimizer."""
        self._live(cycle_optimizer)

    def action_cycle_sampling(self) -> None:
        """``m``: the next sampling."""
        self._live(cycle_sampling)

    # -- settings --------------------------------------------------------------------------
    def action_settings(self) -> None:
        """``s``: the settings screen; the run pauses while it is open and resumes after a live change."""
        from .screens.settings import SettingsScreen

        if isinstance(self.screen, SettingsScreen):  # type: ignore[attr-defined]
            return
        was_running = bool(getattr(self, "running", False))
        if was_running:
            self.pause()  # type: ignore[attr-defined]
        self.push_screen(  # type: ignore[attr-defined]
            SettingsScreen(self.sim), lambda result: self.apply_settings(result, resume=was_running)
        )

    def apply_settings(self, result: SettingsResult | None, resume: bool = False) -> None:
        """Apply what the settings screen returned (None: cancelled, nothing changes)."""
        if result is not None and result.changes:
            sim = self.sim
            text = result.summary or describe_changes(sim.scenario, result.changes)
            if result.restart:
                scenario = result.scenario
                if scenario.description == sim.scenario.description:   # written for the old settings
                    scenario = scenario.replace(description=f"{scenario.name} with {text}")
                if self._new_simulation(scenario, "the new simulation"):
                    self._tell(f"new simulation: {text}")
                return
            try:
                _apply(sim, **result.changes)
            except ScenarioError as err:
                self._refuse(str(err))
            else:
                self.refresh_all()
                self._tell(f"{text} — from the next step, parameters kept")
        if resume and not self.sim.done:
            self.start_running()  # type: ignore[attr-defined]

    # -- palette ---------------------------------------------------------------------------
    def action_load_preset(self, name: str) -> None:
        """A built-in scenario, as a new run."""
        try:
            scenario = load_preset(name)
        except ScenarioError as err:
            self._refuse(str(err))
            return
        if self._new_simulation(scenario, f"preset {name}"):
            self._tell(f"preset {name}: {scenario.description}")

    def action_x_axis(self, name: str) -> None:
        """Count the loss plot's x axis in "steps", "epochs" or "samples"."""
        try:
            self.lossplot.set_x_axis(name)  # type: ignore[attr-defined]
        except ValueError as err:
            self._refuse(str(err))
            return
        self._tell(f"loss plot x axis: {X_AXIS_MEANING.get(name, name)}")

    def action_landscape_params(self, i: int, j: int) -> None:
        """Show the loss landscape over parameters i and j (indices of ``sim.model.param_names``)."""
        names = self.sim.model.param_names
        n = len(names)
        if not (isinstance(i, int) and isinstance(j, int) and 0 <= i < n and 0 <= j < n and i != j):
            self._refuse(f"landscape: choose two different parameters from 0 to {n - 1}, not {i} and {j}")
            return
        try:
            self.landscape.set_params(i, j)  # type: ignore[attr-defined]
        except ValueError as err:
            self._refuse(str(err))
            return
        self._tell(f"landscape: {names[i]} (across) × {names[j]} (up)")

    def action_save_scenario(self) -> None:
        """Ask for a path and save the scenario in force as TOML. In a browser (``mbsim serve``)
        the TOML is offered as a download instead: a web session never writes the server's files."""
        from .screens.save import SavePrompt, default_filename

        if getattr(self, "is_web", False):
            scenario = scenario_to_save(self.sim)
            self.offer_download(scenario.to_toml(), default_filename(scenario), "application/toml")
            return
        if isinstance(self.screen, SavePrompt):  # type: ignore[attr-defined]
            return

        def saved(path: Path | None) -> None:
            if path is not None:
                self._tell(f"scenario saved to {path} (open it with: mbsim --scenario {path})", replace=False)

        self.push_screen(SavePrompt(scenario_to_save(self.sim)), saved)  # type: ignore[attr-defined]

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG screenshot of the screen shown (main, compare, help, settings…) in the
        working directory and say where. The file is created exclusively (tui.files): an
        existing name or a planted link is never followed nor replaced; the next free name is
        taken. In a browser (``mbsim serve``: Textual's web driver) the SVG is offered as a
        download instead (``App.deliver_text``), never written on the server.
        """
        from .files import create_numbered

        if getattr(self, "is_web", False):  # the name is only a proposal to the browser
            name = os.path.basename(filename or "") or screenshot_name(folder="/nonexistent")
            self.offer_download(self.export_screenshot(), name, "image/svg+xml")  # type: ignore[attr-defined]
            return
        folder = Path(path) if path else Path.cwd()
        name = filename or f"mbsim-{datetime.now().strftime('%Y-%m-%d-%H%M%S')}.svg"
        stem, suffix = os.path.splitext(name)
        try:
            svg = self.export_screenshot()  # type: ignore[attr-defined]
            saved = create_numbered(folder, stem, suffix or ".svg", svg)
        except OSError as err:
            self._refuse(f"screenshot not saved: {err.strerror or err} ({folder})")
            return
        self._tell(f"screenshot saved: {os.path.abspath(saved)}", replace=False)

    def offer_download(self, text: str, name: str, mime_type: str) -> None:
        """In a browser: offer ``text`` as a file the browser downloads (``App.deliver_text``,
        textual-serve's single-use ``/download/{key}``) and say so. Nothing touches the server's
        files: this is how a web session saves anything."""
        self.deliver_text(io.StringIO(text), save_filename=name,  # type: ignore[attr-defined]
                          open_method="download", mime_type=mime_type, encoding="utf-8")
        self._tell(f"offered as a download: {name} (your browser saves it)", replace=False)

    # -- system commands: Textual's, with its Screenshot replaced by ours (working directory)
    def get_system_commands(self, screen: Any) -> Iterable[Any]:
        for command in super().get_system_commands(screen):  # type: ignore[misc]
            if command.title != "Screenshot":
                yield command
