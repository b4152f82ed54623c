"""``mbsim lesson NAME|FILE.md [--check] [--export]``: play, validate or print a lesson.

``--check`` validates every directive, setting, answer name and run condition against the
engine and prints one line (never imports textual; a lesson without claims imports no NumPy
either); a lesson with ``[[claim]]`` tables is then played headless and every claim checked.
A bad lesson, or a claim that does not hold, is one line ``mbsim: FILE:LINE: what is wrong``
and exit code 2. ``--export`` prints the Markdown.
Without them the TUI opens in lesson mode, after the lesson and its first run were built (so a
lesson that fails to load never leaves a half-built screen).
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_INTERNAL, EXIT_OK, PROG, UsageError

NAME = "lesson"
SUMMARY = "play, check (--check) or print (--export) a lesson"
DESCRIPTION = ("Open a lesson in the TUI: Markdown slides whose mbsim blocks drive the simulation. "
               "PageDown / PageUp (or . and ,) go to the next / previous slide.")
EPILOG = """\
examples:
  mbsim lesson epochs-and-batches         play a built-in lesson (mbsim lessons lists them)
  mbsim lesson my-lesson.md --check       validate a lesson and check its claims, without the app
  mbsim lesson why-shuffle --export       print a built-in lesson's Markdown
  mbsim lesson --quantities               the named quantities a question may ask for

Exit codes: 0 good, 2 bad lesson (one line FILE:LINE: ...).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``mbsim lesson``."""
    parser.add_argument("lesson", nargs="?", metavar="NAME|FILE.md",
                        help="a built-in lesson's name or a lesson file")
    parser.add_argument("--check", action="store_true", default=False,
                        help="validate the lesson, check its claims (running the engine headless) and "
                             "print a one-line summary; do not open the app")
    parser.add_argument("--export", action="store_true", default=False,
                        help="print the lesson's Markdown (start your own from a built-in)")
    parser.add_argument("--quantities", action="store_true", default=False,
                        help="list the named quantities a question's answer may be")
    parser.add_argument("--speed", metavar="N", default=None,
                        help="the speed of the keys' runs in the TUI (batches per second, or max)")


def printable(text: str) -> str:
    """``text`` with control characters escaped, so a hostile name cannot drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def execute(ns: argparse.Namespace) -> int:
    """Check, export or play."""
    from mbsim.engine.lessons import QUANTITIES, LessonError, check_claims, lesson_source, load_lesson

    if ns.quantities:
        width = max(len(n) for n in QUANTITIES)
        for name, q in QUANTITIES.items():
            print(f"{name:<{width}}  {q.description}")
        return EXIT_OK
    if not ns.lesson:
        raise UsageError("lesson: give a built-in lesson's name or a FILE.md (mbsim lessons lists them)")
    if ns.check and ns.export:
        raise UsageError("lesson: --check and --export do different things; give one")
    try:
        if ns.export:
            _, text, _ = lesson_source(ns.lesson)
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
            return EXIT_OK
        lesson = load_lesson(ns.lesson)
        seconds = check_claims(lesson) if ns.check and lesson.claims else None
    except LessonError as err:
        raise UsageError(printable(str(err))) from None
    if ns.check:
        print(printable(lesson.summary(seconds)))
        return EXIT_OK
    return _play(lesson, ns)


def _play(lesson, ns: argparse.Namespace) -> int:  # noqa: ANN001
    from mbsim.engine.errors import ScenarioError
    from mbsim.engine.simulation import Simulation

    try:
        sim = Simulation(lesson.start)
    except ScenarioError as err:
        raise UsageError(printable(f"{lesson.source}:1: {err}")) from None
    try:
        from mbsim.tui.app import parse_speed
        from mbsim.tui.lesson_mode import LessonApp
    except ModuleNotFoundError as err:
        if err.name in ("textual", "textual_plotext", "plotext", "rich"):
            print(f"{PROG}: the TUI is not available ({err}); 'mbsim lesson --check' works without it",
                  file=sys.stderr)
            return EXIT_INTERNAL
        raise
    if ns.speed is not None:
        try:
            parse_speed(ns.speed)
        except ValueError as err:
            raise UsageError(f"--speed {ns.speed!r}: {str(err).removeprefix('speed ')}") from None
    from .interactive import under_web_driver

    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not (
            os.environ.get("MBSIM_FORCE_TUI") or under_web_driver()):
        raise UsageError("the TUI needs a terminal; 'mbsim lesson NAME --check' validates a lesson "
                         "without one")
    app = LessonApp(lesson, sim, speed=ns.speed)
    result = app.run()
    return int(app.return_code or result or 0)
