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

The package is split by concept: :mod:`.model` (the parsed lesson), :mod:`.reading` (files and
the built-in lessons), :mod:`.parser`, :mod:`.conditions` (run conditions against the plan),
:mod:`.quantities` (the named quantities), :mod:`.answers` (judging typed answers).
"""

from __future__ import annotations


from .answers import Answer, Verdict, answer_of, check_answer, judge, question_quantities, screen_forms
from .conditions import Cursor, Unreachable, check_lesson, parse_run, plan_of, run_target, steps_after
from .context import Context, cloud_goal
from .model import (
    DEFAULT_CLOUD_RUNS, DIRECTIVES, FRONT_KEYS, KEYS, MAX_SLIDES, MAX_SPEED, PANELS, PAUSES, RUN_FORMS,
    VIEWS, Claim, Lesson, LessonError, Question, RunCondition, Slide,
)
from .player import apply_slide, check_claims, play
from .parser import parse_lesson
from .quantities import QUANTITIES, Quantity, format_quantity, quantity_value
from .reading import (
    BUILTIN_ORDER, LESSON_FOLDER, MAX_LESSON_BYTES, MAX_SCENARIO_BYTES, builtin_names, builtin_text,
    lesson_source, looks_like_file, read_text_limited,
)

__all__ = [
    "Answer", "Claim", "Context", "Cursor", "Verdict", "answer_of", "apply_slide", "check_claims", "cloud_goal",
    "judge", "play", "question_quantities", "screen_forms", "steps_after", "BUILTIN_ORDER", "DEFAULT_CLOUD_RUNS", "DIRECTIVES", "FRONT_KEYS", "KEYS", "LESSON_FOLDER",
    "MAX_LESSON_BYTES", "MAX_SCENARIO_BYTES", "MAX_SLIDES", "MAX_SPEED", "PANELS", "PAUSES", "QUANTITIES",
    "RUN_FORMS", "VIEWS", "Lesson", "LessonError", "Quantity", "Question", "RunCondition", "Slide",
    "Unreachable", "builtin_lessons", "builtin_names", "builtin_text", "check_answer", "check_lesson",
    "format_quantity", "lesson_source", "load_lesson", "looks_like_file", "parse_lesson", "parse_run",
    "plan_of", "quantity_value", "read_text_limited", "run_target",
]


def load_lesson(spec: str) -> Lesson:
    """Read, parse and check a lesson by built-in name or file path; raises :class:`LessonError`."""
    label, text, folder = lesson_source(spec)
    return check_lesson(parse_lesson(text, label, folder))


def builtin_lessons() -> list[Lesson]:
    """Every built-in lesson, parsed and checked."""
    return [load_lesson(name) for name in builtin_names()]
