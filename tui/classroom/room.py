"""The room: who is in the class, what each student answered, the tally, the results file.

Pure bookkeeping (no network, no UI), driven by the server (joins, leaves, answers) and the
teacher's app (which question is open, the judgement of an answer: the teacher's own engine
judges, never the student's screen).

* A student is known by name: one who leaves and joins again under the same name gets their
  seat (and their answers) back; a second student under a name in use is "Name (2)".
* An answer is judged when it arrives (:meth:`Room.answer`); a student may try again until
  right (as in a lesson); the results keep, per student and question, the last answer and the
  seconds from the moment the question was asked (its slide opened) to that answer.
* :meth:`Room.tally`: ``answered A/S · correct C`` for the open question and its most common
  wrong answers (short, as cleaned by :func:`tui.classroom.protocol.clean_text`).
* :meth:`Room.write_results`: one CSV row per student and question (name, lesson, slide,
  question, answer, correct, seconds), rewritten atomically (temp file + rename), so a reader
  never sees it partial; a cell that a spreadsheet would take for a formula is quoted with '.
* Per-student rate limit (:class:`Bucket`): a student sends a few messages a second at most;
  beyond, messages are dropped, and a student who keeps flooding is let go.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from mbsim.engine.atomic import write_text_atomic

#: Messages a student may send: a burst, then so many a second.
RATE_BURST, RATE_PER_SECOND = 10.0, 3.0
#: Messages dropped for rate before a student is let go.
FLOOD_LIMIT = 200
WRONG_SHOWN = 3
WRONG_LENGTH = 16
RESULT_FIELDS = ("name", "lesson", "slide", "question", "answer", "correct", "seconds")


class RoomFull(Exception):
    """The class has its maximum number of students."""


class Bucket:
    """A token bucket: :meth:`take` is True while the student keeps to the rate."""

    def __init__(self, burst: float = RATE_BURST, rate: float = RATE_PER_SECOND,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate, self.clock = burst, rate, clock
        self.tokens = burst
        self.last = clock()
        self.dropped = 0

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.dropped += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.dropped >= FLOOD_LIMIT


@dataclass
class Answer:
    text: str
    correct: bool
    seconds: float


@dataclass
class Student:
    id: int
    name: str
    connected: bool = True
    answers: dict[tuple[int, int], Answer] = field(default_factory=dict)
    bucket: Bucket = field(default_factory=Bucket)


@dataclass(frozen=True)
class Tally:
    answered: int
    students: int
    correct: int
    wrong: tuple[tuple[str, int], ...]

    def text(self) -> str:
        """``answered 3/5 · correct 2 · wrong: 8 (1)``."""
        line = f"answered {self.answered}/{self.students} · correct {self.correct}"
        if self.wrong:
            line += " · wrong: " + ", ".join(f"{w} ({n})" for w, n in self.wrong)
        return line


def csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text (one starting with = + - @ would be a formula)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def short(text: str, n: int = WRONG_LENGTH) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class Room:
    """The students of one class and their answers (module docstring)."""

    def __init__(self, lesson: str, *, max_students: int = 200, results: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lesson = lesson
        self.max_students = max_students
        self.results = results
        self.clock = clock
        self.students: dict[int, Student] = {}
        self.asked: dict[tuple[int, int], float] = {}   # (slide, question) → when it was asked
        self._next = 1
        self.writes = 0

    # -- who is here ------------------------------------------------------------------------
    @property
    def connected(self) -> int:
        return sum(1 for s in self.students.values() if s.connected)

    def join(self, name: str) -> Student:
        """A student joins (or comes back under their name); :class:`RoomFull` if no seat."""
        if self.connected >= self.max_students:
            raise RoomFull
        name = name or f"student {self._next}"
        for s in self.students.values():
            if s.name == name and not s.connected:
                s.connected = True
                s.bucket = Bucket(clock=self.clock)
                return s
        taken = {s.name for s in self.students.values()}
        base, k = name, 2
        while name in taken:
            name = f"{base[:28]} ({k})"
            k += 1
        s = Student(self._next, name, bucket=Bucket(clock=self.clock))
        self._next += 1
        self.students[s.id] = s
        return s

    def leave(self, student: Student) -> None:
        student.connected = False

    # -- questions ----------------------------------------------------------------------------
    def ask(self, slide: int, questions: int) -> None:
        """Slide ``slide`` opened with ``questions`` questions: from now they are timed (once:
        a slide opened again keeps its first time)."""
        now = self.clock()
        for q in range(questions):
            self.asked.setdefault((slide, q), now)

    def answer(self, student: Student, slide: int, question: int, text: str, correct: bool) -> Answer:
        """Record a judged answer (the last one counts; one right answer ends the question for
        this student: later answers are not recorded)."""
        key = (slide, question)
        kept = student.answers.get(key)
        if kept is not None and kept.correct:
            return kept
        asked = self.asked.get(key, self.clock())
        a = Answer(text, correct, round(max(0.0, self.clock() - asked), 1))
        student.answers[key] = a
        self.write_results()
        return a

    def tally(self, slide: int, question: int) -> Tally:
        here = [s for s in self.students.values() if s.connected]
        got = [s.answers[(slide, question)] for s in here if (slide, question) in s.answers]
        wrong = Counter(a.text for a in got if not a.correct)
        common = tuple((short(w), n) for w, n in wrong.most_common(WRONG_SHOWN))
        return Tally(len(got), len(here), sum(1 for a in got if a.correct), common)

    # -- the results file --------------------------------------------------------------------
    def results_text(self) -> str:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(RESULT_FIELDS)
        for s in sorted(self.students.values(), key=lambda s: s.id):
            for (slide, q), a in sorted(s.answers.items()):
                w.writerow([csv_cell(s.name), self.lesson, slide + 1, q + 1, csv_cell(a.text),
                            "yes" if a.correct else "no", f"{a.seconds:.1f}"])
        return out.getvalue()

    def write_results(self) -> None:
        """Rewrite the results file whole (atomically), if there is one."""
        if self.results is None:
            return
        write_text_atomic(self.results, self.results_text())
        self.writes += 1
