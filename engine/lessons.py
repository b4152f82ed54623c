"""Lessons: a Markdown file whose slides drive a live, exact simulation (UI-free model).

A lesson is one UTF-8 Markdown file:

* an optional TOML front matter between two lines holding ``+++`` at the top of the file:
  ``title``, ``audience``, ``minutes``, ``preset`` or ``scenario`` (a scenario file, relative
  to the lesson) to start from, and any scenario setting (the keys of a scenario file);
* slides separated by a line holding ``---`` (outside fenced code);
* in a slide, prose (shown with a Markdown renderer) and at most one fenced ```` ```mbsim ````
  block of TOML directives, applied in this order when the slide opens:

  ``preset = "NAME"`` / ``scenario = "FILE.toml"`` / any scenario setting
      start a fresh run: from the preset or file, else from the lesson's scenario so far, with
      the settings changed (same keys, same checks and messages as scenario files);
  ``view = "main" | "compare" | "lens" | "phase" | "cloud" | "lab"``, ``highlight = "PANEL"`` or a list
      (``lab``: the batch-size lab on the slide's scenario, :mod:`engine.lab`);
  ``runs = K`` with ``view = "cloud"``: the noise cloud's K runs (1 to 1000, default 100);
  ``run = "epoch" | "pass" | "end" | "step K" | "iteration K" | "epoch K" | "loss X"``
      run until that condition (the end of the epoch or pass in progress, the end of the run,
      the step/iteration counter reading K, epoch K complete, the full training loss below X)
      and stop; ``speed = N`` (batches per second) or ``"max"`` (the default);
  ``pause = "epoch" | "pass" | "step" | "none"``: while this slide runs, stop at every epoch
      boundary, pass boundary or optimizer step;
  ``keys = ["n", "e", "space"]``: only these keys of the main screen work on this slide;
  ``[[question]]`` tables with ``ask = "..."``, ``answer = "NAME"`` (a quantity of
      :data:`QUANTITIES`, never a typed number) and an optional ``explain = "..."``.

Every error is a :class:`LessonError` whose text is ``FILE:LINE: what is wrong``.
:func:`load_lesson` parses and then checks every run condition against the engine's plan
(:func:`check_lesson`). Nothing here imports a UI; files are read by :func:`read_text_limited`
(kind and size checked before reading).
"""

from __future__ import annotations

import difflib
import errno
import math
import os
import re
import stat
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .errors import ScenarioError, format_value
from .files import read_bytes_limited
from .scenario import (DEFAULT, FIELD_NAMES, Scenario, from_mapping, from_toml_text, load_preset,
                       toml_limit_problem)

if TYPE_CHECKING:
    from .sampling import Plan
    from .simulation import Simulation

MAX_LESSON_BYTES = 512 * 1024
MAX_SCENARIO_BYTES = 1_000_000
MAX_SLIDES = 200
LESSON_FOLDER = "lesson_files"

FRONT_KEYS: tuple[str, ...] = ("title", "audience", "minutes", "preset", "scenario")
DIRECTIVES: tuple[str, ...] = ("preset", "scenario", "run", "speed", "pause", "view", "runs", "highlight",
                               "keys", "question")
VIEWS: tuple[str, ...] = ("main", "compare", "lens", "phase", "cloud", "lab")
DEFAULT_CLOUD_RUNS = 100
PANELS: tuple[str, ...] = ("header", "counters", "strip", "landscape", "lossplot", "lens", "phase",
                           "detail")
PAUSES: tuple[str, ...] = ("epoch", "pass", "step", "none")
RUN_FORMS = ('"epoch"', '"pass"', '"end"', '"step K"', '"iteration K"', '"epoch K"', '"loss X"')
MAX_SPEED = 1_000_000
#: The keys of the main screen a slide may allow (as the key bar and the README write them).
KEYS: dict[str, str] = {
    "space": "run / pause", "n": "one batch", "→": "one batch", "e": "to the end of the epoch",
    "p": "one phase", "←": "step back", "backspace": "step back", "+": "faster", "-": "slower",
    "[": "smaller batch", "]": "larger batch", "<": "halve lr", ">": "double lr",
    "o": "next optimizer", "m": "next sampling", "r": "reset", "s": "settings", "c": "compare", "k": "noise cloud",
    "l": "lens", "d": "phase view", "a": "arithmetic line", "S": "screenshot",
}


# ---------------------------------------------------------------------------------------------
# errors and reading
class LessonError(ValueError):
    """A lesson that cannot be used; ``str(err)`` is ``FILE:LINE: message``."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


def read_text_limited(path: str | Path, limit: int, what: str = "file") -> str:
    """Read a UTF-8 text file that may be hostile, with :func:`engine.files.read_bytes_limited`
    (kind and size checked before reading, never blocking, at most ``limit`` bytes).

    Raises :class:`ValueError` with one sentence (no file name: the caller adds it), or
    :class:`_NotUtf8` naming the line of the first byte that is not UTF-8.
    """
    try:
        raw = read_bytes_limited(path, limit, what)
    except ScenarioError as err:
        raise ValueError(err.reason) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise _NotUtf8(line) from None


class _NotUtf8(ValueError):
    def __init__(self, line: int) -> None:
        self.line = line
        super().__init__("is not UTF-8 text")


def _size(n: int) -> str:
    return f"{n // 1024} KB" if n < 1_000_000 else f"{n / 1_000_000:g} MB"


# ---------------------------------------------------------------------------------------------
# the model
@dataclass(frozen=True)
class RunCondition:
    """When a slide's run stops: ``kind`` is epoch, pass, end, step, iteration, epoch_number
    or loss; ``value`` the K or X of the forms with a number."""

    kind: str
    value: float | int | None
    text: str
    line: int

    def describe(self) -> str:
        """Words for the lesson panel: "to the end of epoch 2"."""
        k, v = self.kind, self.value
        if k == "epoch":
            return "to the end of this epoch"
        if k == "pass":
            return "to the end of this pass over the data"
        if k == "end":
            return "to the end of the run"
        if k == "epoch_number":
            return f"to the end of epoch {v:,}"
        if k == "loss":
            return f"until the training loss is below {v:g}"
        return f"until {k} {v:,}"


@dataclass(frozen=True)
class Question:
    """A question whose answer is a named quantity, computed when it is revealed."""

    ask: str
    answer: str
    explain: str
    line: int


@dataclass(frozen=True)
class Slide:
    """One slide: its prose and what its ``mbsim`` block does when it opens."""

    number: int                       # 1-based
    line: int                         # first line of the slide in the file
    text: str                         # the Markdown without the mbsim block
    title: str
    fresh: bool = False               # starts a fresh run (preset, scenario file or settings)
    scenario: Scenario = DEFAULT      # the lesson's scenario in force on this slide
    changes: tuple[str, ...] = ()     # the settings this slide changes (for the panel)
    run: RunCondition | None = None
    speed: int | None = None          # batches per second; None is "max"
    pause: str = "none"
    view: str | None = None
    runs: int | None = None           # view = "cloud": K runs (None: the default, 100)
    highlight: tuple[str, ...] = ()
    keys: tuple[str, ...] | None = None   # None: every key
    questions: tuple[Question, ...] = ()


@dataclass(frozen=True)
class Lesson:
    """A parsed lesson: where it came from, its front matter, the start scenario, the slides."""

    source: str
    title: str
    audience: str
    minutes: int
    start: Scenario
    slides: tuple[Slide, ...]
    text: str = field(repr=False, default="")

    @property
    def questions(self) -> int:
        return sum(len(s.questions) for s in self.slides)

    @property
    def runs(self) -> int:
        return sum(1 for s in self.slides if s.run is not None)

    def summary(self) -> str:
        """The one line of ``mbsim lesson --check``."""
        return (f"{self.source}: ok — {self.title!r}: {len(self.slides)} slides, "
                f"{self.questions} questions, {self.runs} runs checked against the plan")


# ---------------------------------------------------------------------------------------------
# named quantities: the only answers a question may have
@dataclass(frozen=True)
class Quantity:
    """A named engine quantity: what it means and how to read it from a simulation."""

    name: str
    description: str
    read: Callable[[Simulation], Any]


def _plan(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.plan, attr)


def _counter(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.counters(), attr)


def _noise(attr: str) -> Callable[[Simulation], Any]:
    return lambda sim: getattr(sim.noise(), attr)


def _fpc(sim: Simulation) -> float:
    from .noise import fpc_factor

    return fpc_factor(sim.plan.n_samples, sim.plan.effective_batch)


def _least_squares(sim: Simulation) -> Any:
    """θ* minimising the mean squared error of a linear model (normal equations)."""
    import numpy as np

    if sim.scenario.model != "linear":
        raise ValueError("fit.minimum needs a linear model")
    X = sim.X
    if sim.scenario.bias:
        X = np.column_stack([X, np.ones(len(X))])
    theta, *_ = np.linalg.lstsq(X, sim.y, rcond=None)
    return [float(t) for t in theta]


def _excess_loss(sim: Simulation) -> float:
    """L(θ) − L(θ*): how far the training loss sits above its minimum (linear models)."""
    import numpy as np

    theta = np.asarray(_least_squares(sim))
    return float(sim.train_loss - sim.model.loss(theta, sim.X, sim.y))


def _sample_minima(sim: Simulation) -> Any:
    """Where each sample's own loss (w·x_i − y_i)² is lowest: w = y_i / x_i (one weight, no bias)."""
    if sim.scenario.model != "linear" or sim.scenario.bias or sim.X.shape[1] != 1:
        raise ValueError("fit.sample_minima needs a linear model with one weight and no bias")
    return [float(y / x) for x, y in zip(sim.X[:, 0], sim.y)]


def _distinct(sim: Simulation) -> int:
    order = sim.order
    return 0 if order is None else len(set(order.tolist()))


def _unused(sim: Simulation) -> int:
    order = sim.order
    return sim.plan.n_samples - (0 if order is None else len(set(order.tolist())))


def _last(attr: str) -> Callable[[Simulation], Any]:
    def read(sim: Simulation) -> Any:
        last = sim.last
        if last is None:
            raise ValueError("no iteration has run yet")
        value = getattr(last, attr)
        return value.tolist() if hasattr(value, "tolist") else value

    return read


_Q = [
    ("plan.n_samples", "N, the training samples", _plan("n_samples")),
    ("plan.batch_size", "B, samples per (micro-)batch", _plan("batch_size")),
    ("plan.batches_per_pass", "M, batches in one pass over the data: ⌈N/B⌉ (⌊N/B⌋ with drop_last)",
     _plan("batches_per_pass")),
    ("plan.batch_sizes", "the sizes of the batches of one pass, in order", lambda s: list(s.plan.batch_sizes)),
    ("plan.last_batch_size", "the size of the last batch of a pass: N − (M−1)·B when it is short",
     _plan("last_batch_size")),
    ("plan.leftover", "samples left out of every pass by drop_last (N mod B)", _plan("leftover")),
    ("plan.iterations_per_epoch", "iterations (forward + backward passes) per epoch", _plan("iterations_per_epoch")),
    ("plan.steps_per_epoch", "optimizer steps (updates) per epoch", _plan("steps_per_epoch_count")),
    ("plan.accumulate", "K, micro-batches accumulated into one step", _plan("accumulate")),
    ("plan.effective_batch", "samples behind one update: K·B", _plan("effective_batch")),
    ("plan.epochs", "epochs of the run (from the last change of settings)", _plan("epochs")),
    ("plan.total_iterations", "iterations in the whole run", _plan("total_iterations")),
    ("plan.total_steps", "optimizer steps (updates) in the whole run", _plan("total_steps")),
    ("plan.total_samples", "samples that go through the model in the whole run (repeats counted)",
     _plan("total_samples")),
    ("plan.passes", "passes over the data in the whole run", _plan("passes")),
    ("plan.algorithm", "the algorithm's name: Batch GD, SGD or Mini-batch GD", _plan("algorithm")),
    ("sim.epoch", "the epoch counter now (1-based: the epoch of the latest batch)", _counter("epoch")),
    ("sim.batch", "batches done in the current epoch", _counter("batch")),
    ("sim.pass", "the pass over the data now (differs from the epoch with steps_per_epoch)",
     _counter("pass_number")),
    ("sim.iteration", "iterations done so far", lambda s: s.iteration),
    ("sim.step", "optimizer steps (updates) done so far", lambda s: s.step),
    ("sim.samples", "samples seen so far (repeats counted)", lambda s: s.samples_seen),
    ("sim.train_loss", "the full training-set loss at the current parameters", lambda s: s.train_loss),
    ("sim.val_loss", "the validation loss at the current parameters", lambda s: s.val_loss),
    ("sim.epoch_loss", "Keras' running mean of the batch losses over the epoch", lambda s: s.epoch_loss),
    ("sim.accuracy", "the training accuracy (classification only)", lambda s: s.accuracy()),
    ("sim.params", "the current parameters θ", lambda s: s.params.tolist()),
    ("sim.lr", "the learning rate in force", lambda s: s.scenario.lr),
    ("last.batch_loss", "the loss of the last batch, before its update", _last("batch_loss")),
    ("last.grad", "ĝ, the mean gradient of the last batch", _last("grad")),
    ("last.update", "θ_new − θ_old of the last iteration", _last("update")),
    ("last.indices", "the sample indices of the last batch", _last("indices")),
    ("order.distinct", "different samples in this pass's order", _distinct),
    ("order.unused", "samples that this pass's order never uses (with replacement: N − distinct)", _unused),
    ("noise.grad_norm", "|G|, the norm of the full gradient", _noise("grad_norm")),
    ("noise.batch_grad_norm", "|ĝ|, the norm of the current batch's gradient", _noise("batch_grad_norm")),
    ("noise.cosine", "cos(ĝ, G): how well the batch gradient points along the full gradient", _noise("cosine")),
    ("noise.trace_sigma", "tr Σ, the per-sample gradient variance (divisor N)", _noise("trace_sigma")),
    ("noise.trace_cov", "tr Cov[ĝ] = (N−B)/(B(N−1)) · tr Σ, without replacement", _noise("trace_cov")),
    ("noise.trace_cov_replacement", "tr Cov[ĝ] = tr Σ / B, with replacement", _noise("trace_cov_replacement")),
    ("noise.fpc", "the finite population factor (N−B)/(B(N−1))", _fpc),
    ("noise.b_simple", "B_simple = tr Σ / |G|², the simple noise scale", _noise("b_simple")),
    ("noise.lr_over_batch", "η/B: the noise floor of constant-step SGD grows with it",
     lambda s: s.scenario.lr / s.plan.effective_batch),
    ("fit.minimum", "θ* that minimises the mean training loss (linear models)", _least_squares),
    ("fit.excess_loss", "L(θ) − L(θ*): the training loss above its minimum (linear models)", _excess_loss),
    ("fit.sample_minima", "where each sample's own loss is lowest: w = y_i / x_i", _sample_minima),
]
QUANTITIES: dict[str, Quantity] = {name: Quantity(name, desc, read) for name, desc, read in _Q}


def quantity_value(name: str, sim: Simulation) -> Any:
    """The value of a named quantity now (a number, a name or a list of numbers)."""
    return QUANTITIES[name].read(sim)


def format_quantity(value: Any) -> str:
    """A quantity for a person: 40,000 · 0.5 · 400, 400, 200 · Mini-batch GD."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return format_quantity(value[0])
        return ", ".join(format_quantity(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, int) or (hasattr(value, "dtype") and "int" in str(getattr(value, "dtype", ""))):
        return f"{int(value):,}"
    if isinstance(value, float) or hasattr(value, "dtype"):
        v = float(value)
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v == int(v) and abs(v) < 1e15:
            return f"{int(v):,}"
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(value)


def check_answer(typed: str, value: Any) -> bool:
    """Does what a student typed match the quantity? Whole numbers exactly, other numbers to
    0.5 % (or to the digits shown), lists item by item, names ignoring case and spaces."""
    text = typed.strip().replace("−", "-")
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return check_answer(typed, value[0])
        parts = [p for p in re.split(r"[,;\s]+", text) if p]
        return len(parts) == len(value) and all(check_answer(p, v) for p, v in zip(parts, value))
    if isinstance(value, str):
        norm = lambda s: re.sub(r"[\s_-]+", "", s).lower()  # noqa: E731
        return norm(text) == norm(value)
    try:
        got = float(text.replace(",", "").replace("_", "").replace(" ", ""))
    except ValueError:
        return False
    v = float(value)
    if not math.isfinite(v):
        return got == v
    if v == int(v):
        return got == v
    return abs(got - v) <= 0.005 * abs(v) or format_quantity(got) == format_quantity(v)


# ---------------------------------------------------------------------------------------------
# run conditions against the plan
class Unreachable(ValueError):
    """A run condition that can never be met from where the run is."""


def parse_run(text: Any, line: int) -> RunCondition:
    """``"epoch"``, ``"pass"``, ``"end"``, ``"step K"``, ``"iteration K"``, ``"epoch K"``, ``"loss X"``."""
    if not isinstance(text, str):
        raise ValueError(f"run = {format_value(text)}: must be text, one of {', '.join(RUN_FORMS)}")
    words = text.split()
    if len(words) == 1 and words[0] in ("epoch", "pass", "end"):
        return RunCondition(words[0], None, text, line)
    if len(words) == 2 and words[0] in ("step", "iteration", "epoch"):
        try:
            k = int(words[1].replace(",", "").replace("_", ""))
        except ValueError:
            raise ValueError(f"run = {text!r}: {words[0]} needs a whole number, e.g. \"{words[0]} 40\"") from None
        if k < 1:
            raise ValueError(f"run = {text!r}: {words[0]} must be at least 1")
        return RunCondition("epoch_number" if words[0] == "epoch" else words[0], k, text, line)
    if len(words) == 2 and words[0] == "loss":
        try:
            x = float(words[1])
        except ValueError:
            raise ValueError(f"run = {text!r}: loss needs a number, e.g. \"loss 0.1\"") from None
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"run = {text!r}: the loss must be a finite number above 0")
        return RunCondition("loss", x, text, line)
    close = difflib.get_close_matches(words[0] if words else "", ["epoch", "pass", "end", "step", "iteration", "loss"], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"run = {text!r}: allowed: {', '.join(RUN_FORMS)}{hint}")


def run_target(cond: RunCondition, plan: Plan, iteration: int, step: int, *, start_iteration: int = 0,
               start_step: int = 0, start_epoch: int = 0) -> int | None:
    """The global iteration at which ``cond`` is met, for a run at ``iteration``/``step`` whose
    settings (``plan``) took force at ``start_iteration``/``start_step``/``start_epoch``.

    None for a loss condition (known only by running). Raises :class:`Unreachable` when the
    condition is already behind or beyond the end of the run. SCIENCE.md §1: an epoch is
    ``plan.iterations_per_epoch`` iterations, a pass ``plan.batches_per_pass``; without
    steps_per_epoch step s of an epoch ends after min(s·K, M) of its iterations.
    """
    local = iteration - start_iteration
    total = plan.total_iterations
    ipe, m, k = plan.iterations_per_epoch, plan.batches_per_pass, plan.accumulate
    if local >= total and cond.kind != "loss":
        raise Unreachable(f"the run is already finished (iteration {iteration:,} of {start_iteration + total:,})")
    kind, v = cond.kind, cond.value
    if kind == "loss":
        return None
    if kind == "end":
        target = total
    elif kind == "epoch":
        epoch = plan.locate(local).epoch
        target = plan.epoch_start(epoch) + plan.epoch_iterations(epoch)
    elif kind == "pass":
        per_pass = plan.batches_per_pass if plan.continues else (plan.iterations_per_pass or m)
        target = min((local // per_pass + 1) * per_pass, total)
    elif kind == "epoch_number":
        last_epoch = start_epoch + plan.epochs
        if v > last_epoch:
            raise Unreachable(f"the run has only {last_epoch:,} epochs (plan.epochs)")
        target = plan.epoch_start(v - start_epoch) if v > start_epoch else 0
        if target <= local:
            raise Unreachable(f"epoch {v:,} is already complete (the run is at iteration {iteration:,})")
    elif kind == "iteration":
        target = v - start_iteration
        if target > total:
            raise Unreachable(f"the run has only {start_iteration + total:,} iterations (plan.total_iterations)")
        if target <= local:
            raise Unreachable(f"the run is already at iteration {iteration:,}")
    else:  # step: after the last micro-batch of local step s (steps grow with the iterations)
        s = v - start_step
        if s > plan.total_steps:
            raise Unreachable(f"the run has only {start_step + plan.total_steps:,} steps (plan.total_steps)")
        if v <= step:
            raise Unreachable(f"the run is already at step {step:,}")
        low, high = 0, total - 1        # the last iteration whose step index is s − 1
        while low < high:
            mid = (low + high + 1) // 2
            if plan.locate(mid).step <= s - 1:
                low = mid
            else:
                high = mid - 1
        target = low + 1
    return start_iteration + target


def plan_of(scenario: Scenario) -> Plan:
    """The batch arithmetic of a scenario (the data are read only for a CSV, to know N)."""
    from .sampling import make_plan

    if scenario.is_csv:
        from .simulation import Simulation

        return Simulation(scenario).plan
    return make_plan(scenario.samples, scenario.batch_size, drop_last=scenario.drop_last,
                     accumulate=scenario.accumulate, steps_per_epoch=scenario.steps_per_epoch_or_none,
                     epochs=scenario.epochs)


# ---------------------------------------------------------------------------------------------
# parsing
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w-]*)")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _key_lines(lines: list[str], first: int) -> dict[str, list[int]]:
    """For each key written ``key = ...`` in a TOML text, the file lines where it appears."""
    found: dict[str, list[int]] = {}
    for i, text in enumerate(lines):
        if text.strip().replace(" ", "") == "[[question]]":
            found.setdefault("[[question]]", []).append(first + i)
            continue
        m = _KEY.match(text)
        if m:
            found.setdefault(m.group(1), []).append(first + i)
    return found


def _toml(lines: list[str], first: int, source: str, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads("\n".join(lines))
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_AT.search(msg)
        if m:
            line = first + int(m.group(1)) - 1
        else:  # "(at end of document)": the last line written
            written = [i for i, t in enumerate(lines) if t.strip()]
            line = first + (written[-1] if written else 0)
        reason = _TOML_AT.sub("", msg).replace("(at end of document)", "at the end").strip()
        raise LessonError(source, line, f"{what} is not valid TOML: {reason}") from None
    except (RecursionError, ValueError) as exc:  # valid TOML beyond a limit of Python's (issue 23)
        at, reason = toml_limit_problem(lines, exc)
        raise LessonError(source, first + at, f"{what} {reason}") from None


def _unknown(key: str, allowed: tuple[str, ...], what: str) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}, or a scenario setting"
    return f"unknown {what} {key!r}: {hint}"


def parse_lesson(text: str, source: str, base_dir: str | Path | None = None) -> Lesson:
    """Parse and validate a lesson's text (not yet its run conditions: see :func:`check_lesson`)."""
    base_dir = Path(base_dir) if base_dir is not None else Path(".")
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        bad = next((c for c in line if (ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0), None)
        if bad is not None:
            raise LessonError(source, number, f"holds a control character (U+{ord(bad):04X}); "
                                              "a lesson is plain text")
    first_body = 0
    front: dict[str, Any] = {}
    front_lines: dict[str, list[int]] = {}
    if lines and lines[0].strip() == "+++":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "+++"), None)
        if end is None:
            raise LessonError(source, 1, "the front matter opened with '+++' is never closed "
                                         "(end it with a line holding '+++')")
        body = lines[1:end]
        front = _toml(body, 2, source, "the front matter")
        front_lines = _key_lines(body, 2)
        first_body = end + 1
    # slides: split at lines holding --- outside fenced code
    slides_raw: list[tuple[int, list[str]]] = []
    current: list[str] = []
    start = first_body + 1
    fence: str | None = None
    for i in range(first_body, len(lines)):
        text_line = lines[i]
        m = _FENCE.match(text_line)
        if m:
            if fence is None:
                fence = m.group(1)
            elif m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2):
                fence = None
        if fence is None and text_line.strip() == "---":
            slides_raw.append((start, current))
            current, start = [], i + 2
            continue
        current.append(text_line)
    slides_raw.append((start, current))
    if len(slides_raw) > MAX_SLIDES:
        raise LessonError(source, 1, f"has {len(slides_raw)} slides; at most {MAX_SLIDES}")

    title, audience, minutes, start_scenario = _front_matter(front, front_lines, source, base_dir)
    scenario = start_scenario
    slides: list[Slide] = []
    for number, (line, body) in enumerate(slides_raw, start=1):
        slide = _parse_slide(number, line, body, source, base_dir, scenario)
        scenario = slide.scenario
        slides.append(slide)
    if not title:
        title = next((s.title for s in slides if s.title), Path(source).stem)
    return Lesson(source, title, audience, minutes, start_scenario, tuple(slides), text)


def _front_matter(front: dict[str, Any], key_lines: dict[str, list[int]], source: str,
                  base_dir: Path) -> tuple[str, str, int, Scenario]:
    def line_of(key: str) -> int:
        return key_lines.get(key, [1])[0]

    for key in front:
        if key not in FRONT_KEYS and key not in FIELD_NAMES:
            raise LessonError(source, line_of(key), _unknown(key, FRONT_KEYS, "front matter key"))
    title = front.get("title", "")
    audience = front.get("audience", "")
    minutes = front.get("minutes", 0)
    for key, value in (("title", title), ("audience", audience)):
        if not isinstance(value, str):
            raise LessonError(source, line_of(key), f"{key} = {format_value(value)}: must be text")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 <= minutes <= 600:
        raise LessonError(source, line_of("minutes"), f"minutes = {format_value(minutes)}: "
                                                      "must be a whole number of minutes from 0 to 600")
    return title, audience, minutes, _start_scenario(front, key_lines, source, base_dir)


def _start_scenario(front: dict[str, Any], key_lines: dict[str, list[int]], source: str,
                    base_dir: Path) -> Scenario:
    settings = {k: v for k, v in front.items() if k in FIELD_NAMES}
    return _fresh_scenario(front, settings, key_lines, source, base_dir, DEFAULT, 1)


def _fresh_scenario(block: dict[str, Any], settings: dict[str, Any], key_lines: dict[str, list[int]],
                    source: str, base_dir: Path, base: Scenario, default_line: int) -> Scenario:
    """The scenario a block (or the front matter) asks for, validated by the engine."""
    def line_of(key: str) -> int:
        return key_lines.get(key, [default_line])[0]

    if "preset" in block and "scenario" in block:
        raise LessonError(source, line_of("scenario"), "give preset or scenario, not both")
    if "preset" in block:
        name = block["preset"]
        if not isinstance(name, str):
            raise LessonError(source, line_of("preset"), f"preset = {format_value(name)}: must be a preset's name")
        try:
            base = load_preset(name)
        except ScenarioError as err:
            raise LessonError(source, line_of("preset"), str(err)) from None
    elif "scenario" in block:
        path = block["scenario"]
        if not isinstance(path, str) or not path.strip():
            raise LessonError(source, line_of("scenario"), f"scenario = {format_value(path)}: must be a file name")
        full = Path(path) if Path(path).is_absolute() else base_dir / path
        try:
            text = read_text_limited(full, MAX_SCENARIO_BYTES, "scenario file")
        except ValueError as err:
            raise LessonError(source, line_of("scenario"), f"scenario file {path!r} {err}") from None
        try:
            base = from_toml_text(text, source=f"scenario file {path!r}", base=DEFAULT).replace(name=Path(path).stem)
        except ScenarioError as err:
            raise LessonError(source, line_of("scenario"), str(err)) from None
    try:
        scenario = from_mapping(settings, base=base, source="lesson") if settings else base
        scenario.validate()
    except ScenarioError as err:
        key = err.setting if err.setting in settings else next(iter(settings), "preset")
        raise LessonError(source, line_of(key), str(err)) from None
    except TypeError as err:
        raise LessonError(source, default_line, f"bad setting ({err})") from None
    return scenario


def _parse_slide(number: int, line: int, body: list[str], source: str, base_dir: Path,
                 scenario: Scenario) -> Slide:
    prose: list[str] = []
    block: list[str] | None = None
    block_line = 0
    i = 0
    while i < len(body):
        text = body[i]
        m = _FENCE.match(text)
        if m and m.group(2) == "mbsim":
            if block is not None:
                raise LessonError(source, line + i, f"slide {number} has a second ```mbsim block "
                                                     f"(the first is at line {block_line - 1}); put every directive in one")
            fence = m.group(1)
            j = i + 1
            while j < len(body) and not (body[j].strip().startswith(fence) and body[j].strip().strip(fence[0]) == ""):
                j += 1
            if j >= len(body):
                raise LessonError(source, line + i, f"the ```mbsim block of slide {number} is never closed "
                                                     f"(end it with a line holding {fence})")
            block = body[i + 1 : j]
            block_line = line + i + 1
            i = j + 1
            continue
        prose.append(text)
        i += 1
    markdown = "\n".join(prose).strip("\n")
    if not markdown.strip() and block is None:
        raise LessonError(source, line, f"slide {number} is empty (remove the extra '---' or write the slide)")
    title = next((t.lstrip("#").strip() for t in prose if t.startswith("#")), "")
    if block is None:
        return Slide(number, line, markdown, title, scenario=scenario)
    data = _toml(block, block_line, source, f"the ```mbsim block of slide {number}")
    kl = _key_lines(block, block_line)

    def line_of(key: str, n: int = 0) -> int:
        found = kl.get(key, [])
        return found[n] if n < len(found) else block_line

    def fail(key: str, message: str, n: int = 0) -> LessonError:
        return LessonError(source, line_of(key, n), message)

    for key in data:
        if key not in DIRECTIVES and key not in FIELD_NAMES:
            raise fail(key, _unknown(key, DIRECTIVES, "directive"))
    settings = {k: v for k, v in data.items() if k in FIELD_NAMES}
    fresh = bool(settings) or "preset" in data or "scenario" in data
    if fresh:
        scenario = _fresh_scenario(data, settings, kl, source, base_dir, scenario, block_line)
        if settings and "name" not in settings:  # the header names what is on screen
            scenario = scenario.replace(name=f"{Path(source).stem} slide {number}")
    run = None
    if "run" in data:
        try:
            run = parse_run(data["run"], line_of("run"))
        except ValueError as err:
            raise fail("run", str(err)) from None
    speed: int | None = None
    if "speed" in data:
        raw = data["speed"]
        if raw == "max":
            speed = None
        elif isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) \
                or not 1 <= raw <= MAX_SPEED:
            raise fail("speed", f"speed = {format_value(raw)}: must be batches per second from 1 to "
                                f"{MAX_SPEED:,}, or \"max\"")
        else:
            speed = int(raw)
        if run is None:
            raise fail("speed", "speed = ... needs a run = ... on the same slide (the speed of that run)")
    pause = data.get("pause", "none")
    if pause not in PAUSES:
        raise fail("pause", f"pause = {format_value(pause)}: {_allowed(pause, PAUSES)}")
    view = data.get("view")
    if view is not None and view not in VIEWS:
        raise fail("view", f"view = {format_value(view)}: {_allowed(view, VIEWS)}")
    if view == "compare" and run is not None:
        raise fail("run", "run = ... cannot go with view = \"compare\": compare mode has its own three "
                          "runs (space runs them); put the run on a slide of its own")
    if view == "lab" and run is not None:
        raise fail("run", "run = ... cannot go with view = \"lab\": the lab runs its own sweep of batch "
                          "sizes; put the run on a slide of its own")
    if view == "cloud" and run is not None:
        raise fail("run", "run = ... cannot go with view = \"cloud\": the noise cloud has its own K "
                          "runs (space runs them); put the run on a slide of its own")
    runs = data.get("runs")
    if runs is not None:
        from .ensemble import MAX_RUNS

        if view != "cloud":
            raise fail("runs", "runs = K goes with view = \"cloud\" (the noise cloud's runs)")
        if isinstance(runs, bool) or not isinstance(runs, int) or not 1 <= runs <= MAX_RUNS:
            raise fail("runs", f"runs = {format_value(runs)}: must be a whole number from 1 to {MAX_RUNS}")
    highlight = data.get("highlight", ())
    if isinstance(highlight, str):
        highlight = (highlight,)
    if not isinstance(highlight, (list, tuple)) or not all(isinstance(h, str) for h in highlight):
        raise fail("highlight", f"highlight = {format_value(highlight)}: must be a panel's name or a list of them")
    for h in highlight:
        if h not in PANELS:
            raise fail("highlight", f"highlight {h!r}: {_allowed(h, PANELS)}")
    keys = data.get("keys")
    if keys is not None:
        if keys == "all":
            keys = None
        elif not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise fail("keys", "keys = ...: must be a list of keys, e.g. [\"n\", \"e\", \"space\"], or \"all\"")
        else:
            for k in keys:
                if k not in KEYS:
                    raise fail("keys", f"keys: {k!r} is not a key of the main screen; {_allowed(k, tuple(KEYS))}")
            keys = tuple(keys)
    questions = []
    raw_q = data.get("question", [])
    if isinstance(raw_q, dict):
        raw_q = [raw_q]
    if not isinstance(raw_q, list):
        raise fail("question", "question: write each question as a [[question]] table")
    for n, q in enumerate(raw_q):
        qline = line_of("[[question]]", n)
        if not isinstance(q, dict):
            raise LessonError(source, qline, "question: write each question as a [[question]] table")
        for key in q:
            if key not in ("ask", "answer", "explain"):
                raise LessonError(source, qline, _unknown(key, ("ask", "answer", "explain"), "question key")
                                  .replace(", or a scenario setting", ""))
        ask, answer, explain = q.get("ask"), q.get("answer"), q.get("explain", "")
        if not isinstance(ask, str) or not ask.strip():
            raise LessonError(source, qline, "question: needs ask = \"the question\"")
        if answer is None:
            raise LessonError(source, qline, "question: needs answer = \"NAME\", a named quantity such as "
                                             "\"plan.total_steps\" (see mbsim lesson --quantities)")
        if not isinstance(answer, str):
            raise fail("answer", f"answer = {format_value(answer)}: an answer is the name of an engine "
                                 "quantity (e.g. \"plan.total_steps\"), never a number typed in", n)
        if answer not in QUANTITIES:
            close = difflib.get_close_matches(answer, list(QUANTITIES), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}?" if close else "see mbsim lesson --quantities"
            raise fail("answer", f"answer {answer!r}: unknown quantity; {hint}", n)
        if not isinstance(explain, str):
            raise fail("explain", "explain = ...: must be text", n)
        questions.append(Question(ask.strip(), answer, explain.strip(), line_of("answer", n)))
    return Slide(number, line, markdown, title, fresh=fresh, scenario=scenario,
                 changes=tuple(settings), run=run, speed=speed, pause=pause, view=view, runs=runs,
                 highlight=tuple(highlight), keys=keys, questions=tuple(questions))


def _allowed(value: Any, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(value), list(allowed), n=1, cutoff=0.5)
    text = "allowed: " + ", ".join(allowed)
    return f"{text} (did you mean {close[0]!r}?)" if close else text


# ---------------------------------------------------------------------------------------------
# checking against the plan, loading, the built-in lessons
def check_lesson(lesson: Lesson) -> Lesson:
    """Check every run condition against the plan of the scenario in force on its slide,
    following the counters from slide to slide as the directives move them.

    After a ``loss`` condition the position is known only to lie before the end, so later
    conditions are checked against the end of the run alone.
    """
    iteration = step = 0
    known = True
    plan = None
    for slide in lesson.slides:
        if slide.fresh or plan is None:
            try:
                plan = plan_of(slide.scenario)
            except ScenarioError as err:
                raise LessonError(lesson.source, slide.line, str(err)) from None
            if slide.fresh:
                iteration = step = 0
                known = True
        cond = slide.run
        if cond is None:
            continue
        try:
            if known:
                target = run_target(cond, plan, iteration, step)
            else:
                target = run_target(cond, plan, 0, 0) if cond.kind not in ("epoch", "pass") else None
        except Unreachable as err:
            raise LessonError(lesson.source, cond.line, f"run = {cond.text!r} can never be met: {err}") from None
        if target is None or not known:
            known = False
            continue
        iteration = target
        step = _steps_after(plan, target)
    return lesson


def _steps_after(plan: Plan, iterations: int) -> int:
    """Optimizer steps done after ``iterations`` iterations (SCIENCE.md §1.2)."""
    if iterations >= plan.total_iterations:
        return plan.total_steps
    return plan.locate(iterations).step


def builtin_names() -> list[str]:
    """The built-in lessons, in teaching order."""
    folder = resources.files("engine") / LESSON_FOLDER
    names = [e.name[:-3] for e in folder.iterdir() if e.name.endswith(".md")]
    return sorted(names, key=lambda n: (BUILTIN_ORDER.index(n) if n in BUILTIN_ORDER else len(BUILTIN_ORDER), n))


BUILTIN_ORDER = ("epochs-and-batches", "iteration-vs-step", "gd-sgd-minibatch", "why-shuffle",
                 "one-iteration", "three-losses", "batch-size-and-noise")


def builtin_text(name: str) -> str:
    """The Markdown of a built-in lesson."""
    return (resources.files("engine") / LESSON_FOLDER / f"{name}.md").read_text(encoding="utf-8")


def looks_like_file(spec: str) -> bool:
    """A lesson given as a file (ends in .md or names a path) rather than a built-in's name."""
    return spec.endswith(".md") or os.sep in spec or "/" in spec or spec.startswith(".")


def lesson_source(spec: str) -> tuple[str, str, Path | None]:
    """(label, text, folder) of a lesson named by a built-in's name or a file path."""
    if not looks_like_file(spec) and spec in builtin_names():
        return f"{spec}.md", builtin_text(spec), None
    if not looks_like_file(spec) and not os.path.exists(spec):
        names = builtin_names()
        close = difflib.get_close_matches(spec, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise LessonError(spec, 1, f"no such lesson{hint}: built-in lessons are {', '.join(names)}; "
                                   "or give a FILE.md")
    try:
        text = read_text_limited(spec, MAX_LESSON_BYTES, "lesson file")
    except _NotUtf8 as err:
        raise LessonError(spec, err.line, "is not UTF-8 text; save the lesson as UTF-8") from None
    except ValueError as err:
        raise LessonError(spec, 1, str(err)) from None
    return spec, text, Path(spec).resolve().parent


def load_lesson(spec: str) -> Lesson:
    """Read, parse and check a lesson by built-in name or file path; raises :class:`LessonError`."""
    label, text, folder = lesson_source(spec)
    return check_lesson(parse_lesson(text, label, folder))


def builtin_lessons() -> list[Lesson]:
    """Every built-in lesson, parsed and checked."""
    return [load_lesson(name) for name in builtin_names()]
