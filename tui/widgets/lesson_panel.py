"""The lesson panel: the slide's Markdown, the arithmetic line, its questions and what to press.

It shows what the lesson mode (tui/lesson_mode.py) hands it; it computes nothing itself. The
border title reads ``Lesson title · Slide k/n``. Styles are in tui/lesson.tcss.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import Input, Markdown, Static

from ..mask import Unmasked
from .arithmetic import wrap_parts


@dataclass(frozen=True)
class QuestionLine:
    """One question as shown: the question, and the answer once revealed (or a verdict)."""

    ask: str
    answer: str = ""          # "40,000 (plan.total_steps: optimizer steps in the whole run)"
    verdict: str = ""         # "✓ 40,000" / "✗ not 4,000"
    revealed: bool = False


_UNMASKED_BLOCKS: dict[type, type] = {}


class PanelScroll(VerticalScroll, can_focus=False):
    """The prose's or the questions' scrolling box: when its content or its room changes, the
    panel's hint says again whether ↑ / ↓ have something to scroll."""

    def watch_virtual_size(self) -> None:
        self._hint_again()

    def on_resize(self) -> None:
        self._hint_again()

    def _hint_again(self) -> None:
        panel = self.parent
        if isinstance(panel, LessonPanel):
            self.call_after_refresh(panel._show_hint)


class SlideText(Unmasked, Markdown):
    """The slide's prose: the teacher's own words, shown as written, never masked (a premise
    such as "K = 4" or "x = 0.5" must stay readable when it equals an answer; the built-in
    lessons state no answer in their prose: tests/test_lesson_prose.py). Every block of it
    (paragraphs, headings, list items) is made :class:`~tui.mask.Unmasked`."""

    def get_block_class(self, block_name: str) -> type:
        cls = super().get_block_class(block_name)
        made = _UNMASKED_BLOCKS.get(cls)
        if made is None:
            made = type(cls.__name__, (Unmasked, cls), {"__module__": cls.__module__})
            _UNMASKED_BLOCKS[cls] = made
        return made


class QuestionsText(Unmasked, Static):
    """The questions as asked and the answers the teacher revealed (never masked)."""


class HintText(Unmasked, Static):
    """Where the lesson is and what to press (the slide's own run condition: never masked)."""


class AnswerBox(Unmasked, Input):
    """The box a student types an answer into (what is typed shows as typed); escape closes it
    (before any screen's own escape: compare mode's would close the view)."""

    BINDINGS = [Binding("escape", "cancel", "cancel", show=False)]

    def action_cancel(self) -> None:
        self.display = False
        self.app.set_focus(None)


class LessonPanel(Unmasked, Vertical):
    """The slide on screen: prose (Textual's Markdown widget, scrollable), then the batch
    arithmetic, the questions (scrollable too, kept in view on the question in play) and the
    keys to press next. ↑ / ↓ scroll the two as one text: the prose, then the questions.

    The arithmetic line is masked like every panel while a question is open (tui.mask); the
    prose (the teacher's words), the border title, the questions and the hint are not."""

    def compose(self) -> ComposeResult:
        with PanelScroll(id="lesson-scroll"):
            yield SlideText(id="lesson-text")
        yield Static(id="lesson-arithmetic")
        with PanelScroll(id="lesson-question-scroll"):
            yield QuestionsText(id="lesson-questions")
        box = AnswerBox(id="lesson-input", placeholder="your answer, then enter (escape: cancel)")
        box.display = False  # shown (and focused) by t only
        yield box
        yield HintText(id="lesson-hint")

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.text = ""
        self.hint = ""
        self.hint_parts: list[str] = []
        self.status = ""
        self.arithmetic = ""
        self.questions: tuple[QuestionLine, ...] = ()
        self._in_play = 0
        self._questions_text = Text()

    async def show_slide(self, title: str, number: int, count: int, markdown: str) -> None:
        """A new slide's prose (scrolled to its top)."""
        self.border_title = f"{title} · Slide {number}/{count}"
        self.text = markdown
        await self.query_one("#lesson-text", SlideText).update(markdown)
        self.query_one("#lesson-scroll", VerticalScroll).scroll_home(animate=False)
        self.call_after_refresh(self._show_hint)

    def show_state(self, arithmetic: str, questions: tuple[QuestionLine, ...], hint: list[str],
                   status: str = "") -> None:
        """The lines under the prose: the arithmetic, the questions, the keys to press next
        (``hint``'s parts) and what the slide's run did (``status``: left out when the line
        would not fit)."""
        self.arithmetic, self.questions = arithmetic, questions
        self.hint_parts, self.status = list(hint), status
        self._show_arithmetic()
        lines = Text()
        for i, q in enumerate(questions, start=1):
            if i > 1:
                lines.append("\n")
            lines.append(f"Q{i} ", style="bold")
            lines.append(q.ask)
            if q.revealed:
                lines.append("  → ", style="bold")
                lines.append(q.answer, style="bold green")
            if q.verdict:
                lines.append("  " + q.verdict, style="bold green" if q.verdict.startswith("✓") else "bold red")
        question_widget = self.query_one("#lesson-questions", Static)
        question_widget.update(lines)
        self._questions_text = lines
        box = self.query_one("#lesson-question-scroll", VerticalScroll)
        box.display = bool(questions)
        self._in_play = self._question_in_play(questions)
        self.call_after_refresh(self._scroll_to_question)
        self._show_hint()

    @staticmethod
    def _question_in_play(questions: tuple[QuestionLine, ...]) -> int:
        """The question to keep in view: the first one still open, else the last one."""
        for i, q in enumerate(questions):
            if not q.revealed:
                return i
        return len(questions) - 1

    def _question_end(self, index: int) -> int:
        """The row (of the questions' text as wrapped now) just below question ``index``."""
        width = self.query_one("#lesson-questions", Static).content_size.width
        if width <= 0:
            return 0
        lines = self._questions_text.wrap(self.app.console, width)
        following = f"Q{index + 2} "          # each question starts a line with "Q<k> "
        for row, line in enumerate(lines):
            if row and line.plain.startswith(following):
                return row
        return len(lines)

    def _scroll_to_question(self) -> None:
        """Scroll the questions so the one in play ends at the bottom of their room (its
        verdict or revealed answer in view), or as far down as that takes."""
        try:
            box = self.query_one("#lesson-question-scroll", VerticalScroll)
        except NoMatches:                # a view's panel, closed with its view meanwhile
            return
        if not box.display or not self.questions:
            return
        end = self._question_end(self._in_play)
        box.scroll_to(y=max(0, end - box.scrollable_content_region.height), animate=False)
        self._show_hint()

    @property
    def overflows(self) -> bool:
        """True when the slide's text or its questions are longer than the room they have
        (↑ / ↓ scroll them)."""
        boxes = (self.query_one("#lesson-scroll", VerticalScroll),
                 self.query_one("#lesson-question-scroll", VerticalScroll))
        return any(box.display and box.max_scroll_y > 0 for box in boxes)

    def scroll_text(self, lines: int) -> None:
        """Scroll the prose and then the questions as one text: down moves the prose until its
        end, then the questions; up moves the questions back to their top, then the prose."""
        prose = self.query_one("#lesson-scroll", VerticalScroll)
        questions = self.query_one("#lesson-question-scroll", VerticalScroll)
        ask = questions.display and questions.max_scroll_y > 0
        if lines > 0:
            box = prose if prose.scroll_y < prose.max_scroll_y or not ask else questions
        else:
            box = questions if ask and questions.scroll_y > 0 else prose
        box.scroll_relative(y=lines, animate=False)

    def _show_hint(self) -> None:
        """The hint, with the scroll keys when the text does not fit and, in a view opened by
        a slide, the way back to the main screen."""
        try:
            overflows = self.overflows
        except NoMatches:                # a view's panel, closed with its view meanwhile
            return
        parts = list(self.hint_parts)
        if overflows:
            parts.append("↑↓ text")
        if self.has_class("-view"):
            parts.append("esc main screen")
        hint = " · ".join(parts + [self.status] if self.status else parts)
        if len(hint) > max(20, self.content_size.width):    # the run's status gives way first
            hint = " · ".join(parts)
        if hint != self.hint:
            self.hint = hint
            self.query_one("#lesson-hint", Static).update(Text(hint, style="italic"))

    def on_resize(self) -> None:
        self._show_arithmetic()
        self.call_after_refresh(self._show_hint)

    def _show_arithmetic(self) -> None:
        """The arithmetic line, broken before a "·" part that would not fit (not mid-part)."""
        width = self.content_size.width
        text = wrap_parts(self.arithmetic, width) if width > 0 else self.arithmetic
        try:
            self.query_one("#lesson-arithmetic", Static).update(Text(text, style="bold"))
        except NoMatches:
            pass

    @property
    def input(self) -> Input:
        return self.query_one("#lesson-input", Input)
