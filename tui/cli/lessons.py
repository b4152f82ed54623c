"""``mbsim lessons``: the built-in lessons, one line each."""

from __future__ import annotations

import argparse

from .common import EXIT_OK

NAME = "lessons"
SUMMARY = "list the built-in lessons"
DESCRIPTION = "The built-in lessons (Markdown slides that drive a live simulation), one line each."
EPILOG = """\
examples:
  mbsim lessons
  mbsim lesson epochs-and-batches         play one in the TUI
  mbsim lesson why-shuffle --export > my-lesson.md     start your own from it
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """``mbsim lessons`` has no options of its own."""


def lesson_lines() -> list[str]:
    """``name  title — N slides, M min`` for every built-in lesson, in teaching order."""
    from mbsim.engine.lessons import builtin_lessons, builtin_names

    names = builtin_names()
    width = max(len(n) for n in names)
    lines = []
    for name, lesson in zip(names, builtin_lessons()):
        extra = f"{len(lesson.slides)} slides" + (f", {lesson.minutes} min" if lesson.minutes else "")
        lines.append(f"{name:<{width}}  {lesson.title} — {extra}")
    return lines


def execute(ns: argparse.Namespace) -> int:
    """Print the built-in lessons."""
    for line in lesson_lines():
        print(line)
    return EXIT_OK
