"""The teacher's app: lesson mode (:class:`tui.lesson_mode.LessonApp`) with the class around it.

What it adds to a lesson:

* every run it shows is recorded from its start (:func:`engine.journal.recorder`), and so are
  the ticks of a view it opens (:class:`engine.journal.TickRecorder`); every
  :data:`~tui.classroom.server.PUBLISH_INTERVAL` seconds the :class:`FollowState` (slide,
  panels, view, the loss plot's x axis, the run's journal, the revealed answers, lock) is
  published to the followers when it changed;
* the lesson panel's hint starts with the join address and the number of students; an open
  question shows ``answered A/S · correct C`` and the most common wrong answers (the room's
  tally, :class:`tui.classroom.room.Tally`);
* ``u`` unlocks the class (each student plays freely from the state shown) and locks it again
  (every screen snaps back to the teacher's);
* students' answers are judged here, by this app's engine, on the slide shown
  (:meth:`judge_answer`): an answer to another slide or to a question already revealed is
  refused with a reason.

Nothing a student sends reaches anything else: the teacher's keys are the only controls.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import replace
from typing import Any

from textual.binding import Binding

from mbsim.engine.journal import JournalError, TickRecorder, journal_of, recorder
from mbsim.engine.lessons import judge

from ..lesson_mode import LessonApp
from .protocol import LESSON_CSS
from ..lesson_views import LessonView
from ..screens.cloud import CloudScreen
from ..screens.compare import CompareScreen
from ..screens.lab import LabScreen
from ..widgets.lesson_panel import QuestionLine
from .protocol import AnswerMessage, Verdict, clean_text
from .room import Room, Student
from .server import PUBLISH_INTERVAL
from .state import FollowState, ViewState

VIEW_KINDS = ((CompareScreen, "compare"), (CloudScreen, "cloud"), (LabScreen, "lab"))


def view_kind(screen: Any) -> str | None:
    for cls, kind in VIEW_KINDS:
        if isinstance(screen, cls):
            return kind
    return None


class ClassApp(LessonApp):
    """``mbsim class``: the teacher's screen (module docstring)."""

    CSS_PATH = LESSON_CSS

    BINDINGS = LessonApp.BINDINGS + [Binding("u", "toggle_lock", "unlock / lock the class", show=False)]

    def __init__(self, lesson: Any, sim: Any = None, *, room: Room | None = None, address: str = "",
                 publish: Any = None, **kwargs: Any) -> None:
        """``publish(text)`` sends a state to every follower (the server's); ``room`` keeps the
        students and their answers; ``address`` is the join address shown."""
        super().__init__(lesson, sim, **kwargs)
        recorder(self.sim)
        self.room = room or Room(lesson.source)
        self.address = address
        self.publisher = publish
        self.locked = True
        self.seq = 0
        self.published: FollowState | None = None
        self.published_text = ""
        self._ticks: weakref.WeakKeyDictionary[Any, TickRecorder] = weakref.WeakKeyDictionary()
        self._asked = -1

    def on_mount(self) -> None:
        self.set_interval(PUBLISH_INTERVAL, self.publish)

    # -- recording ---------------------------------------------------------------------------
    def replace_simulation(self, sim: Any) -> None:
        recorder(sim)          # a fresh run is recorded from its start
        super().replace_simulation(sim)

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:
        """A view with runs of its own is recorded from before its first tick."""
        collection = getattr(screen, "collection", None)
        if collection is not None and screen not in self._ticks:
            self._ticks[screen] = TickRecorder(collection)
            screen.first_align = str(collection.align)
        return super().push_screen(screen, *args, **kwargs)

    def view_state(self) -> ViewState | None:
        """The view screen open over the main screen (the top-most), if any."""
        for screen in reversed(self.screen_stack):
            kind = view_kind(screen)
            if kind is None:
                continue
            shown = screen.shown if isinstance(screen, LessonView) else ()
            scenario = shown[0] if shown else getattr(screen, "scenario", self.sim.scenario)
            if kind == "lab":
                return ViewState("lab", scenario)
            rec = self._ticks.get(screen)
            runs = int(getattr(screen.collection, "runs", 3)) if kind == "cloud" else 3
            ops = rec.journal() if rec is not None and not rec.overflow else ()
            return ViewState(kind, scenario, runs, getattr(screen, "first_align", ""), ops)
        return None

    def follow_state(self) -> FollowState:
        """What the followers must show now (sequence number not yet given)."""
        sim = self.sim
        revealed = {i: clean_text(text, 1000) for i, text in self.revealed.items()}
        return FollowState(self.seq, max(self.index, 0), journal_of(sim), self.locked,
                           bool(self.lens.display), bool(self.phase_view.display), self.view_state(),
                           revealed, bool(self.running or self._lesson_run), clean_text(self.status, 200),
                           time.time(), len(self.slide.questions) if self.index >= 0 else 0,
                           self.speed, self._landscape_pair(), self.lossplot.x_axis)

    def _landscape_pair(self) -> tuple[int, int] | None:
        """The two parameters of the landscape when the teacher chose them (palette), else None."""
        view = getattr(self, "landscape", None)
        if view is None or getattr(view, "plane_mode", "path") != "axes":
            return None
        return tuple(view.pair)

    def publish(self) -> None:
        """Send the state to the followers when it changed (and say once if it cannot be)."""
        if self.index < 0:
            return
        if self.index != self._asked:
            self._asked = self.index
            self.room.ask(self.index, len(self.slide.questions))
        try:
            state = self.follow_state()
        except JournalError:
            return
        if state.same_as(self.published):
            return
        self.seq += 1
        state = replace(state, seq=self.seq)
        try:
            text = state.encode()
        except (JournalError, ValueError) as err:
            if self.published_text != "error":
                self.notify(f"the class cannot follow this run: {err}", severity="error", timeout=8)
                self.published_text = "error"
            self.published = state
            return
        self.published, self.published_text = state, text
        if self.publisher is not None:
            self.publisher(text)

    # -- lock --------------------------------------------------------------------------------
    def action_toggle_lock(self) -> None:
        """u: free play for every student from the state shown, or every screen back to this one."""
        self.locked = not self.locked
        self.notify("class locked: every screen follows this one again" if self.locked else
                    "class unlocked: each student plays from here (u locks again)", timeout=4)
        self.show_lesson_state()
        self.publish()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_lock":
            return True
        return super().check_action(action, parameters)

    # -- answers -----------------------------------------------------------------------------
    def judge_answer(self, student: Student, msg: AnswerMessage) -> Verdict:
        """A student's answer, judged by this app's engine on the slide shown, and recorded."""
        def refuse(why: str) -> Verdict:
            return Verdict(msg.slide, msg.question, False, why)

        if self.index < 0 or msg.slide != self.index:
            return refuse("that slide is not the one shown: not recorded")
        questions = self.slide.questions
        if msg.question >= len(questions):
            return refuse("no such question on this slide")
        if msg.question in self.revealed:
            return refuse("the answer has been revealed: not recorded")
        try:
            verdict = judge(questions[msg.question], msg.text, self.sim, self.lesson)
        except Exception as err:  # noqa: BLE001 - a judgement must never take the class down
            return refuse(f"could not be judged ({type(err).__name__})")
        self.room.answer(student, msg.slide, msg.question, msg.text, verdict.correct)
        self.call_later(self.show_lesson_state)
        return Verdict(msg.slide, msg.question, verdict.correct, clean_text(verdict.message, 300))

    def class_changed(self) -> None:
        """The roster changed (a student joined or left): the hint's count."""
        self.call_later(self.show_lesson_state)

    # -- the panel -----------------------------------------------------------------------------
    def class_line(self) -> str:
        n = self.room.connected
        who = f"{n} student{'s' if n != 1 else ''}"
        lock = "locked (u unlocks)" if self.locked else "UNLOCKED: free play (u locks)"
        return " · ".join(p for p in (f"class {self.address}" if self.address else "class", who, lock) if p)

    def show_lesson_state(self) -> None:
        super().show_lesson_state()
        if self.index < 0:
            return
        for panel in self.panels():
            questions = tuple(
                q if q.revealed else QuestionLine(f"{q.ask}  [{self.room.tally(self.index, i).text()}]",
                                                  q.answer, q.verdict, q.revealed)
                for i, q in enumerate(panel.questions))
            panel.show_state(panel.arithmetic, questions, [self.class_line()] + panel.hint_parts, panel.status)
