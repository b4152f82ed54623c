"""Lesson mode: the app with a lesson panel, slides that drive the simulation, and questions.

:class:`LessonApp` is the main app (:class:`tui.app.MbsimApp`) plus:

* the lesson panel (tui/widgets/lesson_panel.py) under the panels, through the app's
  ``compose_extra`` hook;
* PageDown / ``.`` and PageUp / ``,``: next / previous slide. Opening a slide records the state it
  begins in (the simulation, its iteration and parameters), then applies the slide's directives:
  a fresh run, the view, the highlighted panels, the keys allowed, the automatic pauses and the
  run. Going back restores the recorded state with the engine's exact rewind
  (``Simulation.goto_iteration``: bit-identical parameters) and applies the directives again;
* a run to a condition (``engine.lessons.run_target``: a target iteration, exact whatever the
  speed) or to a loss, and the automatic pauses, by limiting what each frame may run;
* ``enter`` reveals the next question's answer (the named quantity, read from the simulation at
  that moment); ``t`` lets someone type an answer, which is checked;
* a key the slide does not allow says so in a notification instead of doing nothing;
* while a question is open, its answer shows nowhere (:class:`tui.mask.MaskedQuestions`).

Nothing is recomputed here: counters, plans and quantities all come from the engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from mbsim.engine import ScenarioError, Simulation
from mbsim.engine.lessons import (
    KEYS, Lesson, Slide, Unreachable, answer_of, apply_slide, cloud_goal, judge, run_target,
)
from mbsim.engine.lessons.player import has_references, values_at

from .app import SLICE, MbsimApp
from .runloop import EVAL_POLICY
from .lesson_views import LessonView, lesson_screen
from .mask import MaskedQuestions
from .screens.cloud import CloudScreen
from .screens.compare import CompareScreen
from .screens.lab import LabScreen
from .screens.help import HelpScreen
from .widgets.lesson_panel import LessonPanel, QuestionLine

#: How the lesson file writes a key (engine.lessons.KEYS) → Textual's name for it.
TEXTUAL_KEY: dict[str, str] = {
    "→": "right", "←": "left", "+": "plus", "-": "minus", "[": "left_square_bracket",
    "]": "right_square_bracket", "<": "less_than_sign", ">": "greater_than_sign",
}
LESSON_ACTIONS = frozenset({"next_slide", "previous_slide", "reveal", "answer", "scroll_slide"})
ALWAYS_ALLOWED = frozenset({"quit", "help", "screenshot", "command_palette"})
#: Keys that take the run somewhere else: they end a slide's run in progress.
STEPPING = frozenset({"step_batch", "step_epoch", "step_phase", "step_back", "reset"})
PLOT_PANELS = frozenset({"landscape", "lossplot", "lens", "phase"})
PANEL_IDS: dict[str, str] = {
    "header": "header", "counters": "counters", "strip": "strip", "landscape": "landscape",
    "lossplot": "lossplot", "lens": "lens", "phase": "phase", "detail": "detail",
}


def key_actions() -> dict[str, str]:
    """Every key a lesson may name → the main screen's action it triggers."""
    table: dict[str, str] = {}
    for key in KEYS:
        name = TEXTUAL_KEY.get(key, key)
        for b in MbsimApp.BINDINGS:
            if isinstance(b, Binding) and name in [k.strip() for k in b.key.split(",")]:
                table[key] = b.action
                break
    return table


KEY_ACTIONS = key_actions()
MAIN_ACTIONS = frozenset(KEY_ACTIONS.values())


@dataclass
class SlideStart:
    """The state a slide began in: what going back to it restores."""

    sim: Simulation
    iteration: int
    segments: int
    params: np.ndarray
    lens: bool
    phase: bool


class LessonApp(MaskedQuestions, MbsimApp):
    """mbsim in lesson mode (``mbsim lesson NAME|FILE.md``)."""

    CSS_PATH = ["app.tcss", "lesson.tcss"]
    AUTO_FOCUS = None  # keys go to the app's bindings; t focuses the answer box
    BINDINGS = MbsimApp.BINDINGS + [
        Binding("pagedown,full_stop", "next_slide", "next slide", show=False),
        Binding("pageup,comma", "previous_slide", "previous slide", show=False),
        Binding("enter", "reveal", "reveal", show=False),
        Binding("t", "answer", "answer", show=False),
        Binding("up", "scroll_slide(-1)", "scroll the slide up", show=False),
        Binding("down", "scroll_slide(1)", "scroll the slide down", show=False),
    ]

    def __init__(self, lesson: Lesson, sim: Simulation | None = None, *, speed: Any = None,
                 animate: bool = True, throttle: bool = True, fast: bool = False) -> None:
        """``fast`` runs every slide's run at max speed whatever its ``speed`` says (rehearsing a
        lesson, tests)."""
        super().__init__(sim if sim is not None else Simulation(lesson.start, eval_policy=EVAL_POLICY), paused=True,
                         speed=speed, animate=animate, throttle=throttle)
        self.lesson = lesson
        self.fast = fast
        self.index = -1
        self.starts: list[SlideStart | None] = [None] * len(lesson.slides)
        self.lesson_goal: int | None = None       # the iteration the slide's run stops at
        self.loss_goal: float | None = None       # or the training loss it runs below
        self.goal_text = ""
        self.autopause = "none"
        self.allowed: frozenset[str] | None = None
        self.revealed: dict[int, str] = {}        # question index → answer text
        self.verdicts: dict[int, str] = {}
        self.status = ""                          # what the slide's run did last
        self.rebuilt = 0                          # times a start had to be rebuilt (tests)
        self._user_speed = self.speed
        self._lesson_run = False

    # ------------------------------------------------------------------------------------------
    def compose_extra(self) -> ComposeResult:
        yield LessonPanel(id="lesson")

    def on_mount(self) -> None:
        # MbsimApp.on_mount runs after this one (Textual calls each class's handler)
        self.main_panel = self.query_one("#lesson", LessonPanel)
        self.call_later(self.open_slide, 0)
        if has_references(self.lesson):   # answers that read quantity@N: compute them meanwhile
            self.run_worker(lambda: values_at(self.lesson), thread=True, exclusive=False, group="lesson-values")

    @property
    def panel(self) -> LessonPanel:
        """The lesson panel on the screen shown (a view opened by a slide has its own)."""
        screen = self.screen
        if isinstance(screen, LessonView):
            try:
                return screen.query_one(LessonPanel)
            except Exception:  # noqa: BLE001 - not composed yet: the main screen's
                pass
        return self.main_panel

    def panels(self) -> list[LessonPanel]:
        """Every lesson panel mounted: the main screen's and those of the views on the stack."""
        out = [self.main_panel]
        for screen in self.screen_stack:
            if isinstance(screen, LessonView):
                out.extend(screen.query(LessonPanel))
        return out

    def view_class(self, cls: type) -> type:
        """Compare mode, the noise cloud and the lab open with the lesson panel under them."""
        return lesson_screen(cls)

    async def fill_panel(self, panel: LessonPanel) -> None:
        """Show the current slide in a view's panel that has just been mounted."""
        if self.index < 0 or not panel.is_mounted:
            return
        await panel.show_slide(self.lesson.title, self.index + 1, len(self.lesson.slides), self.slide.text)
        self.show_lesson_state()

    @property
    def slide(self) -> Slide:
        return self.lesson.slides[self.index]

    # ------------------------------------------------------------------------------------------
    # slides
    async def open_slide(self, index: int, back: bool = False) -> bool:
        """Show slide ``index`` (0-based) and apply its directives; False if it cannot open.

        Forward, the current state is recorded as the slide's start; back, the recorded start
        is restored exactly first. A fresh run is built before anything on screen changes, so a
        slide that cannot load leaves the screen as it was.
        """
        slide = self.lesson.slides[index]
        fresh = None
        if slide.fresh:
            try:
                fresh = Simulation(slide.scenario, eval_policy=EVAL_POLICY)
            except ScenarioError as err:
                self.notify(f"{self.lesson.source}:{slide.line}: {err}", severity="error", timeout=8)
                return False
        self._end_lesson_run()
        self.pause()
        if back and self.starts[index] is not None:
            self._restore(self.starts[index], index)
        else:
            self.starts[index] = self._record()
        self.index = index
        self.status = ""
        self.revealed, self.verdicts = {}, {}
        for panel in self.panels():
            panel.input.display = False
        self._close_other_view(slide)
        self._apply_panels(slide)  # first: a panel the view hides is not drawn for the new run
        if fresh is not None:
            self.replace_simulation(fresh)
        if slide.live:
            self._apply_live(slide)
        self._open_view(slide)     # then a view screen, on this slide's own simulation
        for panel in self.panels():
            await panel.show_slide(self.lesson.title, index + 1, len(self.lesson.slides), slide.text)
        self._apply_highlight(slide)
        self.allowed = None if slide.keys is None else (
            frozenset(KEY_ACTIONS[k] for k in slide.keys) | ALWAYS_ALLOWED)
        self.autopause = slide.pause
        if slide.run is not None and slide.view != "cloud":   # a cloud slide's run runs the cloud
            self._start_run(slide)
        self.redraw()
        self.show_lesson_state()
        return True

    def _apply_live(self, slide: Slide) -> None:
        """The slide's ``live`` settings on the run in progress (the parameters kept), as the keys
        and the settings screen change them."""
        try:
            self.sim.apply_changes(**dict(slide.live))
        except ScenarioError as err:
            self.notify(f"{self.lesson.source}:{slide.live_line}: {err}", severity="error", timeout=8)
            return
        self._jumped("settings")

    def _record(self) -> SlideStart:
        sim = self.sim
        return SlideStart(sim, sim.iteration, len(sim.segments), sim.params.copy(),
                          bool(self.lens.display), bool(self.phase_view.display))

    def _restore(self, start: SlideStart, index: int) -> None:
        """Put back the state slide ``index`` began in: the engine's exact rewind, or, if a
        change of settings at that very iteration made it unreachable, a replay of the
        lesson's directives from the first slide."""
        sim = start.sim
        sim.goto_iteration(start.iteration)
        exact = (sim.iteration == start.iteration and len(sim.segments) == start.segments
                 and np.array_equal(sim.params, start.params))
        if not exact:
            sim = self._replay_to(index)
            self.rebuilt += 1
        if sim is self.sim:
            self._jumped("back")
        else:
            self.replace_simulation(sim)
        self._show_panel("lens", start.lens)
        self._show_panel("phase", start.phase)

    def _replay_to(self, index: int) -> Simulation:
        """The state slide ``index`` begins in if only the lesson's directives had acted."""
        sim = Simulation(self.lesson.start, eval_policy=EVAL_POLICY)
        for slide in self.lesson.slides[:index]:
            sim = apply_slide(slide, sim)
        return sim

    VIEW_SCREENS = {"compare": CompareScreen, "cloud": CloudScreen, "lab": LabScreen}

    def _close_other_view(self, slide: Slide) -> None:
        """Close the view screen shown unless this slide asks for compare mode on the same
        settings. The cloud and the lab are always closed (closing the lab stops its sweep): each
        cloud or lab slide opens its own on its own run, so two in a row never share one."""
        screen = self.screen
        if not isinstance(screen, (CompareScreen, CloudScreen, LabScreen)):
            return
        same = (slide.view == "compare" and isinstance(screen, CompareScreen)
                and isinstance(screen, LessonView) and not slide.fresh
                and screen.shown == self._view_settings(slide))
        if not same:
            screen.action_close()

    def _view_settings(self, slide: Slide) -> tuple:
        """What a view opened for ``slide`` shows: the scenario in force and, for the cloud, K."""
        return (self.sim.scenario, (slide.runs or self.cloud_runs) if slide.view == "cloud" else None)

    def _apply_panels(self, slide: Slide) -> None:
        """The lens or the phase view the slide asks for (main view: neither)."""
        view = slide.view
        if view in self.VIEW_SCREENS or view is None:
            return
        if bool(self.lens.display) != (view == "lens"):
            self.action_toggle_lens()
        if bool(self.phase_view.display) != (view == "phase"):
            self.action_toggle_phase_view()

    def _open_view(self, slide: Slide) -> None:
        """Compare mode, the noise cloud or the lab on this slide's simulation, with the lesson
        panel under it (unless it is open already on these settings)."""
        view = slide.view
        cls = self.VIEW_SCREENS.get(view or "")
        if cls is None or isinstance(self.screen, cls):
            return
        if view == "cloud":
            self.cloud_runs = slide.runs or self.cloud_runs
            self.action_cloud()
            screen = self.screen
            if slide.run is not None and isinstance(screen, CloudScreen):
                goal = cloud_goal(slide.run, self.sim.plan)   # the slide's run runs the cloud
                self.call_after_refresh(lambda: screen.run_to_goal(goal))
        elif view == "compare":
            self.action_compare()
        else:
            self.action_lab()

    def _apply_highlight(self, slide: Slide) -> None:
        for name, widget_id in PANEL_IDS.items():
            self.main_panel.screen.query_one(f"#{widget_id}").set_class(name in slide.highlight, "-lesson-highlight")
        self._fit_panels()

    def _fit_panels(self) -> None:
        """Mark whether this slide shows the plots (below 36 rows they share the space with the
        slide only then, and take the strip's rows unless the slide points at the strip:
        lesson.tcss)."""
        if self.index < 0:
            return
        slide = self.slide
        plots = bool(set(slide.highlight) & PLOT_PANELS) or slide.view in ("lens", "phase") \
            or bool(self.lens.display) or bool(self.phase_view.display)
        main = self.main_panel.screen.query_one("#main")
        for widget in (main, self.main_panel):
            widget.set_class(plots, "-lesson-panels")
        # below 36 rows the strip's rows go to the plots unless the slide points at the strip
        # (the phase view lists the batch's samples itself)
        strip = "strip" in slide.highlight and not self.phase_view.display
        main.set_class(plots and not strip, "-lesson-no-strip")
        # and the phase view takes the landscape's columns too: its table needs the width
        main.set_class(bool(self.phase_view.display) and "landscape" not in slide.highlight,
                       "-lesson-phase-wide")

    def _show_panel(self, name: str, on: bool) -> None:
        super()._show_panel(name, on)
        self._fit_panels()

    async def action_next_slide(self) -> None:
        if self.index + 1 >= len(self.lesson.slides):
            self.notify("this is the last slide (PageUp goes back; q quits)", timeout=3)
            return
        await self.open_slide(self.index + 1)

    async def action_previous_slide(self) -> None:
        if self.index <= 0:
            if self.index == 0:
                await self.open_slide(0, back=True)
            return
        await self.open_slide(self.index - 1, back=True)

    # ------------------------------------------------------------------------------------------
    # the slide's run and the automatic pauses
    def _target(self, slide: Slide, sim: Simulation) -> int | None:
        seg = sim.segment
        return run_target(slide.run, sim.plan, sim.iteration, sim.step, start_iteration=seg.start_iteration,
                          start_step=seg.start_step, start_epoch=seg.start_epoch)

    def _start_run(self, slide: Slide) -> None:
        try:
            target = self._target(slide, self.sim)
        except Unreachable as err:
            self.notify(f"run {slide.run.text!r}: {err}; nothing to run", timeout=5)
            return
        self.lesson_goal = target
        self.loss_goal = slide.run.value if target is None else None
        self.goal_text = slide.run.describe()
        self._user_speed = self.speed
        self.speed = None if self.fast else slide.speed
        self._lesson_run = True
        if self.speed is None:  # max: at once if it is quick, else with the screen following
            self._run_for(SLICE)
        if self._lesson_run:
            self.start_running()

    def _end_lesson_run(self) -> None:
        if self._lesson_run:
            self.speed = self._user_speed
        self._lesson_run = False
        self.lesson_goal = self.loss_goal = None
        self.goal_text = ""

    def _next_stop(self) -> int | None:
        """The iteration the engine must not run past now: the slide's target, or the next
        boundary the slide pauses at (not while ``e`` runs to the end of its epoch)."""
        sim = self.sim
        stops = []
        if self.lesson_goal is not None:
            stops.append(self.lesson_goal)
        if self.autopause != "none" and self.goal is None and (self.running or self._lesson_run):
            seg = sim.segment
            local = sim.iteration - seg.start_iteration
            plan = seg.plan
            if self.autopause == "epoch":
                stops.append(sim.iteration + sim.iterations_to_epoch_end())
            elif self.autopause == "pass":
                m = plan.batches_per_pass if plan.continues else (plan.iterations_per_pass or plan.batches_per_pass)
                stops.append(seg.start_iteration + (local // m + 1) * m)
            else:
                j = local
                while j < plan.total_iterations and not plan.locate(j).last_in_step:
                    j += 1
                stops.append(seg.start_iteration + j + 1)
        return min(stops) if stops else None

    def _run_for(self, budget: float, limit: int | None = None) -> int:
        sim = self.sim
        stop = self._next_stop()
        if stop is not None:
            room = max(0, stop - sim.iteration)
            limit = room if limit is None else min(limit, room)
        if self.loss_goal is None:
            ran = super()._run_for(budget, limit)
        else:  # one iteration at a time: the loss is known only after each
            ran, deadline = 0, time.perf_counter() + budget
            while (limit is None or ran < limit) and not sim.done and not sim.train_loss < self.loss_goal:
                ran += super()._run_for(budget, 1)
                if time.perf_counter() >= deadline:
                    break
        self._after_run(stop)
        return ran

    def _after_run(self, stop: int | None) -> None:
        sim = self.sim
        reached = self.lesson_goal is not None and sim.iteration >= self.lesson_goal
        below = self.loss_goal is not None and sim.train_loss < self.loss_goal
        if reached or below or (self._lesson_run and sim.done):
            text = self.goal_text
            self._end_lesson_run()
            self.pause()
            self.status = f"done: ran {text}"
            self.show_lesson_state()
        elif stop is not None and sim.iteration >= stop and (self.running or self._lesson_run):
            self.pause()
            where = {"epoch": "the end of an epoch", "pass": "the end of a pass", "step": "a step"}[self.autopause]
            self.status = f"paused at {where}: space goes on"
            self.show_lesson_state()

    # ------------------------------------------------------------------------------------------
    # keys: the slide's allowed keys, lesson keys in compare mode
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in LESSON_ACTIONS:
            # on the main screen, and (to move on) in compare mode; never under help or settings
            if isinstance(self.screen, LessonView):
                return True
            return len(self.screen_stack) == 1
        return super().check_action(action, parameters)

    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        name = action.rsplit(".", 1)[-1] if isinstance(action, str) else None
        on_main = not isinstance(self.screen, (CompareScreen, CloudScreen, LabScreen, HelpScreen))
        if name in MAIN_ACTIONS and on_main and default_namespace in (None, self):
            if self.allowed is not None and name not in self.allowed:
                keys = ", ".join(self.slide.keys)
                self.notify(f"not on this slide — it uses only {keys} (PageDown: next slide)", timeout=3)
                return True
            if name in STEPPING and self._lesson_run:
                self._end_lesson_run()
        return await super().run_action(action, default_namespace, namespaces)

    # ------------------------------------------------------------------------------------------
    # questions
    def _question_answer(self, i: int) -> str:
        """The revealed answer's line: its working in the students' words, then the explanation."""
        q = self.slide.questions[i]
        answer = answer_of(q, self.sim, self.lesson)
        return answer.with_explanation(q.explain) if answer.known else answer.text

    def action_reveal(self) -> None:
        """Reveal the next question's answer, read from the simulation now."""
        pending = [i for i in range(len(self.slide.questions)) if i not in self.revealed]
        if not pending:
            self.notify("no question left on this slide (PageDown: next slide)", timeout=3)
            return
        self.revealed[pending[0]] = self._question_answer(pending[0])
        self.verdicts.pop(pending[0], None)   # a wrong try's working: the answer now says it all
        self.show_lesson_state()

    def action_answer(self) -> None:
        """Type an answer to the next question (checked when enter is pressed). With no question
        left the box opens all the same and says so, so what is typed next (a "." of "0.5")
        goes into it and never turns a slide."""
        box = self.panel.input
        box.value = ""
        box.placeholder = ("your answer, then enter (escape: cancel)" if self.open_questions() else
                           "no question left on this slide: nothing to check (escape closes)")
        box.display = True
        box.focus()

    def action_scroll_slide(self, lines: int) -> None:
        """↑ / ↓: scroll the slide's text when it is longer than its panel."""
        self.panel.scroll_text(lines)

    def answered_question(self, event: Input.Submitted, typed: str, none_left: str) -> int | None:
        """Close the answer box; the open question ``typed`` answers, or None (not the answer box,
        nothing typed, or no question left on the slide: ``none_left`` says so)."""
        if event.input.id != "lesson-input":
            return None
        event.stop()
        event.input.display = False
        self.set_focus(None)
        pending = self.open_questions()
        if not pending:
            self.notify(none_left, timeout=3)
            return None
        return pending[0] if typed else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        typed = event.value.strip()
        i = self.answered_question(event, typed, "no question left on this slide (PageDown: next slide)")
        if i is None:
            return
        verdict = judge(self.slide.questions[i], typed, self.sim, self.lesson)
        if verdict.correct:
            self.revealed[i] = self._question_answer(i)
        self.verdicts[i] = verdict.message
        self.show_lesson_state()

    # ------------------------------------------------------------------------------------------
    def question_lines(self) -> tuple[QuestionLine, ...]:
        """The slide's questions as the panel shows them: asked, revealed answer, verdict."""
        return tuple(QuestionLine(q.ask, self.revealed.get(i, ""), self.verdicts.get(i, ""), i in self.revealed)
                     for i, q in enumerate(self.slide.questions))

    def show_lesson_state(self) -> None:
        """The panel's lines under the prose: the arithmetic, the questions, what to press."""
        if self.index < 0:
            return
        self.update_mask()
        slide = self.slide
        questions = self.question_lines()
        k, n = self.index + 1, len(self.lesson.slides)
        hint: list[str] = [f"Slide {k}/{n}", "PgDn/. next" if k < n else "last slide"]
        if k > 1:
            hint.append("PgUp/, back")
        if any(not q.revealed for q in questions):
            hint.append("enter reveal · t answer")
        if slide.keys is not None:
            hint.append("keys: " + " ".join(slide.keys))
        status = ""
        if self._lesson_run:
            hint.append(f"running {self.goal_text} (space pauses)")
        elif self.status:
            status = self.status
        for panel in self.panels():
            panel.show_state(self.lesson_arithmetic(), questions, hint, status)

    def redraw(self, *, force: bool = False, plots: bool = True) -> None:
        if getattr(self, "panel", None) is not None and self.index >= 0:
            self.update_mask()     # first: the panels drawn below are masked as they appear
        super().redraw(force=force, plots=plots)
        if getattr(self, "panel", None) is not None and self.index >= 0:
            if self.lesson_arithmetic() != self.main_panel.arithmetic:
                self.show_lesson_state()
