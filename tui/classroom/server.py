"""The teacher's server: followers connect to ``/CODE/follow`` (a websocket of
:mod:`tui.classroom.protocol` messages); ``/CODE`` is the page a browser opens.

It runs in the teacher's app's event loop (``mbsim class`` runs the app with ``run_async`` next
to it) and never makes the teacher wait for a student:

* each follower has a :class:`Seat`: the latest state (a newer one replaces it: a follower that
  falls behind skips to the present) and a few queued replies (verdicts; at most
  :data:`MAX_QUEUED`), sent by the seat's own task with a timeout (:data:`SEND_TIMEOUT`): a
  follower that does not read is dropped and may join again (its answers are kept);
* what a follower sends is read by :func:`tui.classroom.protocol.read_client` (``join`` first,
  within :data:`JOIN_TIMEOUT`; then only answers), capped at
  :data:`~tui.classroom.protocol.MAX_CLIENT_MESSAGE` bytes (a larger message closes its
  websocket) and at the room's rate (:class:`tui.classroom.room.Bucket`); a follower that keeps
  flooding is let go;
* requests are checked as ``mbsim serve`` checks them (:mod:`tui.web_requests`: the ``Host``
  must be this server's name or an IP address, a websocket's ``Origin`` this server's page);
  a wrong room code is 403 with a page, a full class 503;
* every refusal is one rate-limited log line (:class:`tui.web_requests.LimitedLog`).

The app gives it three callbacks: ``judge(student, answer) -> Verdict`` (the teacher's engine
judges), ``changed()`` (the roster or an answer changed: redraw the tally) and ``log(line)``.
"""

from __future__ import annotations

import asyncio
import html
import secrets
import socket
import time
from collections import deque
from typing import Callable

from aiohttp import WSMsgType, web

from ..web_requests import LimitedLog, host_allowed, one_line_logger, origin_allowed
from .protocol import (
    FOLLOW_PATH, MAX_CLIENT_MESSAGE, AnswerMessage, Join, ProtocolError, Verdict, code_matches, dump,
    end_message, read_client, verdict_message,
)
from .room import Room, RoomFull, Student

#: How often the teacher's app publishes its state (seconds): the follow latency's floor.
PUBLISH_INTERVAL = 0.05
#: Seconds a follower has to take one message before it is dropped.
SEND_TIMEOUT = 10.0
#: Seconds a follower has to say who it is after connecting.
JOIN_TIMEOUT = 10.0
#: Replies (verdicts) queued for one follower before it is dropped.
MAX_QUEUED = 32
#: Bytes the server's write buffer may hold for one follower before it is dropped.
MAX_BUFFERED = 1024 * 1024
#: The largest picture of the class's screen (gzipped SVG) and how many are kept.
MAX_SCREEN = 4 * 1024 * 1024
SCREENS_KEPT = 4

PAGE_STYLE = ("body{font-family:sans-serif;max-width:40em;margin:4em auto;padding:0 1em;"
              "background:#1e1e2e;color:#ddd}h1{font-size:1.4em}code{color:#fc6}")


def message_page(status: int, title: str, text: str) -> web.Response:
    body = (f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
            f"<style>{PAGE_STYLE}</style><h1>{html.escape(title)}</h1><p>{text}</p>")
    return web.Response(status=status, text=body, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


class Seat:
    """One connected follower: its websocket, its student, what is waiting to be sent."""

    def __init__(self, ws: web.WebSocketResponse, student: Student, drop: Callable[[Seat, str], None],
                 transport: asyncio.BaseTransport | None = None) -> None:
        self.ws = ws
        self.transport = transport
        self.student = student
        self.latest: str | None = None
        self.screen: str | None = None         # a page: the newest "the screen changed" note
        self.page = False
        self.queue: deque[str] = deque()
        self.wake = asyncio.Event()
        self.drop = drop
        self.sent = 0
        self.closed = False

    def offer(self, state: str) -> None:
        """The newest state replaces one not yet sent."""
        self.latest = state
        self.wake.set()

    def offer_screen(self, note: str) -> None:
        self.screen = note
        self.wake.set()

    def push(self, message: str) -> None:
        if len(self.queue) >= MAX_QUEUED:
            self.drop(self, "too many replies waiting")
            return
        self.queue.append(message)
        self.wake.set()

    def buffered(self) -> int:
        transport = self.transport
        try:
            return transport.get_write_buffer_size() if transport is not None else 0  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a closed transport: nothing buffered
            return 0

    async def send_loop(self) -> None:
        """Send what is waiting, each within :data:`SEND_TIMEOUT`; a follower that does not
        take it (or lets the buffer grow past :data:`MAX_BUFFERED`) is dropped."""
        try:
            while not self.closed:
                await self.wake.wait()
                self.wake.clear()
                while not self.closed and (self.latest is not None or self.screen is not None or self.queue):
                    if self.latest is not None:
                        message, self.latest = self.latest, None
                    elif self.screen is not None:
                        message, self.screen = self.screen, None
                    else:
                        message = self.queue.popleft()
                    if self.buffered() > MAX_BUFFERED:
                        self.drop(self, "not reading (its buffer is full)")
                        return
                    try:
                        await asyncio.wait_for(self.ws.send_str(message), SEND_TIMEOUT)
                    except asyncio.TimeoutError:
                        self.drop(self, f"took more than {SEND_TIMEOUT:g} s to take a message")
                        return
                    except (ConnectionError, RuntimeError):
                        self.drop(self, "gone")
                        return
                    self.sent += 1
        except asyncio.CancelledError:
            pass


class ClassServer:
    """The class's web server (module docstring)."""

    def __init__(self, room: Room, code: str, *, host_names: frozenset[str], hello: dict,
                 judge: Callable[[Student, AnswerMessage], Verdict] | None = None,
                 changed: Callable[[], None] | None = None,
                 log: Callable[[str], None] | None = None, page: Callable[[web.Request], web.StreamResponse] | None = None) -> None:
        self.room = room
        self.code = code
        self.host_names = host_names
        self.hello = hello                         # the lesson bundle (tui.classroom.state)
        self.judge = judge
        self.changed = changed or (lambda: None)
        self.log_line = LimitedLog(log or (lambda line: None))
        self.page = page
        self.on_page: Callable[[], None] | None = None     # a browser page joined (start the screen)
        self.seats: set[Seat] = set()
        self.state: str | None = None              # the latest state, for a follower that joins
        self.runner: web.AppRunner | None = None
        self.ended = False
        self.extra_routes: list[web.RouteDef] = []
        # the class's screen (browser pages): one follower renders it, pages fetch its pictures
        self.screen_secret = secrets.token_urlsafe(24)
        self.screen_seat: Seat | None = None
        self.screens: dict[int, bytes] = {}        # version → gzipped SVG (the last few)
        self.screen_version = 0

    # -- the application ---------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard], client_max_size=MAX_CLIENT_MESSAGE)
        app.add_routes(self.extra_routes + [
            web.get(f"/{{code}}/{FOLLOW_PATH}", self.handle_follow),
            web.get("/{code}/screen/{version:[0-9]{1,12}}.svg", self.handle_screen),
            web.get("/{code}", self.handle_page),
            web.get("/", self.handle_root),
        ])
        return app

    def refuse(self, request: web.Request, status: int, title: str, text: str, why: str) -> web.Response:
        where = request.raw_path[:80]
        self.log_line(f"class: refused {request.method} {where} from {request.remote}: {status} {why}")
        return message_page(status, title, html.escape(text))

    @web.middleware
    async def guard(self, request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
        hosts = request.headers.getall("Host", [])
        if len(hosts) != 1 or not host_allowed(hosts[0], self.host_names):
            return self.refuse(request, 421, "Not this class's address",
                               "Open the address the teacher's screen shows.", "unknown Host")
        if request.headers.get("Upgrade", "").lower() == "websocket" and \
                not origin_allowed(request.headers.get("Origin"), hosts[0]):
            return self.refuse(request, 403, "Another site", "A class can only be followed from its own page.",
                               "foreign Origin")
        code = request.match_info.get("code")
        if code is not None and not code_matches(code, self.code):
            return self.refuse(request, 403, "Wrong room code",
                               "This is not the code of the class here: check the address on the teacher's "
                               "screen (http://HOST:PORT/CODE).", "wrong room code")
        try:
            return await handler(request)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            return self.refuse(request, err.status, f"{err.status}", "Nothing of mbsim is at this address.",
                               f"{err.status}")
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as err:  # a bug: a page and one line, not a traceback
            return self.refuse(request, 500, "Server error", "Something went wrong; try again.",
                               f"{type(err).__name__}")

    async def handle_root(self, request: web.Request) -> web.Response:
        return self.refuse(request, 404, "The room code is missing",
                           "Open the whole address the teacher's screen shows: http://HOST:PORT/CODE.",
                           "no room code")

    async def handle_page(self, request: web.Request) -> web.StreamResponse:
        if self.page is not None:
            return await self.page(request)
        return message_page(200, "mbsim class",
                            f"In a terminal: <code>mbsim join {html.escape(str(request.url.with_query(None)))}</code>")

    # -- followers ----------------------------------------------------------------------------
    def full(self) -> bool:
        return self.room.connected >= self.room.max_students

    async def handle_follow(self, request: web.Request) -> web.StreamResponse:
        if self.ended:
            return self.refuse(request, 503, "The class has ended", "The teacher has ended the class.", "ended")
        given = request.query.get("screen")
        if given is not None:
            if not secrets.compare_digest(given.encode("utf-8", "replace"), self.screen_secret.encode()):
                return self.refuse(request, 403, "Not the class's screen", "", "wrong screen key")
            return await self.handle_screen_seat(request)
        if self.full():
            return self.refuse(request, 503, "The class is full",
                               f"All {self.room.max_students} seats are taken; ask the teacher.", "full")
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_CLIENT_MESSAGE)
        if not ws.can_prepare(request).ok:
            return self.refuse(request, 400, "Not a websocket", "mbsim join connects here.", "not a websocket")
        await ws.prepare(request)
        seat: Seat | None = None
        sender: asyncio.Task | None = None
        try:
            try:
                first = await asyncio.wait_for(ws.receive(), JOIN_TIMEOUT)
            except asyncio.TimeoutError:
                self.log_line(f"class: {request.remote} did not say who it is: let go")
                return ws
            if first.type != WSMsgType.TEXT:
                return ws
            try:
                join = read_client(first.data)
            except ProtocolError as err:
                self.log_line(f"class: {request.remote} refused: {err}")
                await ws.send_str(end_message(f"refused: {err}"))
                return ws
            if not isinstance(join, Join):
                await ws.send_str(end_message("say who you are first (join)"))
                return ws
            try:
                student = self.room.join(join.name)
            except RoomFull:
                await ws.send_str(end_message(f"the class is full ({self.room.max_students} students)"))
                return ws
            seat = Seat(ws, student, self._drop, request.transport)
            seat.page = join.page
            self.seats.add(seat)
            await ws.send_str(dump({"t": "hello", "protocol": 1, "lesson": self.hello, "name": student.name}))
            if self.state is not None:
                seat.offer(self.state)
            if seat.page:
                if self.on_page is not None:
                    self.on_page()
                if self.screen_version:
                    seat.offer_screen(dump({"t": "screen", "v": self.screen_version}))
            sender = asyncio.ensure_future(seat.send_loop())
            self.log_line(f"class: {student.name} joined ({self.room.connected} connected)")
            self.changed()
            await self._read(seat)
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            if seat is not None:
                self._forget(seat)
            if sender is not None:
                sender.cancel()
            if not ws.closed:
                try:
                    await asyncio.wait_for(ws.close(), 2.0)
                except (asyncio.TimeoutError, Exception):
                    pass
        return ws

    async def _read(self, seat: Seat) -> None:
        ws, student = seat.ws, seat.student
        async for message in ws:
            if seat.closed:
                break
            if message.type != WSMsgType.TEXT:
                continue
            if not student.bucket.take():
                if student.bucket.flooding:
                    self._drop(seat, "sent too many messages")
                    break
                continue
            try:
                msg = read_client(message.data)
            except ProtocolError as err:
                self.log_line(f"class: {student.name}: ignored a message: {err}")
                continue
            if isinstance(msg, AnswerMessage) and self.judge is not None:
                verdict = self.judge(student, msg)
                seat.push(verdict_message(verdict))
                self.changed()

    async def handle_screen_seat(self, request: web.Request) -> web.StreamResponse:
        """The follower that renders the class's screen for browser pages (it knows the screen
        key: a process this server started); it is no student, and it sends pictures."""
        ws = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_SCREEN)
        if not ws.can_prepare(request).ok:
            return self.refuse(request, 400, "Not a websocket", "", "not a websocket")
        await ws.prepare(request)
        seat = Seat(ws, Student(0, "(class screen)"), self._drop_screen, request.transport)
        old, self.screen_seat = self.screen_seat, seat
        if old is not None:
            self._drop_screen(old, "replaced")
        await ws.send_str(dump({"t": "hello", "protocol": 1, "lesson": self.hello, "name": ""}))
        if self.state is not None:
            seat.offer(self.state)
        sender = asyncio.ensure_future(seat.send_loop())
        try:
            async for message in ws:
                if message.type == WSMsgType.BINARY:
                    self.screen_frame(bytes(message.data))
        except (asyncio.CancelledError, ConnectionError):
            pass
        finally:
            sender.cancel()
            seat.closed = True
            if self.screen_seat is seat:
                self.screen_seat = None
        return ws

    def _drop_screen(self, seat: Seat, why: str) -> None:
        seat.closed = True
        seat.wake.set()
        asyncio.ensure_future(self._close_ws(seat.ws, 1008, why))

    def screen_frame(self, data: bytes) -> None:
        """A new picture of the class's screen (gzipped SVG): kept, and every page told."""
        if data[:2] != b"\x1f\x8b":           # gzip's magic: anything else is not a picture
            return
        self.screen_version += 1
        self.screens[self.screen_version] = data
        for v in [v for v in self.screens if v < self.screen_version - SCREENS_KEPT + 1]:
            del self.screens[v]
        note = dump({"t": "screen", "v": self.screen_version})
        for seat in list(self.seats):
            if seat.page:
                seat.offer_screen(note)

    async def handle_screen(self, request: web.Request) -> web.StreamResponse:
        data = self.screens.get(int(request.match_info["version"]))
        if data is None:
            raise web.HTTPNotFound(text="That picture is gone: a newer one is on its way.")
        return web.Response(body=data, headers={"Content-Type": "image/svg+xml", "Content-Encoding": "gzip",
                                                "Cache-Control": "no-store"})

    def _drop(self, seat: Seat, why: str) -> None:
        if seat.closed:
            return
        self.log_line(f"class: {seat.student.name} dropped: {why} (may join again)")
        self._forget(seat)
        asyncio.ensure_future(self._close_ws(seat.ws, 1008, why))

    def _forget(self, seat: Seat) -> None:
        if seat in self.seats:
            self.seats.discard(seat)
            self.room.leave(seat.student)
            self.changed()
        seat.closed = True
        seat.wake.set()

    @staticmethod
    async def _close_ws(ws: web.WebSocketResponse, code: int, why: str) -> None:
        try:
            await asyncio.wait_for(ws.close(code=code, message=why[:100].encode()), 2.0)
        except (asyncio.TimeoutError, Exception):
            pass

    # -- publishing ---------------------------------------------------------------------------
    def publish(self, state: str) -> None:
        """Every follower gets ``state`` (and one who joins later, the latest)."""
        self.state = state
        for seat in list(self.seats):
            seat.offer(state)
        if self.screen_seat is not None:
            self.screen_seat.offer(state)

    # -- running ------------------------------------------------------------------------------
    async def start(self, sock: socket.socket) -> None:
        self.runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None,
                                    shutdown_timeout=1.0, logger=one_line_logger(self.log_line, "mbsim.class.http"),
                                    keepalive_timeout=10.0)
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()

    async def close(self, why: str = "the teacher ended the class") -> None:
        """Tell every follower the class is over, close every websocket, stop serving."""
        self.ended = True
        text = end_message(why)
        seats = list(self.seats)

        async def bye(seat: Seat) -> None:
            seat.closed = True
            try:
                await asyncio.wait_for(seat.ws.send_str(text), 1.0)
            except (asyncio.TimeoutError, Exception):
                pass
            await self._close_ws(seat.ws, 1001, "class ended")

        if self.screen_seat is not None:
            seats.append(self.screen_seat)
        await asyncio.gather(*(bye(s) for s in seats), return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


def now() -> float:
    return time.time()
