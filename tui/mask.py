"""Questions safe to ask: while a lesson's question is open, its answer shows nowhere on screen.

The mask is one mechanism for every panel, whatever draws it: a Textual line filter
(:class:`AnswerMask`) that the app hands to every widget when it renders a line. It knows the
*forms* of the open questions' answers (every way a panel may write the value: ``40``,
``40,000``, ``40000``, ``40k``, ``0.6931``, ``0.693``, ``Mini-batch GD``) and replaces each
whole-token occurrence with ``?`` (padded with spaces, so nothing moves): the counters read
``Batch 0/?``, the arithmetic line ``= ? batches per epoch``, the detail line ``tr Cov[ĝ] ?``.

Matching is by token: ``40`` is hidden in ``Batch 0/40`` and ``B=40`` but not inside ``1040``,
``40.5`` or ``40,000``. A sign in front of a number is hidden with it.

The forms follow from the question's quantity and the simulation alone (:func:`answer_forms`),
never from a list per slide, so a teacher's own lesson, and a class-mode follower that knows
only the lesson position, get the mask for free. A filter is immutable: a new set of forms is a
new :class:`AnswerMask` (Textual caches filtered lines per filter object), and the app repaints
every panel when it changes, so the mask and the panels change together.

Widgets whose text must never be masked (the question being asked, the answer box a student
types into) opt out with :class:`Unmasked`. The lesson app's side (which questions are open, when
the mask is rebuilt, the arithmetic line's shortening) is the mixin :class:`MaskedQuestions`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from mbsim.engine.arithmetic import SEP as ARITHMETIC_SEP
from mbsim.engine.lessons import Question, answer_of, format_quantity, plan_of, question_quantities, screen_forms
from mbsim.engine.lessons.expressions import Comparison

from .widgets.arithmetic import plan_arithmetic

PLACEHOLDER = "?"
_SIGNS = "+-−"


def _count_label(v: float) -> str | None:
    """The loss plot's short count label (2.5k, 40k, 1.2M) of a whole number ≥ 1000."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}".replace(".0" + suffix, suffix)
    return None


def number_forms(value: float, *, percent: bool = False) -> set[str]:
    """The ways the panels write one number (unsigned: a sign in front is matched separately).

    Whole numbers: ``40000``, ``40,000``, ``40k``. Others: 4 and 3 significant digits (the
    detail line, the lens, the phase view's table), 3 decimals below 1 (cos(ĝ, G)), and with
    ``percent`` the value × 100 (an accuracy on a percent axis).
    """
    v = abs(float(value))
    if not math.isfinite(v):
        return {"∞"} if math.isinf(v) else set()
    forms: set[str] = set()
    if v == int(v) and v < 1e15:
        n = int(v)
        forms |= {str(n), f"{n:,}"}
        label = _count_label(n)
        if label:
            forms.add(label)
    else:
        forms |= {f"{v:.4g}", f"{v:.3g}"}
        if v < 1:
            forms.add(f"{v:.3f}")
        if v >= 1000:
            forms |= {f"{v:,.0f}", f"{v:.0f}"}
    if percent and v <= 1:
        forms |= {f"{100 * v:.3g}", f"{100 * v:.4g}"}
    return {f for f in forms if f and f != "0.000"}


def _real_vector(value: Sequence[Any]) -> bool:
    """Numbers, not all whole: a vector of reals (an update, the minima of three losses), whose
    entries panels write one by one, as opposed to counts (batch sizes 400, 400, 200)."""
    numbers = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return len(numbers) == len(value) and any(math.isfinite(v) and v != int(v) for v in numbers)


def answer_forms(quantity: str, value: Any) -> tuple[str, ...]:
    """Every way a panel may write ``value``, the value of the named ``quantity`` now.

    (The stand-in for the engine's ``screen_forms`` until it exists: the same shape, a list of
    strings, from the question's quantity and the simulation alone.)
    """
    if value is None or isinstance(value, bool):
        return ()
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            return answer_forms(quantity, value[0])
        forms = {format_quantity(list(value))} if value else set()
        if _real_vector(value):      # an update, a gradient: panels write it entry by entry
            for v in value:
                forms |= number_forms(float(v))
        return tuple(sorted(forms))
    if isinstance(value, str):
        words = {value}
        if value in ("Batch GD", "Mini-batch GD"):
            words.add(value[:1].lower() + value[1:])   # "batch GD", "mini-batch GD" in sentences
        return tuple(sorted(words))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return (str(value),)
    if math.isnan(number):
        return ()
    forms = number_forms(number, percent=quantity == "sim.accuracy")
    forms.add(format_quantity(value).lstrip(_SIGNS))
    return tuple(sorted(forms))


def _pattern(forms: Iterable[str]) -> re.Pattern[str] | None:
    """One regular expression matching any form as a whole token (longest forms first)."""
    parts = []
    for form in sorted(set(forms), key=len, reverse=True):
        core = form.lstrip(_SIGNS) if form[:1] in _SIGNS and form[1:2].isdigit() else form
        if not core:
            continue
        if core[0].isdigit() or core[0] == "∞":
            parts.append(rf"(?<![\w.,])[{_SIGNS}]?{re.escape(core)}(?![\w]|[.,]\d)")
        else:
            parts.append(rf"(?<![\w-]){re.escape(core)}(?![\w-])")
    return re.compile("|".join(parts)) if parts else None


class AnswerMask(LineFilter):
    """A line filter hiding the forms of the open questions' answers (see the module docstring).

    Immutable: build a new one for new forms.
    """

    def __init__(self, forms: Sequence[str] = ()) -> None:
        super().__init__(enabled=bool(forms))
        self.forms: tuple[str, ...] = tuple(sorted(set(forms)))
        self._pattern = _pattern(self.forms)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnswerMask) and other.forms == self.forms

    def __hash__(self) -> int:
        return id(self)        # Textual caches filtered lines per filter object

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the forms occur in ``text`` as whole tokens: (start, end) character ranges."""
        if self._pattern is None:
            return []
        return [m.span() for m in self._pattern.finditer(text)]

    def hide(self, text: str) -> str:
        """``text`` with every occurrence of a form replaced by ``?`` and spaces (same width)."""
        spans = self.spans(text)
        if not spans:
            return text
        chars = list(text)
        for a, b in spans:
            if cell_len(text[a:b]) != b - a:
                continue           # a wide character (never in a number or a name): left alone
            chars[a] = PLACEHOLDER
            for i in range(a + 1, b):
                chars[i] = " "
        return "".join(chars)

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        """Textual's hook: the segments of one rendered line, with the forms hidden."""
        if self._pattern is None:
            return segments
        text = "".join(s.text for s in segments)
        hidden = self.hide(text)
        if hidden == text:
            return segments
        out: list[Segment] = []
        pos = 0
        for seg in segments:
            n = len(seg.text)
            piece = hidden[pos:pos + n]
            pos += n
            out.append(Segment(piece, seg.style, seg.control) if piece != seg.text else seg)
        return out


NO_MASK = AnswerMask()


def later_plan_forms(lesson: Any, index: int, sim: Any, revealed: Iterable[int] = ()) -> tuple[str, ...]:
    """The forms of the plan questions (``plan.*``) that the slides after slide ``index`` (0-based)
    will ask, valued on the plan in force, less those of the plan answers already given (the
    questions of the slides before, and ``revealed`` of this one). The lesson's arithmetic line
    would otherwise work out "how many steps does the whole run make?" on slide 1, before slide 3
    asks it; it leaves out the parts holding these values (it is the working: the counters show
    what the slide is about)."""

    def forms_of(questions: Iterable[Any]) -> set[str]:
        out: set[str] = set()
        for q in questions:
            if q.expr is None and q.answer.startswith("plan."):
                out.update(answer_forms(q.answer, answer_of(q, sim, lesson).value))
        return out

    def signature(plan: Any) -> tuple:
        return (plan.n_samples, plan.batch_size, plan.drop_last, plan.accumulate, plan.epochs,
                plan.epoch_end, plan.sampling, plan.total_iterations, plan.total_steps)

    def same_plan(slide: Any) -> bool:
        """Does the later slide ask its plan questions of the plan in force now? (Another plan's
        answers are other numbers: hiding their values here would hide coincidences.)"""
        if slide.scenario.is_csv:
            return False
        try:
            return signature(plan_of(slide.scenario)) == signature(sim.plan)
        except Exception:  # noqa: BLE001 - a scenario --check would refuse: nothing to hide
            return False

    slides = lesson.slides
    later = forms_of(q for slide in slides[index + 1:] if slide.questions and same_plan(slide)
                     for q in slide.questions)
    if not later:
        return ()
    given = forms_of(q for slide in slides[:index] for q in slide.questions)
    given |= forms_of(q for i, q in enumerate(slides[index].questions) if i in set(revealed))
    return tuple(sorted(later - given))


class Unmasked:
    """Mix into a widget whose text the mask must leave alone (the question asked, the box a
    student types an answer into): its lines get every filter of the app but the mask."""

    def get_line_filters(self):  # noqa: ANN201
        return [f for f in super().get_line_filters() if not isinstance(f, AnswerMask)]  # type: ignore[misc]


def hidden_readings(question: Question) -> list[Question]:
    """What the mask hides for an open question: its answer, and for a comparison (a prediction:
    "closer to 1 or further?") the present value of each quantity it compares, as questions of
    their own (``question_quantities``). A computed answer's inputs stay readable: "by what factor
    did tr Cov fall?" is worked out from the value on the detail line."""
    if not isinstance(question.expr, Comparison):
        return [question]
    return [replace(question, answer=name, expr=None, choices=None) for name in question_quantities(question)]


class MaskedQuestions:
    """The lesson app's side of the mask (mixed into :class:`tui.lesson_mode.LessonApp`, and so
    into a class-mode follower): which questions are open, the forms of their answers read from
    the simulation now, the mask rebuilt when the lesson position or the simulation changes, and
    the arithmetic line shortened while it would work out an open or a later question's answer.

    It reads the app's ``lesson``, ``index``, ``slide``, ``revealed`` and ``sim``.
    """

    answer_mask: AnswerMask = NO_MASK      # the open questions' answers, hidden
    _mask_key: tuple | None = None
    _later_key: tuple | None = None
    _later_mask: AnswerMask = NO_MASK
    lesson: Any
    index: int
    revealed: dict[int, str]
    sim: Any
    slide: Any

    def lesson_arithmetic(self) -> str:
        """The plan's arithmetic line for the slide, or, while it works out an open question's
        answer (``= ? batches per epoch · ? × 300 epochs = 900 steps`` still gives it by a
        division), only its inputs: the working shows once the question is answered."""
        line = plan_arithmetic(self.sim)
        if self.answer_mask.spans(line):
            inputs = line.split(" → ", 1)[0]
            return f"{inputs} → the arithmetic shows once the question is answered"
        later = self.later_plan_mask()
        if not later.spans(line):
            return line
        parts = line.split(ARITHMETIC_SEP)
        if later.spans(parts[0]):
            inputs = line.split(" → ", 1)[0]
            return f"{inputs} → the arithmetic is worked out on a later slide"
        return ARITHMETIC_SEP.join(p for p in parts if not later.spans(p)) + ARITHMETIC_SEP + "…"

    def later_plan_mask(self) -> AnswerMask:
        """The answers of the plan questions later slides will ask (:func:`later_plan_forms`)."""
        key = (self.index, frozenset(self.revealed), id(self.sim), id(self.sim.plan))
        if self._later_key != key:
            self._later_key = key
            self._later_mask = AnswerMask(later_plan_forms(self.lesson, self.index, self.sim, self.revealed))
        return self._later_mask

    def open_questions(self) -> list[int]:
        """The current slide's questions not yet revealed (nor answered right)."""
        if self.index < 0:
            return []
        return [i for i in range(len(self.slide.questions)) if i not in self.revealed]

    def mask_forms(self) -> tuple[str, ...]:
        """Every form of the open questions' answers, read from the simulation now: from the
        lesson position and the engine state alone (the engine's ``screen_forms``, and the
        panels' own short forms of the value: 40k on a plot's axis). A comparison's answer is
        a word no panel writes; the numbers it compares are hidden instead (a prediction is
        not read off the detail line)."""
        forms: set[str] = set()
        for i in self.open_questions():
            for q in hidden_readings(self.slide.questions[i]):
                shown = screen_forms(q, self.sim, self.lesson)
                if shown:      # [] for yes/no and choices (no panel writes them) or not known
                    forms.update(shown)
                    forms.update(answer_forms(q.answer, answer_of(q, self.sim, self.lesson).value))
        return tuple(sorted(forms))

    def update_mask(self) -> None:
        """Recompute the mask when the lesson position or the simulation changed; a new mask
        repaints every panel at once (a mask change is a change of what the screen shows)."""
        key = (self.index, frozenset(self.revealed), id(self.sim), self.sim.revision)
        if key == self._mask_key:
            return
        self._mask_key = key
        mask = AnswerMask(self.mask_forms())
        if mask == self.answer_mask:
            return
        self.answer_mask = mask
        for screen in self.screen_stack:
            for widget in screen.walk_children(with_self=True):
                widget.refresh()

    def get_line_filters(self):  # noqa: ANN201
        """Textual's filters for every rendered line, and the mask while a question is open."""
        filters = list(super().get_line_filters())
        mask = self.answer_mask
        return filters + [mask] if mask.enabled else filters
