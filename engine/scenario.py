"""A scenario: every setting of one simulation, validated, readable from and writable to TOML.

The defaults are the worked example of the seeds: 200 samples on a line, batches of 5, 1000
epochs of plain SGD (40 steps per epoch, 40,000 in all).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ScenarioError
from .names import ACTIVATIONS, CLASSIFICATION_DATASETS, DATASETS, EPOCH_ENDS, OPTIMIZERS
from .names import MODELS as _MODELS
from .names import REGRESSION_DATASETS, SAMPLINGS, SCHEDULES
from .toml_text import parse_toml, toml_value

MODELS = ("auto",) + _MODELS


def class_counts(n: int, positive_fraction: float) -> tuple[int, int]:
    """(n0, n1): n1 = round(positive_fraction·n) samples of class 1, n0 = n − n1 of class 0."""
    n1 = int(round(positive_fraction * n))
    return n - n1, n1

MOMENTUM_OPTIMIZERS = ("sgd", "momentum", "nesterov")
#: Settings a running simulation can change without starting again (``Simulation.apply_changes``).
LIVE_SETTINGS: frozenset[str] = frozenset({
    "lr", "optimizer", "momentum", "weight_decay", "schedule", "decay_steps", "decay_rate",
    "warmup_steps", "batch_size", "sampling", "drop_last", "accumulate", "steps_per_epoch",
    "epoch_end", "epochs", "target_loss",
})
MAX_SAMPLES = 1_000_000
MAX_EVAL_EVERY = 100_000_000
EVAL_COST_SHARE = 0.1        # evaluation may cost ~10 % of a run (issue 14)
EVAL_CALL_OVERHEAD = 1_000   # a call's fixed Python/NumPy cost, in samples through a small model
MAX_EPOCHS = 1_000_000
MAX_HIDDEN = 256
THREE_LOSSES_SAMPLES = 3


@dataclass(frozen=True)
class Scenario:
    """Every setting of one simulation (the TOML keys; options are spelled ``--batch-size``)."""

    name: str = "worked-example"
    description: str = "The worked example: 200 samples on a line, batches of 5, 40 steps per epoch."
    # data
    dataset: str = "line"
    samples: int = 200
    val_samples: int = 50
    noise: float = 0.3
    positive_fraction: float = 0.5
    sort_by_class: bool = False
    target: str = ""
    standardize: bool = False
    # model
    model: str = "auto"
    hidden: int = 8
    activation: str = "tanh"
    bias: bool = True
    # batching
    batch_size: int = 5
    epochs: int = 1000
    sampling: str = "reshuffle"
    drop_last: bool = False
    steps_per_epoch: int = 0
    epoch_end: str = "continue"
    accumulate: int = 1
    # optimizer
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float | None = None
    weight_decay: float = 0.0
    schedule: str = "constant"
    decay_steps: int = 1000
    decay_rate: float = 0.5
    warmup_steps: int = 100
    # run
    seed: int = 0
    target_loss: float = 0.0
    # How often the full losses are measured. A Scenario field (not a `run` option) because it
    # decides what a run records (history and trace rows, the loss curve, when the target loss
    # is checked), so a saved scenario or lesson must carry it; the TOML key, --eval-every, the
    # settings screen and `mbsim plan` then come from FIELD_HELP/FIELD_GROUPS like every setting.
    # It never changes the trajectory (tests/test_trajectories.py).
    eval_every: str = "auto"

    # ----------------------------------------------------------------------------------------
    @property
    def is_csv(self) -> bool:
        """True when the data come from a CSV file (``dataset = "csv:PATH"``)."""
        return self.dataset.startswith("csv:")

    @property
    def task(self) -> str | None:
        """"regression" or "classification" for built-in data; None for CSV (known once read)."""
        if self.dataset in REGRESSION_DATASETS:
            return "regression"
        if self.dataset in CLASSIFICATION_DATASETS:
            return "classification"
        return None

    @property
    def steps_per_epoch_or_none(self) -> int | None:
        """steps_per_epoch, with 0 (one full pass per epoch) as None."""
        return self.steps_per_epoch or None

    def replace(self, **changes: Any) -> Scenario:
        """A copy with some settings changed; unknown names are refused with a suggestion."""
        for key in changes:
            if key not in FIELD_NAMES:
                raise unknown_key_error(key, "setting")
        return dataclasses.replace(self, **changes)

    def resolved(self, task: str | None = None) -> Scenario:
        """The scenario with every automatic choice made: the model for ``auto`` and the momentum.

        ``task`` is needed for CSV data (the file decides whether it is a classification).
        """
        task = task or self.task or "regression"
        model = self.model
        if model == "auto":
            model = "logistic" if task == "classification" else "linear"
        momentum = self.momentum
        if momentum is None:
            momentum = 0.9 if self.optimizer in ("momentum", "nesterov") else 0.0
        return dataclasses.replace(self, model=model, momentum=momentum)

    def validate(self) -> Scenario:
        """Check every setting; raise :class:`ScenarioError` naming the first impossible one."""
        _check_types(self)
        _check_choice("dataset", self.dataset, DATASETS, allow_csv=True)
        if self.is_csv and not self.dataset[4:].strip():
            raise ScenarioError("dataset", self.dataset, "give the file after 'csv:', e.g. csv:data.csv")
        _check_int_range("samples", self.samples, 1, MAX_SAMPLES)
        if self.dataset == "three-losses" and self.samples != THREE_LOSSES_SAMPLES:
            raise ScenarioError(
                "samples", self.samples,
                "the three-losses dataset has exactly 3 samples; use --preset three-losses or --samples 3",
            )
        if self.task == "classification" and self.samples < 2:
            raise ScenarioError("samples", self.samples, "a classification needs at least 2 samples, one per class")
        _check_int_range("val_samples", self.val_samples, 0, MAX_SAMPLES)
        _check_float_range("noise", self.noise, 0.0, 10.0)
        if not 0.0 < self.positive_fraction < 1.0:
            raise ScenarioError("positive_fraction", self.positive_fraction, "must be strictly between 0 and 1")
        if self.target and not self.is_csv:
            raise ScenarioError("target", self.target,
                                f"only applies to csv:PATH datasets; {self.dataset!r} has its own target")
        if self.task == "classification":
            self._check_class_counts()
        _check_choice("model", self.model, MODELS)
        _check_int_range("hidden", self.hidden, 1, MAX_HIDDEN)
        _check_choice("activation", self.activation, ACTIVATIONS)
        if self.model == "mlp" and not self.bias:
            raise ScenarioError("bias", False, "the mlp always has biases; bias=false applies to linear and logistic")
        if self.model == "logistic" and self.task == "regression":
            raise ScenarioError(
                "model", "logistic",
                f"needs 0/1 targets, but {self.dataset} is a regression dataset; use linear or mlp",
            )
        if not self.is_csv:
            self.check_batch_size(self.samples)
        else:
            _check_int_range("batch_size", self.batch_size, 1, MAX_SAMPLES)
        _check_int_range("epochs", self.epochs, 1, MAX_EPOCHS)
        _check_choice("sampling", self.sampling, SAMPLINGS)
        if self.sampling == "stratified" and self.task == "regression":
            raise ScenarioError(
                "sampling", "stratified",
                f"needs class labels, but {self.dataset} is a regression dataset; use reshuffle",
            )
        _check_int_range("steps_per_epoch", self.steps_per_epoch, 0, 10_000_000, zero_means="one full pass")
        _check_choice("epoch_end", self.epoch_end, EPOCH_ENDS)
        _check_int_range("accumulate", self.accumulate, 1, 1024)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float_range("lr", self.lr, 0.0, 1e6, open_low=True)
        if self.momentum is not None:
            if not (math.isfinite(self.momentum) and 0.0 <= self.momentum < 1.0):
                raise ScenarioError("momentum", self.momentum, "must be in [0, 1), e.g. 0.9")
            if self.optimizer == "nesterov" and self.momentum == 0.0:
                raise ScenarioError("momentum", self.momentum, "Nesterov momentum needs a momentum above 0, e.g. 0.9")
            if self.momentum > 0 and self.optimizer not in MOMENTUM_OPTIMIZERS:
                raise ScenarioError(
                    "momentum", self.momentum,
                    f"only sgd, momentum and nesterov use a momentum; {self.optimizer} has none",
                )
        _check_float_range("weight_decay", self.weight_decay, 0.0, 1e3)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_int_range("decay_steps", self.decay_steps, 1, 100_000_000)
        _check_float_range("decay_rate", self.decay_rate, 0.0, 1.0, open_low=True)
        _check_int_range("warmup_steps", self.warmup_steps, 1, 100_000_000)
        _check_int_range("seed", self.seed, 0, 2**63 - 1)
        _check_float_range("target_loss", self.target_loss, 0.0, 1e12, zero_means="no target")
        parse_eval_every(self.eval_every)
        return self

    def _check_class_counts(self) -> None:
        """A generated classification needs at least one training sample of each class."""
        n0, n1 = class_counts(self.samples, self.positive_fraction)
        if n0 == 0 or n1 == 0:
            raise ScenarioError(
                "positive_fraction", self.positive_fraction,
                f"gives {n1} of {self.samples} samples in class 1 and {n0} in class 0; a "
                "classification needs at least one of each (change positive_fraction or samples)",
            )

    def eval_interval(self, n_eval: int, samples_per_step: float) -> int | None:
        """How many steps apart the full training and validation losses are computed
        (None: at the end of every epoch, Keras' ``validation_freq=1``).

        ``auto`` picks the smallest 1-2-5 number K such that evaluation costs at most ~10 % of
        the run: the most points the cost bound allows, so the loss curve keeps at least ~1,000
        points whenever the run has ``1000·K`` steps or more (when the two goals conflict — a
        short run on a large dataset — the cost bound wins: scale is the point). The cost model counts samples through the model,
        plus a fixed overhead per call of :data:`EVAL_CALL_OVERHEAD` samples: a step is a forward
        and a backward pass (~3 forward passes) over its ``samples_per_step`` samples, an
        evaluation one forward pass over the ``n_eval`` training and validation samples, so

            K_cost = ⌈ (overhead + n_eval) / (0.1 · (overhead + 3 · samples_per_step)) ⌉.
        """
        value = parse_eval_every(self.eval_every)
        if value == "epoch":
            return None
        if isinstance(value, int):
            return value
        over = EVAL_CALL_OVERHEAD
        k_cost = math.ceil((over + n_eval) / (EVAL_COST_SHARE * (over + 3.0 * samples_per_step)))
        return _nice_at_least(max(1, k_cost))

    def check_batch_size(self, n_samples: int) -> None:
        """The batch size must be a whole number between 1 and N (N itself is batch GD)."""
        _check_int_range("batch_size", self.batch_size, 1, MAX_SAMPLES)
        if self.batch_size > n_samples:
            raise ScenarioError(
                "batch_size", self.batch_size,
                f"exceeds the {n_samples} training samples; {n_samples} is full-batch gradient descent",
            )

    # ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain data (None values left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def to_toml(self) -> str:
        """The scenario as TOML text that :func:`from_toml` reads back to an equal scenario."""
        lines = ["# mbsim scenario"]
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {toml_value(value)}")
        return "\n".join(lines) + "\n"


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Scenario))
_FIELD_TYPES: dict[str, str] = {f.name: str(f.type) for f in fields(Scenario)}
DEFAULT = Scenario()

#: The settings grouped as the TOML file, ``--help`` and the settings screen show them.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "data": ("dataset", "samples", "val_samples", "noise", "positive_fraction", "sort_by_class",
             "target", "standardize"),
    "model": ("model", "hidden", "activation", "bias"),
    "batching": ("batch_size", "epochs", "sampling", "drop_last", "steps_per_epoch", "epoch_end",
                 "accumulate"),
    "optimizer": ("optimizer", "lr", "momentum", "weight_decay", "schedule", "decay_steps",
                  "decay_rate", "warmup_steps"),
    "run": ("seed", "target_loss", "eval_every", "name", "description"),
}

#: What each setting means, in one line: the one source for ``--help``, the settings screen and
#: lesson checking. ``{DATASETS}`` and the like stand for the allowed names (see :func:`field_help`).
FIELD_HELP: dict[str, str] = {
    "name": "scenario name shown in the header",
    "description": "one-line description of the scenario",
    "dataset": "training data: {DATASETS}, or csv:PATH (a CSV file with a header row; "
               "the target is the last column unless --target)",
    "samples": "N, the training samples (the validation samples are extra)",
    "val_samples": "held-out validation samples, extra to N (0: none)",
    "noise": "noise of the generated data",
    "positive_fraction": "fraction of class 1 in a classification dataset",
    "sort_by_class": "sort the training set by class (or by target), to show why order matters",
    "target": "the CSV column to predict (default: the last column)",
    "standardize": "scale every feature to mean 0 and standard deviation 1",
    "model": "{MODELS}; auto = linear for regression, logistic for classification",
    "hidden": "hidden units of the mlp",
    "activation": "activation of the mlp: {ACTIVATIONS}",
    "bias": "give the model a bias term",
    "batch_size": "B, samples per (micro-)batch: 1 is SGD, N is batch GD",
    "epochs": "epochs to train",
    "sampling": "order of the samples: {SAMPLINGS}",
    "drop_last": "drop the short last batch of every epoch",
    "steps_per_epoch": "Keras steps_per_epoch: an epoch is this many steps and the data iterator "
                       "runs on across epochs (0: one full pass per epoch)",
    "epoch_end": "with steps_per_epoch: continue (the iterator runs on), cut (Keras arrays: an "
                 "epoch also ends where a pass runs out) or restart (a fresh pass every epoch)",
    "accumulate": "K, micro-batches whose gradients are accumulated into one step",
    "optimizer": "{OPTIMIZERS}",
    "lr": "learning rate",
    "momentum": "momentum in [0, 1) (default: 0.9 for momentum and nesterov, else 0)",
    "weight_decay": "L2 weight decay (decoupled for adamw)",
    "schedule": "learning-rate schedule: {SCHEDULES}",
    "decay_steps": "steps per decay of the step schedule",
    "decay_rate": "factor of each decay of the step schedule",
    "warmup_steps": "steps of linear warm-up of the warmup schedule",
    "seed": "random seed of the data, the initial parameters and the sampling",
    "target_loss": "stop when the full training loss reaches this (0: no target; checked "
                   "where the losses are evaluated, see eval_every)",
    "eval_every": "when to compute the full training and validation losses: every K steps, or "
                  "epoch (epoch ends and the last step always count); auto: as often as costs "
                  "at most ~10% of the run",
}


def field_help(key: str) -> str:
    """The one-line meaning of a setting, with the allowed names written out ("" if unknown)."""
    text = FIELD_HELP.get(key, "")
    for const, values in (("DATASETS", DATASETS), ("MODELS", MODELS), ("ACTIVATIONS", ACTIVATIONS),
                          ("SAMPLINGS", SAMPLINGS), ("EPOCH_ENDS", EPOCH_ENDS), ("OPTIMIZERS", OPTIMIZERS),
                          ("SCHEDULES", SCHEDULES)):
        text = text.replace("{" + const + "}", ", ".join(values))
    return text



# ---------------------------------------------------------------------------------------------
# parsing typed values (from TOML, the command line or a field in the app)
def field_kind(key: str) -> str:
    """The kind of a setting: "int", "float", "optional float", "bool" or "str"."""
    t = _FIELD_TYPES[key]
    if "None" in t:
        return "optional float"
    return t


def parse_value(key: str, text: str) -> Any:
    """Turn the text a user typed for ``key`` into a value of the right type, or say why not."""
    if key not in FIELD_NAMES:
        raise unknown_key_error(key, "setting")
    kind = field_kind(key)
    raw = text.strip()
    if kind == "str":
        return raw
    if kind == "bool":
        low = raw.lower()
        if low in ("true", "yes", "on", "1"):
            return True
        if low in ("false", "no", "off", "0"):
            return False
        raise ScenarioError(key, raw, "must be true or false")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            pass
        try:
            as_float = float(raw)
        except ValueError:
            raise ScenarioError(key, raw, "must be a whole number") from None
        raise ScenarioError(key, raw, f"must be a whole number, not {as_float:g}")
    if kind == "optional float" and raw.lower() in ("", "auto", "default"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ScenarioError(key, raw, "must be a number") from None
    return value


def from_mapping(data: dict[str, Any], base: Scenario = DEFAULT, source: str = "scenario") -> Scenario:
    """A scenario from ``base`` with the settings of ``data`` (e.g. a TOML table) applied."""
    changes: dict[str, Any] = {}
    for key, value in data.items():
        if key == "scenario" and isinstance(value, dict):
            changes.update(value)
            continue
        if key not in FIELD_NAMES:
            raise unknown_key_error(key, f"key in {source}")
        changes[key] = value
    for key, value in changes.items():
        if key not in FIELD_NAMES:
            raise unknown_key_error(key, f"key in {source}")
        kind = field_kind(key)
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            changes[key] = float(value)
        elif kind == "optional float" and isinstance(value, int) and not isinstance(value, bool):
            changes[key] = float(value)
        elif key == "eval_every" and isinstance(value, int) and not isinstance(value, bool):
            changes[key] = str(value)    # TOML: eval_every = 10 or eval_every = "epoch"
    return dataclasses.replace(base, **changes)


SCENARIO_MAX_BYTES = 1_000_000


def from_toml_text(text: str, source: str = "scenario file", base: Scenario = DEFAULT) -> Scenario:
    """Parse TOML text into a scenario (not yet validated); a leading UTF-8 BOM is ignored."""
    return from_mapping(parse_toml(text, source), base=base, source=source)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The table of a scenario file, read with :func:`engine.files.read_text_limited` (kind and
    size checked first, at most :data:`SCENARIO_MAX_BYTES` read; a UTF-8 BOM is accepted, as in
    CSV files)."""
    from .files import read_text_limited

    label = f"scenario file {str(path)!r}"
    text = read_text_limited(path, SCENARIO_MAX_BYTES, label)
    return parse_toml(text, label)


def from_toml(path: str | Path, base: Scenario = DEFAULT) -> Scenario:
    """Read a scenario file; a missing, unreadable or malformed file is one clear error."""
    return from_mapping(read_toml(path), base=base, source=f"scenario file {str(path)!r}")


def write_toml(scenario: Scenario, path: str | Path) -> Path:
    """Write the scenario atomically (temp file + rename) and return the path."""
    from .atomic import write_text_atomic

    return write_text_atomic(Path(path), scenario.to_toml())


# ---------------------------------------------------------------------------------------------
# presets
def _preset_files() -> dict[str, Any]:
    from importlib import resources

    folder = resources.files("mbsim.engine") / "presets"
    return {entry.name[:-5]: entry for entry in folder.iterdir() if entry.name.endswith(".toml")}


PRESET_ORDER = (
    "worked-example", "full-batch", "sgd", "mini-batch-32", "uneven-last-batch", "drop-last",
    "steps-per-epoch", "accumulate", "no-shuffle", "with-replacement", "imbalanced",
    "xor-perceptron", "xor-mlp", "three-losses", "momentum", "adam", "critical-batch",
)


def preset_names() -> list[str]:
    """The built-in scenario names, in teaching order."""
    names = list(_preset_files())
    return sorted(names, key=lambda n: (PRESET_ORDER.index(n) if n in PRESET_ORDER else len(PRESET_ORDER), n))


def load_preset(name: str) -> Scenario:
    """A built-in scenario by name; an unknown name is refused with the closest match."""
    files = _preset_files()
    if name not in files:
        raise ScenarioError("preset", name, _allowed_text(name, preset_names()))
    scenario = from_toml_text(files[name].read_text(encoding="utf-8"), source=f"preset {name!r}")
    return scenario.replace(name=name)


def presets() -> list[tuple[str, str]]:
    """(name, one-line description) of every built-in scenario: its ``description`` line read
    from the file without checking the whole scenario (``mbsim presets`` starts fast; the
    built-in files are checked by the tests and on every :func:`load_preset`)."""
    files = _preset_files()
    out = []
    for n in preset_names():
        description = parse_toml(files[n].read_text(encoding="utf-8"), f"preset {n!r}").get("description")
        out.append((n, description if isinstance(description, str) else load_preset(n).description))
    return out


# ---------------------------------------------------------------------------------------------
# helpers
def unknown_key_error(key: str, what: str) -> ScenarioError:
    """An unknown setting name, with the closest real one suggested."""
    close = difflib.get_close_matches(key, FIELD_NAMES, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known settings: {', '.join(FIELD_NAMES)}"
    return ScenarioError(f"unknown {what}", key, hint)


def _allowed_text(value: str, allowed: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.5)
    text = "allowed: " + ", ".join(allowed)
    return f"{text} (did you mean {close[0]!r}?)" if close else text


def _check_choice(key: str, value: str, allowed: tuple[str, ...], allow_csv: bool = False) -> None:
    if allow_csv and isinstance(value, str) and value.startswith("csv:"):
        return
    if value not in allowed:
        options = allowed + (("csv:PATH",) if allow_csv else ())
        raise ScenarioError(key, value, _allowed_text(value, options))


def _check_types(s: Scenario) -> None:
    for f in fields(s):
        value = getattr(s, f.name)
        kind = field_kind(f.name)
        ok = True
        if kind == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
            need = "a whole number"
        elif kind == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            need = "a number"
        elif kind == "optional float":
            ok = value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
            need = "a number"
        elif kind == "bool":
            ok = isinstance(value, bool)
            need = "true or false"
        else:
            ok = isinstance(value, str)
            need = "text"
        if not ok:
            raise ScenarioError(f.name, value, f"must be {need}")


def parse_eval_every(value: Any) -> int | str:
    """``eval_every`` as K (an int ≥ 1), ``"epoch"`` or ``"auto"``; else one clear error."""
    if isinstance(value, bool):
        raise ScenarioError("eval_every", value, "must be a whole number of steps, epoch or auto")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip().lower()
    else:
        raise ScenarioError("eval_every", value, "must be a whole number of steps, epoch or auto")
    if text in ("auto", "epoch"):
        return text
    try:
        k = int(text)
    except ValueError:
        raise ScenarioError("eval_every", value, "must be a whole number of steps (e.g. 10), epoch or auto") from None
    if not 1 <= k <= MAX_EVAL_EVERY:
        raise ScenarioError("eval_every", value, f"must be a whole number from 1 to {MAX_EVAL_EVERY:,}, epoch or auto")
    return k


def _nice_at_least(k: int) -> int:
    """The smallest 1-2-5 number (1, 2, 5, 10, 20, ...) at or above k."""
    scale = 1
    while True:
        for m in (1, 2, 5):
            if m * scale >= k:
                return m * scale
        scale *= 10


def _check_int_range(key: str, value: int, low: int, high: int, zero_means: str | None = None) -> None:
    if not low <= value <= high:
        extra = f" (0 means {zero_means})" if zero_means else ""
        raise ScenarioError(key, value, f"must be a whole number from {low} to {high:,}{extra}")


def _check_float_range(
    key: str, value: float, low: float, high: float, open_low: bool = False, zero_means: str | None = None
) -> None:
    bad = not math.isfinite(value) or value > high or (value <= low if open_low else value < low)
    if bad:
        bound = f"above {low:g}" if open_low else f"at least {low:g}"
        extra = f" (0 means {zero_means})" if zero_means else ""
        raise ScenarioError(key, value, f"must be a finite number {bound} and at most {high:g}{extra}")
