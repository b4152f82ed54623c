"""The web front of ``mbsim serve``: one mbsim process per browser tab, streamed over a websocket.

Built on textual-serve (Textualize's package), but not on its ``Server`` class. What we reuse:

* :class:`textual_serve.app_service.AppService`: the process side of the protocol (the Textual
  web driver's ``D``/``M``/``P`` packets on the child's stdin/stdout, meta messages such as
  resize, focus, quit, file deliveries);
* :class:`textual_serve.download_manager.DownloadManager`: the single-use ``/download/{key}``
  URLs that ``App.deliver_text`` offers (the ``S`` screenshot and the scenario in the browser),
  with its handling of a cut download replaced (:mod:`tui.web_downloads`: the file whole, or a
  page saying it was cut);
* its static files: ``textual.js`` (xterm.js and the browser half of the protocol), ``xterm.css``
  and the Roboto Mono font files it ships.

Why a small aiohttp front of our own instead of subclassing ``textual_serve.server.Server``
(read from its source, textual-serve 1.1): its ``serve()`` binds by host and port inside
``web.run_app`` (a port in use or an unknown host surface as a traceback, after the banner);
it builds the websocket URL from the bind host (``ws://0.0.0.0:8000/ws`` for a classroom
server, which no browser can reach); its page links the Roboto Mono font from
fonts.googleapis.com (a classroom without internet waits on it); there is no hook between the
websocket handshake and the process spawn where a token check or a session cap could refuse;
and on Ctrl+C it asks each app to quit but never waits for nor kills them. Overriding all of
that would leave nothing of the class but its name, so the routes here are our own (about as
short) and each concern is one visible piece:

* :meth:`SessionServer.guard` (a middleware; the checks are :mod:`tui.web_requests`): a request
  whose ``Host`` is not a name this server was bound to is refused (421: DNS rebinding); a
  websocket or download asked for by another site's page (its ``Origin``, http(s) only) is
  refused (403); and the access token, from ``?token=`` (then remembered in an HttpOnly,
  SameSite=Strict cookie, because textual.js opens ``/ws`` and ``/download/…`` without the
  query) — a request without it gets 403 and nothing is started. Whatever else goes wrong in a
  handler is a short page (4xx, or 500) and one log line, never a traceback;
* :meth:`SessionServer.handle_index` / :meth:`SessionServer.handle_websocket`: the session cap,
  checked before the page and again before the spawn (HTTP 503 with a page that says why); a
  request to ``/ws`` that is no websocket handshake gets 400;
* :meth:`SessionServer.handle_static`: only the files textual-serve ships, looked up by name in
  a table made at start (no path from a request ever reaches the file system);
* :data:`PAGE` (:mod:`tui.web_pages`): our own page for textual.js, with an ``@font-face`` on
  the font file served from ``/static/fonts`` and local monospace fonts after it; nothing in it
  names another host;
* :meth:`SessionServer.cap`: ``max_sessions``, lowered when the sessions measured so far take
  more memory than estimated (:mod:`tui.serve_sizing`, when the cap was not given);
* :class:`SessionProcess`: each session is ``python -m mbsim …`` forked from a process that has
  imported the app once (:mod:`tui.web_spawn`, :mod:`tui.web_zygote`: 30 tabs opening at once
  are served in ~3 s instead of ~10 on 2 cores), or else started with
  ``create_subprocess_exec`` (an argv list: no shell, nothing to quote); either way in its own
  session (process group), so Ctrl+C in the server's terminal reaches the server only, and the server
  ends every session itself: ``quit`` and the end of its stdin first, then SIGTERM, then SIGKILL
  to the group (:meth:`SessionProcess.end`). A closed tab frees its place in the cap at once;
  its process is ended meanwhile. If the server itself is killed, each session sees its stdin
  close and ends (:mod:`tui.web_driver`);
* :meth:`SessionServer._read_browser`: every websocket message is checked
  (:func:`tui.web_messages.read_message`); a malformed one is ignored with one log line and the
  session goes on.

Binding is done by the caller on a socket it made (:func:`SessionServer.run` takes it), so a bad
address is one line before anything starts. Idle connections and requests whose headers do not
arrive within :attr:`ServeConfig.header_timeout` seconds are closed (slowloris).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import shlex
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService

import textual_serve

from .serve_sizing import Sizing
from .web_downloads import AppDownloads, download_response
from .web_pages import MESSAGE_PAGE, PAGE
from .web_spawn import ForkedProcess, ForkServer, forkable
from .web_messages import MAX_COLS, MAX_ROWS, MIN_COLS, MIN_ROWS, MalformedMessage, read_message
from .web_requests import (TOKEN_COOKIE, LimitedLog, allowed_host_names, host_allowed,
                           one_line_logger, origin_allowed)
from .web_requests import token_ok as _token_matches

__all__ = ["ServeConfig", "SessionProcess", "SessionServer", "serve", "token_ok", "same_origin",
           "TOKEN_COOKIE", "MIN_COLS", "MAX_COLS", "MIN_ROWS", "MAX_ROWS", "PAGE", "MESSAGE_PAGE"]

#: textual-serve's static files (textual.js, xterm.css, fonts), served under /static.
STATIC_DIR = Path(textual_serve.__file__).resolve().parent / "static"
#: How long a session gets to quit after ``quit`` and after SIGTERM, in seconds.
QUIT_GRACE, TERM_GRACE = 3.0, 2.0
#: Largest message accepted from a browser (keys and resizes are a few bytes); a larger one
#: closes the websocket (code 1009), as the websocket protocol says.
MAX_MESSAGE = 64 * 1024
#: Seconds a connection may take to send a request's headers, or stay idle between requests.
HEADER_TIMEOUT = 10.0
#: The last bytes of a session's stderr kept for the log when it ends.
STDERR_KEPT = 4096


class SessionProcess(AppService):
    """One mbsim process for one browser tab (textual-serve's AppService, started without a shell).

    ``argv`` is run with ``create_subprocess_exec`` in a new session (its own process group),
    with the web driver's environment from AppService plus ``extra_env``. ``log`` gets the last
    lines the process wrote to stderr when it ends (made visible by the caller's log).
    """

    def __init__(self, argv: Sequence[str], *, extra_env: dict[str, str] | None = None,
                 log: Callable[[str], None] | None = None, spawner: ForkServer | None = None,
                 closed: Callable[[], bool] | None = None, **kwargs) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.closed = closed or (lambda: False)   # the browser's websocket has closed
        self.argv = list(argv)
        self.extra_env = dict(extra_env or {})
        self.log = log
        self.spawner = spawner
        self.process: asyncio.subprocess.Process | ForkedProcess | None = None
        self.started = False  # the app has spoken the protocol (it can be asked to quit)

    async def _open_app_process(self, width: int = 80, height: int = 24):  # AppService's hook
        env = self._build_environment(width=width, height=height)
        env.update(self.extra_env)
        process: asyncio.subprocess.Process | ForkedProcess | None = None
        if self.spawner is not None and self.spawner.alive and forkable(self.argv):
            try:
                process = await self.spawner.spawn(self.argv, env)
            except (OSError, ConnectionError, ValueError):
                process = None  # started the ordinary way below
        if process is None:
            process = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
            )
        self._process = self.process = process  # type: ignore[assignment]
        self._stdin = process.stdin
        return process

    async def run(self) -> None:
        """Read the app's packets until it exits (AppService's loop, with a bounded stderr).

        The first line is the web driver's ``__GANGLION__``; then packets of a type byte
        (``D`` screen bytes, ``M`` meta JSON, ``P`` packed file chunks), a 4-byte big-endian
        length and the payload. Once the browser is gone the packets are read and dropped, so
        the app is never blocked writing while it is asked to quit; a packet that cannot be
        passed on while the browser is there is said in ``log`` (the first of them) and the next
        ones go on (one such failure used to silence the tab for good: no screen, no download). The last
        :data:`STDERR_KEPT` bytes of stderr go to ``log``.
        """
        process = self._process
        assert process is not None and process.stdout is not None and process.stderr is not None
        stdout, stderr = process.stdout, process.stderr
        tail = bytearray()

        async def read_stderr() -> None:
            while chunk := await stderr.read(4096):
                tail.extend(chunk)
                del tail[:-STDERR_KEPT]

        stderr_task = asyncio.ensure_future(read_stderr())
        handlers = {b"D": self.on_data, b"M": self.on_meta, b"P": self.on_packed}
        failed = False        # a packet not passed on was said (a tab dropping without a close
                              # frame fails every packet until aiohttp marks it closed)
        try:
            for _ in range(10):
                line = await stdout.readline()
                if not line or line == b"__GANGLION__\n":
                    break
            while True:
                kind = await stdout.readexactly(1)
                size = int.from_bytes(await stdout.readexactly(4), "big")
                payload = await stdout.readexactly(size)
                handler = handlers.get(kind)
                if handler is None:
                    continue
                try:
                    await handler(payload)
                except Exception as err:  # noqa: BLE001 - never the end of the session's output
                    if self.closed():     # the websocket is closed (or closing): drop, keep reading
                        handlers.clear()
                    elif self.log is not None and not failed:   # else say so (once), go on
                        failed = True
                        self.log(f"a packet of the app's ({kind.decode()}) was not passed on: "
                                 f"{type(err).__name__}: {err} (later ones not said)")
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                await asyncio.wait_for(stderr_task, 1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):
                stderr_task.cancel()
        if tail and self.log is not None:
            for line in bytes(tail).decode("utf-8", "replace").strip().splitlines()[-5:]:
                self.log(line)

    async def on_data(self, payload: bytes) -> None:
        self.started = True
        await super().on_data(payload)

    async def on_meta(self, data: bytes) -> None:
        """AppService's, except that only http(s) links are passed to the browser to open."""
        self.started = True
        try:
            meta = json.loads(data)
        except ValueError:
            return
        if isinstance(meta, dict) and meta.get("type") == "open_url":
            if urlsplit(str(meta.get("url", ""))).scheme not in ("http", "https"):
                return
        await super().on_meta(data)

    async def end(self) -> None:
        """End the process: an app not yet started is killed at once (nothing to lose); a
        running one is asked to quit (and its stdin closed), then SIGTERM, then SIGKILL to
        its process group."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        steps: tuple[tuple[signal.Signals | None, float | None], ...]
        if self.started:
            try:
                await asyncio.wait_for(self.send_meta({"type": "quit"}), 1.0)
                self.stdin.close()
            except Exception:  # the pipe is gone: the process is on its way out
                pass
            steps = ((None, QUIT_GRACE), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None))
        else:
            steps = ((signal.SIGKILL, None),)
        for sig, grace in steps:
            if sig is not None:
                try:
                    os.killpg(process.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                await asyncio.wait_for(process.wait(), grace)
                return
            except asyncio.TimeoutError:
                continue


@dataclass
class ServeConfig:
    """What ``mbsim serve`` decided: the session command, the cap, the token, the title, the
    names the server answers to (``host_names``, patterns for
    :func:`tui.web_requests.host_allowed`; IP addresses always), the header timeout."""

    argv: list[str]
    max_sessions: int
    token: str | None = None
    title: str = "mbsim"
    extra_env: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = lambda line: print(line, flush=True)
    host_names: frozenset[str] = field(
        default_factory=lambda: allowed_host_names("127.0.0.1", loopback=True))
    header_timeout: float = HEADER_TIMEOUT
    fork_server: bool = True  # sessions of python -m mbsim forked from a pre-imported process
    sizing: Sizing | None = None  # the cap follows the sessions' measured memory (below max_sessions)


def session_environment(extra_env: dict[str, str] | None = None, width: int = 80,
                        height: int = 24) -> dict[str, str]:
    """A session's environment: textual-serve's (``AppService._build_environment``: the web
    driver, truecolor, the terminal size) plus ``extra_env``."""
    probe = AppService.__new__(AppService)  # the method reads only ``debug``
    probe.debug = False
    env = AppService._build_environment(probe, width=width, height=height)
    env.update(extra_env or {})
    return env


def _clamp(value: str | int | None, low: int, high: int, default: int) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return default
    return max(low, min(high, number))


def _message_page(status: int, title: str, text: str) -> web.Response:
    body = MESSAGE_PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


def token_ok(request: web.Request, token: str | None) -> bool:
    """True when no token is needed, or the request carries it (query or cookie)."""
    given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE)
    return _token_matches(given, token)


def same_origin(request: web.Request) -> bool:
    """False when a browser says the request comes from anything but this server's own page
    (:func:`tui.web_requests.origin_allowed`)."""
    return origin_allowed(request.headers.get("Origin"), request.headers.get("Host"))


def static_files(folder: Path = STATIC_DIR) -> dict[str, Path]:
    """The files under ``folder`` by their relative path (``js/textual.js``); regular files
    only, no links: what ``/static/…`` may serve."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = path
    return found


class SessionServer:
    """The aiohttp application: ``/`` the page, ``/ws`` a session, ``/download/{key}``, ``/static``."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.download_manager = AppDownloads()
        self.sessions: dict[int, SessionProcess] = {}
        self.ending: set[SessionProcess] = set()  # closed tabs whose process is being ended
        self.websockets: set[web.WebSocketResponse] = set()
        self.log_line = LimitedLog(config.log)
        self.spawner: ForkServer | None = None
        self._last_cap = config.max_sessions
        self.static = static_files()
        self._next_id = 1
        self._closing = False

    # -- the application -------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        app.add_routes([
            web.get("/", self.handle_index),
            web.get("/ws", self.handle_websocket),
            web.get("/download/{key}", self.handle_download),
            web.get("/favicon.ico", self.handle_favicon),
            web.get("/static/{path:.+}", self.handle_static),
        ])
        return app

    def refuse(self, request: web.Request, status: int, title: str, text: str,
               why: str = "") -> web.Response:
        """A short page for the browser and one line in the log."""
        where = request.raw_path if len(request.raw_path) <= 100 else request.raw_path[:100] + "…"
        self.log_line(f"refused {request.method} {where} from {request.remote}: {status} "
                      f"{why or title.split(' · ', 1)[-1]}")
        return _message_page(status, title, text)

    @web.middleware
    async def guard(self, request: web.Request, handler) -> web.StreamResponse:
        """Host, Origin and token (module docstring); a handler's error is a page, not a traceback."""
        hosts = request.headers.getall("Host", [])
        if len(hosts) != 1 or not host_allowed(hosts[0], self.config.host_names):
            return self.refuse(request, 421, "421 · not this server's address",
                               "This mbsim server answers only to its own address (the one it "
                               "printed when it started); open that address.",
                               why=f"unknown Host {hosts[0][:80]!r}" if hosts else "no Host")
        if request.path in ("/ws", "/download") or request.path.startswith("/download/"):
            if not same_origin(request):
                origin = request.headers.get("Origin", "")[:80]
                return self.refuse(request, 403, "403 · another site", "Sessions of this mbsim "
                                   "server can only be opened from its own page.",
                                   why=f"Origin {origin!r}")
        if not token_ok(request, self.config.token):
            return self.refuse(request, 403, "403 · access token needed",
                               "This mbsim server needs the access token that was printed "
                               "with its address: open the full URL, with ?token=…")
        try:
            response = await handler(request)
        except web.HTTPException as err:
            if err.status < 400:
                raise
            return self.refuse(request, err.status, f"{err.status} · {err.reason.lower()}",
                               err.text if err.text and not err.text.startswith(str(err.status))
                               else "Nothing of mbsim is at this address.")
        except (asyncio.CancelledError, ConnectionError):
            raise
        except Exception as err:  # a bug or the OS's error: a page and one line, not a traceback
            first = str(err).splitlines()[0][:120] if str(err) else ""
            return self.refuse(request, 500, "500 · server error", "Something went wrong on the "
                               "server; try again.", why=f"{type(err).__name__}: {first}")
        if (self.config.token is not None and request.query.get("token")
                and not response.prepared):
            response.set_cookie(TOKEN_COOKIE, self.config.token, httponly=True,
                                samesite="Strict", path="/")
        return response

    def cap(self) -> int:
        """How many sessions at once: ``max_sessions``, or lower when the sessions measured so
        far take more memory than was estimated (:class:`tui.serve_sizing.Sizing`)."""
        sizing = self.config.sizing
        if sizing is None:
            return self.config.max_sessions
        sizing.observe(s.process.pid for s in self.sessions.values() if s.process is not None)
        cap = min(self.config.max_sessions, sizing.cap())
        if cap < self._last_cap:
            self.config.log(f"sessions take up to {sizing.per_session_mb:.0f} MB (measured): at "
                            f"most {cap} at once from now on")
        self._last_cap = cap
        return cap

    def full(self) -> bool:
        return len(self.sessions) >= self.cap()

    def _full_page(self, request: web.Request) -> web.Response:
        n = self.cap()
        return self.refuse(request, 503, "503 · all sessions in use",
                           f"All {n} session{'s' if n != 1 else ''} of this mbsim server are "
                           "in use. Close a tab that runs mbsim, or ask whoever started the "
                           "server to raise --max-sessions, then reload this page.")

    async def handle_index(self, request: web.Request) -> web.Response:
        if self.full():
            return self._full_page(request)
        scheme = "wss" if request.secure else "ws"
        page = PAGE.format(
            title=html.escape(self.config.title),
            websocket_url=html.escape(f"{scheme}://{request.host}/ws"),
            font_size=_clamp(request.query.get("fontsize"), 8, 40, 16),
        )
        return web.Response(text=page, content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    async def handle_favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)  # no icon, and no 404 in the browser's console

    async def handle_static(self, request: web.Request) -> web.StreamResponse:
        path = self.static.get(request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text="No such file.")
        return web.FileResponse(path)

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """A file the app offered (``App.deliver_text``), whole or a page saying it was cut
        (:mod:`tui.web_downloads`)."""
        return await download_response(self.download_manager, request.match_info["key"],
                                       _message_page, self.log_line)

    # -- one session per websocket ---------------------------------------------------------
    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            return _message_page(503, "503 · server stopping", "This mbsim server is stopping.")
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE)
        if not websocket.can_prepare(request).ok:
            return self.refuse(request, 400, "400 · not a websocket", "This address is where "
                               "mbsim's page opens its session; open the server's address in a "
                               "browser instead.", why="not a valid websocket handshake")
        if self.full():
            return self._full_page(request)
        session_id = self._next_id
        self._next_id += 1
        session = SessionProcess(
            self.config.argv, extra_env=self.config.extra_env,
            log=lambda line: self.log_line(f"session {session_id} said: {line}"),
            spawner=self.spawner,
            write_bytes=websocket.send_bytes, write_str=websocket.send_str,
            close=websocket.close, closed=lambda: websocket.closed, download_manager=self.download_manager,
        )
        self.sessions[session_id] = session  # counted from now: the cap holds during the spawn
        try:
            await websocket.prepare(request)
            self.websockets.add(websocket)
            cols = _clamp(request.query.get("width"), MIN_COLS, MAX_COLS, 80)
            rows = _clamp(request.query.get("height"), MIN_ROWS, MAX_ROWS, 24)
            await session.start(cols, rows)
            assert session.process is not None
            self.config.log(f"session {session_id} opened (pid {session.process.pid}; "
                            f"{len(self.sessions)} of {self.cap()} in use)")
            reader = asyncio.ensure_future(self._read_browser(websocket, session, session_id))
            exited = asyncio.ensure_future(session.process.wait())
            await asyncio.wait({reader, exited}, return_when=asyncio.FIRST_COMPLETED)
            reader.cancel()
            exited.cancel()
        except (asyncio.CancelledError, ConnectionError):
            pass
        except Exception as err:  # e.g. the session command could not start: say so, go on
            self.config.log(f"session {session_id} failed: {type(err).__name__}: {err}")
        finally:
            await self._end_session(session_id, session, websocket)
        return websocket

    async def _end_session(self, session_id: int, session: SessionProcess,
                           websocket: web.WebSocketResponse) -> None:
        """Free the tab's place at once, then end its process and close the websocket."""
        if self.config.sizing is not None and session.process is not None:
            self.config.sizing.observe([session.process.pid])  # its peak, before it is gone
        if self.sessions.pop(session_id, None) is not None and session.process is not None:
            self.config.log(f"session {session_id} closed ({len(self.sessions)} of "
                            f"{self.cap()} in use)")
        self.ending.add(session)
        try:
            await asyncio.shield(session.end())
            await self.download_manager.cancel_app_downloads(app_service_id=session.app_service_id)
        finally:
            self.ending.discard(session)
            self.websockets.discard(websocket)
            if not websocket.closed:
                try:
                    await websocket.close()
                except Exception:
                    pass

    async def _read_browser(self, websocket: web.WebSocketResponse, session: SessionProcess,
                            session_id: int) -> None:
        """The browser's messages (:mod:`tui.web_messages`); a malformed one is ignored with
        one log line."""
        async for message in websocket:
            if message.type == WSMsgType.ERROR:  # e.g. too big: aiohttp closes the websocket
                self.log_line(f"session {session_id}: websocket error: {message.data}")
                continue
            if message.type != WSMsgType.TEXT:
                self.log_line(f"session {session_id}: ignored a {message.type.name.lower()} "
                              "message (the protocol is JSON text)")
                continue
            try:
                checked = read_message(message.data)
            except MalformedMessage as err:
                self.log_line(f"session {session_id}: ignored a malformed message: {err}")
                continue
            if checked.kind == "stdin":
                await session.send_bytes(checked.keys)
            elif checked.kind == "resize":
                await session.set_terminal_size(*checked.size)
            elif checked.kind == "ping":
                await websocket.send_json(["pong", checked.text])
            elif checked.kind == "focus":
                await session.focus()
            elif checked.kind == "blur":
                await session.blur()

    async def close_all(self) -> None:
        """End every session (quit, then SIGTERM, then SIGKILL) and close every websocket."""
        self._closing = True
        await asyncio.gather(*(s.end() for s in [*self.sessions.values(), *self.ending]),
                             return_exceptions=True)
        await asyncio.gather(*(ws.close(code=1001, message=b"server stopping")
                               for ws in list(self.websockets)), return_exceptions=True)

    # -- running -----------------------------------------------------------------------------
    async def run(self, sock: socket.socket, ready: Callable[[], None] | None = None,
                  stop: asyncio.Event | None = None) -> None:
        """Serve on the bound ``sock`` until SIGINT/SIGTERM (or ``stop``); then end every session."""
        loop = asyncio.get_running_loop()
        stop = stop or asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if self.config.fork_server and forkable(self.config.argv):
            self.spawner = ForkServer()
            if not await self.spawner.start(session_environment(self.config.extra_env)):
                self.config.log("sessions start as separate processes (the fork server did not "
                                "start)")
                self.spawner = None
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None,
                               shutdown_timeout=2.0, logger=one_line_logger(self.log_line),
                               keepalive_timeout=self.config.header_timeout)
        await runner.setup()
        try:
            site = web.SockSite(runner, sock)
            await site.start()
            if ready is not None:
                ready()
            await stop.wait()
        finally:
            await self.close_all()
            await runner.cleanup()
            if self.spawner is not None:
                await self.spawner.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def serve(sock: socket.socket, config: ServeConfig, ready: Callable[[], None] | None = None) -> None:
    """Run the server on ``sock`` until Ctrl+C; every session process is ended before returning."""
    asyncio.run(SessionServer(config).run(sock, ready))
