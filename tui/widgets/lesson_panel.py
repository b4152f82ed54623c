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
from textual.widgets import Input, Markdown, Static

from ..mask import Unmasked


@dataclass(frozen=True)
class QuestionLine:
    """One question as shown: the question, and the answer once revealed (or a verdict)."""

    ask: str
    answer: str = ""          # "40,000 (plan.total_steps: optimizer steps in the whole run)"
    verdict: str = ""         # "✓ 40,000" / "✗ not 4,000"
    revealed: bool = False


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
    """The slide on screen: prose (Textual's Markdown widget, scrollable), then one line each for
    the batch arithmetic, the questions and the keys to press next.

    The prose and the arithmetic line are masked like every panel while a question is open
    (tui.mask); the panel's border title, the questions and the hint are not."""

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="lesson-scroll", can_focus=False):
            yield Markdown(id="lesson-text")
        yield Static(id="lesson-arithmetic")
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

    async def show_slide(self, title: str, number: int, count: int, markdown: str) -> None:
        """A new slide's prose (scrolled to its top)."""
        self.border_title = f"{title} · Slide {number}/{count}"
        self.text = markdown
        await self.query_one("#lesson-text", Markdown).update(markdown)
        self.query_one("#lesson-scroll", VerticalScroll).scroll_home(animate=False)
        self.call_after_refresh(self._show_hint)

    def show_state(self, arithmetic: str, questions: tuple[QuestionLine, ...], hint: list[str],
                   status: str = "") -> None:
        """The lines under the prose: the arithmetic, the questions, the keys to press next
        (``hint``'s parts) and what the slide's run did (``status``: left out when the line
        would not fit)."""
        self.arithmetic, self.questions = arithmetic, questions
        self.hint_parts, self.status = list(hint), status
        self.query_one("#lesson-arithmetic", Static).update(Text(arithmetic, style="bold"))
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
        question_widget.display = bool(questions)
        self._show_hint()

    @property
    def overflows(self) -> bool:
        """True when the slide's text is longer than the room it has (↑ / ↓ scroll it)."""
        return self.query_one("#lesson-scroll", VerticalScroll).max_scroll_y > 0

    def scroll_text(self, lines: int) -> None:
        self.query_one("#lesson-scroll", VerticalScroll).scroll_relative(y=lines, animate=False)

    def _show_hint(self) -> None:
        """The hint, with the scroll keys when the text does not fit and, in a view opened by
        a slide, the way back to the main screen."""
        parts = list(self.hint_parts)
        if self.overflows:
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
        self.call_after_refresh(self._show_hint)

    @property
    def input(self) -> Input:
        return self.query_one("#lesson-input", Input)
