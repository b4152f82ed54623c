"""The settings screen (``s``): every setting of the scenario, checked by the engine as it is typed.

Numbers are inputs, choices are selects, yes/no settings are switches, grouped as batching,
optimizer, data, model and run. Every value goes through the engine's own
:func:`~engine.scenario.parse_value` and :meth:`~engine.Scenario.validate`, and a refusal is shown
under the field it names, in the engine's words. Apply is disabled while anything is invalid (or
nothing changed); escape or Cancel leave without change. Before Apply the status line says what
will happen: the change "applies at the next step, parameters kept" (only settings that
``Simulation.apply_changes`` takes live), or it "starts a new simulation" (data, model, seed).

The screen changes nothing itself: it dismisses with a :class:`SettingsResult` (or None), and
the app applies it (tui.live.LiveActions.apply_settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static, Switch

from rich.markup import escape

from mbsim.engine import Scenario, ScenarioError, Simulation
from mbsim.engine.errors import visible
from mbsim.engine.datasets import DATASETS
from mbsim.engine.live import LIVE_SETTINGS, classify_changes
from mbsim.engine.models import ACTIVATIONS
from mbsim.engine.optimizers import OPTIMIZERS
from mbsim.engine.sampling import EPOCH_ENDS, SAMPLINGS
from mbsim.engine.scenario import MODELS, MOMENTUM_OPTIMIZERS, field_help, field_kind, parse_value
from mbsim.engine.schedules import SCHEDULES

from ..changes import check_live, describe_changes, fmt


@dataclass(frozen=True)
class SettingsResult:
    """What the settings screen asks for.

    ``changes``: the settings whose value changes (automatic values as ``"auto"`` / None, as the
    engine takes them); ``restart``: True when they need a new simulation (then run
    ``Simulation(scenario)``), False when ``sim.apply_changes(**changes)`` applies them live;
    ``scenario``: the whole scenario asked for; ``summary``: the changes in words, automatic
    values resolved ("batch_size 5 → 8, optimizer sgd → adam, momentum 0.9 → 0").
    """

    changes: dict[str, Any] = field(default_factory=dict)
    restart: bool = False
    scenario: Scenario | None = None
    summary: str = ""


#: (group, what changing it does, settings), in the order shown (two columns when wide).
GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("batching", "live", ("batch_size", "sampling", "drop_last", "steps_per_epoch", "epoch_end",
                             "accumulate")),
    ("optimizer", "live", ("optimizer", "lr", "momentum", "weight_decay", "schedule", "decay_steps",
                           "decay_rate", "warmup_steps")),
    ("data", "new simulation", ("dataset", "samples", "val_samples", "noise", "positive_fraction",
                                "sort_by_class", "target", "standardize")),
    ("model", "new simulation", ("model", "hidden", "activation", "bias")),
    ("run", "seed, eval_every: new simulation", ("epochs", "target_loss", "eval_every", "seed")),
)
LEFT_GROUPS = ("batching", "optimizer")
SETTINGS: tuple[str, ...] = tuple(key for _, _, keys in GROUPS for key in keys)

CHOICES: dict[str, tuple[str, ...]] = {
    "dataset": DATASETS, "model": MODELS, "activation": ACTIVATIONS, "sampling": SAMPLINGS,
    "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "epoch_end": EPOCH_ENDS,
}

FIRST_FOCUS = "batch_size"


def hint_for(key: str) -> str:
    """One line about a setting: what it is and whether changing it is live."""
    text = field_help(key)
    when = "live" if key in LIVE_SETTINGS else "new simulation"
    return f"{key}: {text} · {when}" if text else f"{key} · {when}"


def default_momentum(optimizer: str) -> float:
    """The momentum an optimizer gets when none is given (as Scenario.resolved)."""
    return 0.9 if optimizer in ("momentum", "nesterov") else 0.0


def _as_text(value: Any) -> str:
    """A value as an input shows it: short, and parsed back to exactly the same value."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return "" if value is None else str(value)


def form_values(sim: Simulation) -> dict[str, Any]:
    """The values the form starts from: the scenario in force, automatic choices shown as such."""
    sc = sim.scenario
    values = {key: getattr(sc, key) for key in SETTINGS}
    auto_model = "logistic" if sim.dataset.task == "classification" else "linear"
    if values["model"] == auto_model:
        values["model"] = "auto"
    if values["momentum"] == default_momentum(sc.optimizer):
        values["momentum"] = None
    return values


class SettingField:
    """The widgets of one setting in its group's grid: its name, its control, what it was, and
    the engine's message under it (hidden while there is none). Updates only what changed."""

    def __init__(self, key: str, control: Widget) -> None:
        self.key = key
        self.control = control
        self.label = Static(key, classes="field-label", markup=False, id=f"label-{key}")
        self.was = Static("", classes="field-was", markup=False)
        self.onoff = Static("", classes="field-onoff", markup=False) if isinstance(control, Switch) else None
        self.message_widget = Static("", classes="field-message", markup=False, id=f"message-{key}")
        self.was_text = ""
        self.message = ""
        self._onoff_text = ""

    def widgets(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield self.label
            yield self.control
            if self.onoff is not None:
                yield self.onoff
            yield self.was
        yield self.message_widget

    def show(self, *, was: str | None, message: str | None, onoff: str | None = None) -> None:
        was_text = f"was {was}" if was is not None else ""
        message = message or ""
        self.label.set_class(bool(was_text), "-changed")
        self.label.set_class(bool(message), "-invalid")
        if isinstance(self.control, Input):
            self.control.set_class(bool(message), "-invalid")
        if was_text != self.was_text:
            self.was_text = was_text
            self.was.update(was_text, layout=False)
        if message != self.message:
            appeared = message and not self.message
            self.message = message
            self.message_widget.update(message)
            self.message_widget.display = bool(message)
            if appeared and self.control.has_focus:
                self.message_widget.call_after_refresh(self.message_widget.scroll_visible, animate=False)
        if self.onoff is not None and onoff is not None and onoff != self._onoff_text:
            self._onoff_text = onoff
            self.onoff.update(onoff, layout=False)


class SettingsScreen(ModalScreen[SettingsResult | None]):
    """Every setting of the scenario; see the module docstring."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]
    AUTO_FOCUS = f"#setting-{FIRST_FOCUS}"

    BINDINGS = [
        Binding("escape", "cancel", "cancel"),
        Binding("S", "app.screenshot", "screenshot", show=False),  # a modal screen hides the app's
    ]

    DEFAULT_CSS = """
    SettingsScreen {
        align: center middle;
        background: $background 60%;
    }
    #settings-box {
        width: 118;
        max-width: 100%;
        height: 100%;
        border: round $accent;
        border-title-color: $accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
        padding: 0 1;
    }
    SettingsScreen.-wide.-tall #settings-box { height: auto; }
    #settings-scroll {
        height: 1fr;
        scrollbar-size-vertical: 1;
    }
    SettingsScreen.-wide.-tall #settings-scroll { height: auto; }
    #settings-columns {
        layout: horizontal;
        height: auto;
    }
    SettingsScreen.-narrow #settings-columns { layout: vertical; }
    .settings-column {
        width: 1fr;
        height: auto;
    }
    SettingsScreen.-wide #settings-left { margin-right: 2; }
    .group-title {
        margin-top: 1;
        color: $accent;
        text-style: bold;
    }
    .group-title.-first { margin-top: 0; }
    SettingsScreen.-narrow #settings-right .group-title.-first { margin-top: 1; }
    .group { height: auto; }
    .field-row { height: 1; }
    .field-label { width: 19; height: 1; color: $text; }
    .field-label.-focused { color: $accent; text-style: bold; }
    .field-label.-changed { text-style: bold; }
    .field-label.-invalid { color: $error; }
    .field-row Input, .field-row Select {
        width: 22;
    }
    .field-row Input, .field-row Select > SelectCurrent {
        background: $boost;
    }
    .field-row Input:focus { background: $primary 25%; }
    .field-row Select:focus > SelectCurrent { background: $primary 25%; }
    .field-row SelectOverlay { background: $panel-lighten-1; }
    .field-row Switch {
        border: none;
        padding: 0;
        height: 1;
        width: 6;
        background: transparent;
    }
    .field-row Switch:focus { background: $primary 25%; }
    .field-onoff {
        width: 16;
        padding-left: 1;
        color: $text;
    }
    .field-was {
        width: 1fr;
        height: 1;
        padding-left: 1;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    .field-message {
        display: none;
        color: $error;
        padding-left: 19;
        height: auto;
    }
    #settings-hint {
        height: auto;
        max-height: 3;
        color: $text-muted;
        border-top: solid $panel-lighten-2;
    }
    #settings-bottom {
        height: auto;
    }
    #settings-status {
        width: 1fr;
        height: auto;
        max-height: 2;
        padding-right: 1;
    }
    #settings-status.-live { color: $success; }
    #settings-status.-restart { color: $warning; }
    #settings-status.-invalid { color: $error; }
    #settings-status.-none { color: $text-muted; }
    #settings-bottom Button {
        margin-left: 1;
        min-width: 10;
    }
    #settings-cancel { background: $panel; }
    """

    def __init__(self, sim: Simulation) -> None:
        super().__init__()
        self.sim = sim
        self.base = sim.scenario                      # resolved, live changes included
        self.initial = form_values(sim)
        self.controls: dict[str, Widget] = {}
        self.fields: dict[str, SettingField] = {}
        self.status = ""
        self._status_lines = 0
        self.errors: dict[str, str] = {}
        self.general_error = ""
        self.result: SettingsResult | None = None
        self._ready = False
        # the breakpoint classes from the start, so the first resize does not restyle every field
        width, height = self.app.size
        self.add_class("-wide" if width >= 100 else "-narrow", "-tall" if height >= 36 else "-short")

    # ------------------------------------------------------------------------------------------
    def _make_control(self, key: str) -> Widget:
        value = self.initial[key]
        wid = f"setting-{key}"
        if key in CHOICES:
            options = list(CHOICES[key])
            if value not in options:          # a CSV file: csv:PATH
                options.append(value)
            return Select([(o, o) for o in options], value=value, allow_blank=False, compact=True,
                          id=wid, type_to_search=True)
        if field_kind(key) == "bool":
            return Switch(value=bool(value), animate=False, id=wid)
        placeholder = ""
        if key == "momentum":
            placeholder = f"auto ({default_momentum(self.base.optimizer):g})"
        elif key == "target":
            placeholder = "last column (CSV)"
        field = Input(_as_text(value), placeholder=placeholder, compact=True, id=wid, select_on_focus=True)
        field.cursor_blink = False    # a paused app writes nothing to the terminal (DESIGN.md, SSH)
        return field

    def compose(self) -> ComposeResult:
        with Vertical(id="settings-box") as box:
            box.border_title = f"settings — {escape(visible(self.base.name))}"
            box.border_subtitle = "tab: next · enter: apply · escape: cancel"
            with VerticalScroll(id="settings-scroll"):
                with Horizontal(id="settings-columns"):
                    for column, names in (("left", LEFT_GROUPS), ("right", None)):
                        with Vertical(classes="settings-column", id=f"settings-{column}"):
                            first = True
                            for title, when, keys in GROUPS:
                                if (names is None) == (title in LEFT_GROUPS):
                                    continue
                                yield Static(f"{title} · {when}", classes="group-title" + (" -first" if first else ""),
                                             markup=False)
                                first = False
                                with Vertical(classes="group"):
                                    for key in keys:
                                        control = self._make_control(key)
                                        self.controls[key] = control
                                        self.fields[key] = SettingField(key, control)
                                        yield from self.fields[key].widgets()
            yield Static("", id="settings-hint", markup=False)
            with Horizontal(id="settings-bottom"):
                yield Static("", id="settings-status", markup=False)
                yield Button("Cancel", id="settings-cancel", compact=True)
                yield Button("Apply", id="settings-apply", variant="primary", compact=True, disabled=True)

    def on_mount(self) -> None:
        self._ready = True
        self.revalidate()

    # ------------------------------------------------------------------------------------------
    # reading and checking the form
    def _read(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The typed value of every setting that parses, and the engine's message for the others."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for key, control in self.controls.items():
            if isinstance(control, Select):
                values[key] = control.value if control.value is not Select.NULL else self.initial[key]
            elif isinstance(control, Switch):
                values[key] = bool(control.value)
            else:
                assert isinstance(control, Input)
                try:
                    values[key] = parse_value(key, control.value)
                except ScenarioError as err:
                    errors[key] = str(err)
        return values, errors

    def _data_task(self, candidate: Scenario) -> str | None:
        if candidate.dataset == self.base.dataset:
            return self.sim.dataset.task
        return candidate.task

    def _check(self, candidate: Scenario) -> None:
        """The engine's checks of the whole scenario, and those the data in memory add."""
        candidate.validate()
        if candidate.is_csv and candidate.dataset == self.base.dataset:
            candidate.check_batch_size(self.sim.dataset.n_samples)

    def evaluate(self) -> tuple[SettingsResult | None, dict[str, str], str]:
        """(the result Apply would give or None, messages by setting, a message for no setting)."""
        values, errors = self._read()
        trial = dict(values)
        general = ""
        candidate = self.base.replace(**trial)
        for _ in range(len(SETTINGS) + 1):
            candidate = self.base.replace(**trial)
            try:
                self._check(candidate)
                break
            except ScenarioError as err:
                key = err.setting
                if key in self.controls and key not in errors:
                    errors[key] = str(err)
                    if trial.get(key) != self.initial[key]:
                        trial[key] = self.initial[key]   # assume it valid, to find the next problem
                        continue
                elif key not in self.controls:
                    general = str(err)
                break
        if errors or general:
            return None, errors, general
        task = self._data_task(candidate)
        changes, restart = classify_changes(self.base, candidate, task)
        if not changes:
            return SettingsResult({}, False, candidate), errors, ""
        summary = describe_changes(self.base, changes, candidate.resolved(task))
        if not restart:
            try:
                check_live(self.sim, changes)
            except ScenarioError as err:
                if err.setting in self.controls:
                    errors[err.setting] = str(err)
                else:
                    general = str(err)
                return None, errors, general
        return SettingsResult(changes, restart, candidate, summary), errors, ""

    def revalidate(self) -> None:
        """Check the form and show the messages, what changed and what Apply will do."""
        if not self._ready:
            return
        result, errors, general = self.evaluate()
        self.result, self.errors, self.general_error = result, errors, general
        values, _ = self._read()
        for key, control in self.controls.items():
            fld = self.fields[key]
            changed = key in values and values[key] != self.initial[key]
            if isinstance(control, Input) and key not in values:
                changed = control.value.strip() != _as_text(self.initial[key])
            was = fmt(self.initial[key]) if changed else None
            onoff = ("on" if control.value else "off") if isinstance(control, Switch) else None
            fld.show(was=was, message=errors.get(key), onoff=onoff)
        momentum = self.controls.get("momentum")
        optimizer = values.get("optimizer", self.base.optimizer)
        if isinstance(momentum, Input):
            momentum.placeholder = (f"auto ({default_momentum(optimizer):g})"
                                    if optimizer in MOMENTUM_OPTIMIZERS else "auto (none)")
        self._show_status(result, errors, general, values)

    def _show_status(self, result: SettingsResult | None, errors: dict[str, str], general: str,
                     values: dict[str, Any]) -> None:
        if result is None:
            n = len(errors)
            if general:
                text = f"✗ {general}" + (f" (and {n} more to fix)" if n else "")
            else:
                text = f"✗ {n} setting{'s' if n != 1 else ''} to fix before Apply (the red messages)"
            kind = "-invalid"
        elif not result.changes:
            text, kind = "nothing changed yet", "-none"
        elif result.restart:
            # the settings the user changed that need a new run (not what follows from them, such
            # as an automatic model that becomes logistic for a classification)
            why = [k for k in SETTINGS if k not in LIVE_SETTINGS and k in values
                   and values[k] != self.initial[k]]
            reason = f"{', '.join(why or sorted(result.changes))} changed"
            text, kind = f"↻ starts a new simulation ({reason}): step 0, fresh parameters", "-restart"
        else:
            kept = ("the last finite parameters kept" if self.sim.status == "diverged" else "parameters kept")
            text, kind = f"● applies at the next step, {kept}: {result.summary}", "-live"
        status = self.query_one("#settings-status", Static)
        for cls in ("-live", "-restart", "-invalid", "-none"):
            status.set_class(cls == kind, cls)
        self.query_one("#settings-apply", Button).disabled = kind in ("-invalid", "-none")
        if text != self.status:
            self.status = text
            lines = -(-len(text) // max(1, status.content_size.width or 1))
            status.update(text, layout=lines != self._status_lines)
            self._status_lines = lines

    # ------------------------------------------------------------------------------------------
    # events
    @on(Input.Changed)
    @on(Select.Changed)
    @on(Switch.Changed)
    def _changed(self, event: Any) -> None:
        event.stop()
        self.revalidate()

    def on_descendant_focus(self, event: Any) -> None:
        widget = event.widget
        for key, control in self.controls.items():
            if control is widget or widget in control.ancestors:
                self.query_one("#settings-hint", Static).update(hint_for(key))
                for other, fld in self.fields.items():
                    fld.label.set_class(other == key, "-focused")
                break

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.revalidate()
        if self.result is not None and self.result.changes:
            self.action_apply()
        elif self.errors:
            first = next(k for k in SETTINGS if k in self.errors)
            self.controls[first].focus()
        else:
            self.app.bell()

    @on(Button.Pressed, "#settings-apply")
    def _apply_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_apply()

    @on(Button.Pressed, "#settings-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_apply(self) -> None:
        """Leave with the changes (only when every value is valid and something changed)."""
        self.revalidate()
        if self.result is None or not self.result.changes:
            self.app.bell()
            return
        self.dismiss(self.result)

    def action_cancel(self) -> None:
        """Leave without any change."""
        self.dismiss(None)

    # ------------------------------------------------------------------------------------------
    # for tests: set a field as a user would
    def message(self, key: str) -> str:
        """The message shown under a setting ('' when none)."""
        return self.errors.get(key, "")

    @property
    def apply_disabled(self) -> bool:
        return self.query_one("#settings-apply", Button).disabled
