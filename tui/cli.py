"""mbsim's command line: the TUI, ``run`` (headless training), ``plan`` and ``presets``.

Every scenario option is generated from :data:`engine.scenario.FIELD_NAMES` (the TOML keys,
spelled with ``-``), and every value is parsed and checked by the engine, so the options and
their error messages never drift from the scenario. Precedence: built-in defaults < ``--preset``
< ``--scenario FILE`` < explicit options.

Bad input of any kind (unknown option, missing value, impossible setting, unreadable file) ends
with ONE line ``mbsim: ...`` on stderr and exit code 2, never a traceback. Exit codes of
``mbsim run``: 0 finished or target loss reached, 3 diverged, 2 bad input, 130 interrupted
(Ctrl+C; the files hold what was done so far), 1 an unexpected internal error.

``mbsim run`` imports NumPy and the engine only (never textual, rich or plotext), so it starts
fast; the TUI is imported only when the bare ``mbsim`` command opens it.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import signal
import sys
import threading
import tomllib
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TextIO

from engine import scenario as sc_mod
from engine.errors import DataError, ScenarioError
from engine.scenario import DEFAULT, FIELD_NAMES, Scenario, field_kind

PROG = "mbsim"
COMMANDS = ("run", "plan", "presets")
TRACE_FORMAT = "mbsim-trace/1"
BAR_WIDTH = 20
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
HISTORY_COLUMNS = (
    "epoch", "batch", "iteration", "step", "samples", "lr",
    "batch_loss", "epoch_loss", "train_loss", "val_loss",
)


class UsageError(Exception):
    """Bad input: the one-line message is printed as ``mbsim: <message>`` with exit code 2."""


# ---------------------------------------------------------------------------------------------
# the options, generated from the scenario's fields
def _choices(name: str) -> tuple[str, ...]:
    return tuple(getattr(sc_mod, name, ()))


_GROUPS: dict[str, tuple[str, ...]] = {
    "data": ("dataset", "samples", "val_samples", "noise", "positive_fraction", "sort_by_class",
             "target", "standardize"),
    "model": ("model", "hidden", "activation", "bias"),
    "batching": ("batch_size", "epochs", "sampling", "drop_last", "steps_per_epoch", "accumulate"),
    "optimizer": ("optimizer", "lr", "momentum", "weight_decay", "schedule", "decay_steps",
                  "decay_rate", "warmup_steps"),
    "run": ("seed", "target_loss", "name", "description"),
}

_HELP: dict[str, str] = {
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
    "target_loss": "stop when the full training loss reaches this (0: no target)",
}

_METAVAR = {"int": "N", "float": "X", "optional float": "X", "str": "NAME"}


def option_name(key: str) -> str:
    """The command-line spelling of a scenario key: ``batch_size`` → ``--batch-size``."""
    return "--" + key.replace("_", "-")


def _help_for(key: str) -> str:
    text = _HELP.get(key, f"the scenario setting {key}")
    for const in ("DATASETS", "MODELS", "ACTIVATIONS", "SAMPLINGS", "OPTIMIZERS", "SCHEDULES"):
        text = text.replace("{" + const + "}", ", ".join(_choices(const)))
    default = getattr(DEFAULT, key)
    if field_kind(key) == "bool":
        opt = option_name(key)
        text += f" ({opt} / --no-{opt[2:]} / {opt}=true|false; default: {'on' if default else 'off'})"
    elif key not in ("name", "description") and default is not None and default != "":
        text += f" (default: {default})"
    return text.replace("%", "%%")


def _bool_keys() -> set[str]:
    return {k for k in FIELD_NAMES if field_kind(k) == "bool"}


def _add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """``--preset``, ``--scenario`` and one option per scenario field, grouped as in the TOML."""
    src = parser.add_argument_group("scenario source (defaults < --preset < --scenario < options)")
    src.add_argument("--preset", metavar="NAME", default=argparse.SUPPRESS,
                     help="start from a built-in scenario (see: mbsim presets)")
    src.add_argument("--scenario", metavar="FILE", dest="scenario_file", default=argparse.SUPPRESS,
                     help="read settings from a TOML file (keys as the options, with _ for -)")
    placed: set[str] = set()
    groups = list(_GROUPS.items())
    rest = tuple(k for k in FIELD_NAMES if not any(k in keys for _, keys in groups))
    if rest:
        groups.append(("other", rest))
    for title, keys in groups:
        group = parser.add_argument_group(f"{title} settings")
        for key in keys:
            if key not in FIELD_NAMES or key in placed:
                continue
            placed.add(key)
            opt = option_name(key)
            if field_kind(key) == "bool":
                group.add_argument(opt, dest=key, action="store_const", const=True,
                                   default=argparse.SUPPRESS, help=_help_for(key))
                group.add_argument("--no-" + opt[2:], dest=key, action="store_const", const=False,
                                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            else:
                metavar = "DATA" if key == "dataset" else _METAVAR.get(field_kind(key), "VALUE")
                if _choices(key.upper() + "S") and key != "dataset":
                    metavar = "NAME"
                if key in ("name", "description"):
                    metavar = "TEXT"
                group.add_argument(opt, dest=key, metavar=metavar, default=argparse.SUPPRESS,
                                   help=_help_for(key))


# ---------------------------------------------------------------------------------------------
# argparse with one-line errors
class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(_rewrite_argparse_error(self, message))


def _all_options(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _value_hint(parser: argparse.ArgumentParser, option: str) -> str:
    for action in parser._actions:
        if option in action.option_strings and action.dest in FIELD_NAMES:
            key = action.dest
            kind = field_kind(key)
            choices = _choices(key.upper() + "S")
            if choices:
                return f"one of {', '.join(choices)}"
            return {"int": "a whole number", "float": "a number",
                    "optional float": "a number"}.get(kind, "a value")
    return "a value"


def _example(parser: argparse.ArgumentParser, option: str) -> str:
    for action in parser._actions:
        if option in action.option_strings and action.dest in FIELD_NAMES:
            default = getattr(DEFAULT, action.dest)
            if default not in (None, ""):
                return f", e.g. {option} {default}"
    return ""


def _rewrite_argparse_error(parser: argparse.ArgumentParser, message: str) -> str:
    if message.startswith("argument ") and ": expected one argument" in message:
        option = message[len("argument "):].split(":", 1)[0].split("/")[0]
        return f"{option}: needs a value ({_value_hint(parser, option)}){_example(parser, option)}"
    if message.startswith(("argument command: invalid choice:", "argument COMMAND: invalid choice:")):
        word = message.split("'")[1] if "'" in message else message
        hint = _suggest(word, COMMANDS)
        return f"unknown command {word!r}{hint}; commands: {', '.join(COMMANDS)} (or none for the TUI)"
    if message.startswith("argument ") and ": ignored explicit argument" in message:
        option, rest = message[len("argument "):].split(":", 1)
        value = rest.split("ignored explicit argument", 1)[1].strip()
        return f"{option.split('/')[0]} takes no value (got {value}); leave the value out"
    return message


def _unknown_arguments(parser: argparse.ArgumentParser, extras: list[str], command: str | None) -> str:
    where = f"mbsim {command}" if command else "mbsim"
    for token in extras:
        if token.startswith("-") and len(token) > 1:
            word = token.split("=", 1)[0]
            owners = [name for name, sub in _subcommands(build_parser()).items()
                      if name != command and word in _all_options(sub)]
            if owners:
                return f"{word} is an option of 'mbsim {owners[0]}', not of '{where}'"
            hint = _suggest(word, [o for o in _all_options(parser) if o not in ("-h", "--help")])
            return f"unknown option {word} for {where}{hint}; see {where} --help"
    token = extras[0]
    if command is None:
        return f"unknown command {token!r}{_suggest(token, COMMANDS)}; commands: {', '.join(COMMANDS)}"
    return f"unexpected argument {token!r} for {where}; options start with --, see {where} --help"


_EPILOG_MAIN = """\
examples:
  mbsim                                   the TUI on the worked example (N=200, B=5, 1000 epochs)
  mbsim --preset xor-mlp --run            open a preset and start running at once
  mbsim --batch-size 1 --lr 0.01          SGD: one sample per update
  mbsim run --epochs 20                   headless: one Keras-style line per epoch
  mbsim run --quiet --trace t.jsonl --data-out d.csv    every step, replayable outside mbsim
  mbsim plan --samples 1000 --batch-size 400            3 batches per epoch: 400, 400, 200
  mbsim presets                           the built-in scenarios

Boolean settings are flags: --drop-last / --no-drop-last (or --drop-last=true|false).
Exit codes: 0 done, 2 bad input, 3 diverged (run), 130 interrupted (run).
"""

_EPILOG_RUN = """\
examples:
  mbsim run                               the worked example: 1000 lines, one per epoch
  mbsim run --preset adam --epochs 50
  mbsim run --quiet --trace t.jsonl --history h.csv --data-out d.csv
  mbsim run --dataset csv:my.csv --target y --batch-size 16 --epochs 100

Each line reads: Epoch e/E  b/M <bar>  loss: (running epoch mean of the batch losses, Keras)
train: (full training loss after the epoch)  val: (validation loss)  acc: (classifiers)
Exit codes: 0 finished or target loss reached, 3 diverged, 2 bad input, 130 interrupted
(the files then hold every step done so far). Files are written atomically.
"""

_EPILOG_PLAN = """\
examples:
  mbsim plan                              the worked example: 40 batches of 5 per epoch
  mbsim plan --samples 1000 --batch-size 400              3 batches per epoch: 400, 400, 200
  mbsim plan --samples 50000 --batch-size 64 --drop-last  781 batches, 16 samples left over
  mbsim plan --preset steps-per-epoch --json
"""

_EPILOG_PRESETS = """\
examples:
  mbsim presets
  mbsim --preset full-batch               open one in the TUI
  mbsim run --preset sgd --epochs 5       or run it headless
"""


def build_parser() -> Parser:
    """The whole command line (also used by the tests to list every option)."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog=PROG, formatter_class=fmt, allow_abbrev=False, epilog=_EPILOG_MAIN,
        description="mbsim: watch mini-batch training step by step, in the terminal. "
                    "Without a command it opens the TUI.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    tui = parser.add_argument_group("TUI")
    tui.add_argument("--paused", dest="start_running", action="store_false", default=argparse.SUPPRESS,
                     help="open paused (the default): step with n, run with space")
    tui.add_argument("--run", dest="start_running", action="store_true", default=argparse.SUPPRESS,
                     help="start running at once")
    tui.add_argument("--speed", metavar="N", default=argparse.SUPPRESS,
                     help="starting speed of the TUI (steps per second)")
    _add_scenario_options(parser)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    run = subs.add_parser(
        "run", help="train headless, one Keras-style line per epoch", formatter_class=fmt,
        allow_abbrev=False, epilog=_EPILOG_RUN, description="Train without the TUI (never imports it).",
    )
    out = run.add_argument_group("output")
    out.add_argument("--trace", metavar="F.jsonl", default=argparse.SUPPRESS,
                     help="write every optimizer step as JSON Lines (header line first)")
    out.add_argument("--history", metavar="F.csv", default=argparse.SUPPRESS,
                     help="write one CSV row per step: the counters and the losses")
    out.add_argument("--data-out", metavar="F.csv", dest="data_out", default=argparse.SUPPRESS,
                     help="write the training set (features..., target) in index order")
    out.add_argument("--quiet", "-q", action="store_true", default=False,
                     help="print nothing but errors")
    _add_scenario_options(run)
    plan = subs.add_parser(
        "plan", help="print the batch arithmetic, no training", formatter_class=fmt,
        allow_abbrev=False, epilog=_EPILOG_PLAN,
        description="Batches per epoch and their sizes, iterations, steps and samples seen.",
    )
    plan.add_argument("--json", action="store_true", default=False, help="print the plan as JSON")
    _add_scenario_options(plan)
    presets = subs.add_parser(
        "presets", help="list the built-in scenarios", formatter_class=fmt, allow_abbrev=False,
        epilog=_EPILOG_PRESETS, description="The built-in scenarios, by name, with what each shows.",
    )
    presets.add_argument("--markdown", action="store_true", default=False,
                         help="print a Markdown table (the README's)")
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("mbsim")
    except Exception:  # not installed (running from a source tree)
        return "0.1.0"


# ---------------------------------------------------------------------------------------------
# argv clean-up before argparse: --flag=value for booleans, negative numbers as values
def _looks_like_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """``--drop-last=false`` → ``--no-drop-last``; ``--lr -1e-3`` → ``--lr=-1e-3``.

    argparse would refuse both (a flag with a value; a value that looks like an option).
    """
    bools = {option_name(k): k for k in _bool_keys()}
    valued = {option_name(k) for k in FIELD_NAMES if field_kind(k) != "bool"}
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            out.extend(tokens[i:])
            break
        head, sep, value = token.partition("=")
        if sep and head in bools:
            try:
                flag = sc_mod.parse_value(bools[head], value)
            except ScenarioError as err:
                raise UsageError(err.as_option()) from None
            out.append(head if flag else "--no-" + head[2:])
        elif token in valued and i + 1 < len(tokens) and tokens[i + 1].startswith("-") \
                and _looks_like_number(tokens[i + 1]):
            out.append(f"{token}={tokens[i + 1]}")
            i += 1
        else:
            out.append(token)
        i += 1
    return out


# ---------------------------------------------------------------------------------------------
# building the scenario
class Sources:
    """Where each setting came from, to name it right in an error message."""

    def __init__(self) -> None:
        self.explicit: set[str] = set()
        self.file: str | None = None
        self.file_keys: set[str] = set()
        self.preset: str | None = None

    def describe(self, err: ScenarioError) -> str:
        """One line for a ScenarioError: the option if typed, else the key and where it came from."""
        setting = err.setting
        if isinstance(err, DataError) or setting == "csv":
            where = "--dataset" if "dataset" in self.explicit else "dataset"
            path = "" if err.value is None else str(err.value)
            return f"{where} csv:{path}: {err.reason}"
        if setting in FIELD_NAMES:
            if setting in self.explicit:
                return err.as_option()
            if self.file and setting in self.file_keys:
                return f"{err} (from scenario file {self.file!r})"
            if self.preset:
                return f"{err} (from preset {self.preset!r}; override it with {option_name(setting)})"
            return err.as_option()
        return err.as_option()


def build_scenario(ns: argparse.Namespace) -> tuple[Scenario, Sources]:
    """defaults < --preset < --scenario FILE < explicit options; validated by the engine."""
    src = Sources()
    base = DEFAULT
    preset = getattr(ns, "preset", None)
    try:
        if preset is not None:
            src.preset = preset
            base = sc_mod.load_preset(preset)
        path = getattr(ns, "scenario_file", None)
        if path is not None:
            src.file = path
            base = sc_mod.from_toml(path, base=base)
            src.file_keys = _toml_keys(path)
            if "name" not in src.file_keys:
                base = base.replace(name=Path(path).stem)
        changes: dict[str, Any] = {}
        for key in FIELD_NAMES:
            if hasattr(ns, key):
                raw = getattr(ns, key)
                src.explicit.add(key)
                changes[key] = raw if isinstance(raw, bool) else sc_mod.parse_value(key, raw)
        scenario = base.replace(**changes)
        scenario.validate()
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None
    return scenario, src


def _toml_keys(path: str) -> set[str]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    keys = set(data)
    if isinstance(data.get("scenario"), dict):
        keys |= set(data["scenario"])
    return keys


def make_simulation(scenario: Scenario, src: Sources):  # -> engine.simulation.Simulation
    """The simulation; data errors (a bad CSV, too few rows...) become one-line usage errors."""
    from engine.simulation import Simulation

    try:
        return Simulation(scenario)
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None


# ---------------------------------------------------------------------------------------------
# mbsim presets
def cmd_presets(ns: argparse.Namespace) -> int:
    if ns.markdown:
        print(presets_markdown())
        return EXIT_OK
    items = sc_mod.presets()
    width = max(len(name) for name, _ in items)
    for name, description in items:
        print(f"{name:<{width}}  {description}")
    return EXIT_OK


def presets_markdown() -> str:
    """The README's presets table (a test checks the README lists every preset)."""
    lines = ["| preset | what it shows |", "| --- | --- |"]
    for name, description in sc_mod.presets():
        lines.append(f"| `{name}` | {description.replace('|', '/')} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# mbsim plan
def summarize_sizes(sizes: Sequence[int], list_up_to: int = 6) -> str:
    """``400, 400, 200`` for a few batches; ``781 × 64, 1 × 16`` (run lengths) for many."""
    if len(sizes) <= list_up_to:
        return ", ".join(str(s) for s in sizes)
    return ", ".join(f"{count} × {size}" for count, size in _runs(sizes))


def _runs(sizes: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for s in sizes:
        if runs and runs[-1][1] == s:
            runs[-1] = (runs[-1][0] + 1, s)
        else:
            runs.append((1, s))
    return runs


def _plural(n: int | float, word: str) -> str:
    text = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    return f"{text} {word}{'' if n == 1 else 's'}"


def plan_data(scenario: Scenario, src: Sources) -> dict[str, Any]:
    """Every number of the plan, as plain data (``mbsim plan --json``)."""
    from engine.sampling import make_plan

    val = scenario.val_samples
    if scenario.is_csv:  # N comes from the file
        sim = make_simulation(scenario, src)
        scenario, plan, val = sim.scenario, sim.plan, len(sim.dataset.y_val)
    else:
        try:
            plan = make_plan(
                scenario.samples, scenario.batch_size, drop_last=scenario.drop_last,
                accumulate=scenario.accumulate, steps_per_epoch=scenario.steps_per_epoch_or_none,
                epochs=scenario.epochs,
            )
        except ScenarioError as err:
            raise UsageError(src.describe(err)) from None
        scenario = scenario.resolved()
    m, k = plan.batches_per_pass, plan.accumulate
    return {
        "scenario": scenario.name,
        "dataset": scenario.dataset,
        "training_samples": plan.n_samples,
        "validation_samples": val,
        "batch_size": plan.batch_size,
        "algorithm": plan.algorithm,
        "algorithm_long": plan.algorithm_long,
        "drop_last": plan.drop_last,
        "batches_per_pass": m,
        "batch_sizes": [{"count": c, "size": s} for c, s in _runs(plan.batch_sizes)],
        "last_batch_size": plan.batch_sizes[-1],
        "leftover_per_pass": plan.leftover,
        "samples_per_pass": plan.samples_per_pass,
        "accumulate": k,
        "effective_batch": plan.effective_batch,
        "steps_per_epoch_setting": plan.steps_per_epoch or 0,
        "iterations_per_epoch": plan.iterations_per_epoch,
        "steps_per_epoch": plan.steps_per_epoch_count,
        "epochs": plan.epochs,
        "total_iterations": plan.total_iterations,
        "total_steps": plan.total_steps,
        "total_samples": plan.total_samples,
        "passes": plan.passes,
        "optimizer": scenario.optimizer,
        "lr": scenario.lr,
        "schedule": scenario.schedule,
        "sampling": scenario.sampling,
    }


_SAMPLING_TEXT = {
    "reshuffle": "a fresh random order every pass; every sample is used once per pass",
    "once": "one random order drawn at the start and reused every pass",
    "sequential": "samples 0..N-1 in index order every pass",
    "replacement": "every batch is drawn with replacement; an epoch is N draws, so some samples "
                   "come twice and some not at all",
    "stratified": "every batch keeps the class proportions of the data set",
}


def _passes(p: float) -> str:
    if float(p).is_integer():
        return _plural(int(p), "pass").replace("passs", "passes")
    return f"{p:,.4g} passes"


def plan_lines(d: dict[str, Any]) -> list[str]:
    """The plan as sentences a student can check with a pencil."""
    n, b, m = d["training_samples"], d["batch_size"], d["batches_per_pass"]
    k, spe = d["accumulate"], d["steps_per_epoch_setting"]
    sizes = [s for run in d["batch_sizes"] for s in [run["size"]] * run["count"]]
    lines = [
        f"Scenario: {d['scenario']} (dataset {d['dataset']})",
        f"Samples: {n:,} training, {d['validation_samples']:,} validation (held out, not trained on)",
    ]
    if k == 1:
        lines.append(f"Batch size {b:,} of N = {n:,}: {d['algorithm_long']} ({d['algorithm']})")
    else:
        lines.append(f"Batch size {b:,} of N = {n:,}, effective batch {d['effective_batch']:,}: "
                     f"{d['algorithm_long']} ({d['algorithm']})")
    what = "pass" if spe else "epoch"
    lines.append(f"{_plural(m, 'batch').replace('batchs', 'batches')} per {what}: {summarize_sizes(sizes)}")
    if d["leftover_per_pass"]:
        left = d["leftover_per_pass"]
        lines.append(f"drop_last: the {_plural(left, 'leftover sample')} ({n:,} mod {b:,}) are dropped "
                     f"each {what}; {d['samples_per_pass']:,} samples are used")
    elif sizes[-1] != b:
        lines.append(f"The last batch has only {_plural(sizes[-1], 'sample')} ({n:,} − {m - 1:,} × {b:,}); with a "
                     "mean loss it still takes a full step, so each of its samples weighs more")
    if k == 1:
        lines.append(f"Accumulation: none; every iteration is a step (effective batch {d['effective_batch']:,})")
    else:
        text = (f"Accumulation: {k} micro-batches of {b:,} per step, effective batch "
                f"{d['effective_batch']:,} ({k} × {b:,})")
        if not spe and m % k:
            text += f"; the last step of an epoch has only {m % k} micro-batch{'es' if m % k > 1 else ''}"
        lines.append(text)
    lines.append(f"Per epoch: {_plural(d['iterations_per_epoch'], 'iteration')}, "
                 f"{_plural(d['steps_per_epoch'], 'step')}")
    lines.append(f"In total ({_plural(d['epochs'], 'epoch')}): {_plural(d['total_iterations'], 'iteration')}, "
                 f"{_plural(d['total_steps'], 'step')}, {d['total_samples']:,} samples seen")
    if spe:
        per_epoch = d["iterations_per_epoch"]
        lines.append(
            f"steps_per_epoch = {spe}: an epoch is {_plural(spe, 'step')} ({per_epoch:,} batches), not a pass; "
            f"the data iterator runs on across epochs, so {_plural(d['epochs'], 'epoch')} make "
            f"{_passes(d['passes'])} over the data"
        )
    else:
        lines.append(f"Epochs = passes: each epoch is one pass over the {n:,} samples "
                     f"({_plural(d['epochs'], 'epoch')} = {_plural(d['epochs'], 'pass').replace('passs', 'passes')})")
    sampling = d["sampling"]
    lines.append(f"Sampling {sampling}: {_SAMPLING_TEXT.get(sampling, 'see SCIENCE.md')}")
    lines.append(f"Optimizer: {d['optimizer']}, lr {d['lr']:g}, schedule {d['schedule']}")
    return lines


def cmd_plan(ns: argparse.Namespace) -> int:
    scenario, src = build_scenario(ns)
    data = plan_data(scenario, src)
    if ns.json:
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(plan_lines(data)))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# mbsim run
def format_metric(x: float) -> str:
    """Keras' number format: 4 decimals, or e-notation below 1e-3 (and, unlike Keras, from 1e6)."""
    x = float(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.4f}" if 1e-3 < abs(x) < 1e6 else f"{x:.4e}"


def epoch_line(epoch: int, epochs: int, batch: int, batches: int, loss: float, train: float,
               val: float | None = None, acc: float | None = None) -> str:
    """``Epoch 3/1000  40/40 ━━━━━━━━━━━━━━━━━━━━  loss: 0.0931  train: 0.0874  val: 0.0902``.

    The bar has 20 cells, ``━`` done and ``─`` to do (a partial epoch at a stop).
    """
    width = len(str(batches))
    filled = BAR_WIDTH if batches <= 0 else min(BAR_WIDTH, (batch * BAR_WIDTH) // batches)
    bar = "━" * filled + "─" * (BAR_WIDTH - filled)
    line = (f"Epoch {epoch}/{epochs}  {batch:>{width}}/{batches} {bar}  "
            f"loss: {format_metric(loss)}  train: {format_metric(train)}")
    if val is not None:
        line += f"  val: {format_metric(val)}"
    if acc is not None:
        line += f"  acc: {format_metric(acc)}"
    return line


def _json_float(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _json_array(a: Any) -> list:
    import numpy as np

    arr = np.asarray(a)
    values = arr.tolist()
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        values = [v if math.isfinite(v) else None for v in values]
    return values


def _csv_float(x: float) -> str:
    x = float(x)
    return repr(x) if math.isfinite(x) else ("" if math.isnan(x) else repr(x))


def trace_header(sim) -> dict[str, Any]:
    """The first line of a trace: every resolved setting and the initial parameters."""
    ds = sim.dataset
    return {
        "step": 0,
        "format": TRACE_FORMAT,
        "scenario": sim.scenario.to_dict(),
        "params": _json_array(sim.initial_params),
        "param_names": list(sim.model.param_names),
        "feature_names": list(ds.feature_names),
        "target_name": ds.target_name,
        "task": ds.task,
        "loss": sim.model.loss_name,
        "training_samples": ds.n_samples,
        "validation_samples": int(len(ds.y_val)),
        "train_loss": _json_float(sim.initial_train_loss),
        "val_loss": _json_float(sim.initial_val_loss) if len(ds.y_val) else None,
    }


def trace_record(rec) -> dict[str, Any]:
    """One optimizer step (DESIGN.md --trace): counters, indices, lr, losses, params, grad."""
    return {
        "epoch": rec.epoch, "batch": rec.batch, "iteration": rec.iteration, "step": rec.step,
        "samples": rec.samples, "indices": _json_array(rec.indices), "lr": _json_float(rec.lr),
        "batch_loss": _json_float(rec.batch_loss), "train_loss": _json_float(rec.train_loss),
        "val_loss": _json_float(rec.val_loss), "params": _json_array(rec.params),
        "grad": _json_array(rec.grad),
    }


def write_data_csv(sim, stream: TextIO) -> None:
    """The training set in index order: a header (features..., target), one row per sample."""
    ds = sim.dataset
    stream.write(",".join(_csv_cell(c) for c in (*ds.feature_names, ds.target_name)) + "\n")
    for x_row, y_val in zip(ds.X.tolist(), ds.y.tolist()):
        stream.write(",".join(repr(float(v)) for v in (*x_row, y_val)) + "\n")


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _check_output_path(option: str, path: str) -> None:
    p = Path(path)
    if path == "" or p.is_dir():
        raise UsageError(f"{option} {path!r}: is a directory; give a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"{option} {path!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{option} {path!r}: the folder {str(folder)!r} is not writable")


class _Interrupts:
    """Ctrl+C raises KeyboardInterrupt at once, except while a step's lines are being written
    (then right after), so the trace and the history always hold the same whole steps."""

    def __init__(self) -> None:
        self.critical = False
        self.pending = False
        self._old: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.critical:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._old = signal.signal(signal.SIGINT, self._handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, self._old)

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.critical = True
        try:
            yield
        finally:
            self.critical = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def _smaller_lr(lr: float) -> str:
    return f"{lr / 10:g}"


def cmd_run(ns: argparse.Namespace) -> int:
    scenario, src = build_scenario(ns)
    outputs = {opt: getattr(ns, dest) for opt, dest in
               (("--trace", "trace"), ("--history", "history"), ("--data-out", "data_out"))
               if getattr(ns, dest, None) is not None}
    for option, path in outputs.items():
        _check_output_path(option, path)
    sim = make_simulation(scenario, src)
    quiet = ns.quiet
    out = sys.stdout
    from engine.atomic import atomic_writer

    if "--data-out" in outputs:
        with atomic_writer(outputs["--data-out"]) as stream:
            write_data_csv(sim, stream)

    guard = _Interrupts()
    interrupted = False
    last = {"step": 0}
    with ExitStack() as stack:
        trace = stack.enter_context(atomic_writer(outputs["--trace"])) if "--trace" in outputs else None
        history = stack.enter_context(atomic_writer(outputs["--history"])) if "--history" in outputs else None
        if trace is not None:
            trace.write(json.dumps(trace_header(sim)) + "\n")
        if history is not None:
            history.write(",".join(HISTORY_COLUMNS) + "\n")
        callback = _make_callback(sim, trace, history, last, guard) if (trace or history) else None
        sim.on_step = callback
        try:
            with guard.installed():
                _train(sim, quiet, out)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            sim.on_step = None
    # the writers closed normally: the files now hold every step recorded
    status = sim.status
    if interrupted:
        c = sim.counters()
        if not quiet:
            _print_epoch(sim, out)
        written = f"; wrote {', '.join(outputs.values())}" if outputs else ""
        print(f"{PROG}: interrupted at step {last['step'] if callback else sim.step} "
              f"(epoch {c.epoch}/{c.epochs}){written}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if status == "diverged":
        print(f"{PROG}: diverged at step {sim.diverged_step} (loss is not finite); try a smaller "
              f"--lr, e.g. {_smaller_lr(sim.scenario.lr)}", file=sys.stderr)
        return EXIT_DIVERGED
    if status == "target reached" and not quiet:
        print(f"Target loss {sim.scenario.target_loss:g} reached at step {sim.step:,} "
              f"(train loss {format_metric(sim.train_loss)})", file=out)
    return EXIT_OK


def _make_callback(sim, trace: TextIO | None, history: TextIO | None, last: dict, guard: _Interrupts
                   ) -> Callable[[Any], None]:
    dumps = json.dumps

    def on_step(rec) -> None:
        epoch_loss = sim.epoch_loss
        t = dumps(trace_record(rec)) + "\n" if trace is not None else None
        h = None
        if history is not None:
            h = ",".join((
                str(rec.epoch), str(rec.batch), str(rec.iteration), str(rec.step), str(rec.samples),
                _csv_float(rec.lr), _csv_float(rec.batch_loss), _csv_float(epoch_loss),
                _csv_float(rec.train_loss), _csv_float(rec.val_loss),
            )) + "\n"
        with guard.deferred():
            if t is not None:
                trace.write(t)
            if h is not None:
                history.write(h)
            last["step"] = rec.step

    return on_step


def _train(sim, quiet: bool, out: TextIO) -> None:
    """Run to the end, printing a line at the end of each epoch (and at a stop inside one)."""
    chunk = 4096
    while not sim.done:
        sim.run_iterations(min(sim.iterations_to_epoch_end(), chunk))
        c = sim.counters()
        if not quiet and (c.batch == c.batches or sim.done):
            _print_epoch(sim, out)


def _print_epoch(sim, out: TextIO) -> None:
    c = sim.counters()
    has_val = len(sim.dataset.y_val) > 0
    acc = sim.accuracy()
    print(epoch_line(c.epoch, c.epochs, c.batch, c.batches, sim.epoch_loss, sim.train_loss,
                     sim.val_loss if has_val else None, acc), file=out, flush=True)


# ---------------------------------------------------------------------------------------------
# the TUI
def cmd_tui(ns: argparse.Namespace) -> int:
    scenario, src = build_scenario(ns)
    sim = make_simulation(scenario, src)  # data errors now, as one line, not inside the TUI
    try:
        import tui.app as app
    except ModuleNotFoundError as err:
        if err.name in ("tui.app", "textual", "textual_plotext", "plotext", "rich"):
            print(f"{PROG}: the TUI is not available ({err}); 'mbsim run' works without it",
                  file=sys.stderr)
            return EXIT_INTERNAL
        raise
    speed = getattr(ns, "speed", None)
    parse_speed = getattr(app, "parse_speed", None)
    if speed is not None and parse_speed is not None:
        try:
            parse_speed(speed)
        except ValueError as err:
            raise UsageError(f"--speed {speed!r}: {str(err).removeprefix('speed ')}") from None
    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not os.environ.get("MBSIM_FORCE_TUI"):
        raise UsageError("the TUI needs a terminal; use 'mbsim run' for headless output "
                         "(or 'mbsim plan', 'mbsim presets')")
    return int(app.run_app(sim, paused=not getattr(ns, "start_running", False), speed=speed) or 0)


# ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """The ``mbsim`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        argv_clean = normalize_argv(args)
        try:
            ns, extras = parser.parse_known_args(argv_clean)
        except UsageError as err:
            # "mbsim --lrr 3": argparse takes the 3 for a command; the real mistake is --lrr
            known = set(_all_options(parser))
            stray = [t for t in argv_clean if t.startswith("-") and t.split("=", 1)[0] not in known]
            if str(err).startswith("unknown command") and stray and not _looks_like_number(stray[0]):
                raise UsageError(_unknown_arguments(parser, stray, None)) from None
            raise
        command = getattr(ns, "command", None)
        if extras:
            target = _subcommands(parser)[command] if command else parser
            raise UsageError(_unknown_arguments(target, extras, command))
        handler = {"run": cmd_run, "plan": cmd_plan, "presets": cmd_presets}.get(command, cmd_tui)
        return handler(ns)
    except UsageError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as err:  # a bad value the engine found late
        print(f"{PROG}: {err.as_option()}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. mbsim run | head
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
    except Exception as exc:  # an mbsim bug: one line for users, the traceback for developers
        if os.environ.get("MBSIM_DEBUG") or os.environ.get("PYTEST_CURRENT_TEST"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{PROG}: internal error: {type(exc).__name__}: {first} "
              "(set MBSIM_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
