"""The lesson model: the directives and keys a lesson may use, its errors, and the parsed
lesson (:class:`Lesson` of :class:`Slide` of :class:`Question`, :class:`RunCondition`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..scenario import DEFAULT, Scenario

MAX_LESSON_BYTES = 512 * 1024
MAX_SCENARIO_BYTES = 1_000_000
MAX_SLIDES = 200
LESSON_FOLDER = "lesson_files"

FRONT_KEYS: tuple[str, ...] = ("title", "audience", "minutes", "preset", "scenario")
DIRECTIVES: tuple[str, ...] = ("preset", "scenario", "live", "run", "speed", "pause", "view", "runs",
                               "highlight", "keys", "question", "claim")
QUESTION_KEYS: tuple[str, ...] = ("ask", "answer", "explain", "accept", "tolerance", "choices")
CLAIM_KEYS: tuple[str, ...] = ("that", "why")
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


class LessonError(ValueError):
    """A lesson that cannot be used; ``str(err)`` is ``FILE:LINE: message``."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


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
    """A question whose answer the engine computes when it is revealed: a named quantity, a
    computed expression (``"cloud.excess_loss@5 / cloud.excess_loss"``) or a comparison
    (answered yes/no, or by ``choices`` = [when it holds, when it does not])."""

    ask: str
    answer: str                        # the text written in the lesson
    explain: str
    line: int
    accept: tuple[str, ...] = ()       # more answers taken as right, as typed
    tolerance: float | None = None     # relative, for numbers (None: the quantity's default)
    choices: tuple[str, str] | None = None
    expr: Any = None                   # the parsed expression or comparison (None: a plain quantity)
    slide: int = 0                     # the slide it is on (1-based)


@dataclass(frozen=True)
class Claim:
    """What a slide's prose claims, as a check on engine quantities (``[[claim]] that = ...``),
    evaluated headless at the end of the slide by ``mbsim lesson --check``."""

    that: str
    expr: Any                          # an engine.lessons.expressions.Comparison
    line: int
    why: str = ""                      # what the prose says, for the failure message


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
    live: tuple[tuple[str, Any], ...] = ()   # settings changed on the run in progress (θ kept)
    live_line: int = 0
    claims: tuple[Claim, ...] = ()


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

    @property
    def claims(self) -> int:
        return sum(len(s.claims) for s in self.slides)

    def summary(self, seconds: float | None = None) -> str:
        """The one line of ``mbsim lesson --check`` (``seconds``: the claims were run)."""
        text = (f"{self.source}: ok — {self.title!r}: {len(self.slides)} slides, "
                f"{self.questions} questions, {self.runs} runs checked against the plan")
        if seconds is not None:
            n = self.claims
            text += f", {n} claim{' holds' if n == 1 else 's hold'} (engine run, {seconds:.1f} s)"
        return text
