"""Reading lesson files that may be hostile, and finding the built-in lessons."""

from __future__ import annotations

import difflib
import os
from importlib import resources
from pathlib import Path

from ..errors import ScenarioError
from ..files import read_bytes_limited
from .model import LessonError

MAX_LESSON_BYTES = 512 * 1024
MAX_SCENARIO_BYTES = 1_000_000
LESSON_FOLDER = "lesson_files"


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


def builtin_names() -> list[str]:
    """The built-in lessons, in teaching order."""
    folder = resources.files("mbsim.engine") / LESSON_FOLDER
    names = [e.name[:-3] for e in folder.iterdir() if e.name.endswith(".md")]
    return sorted(names, key=lambda n: (BUILTIN_ORDER.index(n) if n in BUILTIN_ORDER else len(BUILTIN_ORDER), n))


BUILTIN_ORDER = ("epochs-and-batches", "iteration-vs-step", "gd-sgd-minibatch", "why-shuffle",
                 "one-iteration", "three-losses", "batch-size-and-noise")


def builtin_text(name: str) -> str:
    """The Markdown of a built-in lesson."""
    return (resources.files("mbsim.engine") / LESSON_FOLDER / f"{name}.md").read_text(encoding="utf-8")


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
