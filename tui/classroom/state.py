"""What a follower needs to show the teacher's screen, and the lesson it is sent.

A :class:`FollowState` is small and exact: the slide, the panels, the view (and the loss plot's
x axis, the landscape's parameters, the speed), the main run's
journal (:mod:`engine.journal`: the follower replays it with the same engine and reaches the
same counters and losses to the last digit), the answers the teacher revealed, whether the class
is locked to the teacher's screen and whether the teacher's run is running. It is sent whole
each time (a follower that joins late or reconnects needs nothing else), at most
:data:`tui.classroom.server.PUBLISH_INTERVAL` apart.

:func:`lesson_bundle` is the lesson as sent in ``hello``: a built-in lesson by its name, a lesson
file by its text and the scenario files it names (relative paths in its folder, read with the
same limits as the lesson's own); :func:`load_bundle` parses it on the follower's side, the
scenario files in a private temporary folder. Every field read from the wire is checked.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mbsim.engine.journal import Journal, JournalError, journal_from_json, scenario_from_json
from mbsim.engine.scenario import Scenario

from .protocol import MAX_ANSWER, MAX_QUESTIONS, ProtocolError, clean_text, dump

VIEW_KINDS = ("compare", "cloud", "lab")
MAX_STATUS = 200
MAX_REVEALED_TEXT = 1000
MAX_OPS = 4096
MAX_PARAM_INDEX = 100_000
#: A state without a speed: the app's default (tui.runloop.DEFAULT_SPEED; not imported, no Textual here).
DEFAULT_SPEED = 10.0
#: The loss plot's x axes (tui.widgets._lossplot_axes.X_AXES; not imported, no Textual here); a
#: state without one: the plot's default, the first.
LOSS_X_AXES = ("steps", "epochs", "samples")
MAX_FILES = 16
SCENARIO_LINE = re.compile(r"""^\s*scenario\s*=\s*["']([^"']+)["']""", re.MULTILINE)


@dataclass(frozen=True)
class ViewState:
    """A view screen opened over the main screen: compare mode, the noise cloud or the lab, on
    ``scenario`` (``runs``: the cloud's K), and the ticks done in it (``ops``:
    :class:`engine.journal.TickJournal`'s list)."""

    kind: str
    scenario: Scenario
    runs: int = 0
    align: str = ""
    ops: tuple = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "scenario": self.scenario.to_dict(), "runs": self.runs,
                "align": self.align, "ops": [list(op) if isinstance(op, tuple) else op for op in self.ops]}


@dataclass(frozen=True)
class FollowState:
    """Everything a follower shows of the teacher's screen (module docstring)."""

    seq: int
    slide: int
    journal: Journal
    locked: bool = True
    lens: bool = False
    phase: bool = False
    view: ViewState | None = None
    revealed: dict[int, str] = field(default_factory=dict)
    running: bool = False
    status: str = ""
    at: float = 0.0
    questions: int = 0          # questions on the slide (a browser page's answer box)
    speed: float | None = DEFAULT_SPEED   # the teacher's speed, batches per second (None: "max")
    pair: tuple[int, int] | None = None   # the landscape's two parameters, when the teacher chose them
    x_axis: str = LOSS_X_AXES[0]          # what the loss plot's x axis counts (LOSS_X_AXES)

    def same_as(self, other: FollowState | None) -> bool:
        """True when a follower would show the same (the sequence number and time aside)."""
        if other is None:
            return False
        return (self.slide, self.journal, self.locked, self.lens, self.phase, self.view, self.revealed,
                self.running, self.status, self.questions, self.speed, self.pair, self.x_axis) == (
                    other.slide, other.journal, other.locked, other.lens, other.phase, other.view,
                    other.revealed, other.running, other.status, other.questions, other.speed, other.pair,
                    other.x_axis)

    def encode(self) -> str:
        return dump({"t": "state", "seq": self.seq, "at": self.at, "slide": self.slide,
                     "locked": self.locked, "lens": self.lens, "phase": self.phase,
                     "view": None if self.view is None else self.view.to_json(),
                     "sim": self.journal.to_json(),
                     "revealed": {str(k): v for k, v in sorted(self.revealed.items())},
                     "running": self.running, "status": self.status, "questions": self.questions,
                     "speed": self.speed, "pair": None if self.pair is None else list(self.pair),
                     "x_axis": self.x_axis})


def _speed(data: dict[str, Any]) -> float | None:
    """The state's speed: batches per second (0.2 to 100000) or null ("max"); absent: the default."""
    value = data.get("speed", DEFAULT_SPEED)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.2 <= value <= 100_000:
        raise ProtocolError("the state's speed must be null (max) or batches per second from 0.2 to 100000")
    return float(value)


def _pair(data: dict[str, Any]) -> tuple[int, int] | None:
    """The landscape's two parameters (two different indices) or null (the lesson's own view)."""
    value = data.get("pair")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("the state's landscape pair must be null or two parameter numbers")
    i, j = (_index(v, "a landscape parameter", MAX_PARAM_INDEX) for v in value)
    if i == j:
        raise ProtocolError("the landscape's two parameters must differ")
    return i, j


def _x_axis(data: dict[str, Any]) -> str:
    """What the loss plot's x axis counts: one of :data:`LOSS_X_AXES`; absent: the first."""
    value = data.get("x_axis", LOSS_X_AXES[0])
    if not isinstance(value, str) or value not in LOSS_X_AXES:
        raise ProtocolError(f"the state's loss plot x axis must be one of {', '.join(LOSS_X_AXES)}")
    return value


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        raise ProtocolError(f"the state's {key} must be true or false")
    return value


def _index(value: Any, what: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ProtocolError(f"{what} must be a whole number from 0 to {high}")
    return value


def read_view(data: Any) -> ViewState | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ProtocolError("the view must be an object")
    kind = data.get("kind")
    if kind not in VIEW_KINDS:
        raise ProtocolError(f"the view {clean_text(kind, 20)!r}: one of {', '.join(VIEW_KINDS)}")
    try:
        scenario = scenario_from_json(data.get("scenario"))
    except JournalError as err:
        raise ProtocolError(f"the view's {err}") from None
    runs = _index(data.get("runs"), "the view's runs", 1000)
    align = data.get("align")
    if not isinstance(align, str) or len(align) > 20:
        raise ProtocolError("the view's align must be short text")
    ops = data.get("ops")
    if not isinstance(ops, list) or len(ops) > MAX_OPS:
        raise ProtocolError(f"the view's ops must be a list of at most {MAX_OPS}")
    from mbsim.engine.journal import check_tick_ops

    try:
        checked = check_tick_ops(ops)
    except JournalError as err:
        raise ProtocolError(f"the view's {err}") from None
    return ViewState(kind, scenario, runs, align, checked)


def read_state(data: dict[str, Any]) -> FollowState:
    """A ``state`` message's fields, every one checked (:class:`ProtocolError`)."""
    seq = _index(data.get("seq"), "the state's seq", 2**53)
    at = data.get("at")
    if isinstance(at, bool) or not isinstance(at, (int, float)):
        raise ProtocolError("the state's time must be a number")
    slide = _index(data.get("slide"), "the slide", 10_000)
    try:
        journal = journal_from_json(data.get("sim"))
    except JournalError as err:
        raise ProtocolError(f"the run: {err}") from None
    revealed_raw = data.get("revealed")
    if not isinstance(revealed_raw, dict) or len(revealed_raw) > MAX_QUESTIONS:
        raise ProtocolError("the revealed answers must be an object of at most 100")
    revealed: dict[int, str] = {}
    for key, value in revealed_raw.items():
        if not (isinstance(key, str) and key.isdigit() and len(key) <= 3):
            raise ProtocolError("a revealed answer's key must be a question number")
        revealed[int(key)] = clean_text(value, MAX_REVEALED_TEXT)
    status = data.get("status")
    if not isinstance(status, str):
        raise ProtocolError("the state's status must be text")
    questions = _index(data.get("questions"), "the state's questions", MAX_QUESTIONS)
    return FollowState(seq, slide, journal, _bool(data, "locked"), _bool(data, "lens"), _bool(data, "phase"),
                       read_view(data.get("view")), revealed, _bool(data, "running"),
                       clean_text(status, MAX_STATUS), float(at), questions, _speed(data), _pair(data),
                       _x_axis(data))


# ------------------------------------------------------------------------------------------------
# the lesson, sent once
def lesson_bundle(spec: str) -> dict[str, Any]:
    """The lesson named by ``spec`` as ``hello`` carries it (module docstring); raises
    :class:`engine.lessons.LessonError` when a file it names cannot be sent."""
    from mbsim.engine.lessons import LessonError, builtin_names, lesson_source, looks_like_file
    from mbsim.engine.lessons.reading import MAX_SCENARIO_BYTES, read_text_limited

    if not looks_like_file(spec) and spec in builtin_names():
        return {"builtin": spec}
    label, text, folder = lesson_source(spec)
    files: dict[str, str] = {}
    for m in SCENARIO_LINE.finditer(text):
        name = m.group(1).strip()
        line = text.count("\n", 0, m.start()) + 1
        if not _safe_relative(name):
            raise LessonError(label, line, f"scenario = {name!r}: class mode sends a lesson's scenario files to "
                                           "the students, so they must sit in the lesson's folder (a relative "
                                           "path without ..)")
        if name in files:
            continue
        path = (folder or Path(".")) / name
        try:
            files[name] = read_text_limited(path, MAX_SCENARIO_BYTES, "scenario file")
        except ValueError as err:
            raise LessonError(label, line, f"scenario file {name!r} {err}") from None
        if len(files) > MAX_FILES:
            raise LessonError(label, line, f"more than {MAX_FILES} scenario files: class mode sends at most {MAX_FILES}")
    return {"label": Path(label).name, "text": text, "files": files}


def _safe_relative(name: str) -> bool:
    p = PurePosixPath(name)
    return (bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name
            and name.isprintable() and len(name) <= 200 and name.endswith(".toml"))


def load_bundle(data: Any):  # noqa: ANN201 - engine.lessons.Lesson
    """The lesson of a ``hello``'s bundle, parsed and checked as ``mbsim lesson`` does;
    :class:`ProtocolError` if it is not one."""
    from mbsim.engine.lessons import LessonError, builtin_names, check_lesson, load_lesson, parse_lesson
    from mbsim.engine.lessons.reading import MAX_LESSON_BYTES, MAX_SCENARIO_BYTES

    if not isinstance(data, dict):
        raise ProtocolError("the lesson must be an object")
    try:
        if "builtin" in data:
            name = data["builtin"]
            if name not in builtin_names():
                raise ProtocolError(f"the teacher's lesson {clean_text(name, 40)!r} is not one this mbsim has "
                                    "(a different version?)")
            return load_lesson(name)
        text, files, label = data.get("text"), data.get("files"), data.get("label")
        if not isinstance(text, str) or len(text.encode()) > MAX_LESSON_BYTES:
            raise ProtocolError("the lesson's text is missing or too long")
        if not isinstance(label, str) or not label.endswith(".md") or not _safe_relative(label[:-3] + ".toml"):
            raise ProtocolError("the lesson's file name is not one")
        if not isinstance(files, dict) or len(files) > MAX_FILES:
            raise ProtocolError(f"the lesson's scenario files: at most {MAX_FILES}")
        with tempfile.TemporaryDirectory(prefix="mbsim-class-") as folder:
            for name, content in files.items():
                if not isinstance(name, str) or not _safe_relative(name) or not isinstance(content, str) \
                        or len(content.encode()) > MAX_SCENARIO_BYTES:
                    raise ProtocolError("a scenario file of the lesson is not one")
                path = Path(folder) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    f.write(content)
            return check_lesson(parse_lesson(text, clean_text(label, 100), folder))
    except LessonError as err:
        raise ProtocolError(f"the teacher's lesson cannot be read here: {clean_text(str(err), 300)}") from None


def answer_text(text: str) -> str:
    """A student's typed answer as sent (cleaned and capped as the server will)."""
    return clean_text(text, MAX_ANSWER)
