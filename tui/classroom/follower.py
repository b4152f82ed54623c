"""The student's app: lesson mode following the teacher's screen (``mbsim join URL``).

:class:`FollowerApp` is :class:`tui.lesson_mode.LessonApp` whose slides, run, panels and views come
from the teacher's :class:`~tui.classroom.state.FollowState` (:meth:`FollowerApp.apply_state`):

* the slide is shown (prose, highlight, questions) without its directives: the run is the
  teacher's, replayed from its journal by :class:`engine.journal.Follower` with this machine's
  engine (same counters, same losses to the last digit); a view (compare mode, the noise cloud,
  the lab) is opened on the teacher's scenario and its ticks replayed;
* while the class is locked a driving key (stepping, running, settings, paging, a view's keys)
  does nothing but say "following the teacher"; unlocked, the student plays freely from the
  state shown, and when the teacher locks again every screen snaps back to the teacher's;
* ``t`` answers the open question: the answer goes to the teacher, whose engine judges it; the
  verdict comes back (:meth:`FollowerApp.show_verdict`). No answer is on screen before the
  teacher reveals it: the lesson's mask (tui/mask.py) hides it on every panel, as in a lesson;
* :class:`Connection` (aiohttp client) reads the teacher's messages, keeps only the newest state
  while one is being applied, and reconnects after a lost connection (a late or returning
  follower catches up from the first state it gets).
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass
from typing import Any, Callable

from textual.screen import Screen
from textual.widgets import Input

from mbsim.engine.errors import visible
from mbsim.engine.journal import Follower, JournalError, apply_tick_ops, tick_ops_extend
from mbsim.engine.simulation import Simulation

from ..lesson_mode import LessonApp
from .protocol import LESSON_CSS
from ..lesson_views import LessonView
from ..screens.cloud import CloudScreen
from ..screens.compare import CompareScreen
from ..screens.help import HelpScreen
from ..screens.lab import LabScreen
from .protocol import (
    MAX_SERVER_MESSAGE, JoinAddress, ProtocolError, Verdict, answer_message, join_message, read_server, read_verdict,
)
from .state import FollowState, ViewState, answer_text, load_bundle, read_state

#: Actions a follower may use whatever the lock: leave, help, the answer box, scrolling.
FREE_ACTIONS = frozenset({"quit", "interrupt", "help", "screenshot", "answer", "scroll_slide"})
#: Actions that are the teacher's alone (paging, revealing), locked or not.
TEACHER_ACTIONS = frozenset({"next_slide", "previous_slide", "reveal", "toggle_lock"})
VIEW_CLASSES = {"compare": CompareScreen, "cloud": CloudScreen, "lab": LabScreen}
FOLLOWING = "following the teacher"
#: How often the class's screen checks whether it must send a new picture (seconds).
SCREEN_INTERVAL = 0.15


class FollowerApp(LessonApp):
    """A student's screen (module docstring)."""

    CSS_PATH = LESSON_CSS

    BINDINGS = LessonApp.BINDINGS

    def __init__(self, lesson: Any, *, name: str = "", send: Callable[[str], Any] | None = None,
                 first: FollowState | None = None, connection: Connection | None = None, **kwargs: Any) -> None:
        """``send(text)`` sends a message to the teacher; ``first`` is the state to show at once;
        ``connection`` is read by a worker of this app (so the teacher's messages are handled
        in the app's context) until the class ends."""
        super().__init__(lesson, **kwargs)
        self.first = first
        self.connection = connection
        self._applying: asyncio.Lock | None = None
        self.screen_sink: Callable[[bytes], Any] | None = None   # the class's screen: pictures go here
        self._screen_key: tuple | None = None
        self.pictures = 0
        self.student = name
        self.send = send                           # sends a protocol message to the teacher
        self.follower = Follower()
        self.locked = True
        self.teacher_running = False
        self.state: FollowState | None = None      # the last state received
        self.applied = 0                           # states applied (tests)
        self.own: dict[tuple[int, int], str] = {}  # (slide, question) → the answer this student got right
        self.sent: dict[tuple[int, int], str] = {}
        self.connection_note = ""
        self.ended = ""
        self._view_ops: tuple = ()

    # -- slides: shown, never driven ---------------------------------------------------------
    def on_mount(self) -> None:
        # after lesson mode's own mount (which asks for slide 0): the teacher's state
        if self.first is not None:
            self.call_after_refresh(self.apply_state, self.first)
        if self.connection is not None:
            self.run_worker(self.connection.follow(self), name="class", group="class", exit_on_error=False)
        if self.screen_sink is not None:
            self.set_interval(SCREEN_INTERVAL, self.send_picture)

    # -- the class's screen (browser pages) ---------------------------------------------------
    def send_picture(self) -> None:
        """When what is drawn changed since the last picture: an SVG of the screen, gzipped, to
        :attr:`screen_sink` (the class server hands it to every browser page)."""
        key = (self.applied, self.frames, self.plot_frames, self.busy, self.theme, self.size,
               tuple(type(s).__name__ for s in self.screen_stack), len(self.screen_stack),
               getattr(self.screen, "frames", 0), getattr(self.screen, "plot_frames", 0), self._prose_key())
        if key == self._screen_key:
            return
        self._screen_key = key
        svg = self.export_screenshot(title=self.lesson.title)
        self.pictures += 1
        self.screen_sink(gzip.compress(svg.encode("utf-8"), 6))

    def _prose_key(self) -> tuple:
        """What the slide's prose looks like on screen: Textual mounts and lays out a Markdown's
        blocks after the state that asked for it was applied, so a picture taken then shows an
        empty panel; this changes when the blocks are drawn (or scrolled), and a new picture follows."""
        out: list[Any] = []
        for widget in self.screen.query("#lesson-text, #lesson-scroll, #lesson-question-scroll"):
            out += [widget.id, len(widget.children), tuple(widget.virtual_size), tuple(widget.scroll_offset),
                    tuple(widget.size)]
        return tuple(out)

    def notify(self, *args: Any, **kwargs: Any) -> None:
        if self.screen_sink is None:          # the class's screen shows no one's toasts
            super().notify(*args, **kwargs)

    async def open_slide(self, index: int, back: bool = False) -> bool:
        """Lesson mode opens slide 0 when mounted: shown until the teacher's state arrives."""
        if self.state is None:
            await self._show_slide(index)
        return True

    async def _show_slide(self, index: int) -> None:
        """Show slide ``index``: prose, highlight, questions; the run and the view are the
        teacher's (:meth:`apply_state`), never the slide's directives."""
        slide = self.lesson.slides[index]
        self._end_lesson_run()
        self.pause()
        self.index = index
        self.status = ""
        self.revealed, self.verdicts = {}, {}
        for panel in self.panels():
            panel.input.display = False
        for panel in self.panels():
            await panel.show_slide(self.lesson.title, index + 1, len(self.lesson.slides), slide.text)
        self._apply_highlight(slide)
        self.allowed = None
        self.autopause = "none"

    # -- the teacher's state -----------------------------------------------------------------
    async def apply_state(self, state: FollowState) -> None:
        """Show what the teacher shows (module docstring); unlocked, only the lock is read.
        One state at a time (showing a slide awaits its prose)."""
        if self._applying is None:
            self._applying = asyncio.Lock()
        async with self._applying:
            try:
                await self._apply_state(state)
            except Exception as err:  # noqa: BLE001 - a follower says so and keeps following
                self.notify(visible(f"could not show the teacher's state: {type(err).__name__}: {err}")[:200],
                            severity="error", timeout=6)

    async def _apply_state(self, state: FollowState) -> None:
        first = self.state is None
        self.state = state
        self.teacher_running = state.running
        if not state.locked and not first:
            # free play from the state shown (one who joins now first gets the teacher's state)
            if self.locked:
                self.locked = False
                self.follower.forget()
                self.notify("the teacher unlocked the class: play freely from here", timeout=5)
                self.show_lesson_state()
            return
        if not self.locked and state.locked:
            self.locked = True
            self.pause()
            self.notify("the teacher locked the class: back to the teacher's screen", timeout=4)
        if not 0 <= state.slide < len(self.lesson.slides):
            return
        if state.slide != self.index:
            await self._show_slide(state.slide)
        before = (self.sim.iteration, len(self.sim.segments)) if self.sim is not None else None
        try:
            sim = self.follower.follow(state.journal)
        except JournalError as err:
            self.notify(visible(f"cannot follow the teacher's run: {err}"), severity="error", timeout=6)
            return
        if sim is not self.sim:
            self.replace_simulation(sim)
        elif before != (sim.iteration, len(sim.segments)) and sim.iteration < before[0]:
            self._jumped("back")
        self._follow_settings(state)
        if bool(self.lens.display) != state.lens:
            self._show_panel("lens", state.lens)
        if bool(self.phase_view.display) != state.phase:
            self._show_panel("phase", state.phase)
        await self._apply_view(state.view)
        self.revealed = dict(state.revealed)
        for (slide, q), text in self.own.items():
            if slide == self.index and q not in self.revealed:
                self.revealed[q] = text
        self.status = state.status
        self.applied += 1
        if not state.locked:          # joined while the class plays freely: from here
            self.locked = False
            self.follower.forget()
        self.redraw()
        self.show_lesson_state()
        if self.screen_sink is not None:  # the class's screen: a picture as soon as it is drawn
            self.call_after_refresh(self.send_picture)

    def _follow_settings(self, state: FollowState) -> None:
        """The teacher's speed (the header says it; a run here goes at it), what the loss plot's x
        axis counts, and the landscape's two parameters when the teacher chose them (ignored if
        this run has no such parameters)."""
        if self.speed != state.speed:
            self.speed = state.speed
        if self.lossplot.x_axis != state.x_axis:
            self.lossplot.set_x_axis(state.x_axis)
        pair = state.pair
        if pair is not None and self.sim is not None and max(pair) < self.sim.model.n_params:
            view = self.landscape
            if getattr(view, "plane_mode", "path") != "axes" or tuple(view.pair) != pair:
                view.set_params(*pair)

    def replace_simulation(self, sim: Simulation) -> None:
        super().replace_simulation(sim)
        if sim is not self.follower.sim:     # the student's own (a preset in free play)
            self.follower.forget()

    async def _apply_view(self, view: ViewState | None) -> None:
        """Open, follow or close the teacher's view screen."""
        screen = self._open_view_screen()
        if view is None:
            if screen is not None:
                screen.dismiss(None)
            return
        cls = VIEW_CLASSES[view.kind]
        same = (screen is not None and isinstance(screen, cls) and isinstance(screen, LessonView)
                and screen.shown[0] == view.scenario)
        delta = tick_ops_extend(self._view_ops, view.ops) if same else None
        if delta is None:
            if screen is not None:
                screen.dismiss(None)
            kwargs: dict[str, Any] = {"runs": view.runs} if view.kind == "cloud" else {}
            try:
                screen = self.view_class(cls)(view.scenario, **kwargs)
            except Exception as err:  # noqa: BLE001 - e.g. the cloud refuses K: say so
                self.notify(visible(f"cannot open the teacher's view: {err}"), severity="error", timeout=6)
                return
            if view.align and hasattr(screen, "collection"):
                screen.collection.align = view.align
            self.push_screen(screen)
            delta = view.ops
        if delta and hasattr(screen, "collection"):
            try:
                apply_tick_ops(screen.collection, delta)
            except JournalError as err:
                self.notify(visible(str(err)), severity="error", timeout=6)
            if getattr(screen, "_ready", False):
                screen.redraw()
        self._view_ops = view.ops

    def _open_view_screen(self) -> Any:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, (CompareScreen, CloudScreen, LabScreen)):
                return screen
        return None

    # -- keys --------------------------------------------------------------------------------
    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        name = action.rsplit(".", 1)[-1] if isinstance(action, str) else None
        name = name.split("(", 1)[0] if name else name
        # the app's and the screens' keys (a widget's own, such as the answer box's, are free)
        ours = default_namespace is None or default_namespace is self or isinstance(default_namespace, Screen)
        help_open = isinstance(self.screen, HelpScreen)
        if ours and name is not None and (name in TEACHER_ACTIONS or (
                self.locked and name not in FREE_ACTIONS and not help_open)):
            self.notify(f"{FOLLOWING}: the teacher {'turns the slides' if name in TEACHER_ACTIONS else 'drives'}"
                        + ("" if name in TEACHER_ACTIONS else " (until the class is unlocked)"), timeout=2)
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "command_palette" and self.locked:
            return False
        return super().check_action(action, parameters)

    # -- answers -----------------------------------------------------------------------------
    def on_input_submitted(self, event: Input.Submitted) -> None:
        """An answer goes to the teacher (judged there); the verdict comes back."""
        typed = answer_text(event.value)
        i = self.answered_question(event, typed, "no question left on this slide")
        if i is None:
            return
        if self.send is None:
            self.notify("not connected to the teacher: the answer was not sent", severity="warning", timeout=4)
            return
        self.sent[(self.index, i)] = typed
        self.verdicts[i] = f"sent: {typed}"
        self.send(answer_message(self.index, i, typed))
        self.show_lesson_state()

    def show_verdict(self, verdict: Verdict) -> None:
        """The teacher's judgement of one of this student's answers."""
        if verdict.slide != self.index:
            return
        i = verdict.question
        if not 0 <= i < len(self.slide.questions):
            return
        if verdict.correct:
            self.own[(self.index, i)] = self._question_answer(i)
            self.revealed.setdefault(i, self.own[(self.index, i)])
        self.verdicts[i] = verdict.message
        self.show_lesson_state()

    # -- what the panel says -----------------------------------------------------------------
    def show_lesson_state(self) -> None:
        if self.index < 0:
            return
        self.update_mask()
        slide = self.slide
        questions = self.question_lines()
        k, n = self.index + 1, len(self.lesson.slides)
        who = f"{visible(self.student)} · " if self.student else ""
        if self.ended:
            mode = self.ended
        elif self.connection_note:
            mode = self.connection_note
        elif self.locked:
            mode = FOLLOWING + (" (running)" if self.teacher_running else "")
        else:
            mode = "free play: the keys are yours until the teacher locks"
        hint = [f"Slide {k}/{n}", who + mode]
        if any(not q.revealed for q in questions):
            hint.append("t answer")
        if not self.locked and slide.keys is not None:
            hint.append("keys: " + " ".join(slide.keys))
        for panel in self.panels():
            panel.show_state(self.lesson_arithmetic(), questions, hint, self.status)

    def redraw(self, *, force: bool = False, plots: bool = True) -> None:
        if self.locked and self.teacher_running and not self.running:
            self.running = True             # the header says the teacher's run is running
            try:
                super().redraw(force=force, plots=plots)
            finally:
                self.running = False
        else:
            super().redraw(force=force, plots=plots)

    def connection_lost(self, note: str) -> None:
        self.connection_note = note
        self.show_lesson_state()


# ------------------------------------------------------------------------------------------------
# the connection
class JoinRefused(Exception):
    """The teacher's server refused to let this follower in: one line saying why."""


@dataclass
class Hello:
    lesson: Any
    name: str
    first_state: FollowState | None


def refusal_text(status: int, address: JoinAddress) -> str:
    if status == 403:
        return (f"{address.page}: wrong room code or not this class's address (ask the teacher for the "
                "address on their screen)")
    if status == 503:
        return f"{address.page}: the class is full or has ended"
    if status == 421:
        return f"{address.page}: the server does not answer to this name; use the address the teacher shows"
    return f"{address.page}: the server refused (HTTP {status}); is this a class address?"


class Connection:
    """A follower's websocket to the teacher (module docstring)."""

    def __init__(self, address: JoinAddress, name: str, screen_key: str | None = None) -> None:
        """``screen_key``: connect as the class's screen (the server's secret), not a student."""
        self.address = address
        self.name = name
        self.screen_key = screen_key
        self.session: Any = None
        self.ws: Any = None
        self.app: FollowerApp | None = None
        self.closed = False

    async def open(self, timeout: float = 10.0) -> Hello:
        """Connect, join and read ``hello`` (and the first state); :class:`JoinRefused` with one
        line when the code is wrong, the class full or the server not there."""
        import aiohttp

        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=timeout))
        try:
            url = self.address.websocket
            params = {"screen": self.screen_key} if self.screen_key else None
            self.ws = await self.session.ws_connect(url, heartbeat=15, params=params,
                                                    max_msg_size=MAX_SERVER_MESSAGE, autoping=True)
        except aiohttp.WSServerHandshakeError as err:
            raise JoinRefused(refusal_text(err.status, self.address)) from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as err:
            reason = getattr(err, "strerror", None) or type(err).__name__
            raise JoinRefused(f"{self.address.page}: cannot connect ({reason}); is the class running?") from None
        await self.ws.send_str(join_message(self.name))
        hello: dict[str, Any] | None = None
        first: FollowState | None = None
        try:
            while first is None:
                msg = await asyncio.wait_for(self.ws.receive(), timeout)
                data = self._read(msg)
                if data is None:
                    raise JoinRefused(f"{self.address.page}: the teacher's server closed the connection")
                if data["t"] == "end":
                    raise JoinRefused(f"{self.address.page}: {visible(str(data.get('why', 'refused')))[:200]}")
                if data["t"] == "hello":
                    hello = data
                elif data["t"] == "state" and hello is not None:
                    first = read_state(data)
        except asyncio.TimeoutError:
            raise JoinRefused(f"{self.address.page}: the teacher's server did not answer in {timeout:g} s") from None
        except ProtocolError as err:
            raise JoinRefused(f"{self.address.page}: {err}") from None
        lesson = load_bundle(hello.get("lesson"))
        name = hello.get("name")
        return Hello(lesson, name if isinstance(name, str) else self.name, first)

    def _read(self, msg: Any) -> dict[str, Any] | None:
        import aiohttp

        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.ERROR):
            return None
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ProtocolError("the teacher's server sent binary data")
        return read_server(msg.data)

    def send(self, text: str | bytes) -> None:
        ws = self.ws
        if ws is not None and not ws.closed:
            asyncio.ensure_future(self._send(ws, text))

    @staticmethod
    async def _send(ws: Any, text: str | bytes) -> None:
        try:
            if isinstance(text, bytes):
                await ws.send_bytes(text)
            else:
                await ws.send_str(text)
        except Exception:  # noqa: BLE001 - a lost connection: the reader notices and reconnects
            pass

    async def follow(self, app: FollowerApp) -> None:
        """Read messages and hand them to ``app`` (newest state only) until the class ends;
        reconnect after a lost connection."""
        self.app = app
        latest: list[FollowState] = []
        wake = asyncio.Event()

        async def applier() -> None:
            while True:
                await wake.wait()
                wake.clear()
                while latest:
                    state = latest.pop()
                    latest.clear()
                    await app.apply_state(state)

        task = asyncio.ensure_future(applier())
        try:
            while not self.closed:
                try:
                    async for msg in self.ws:
                        data = self._read(msg)
                        if data is None:
                            break
                        kind = data["t"]
                        if kind == "state":
                            latest.append(read_state(data))
                            wake.set()
                        elif kind == "screen":
                            continue
                        elif kind == "verdict":
                            app.show_verdict(read_verdict(data))
                        elif kind == "end":
                            app.ended = visible(str(data.get("why", "the class has ended")))[:200]
                            self.closed = True
                            app.exit(return_code=0)
                            return
                except ProtocolError as err:
                    app.notify(visible(f"ignored a message from the teacher: {err}"), timeout=4)
                    continue
                if self.closed:
                    return
                app.connection_lost("connection lost: reconnecting…")
                while not self.closed:
                    await asyncio.sleep(2.0)
                    try:
                        hello = await self.open()
                    except JoinRefused as err:
                        app.connection_lost(f"reconnecting… ({str(err)[:80]})")
                        continue
                    app.connection_lost("")
                    if hello.first_state is not None:
                        latest.append(hello.first_state)
                        wake.set()
                    break
        finally:
            task.cancel()

    async def close(self) -> None:
        self.closed = True
        if self.ws is not None and not self.ws.closed:
            try:
                await asyncio.wait_for(self.ws.close(), 2.0)
            except Exception:  # noqa: BLE001
                pass
        if self.session is not None:
            await self.session.close()
