"""The web front of ``mbsim serve``: one mbsim process per browser tab, streamed over a websocket.

Built on textual-serve (Textualize's package), but not on its ``Server`` class. What we reuse:

* :class:`textual_serve.app_service.AppService`: the process side of the protocol (the Textual
  web driver's ``D``/``M``/``P`` packets on the child's stdin/stdout, meta messages such as
  resize, focus, quit, file deliveries);
* :class:`textual_serve.download_manager.DownloadManager`: the single-use ``/download/{key}``
  URLs that ``App.deliver_text`` offers (the ``S`` screenshot in the browser);
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

* :func:`guard` (a middleware): a websocket or download asked for by another site's page
  (its ``Origin``) is refused; and the access token, from ``?token=`` (then remembered in an
  HttpOnly, SameSite=Strict cookie, because textual.js opens ``/ws`` and ``/download/…`` without
  the query) — a request without it gets 403 and nothing is started;
* :meth:`SessionServer.handle_index` / :meth:`SessionServer.handle_websocket`: the session cap,
  checked before the page and again before the spawn (HTTP 503 with a page that says why);
* :data:`PAGE`: our own page for textual.js, with an ``@font-face`` on the font file served from
  ``/static/fonts`` and local monospace fonts after it; nothing in it names another host;
* :class:`SessionProcess`: each session is ``python -m tui …`` started with
  ``create_subprocess_exec`` (an argv list: no shell, nothing to quote) in its own session
  (process group), so Ctrl+C in the server's terminal reaches the server only, and the server
  ends every session itself: ``quit`` first, then SIGTERM, then SIGKILL to the group
  (:meth:`SessionServer.close_all`). Binding is done by the caller on a socket it made
  (:func:`SessionServer.run` takes it), so a bad address is one line before anything starts.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import secrets
import shlex
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

import textual_serve

#: textual-serve's static files (textual.js, xterm.css, fonts), served under /static.
STATIC_DIR = Path(textual_serve.__file__).resolve().parent / "static"
#: The cookie that remembers the token for /ws and /download (textual.js drops the query).
TOKEN_COOKIE = "mbsim_token"
#: A browser's terminal size is clamped to this (a huge size would be a huge screen to render).
MIN_COLS, MAX_COLS, MIN_ROWS, MAX_ROWS = 20, 400, 8, 200
#: How long a session gets to quit after ``quit`` and after SIGTERM, in seconds.
QUIT_GRACE, TERM_GRACE = 3.0, 2.0
#: Largest message accepted from a browser (keys and resizes are a few bytes).
MAX_MESSAGE = 64 * 1024


class SessionProcess(AppService):
    """One mbsim process for one browser tab (textual-serve's AppService, started without a shell).

    ``argv`` is run with ``create_subprocess_exec`` in a new session (its own process group),
    with the web driver's environment from AppService plus ``extra_env``.
    """

    def __init__(self, argv: Sequence[str], *, extra_env: dict[str, str] | None = None,
                 **kwargs) -> None:
        super().__init__(shlex.join(argv), **kwargs)
        self.argv = list(argv)
        self.extra_env = dict(extra_env or {})
        self.process: asyncio.subprocess.Process | None = None

    async def _open_app_process(self, width: int = 80, height: int = 24):  # AppService's hook
        env = self._build_environment(width=width, height=height)
        env.update(self.extra_env)
        process = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True,
        )
        self._process = self.process = process
        self._stdin = process.stdin
        return process

    async def end(self) -> None:
        """Ask the app to quit; SIGTERM then SIGKILL its process group if it does not."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        try:
            await self.send_meta({"type": "quit"})
        except Exception:  # the pipe is gone: the process is on its way out
            pass
        for sig, grace in ((None, QUIT_GRACE), (signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, None)):
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
    """What ``mbsim serve`` decided: the session command, the cap, the token, the title."""

    argv: list[str]
    max_sessions: int
    token: str | None = None
    title: str = "mbsim"
    extra_env: dict[str, str] = field(default_factory=dict)
    log: Callable[[str], None] = lambda line: print(line, flush=True)


def _clamp(value: str | int | None, low: int, high: int, default: int) -> int:
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return max(low, min(high, number))


def _message_page(status: int, title: str, text: str) -> web.Response:
    body = MESSAGE_PAGE.format(title=html.escape(title), text=html.escape(text))
    return web.Response(status=status, text=body, content_type="text/html", charset="utf-8")


def token_ok(request: web.Request, token: str | None) -> bool:
    """True when no token is needed, or the request carries it (query or cookie)."""
    if token is None:
        return True
    given = request.query.get("token") or request.cookies.get(TOKEN_COOKIE) or ""
    return secrets.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8"))


def same_origin(request: web.Request) -> bool:
    """False when a browser says the request comes from another site's page.

    Browsers send ``Origin`` with every websocket handshake, and a websocket is not bound by
    the same-origin policy: without this check any web page a student visits could open
    sessions on a loopback server (which needs no token) and read their screens.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser page (curl, the tests' clients)
    return origin.split("://", 1)[-1].rstrip("/").lower() == request.host.lower()


class SessionServer:
    """The aiohttp application: ``/`` the page, ``/ws`` a session, ``/download/{key}``, ``/static``."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.download_manager = DownloadManager()
        self.sessions: dict[int, SessionProcess] = {}
        self.websockets: set[web.WebSocketResponse] = set()
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
            web.static("/static", STATIC_DIR, show_index=False, follow_symlinks=False),
        ])
        return app

    @web.middleware
    async def guard(self, request: web.Request, handler) -> web.StreamResponse:
        """The access token: 403 without it, before any route runs (so nothing starts)."""
        if request.path in ("/ws", "/download") or request.path.startswith("/download/"):
            if not same_origin(request):
                return _message_page(403, "403 · another site", "Sessions of this mbsim server "
                                     "can only be opened from its own page.")
        if not token_ok(request, self.config.token):
            return _message_page(403, "403 · access token needed",
                                 "This mbsim server needs the access token that was printed "
                                 "with its address: open the full URL, with ?token=…")
        response = await handler(request)
        if self.config.token is not None and request.query.get("token"):
            response.set_cookie(TOKEN_COOKIE, self.config.token, httponly=True,
                                samesite="Strict", path="/")
        return response

    def full(self) -> bool:
        return len(self.sessions) >= self.config.max_sessions

    def _full_page(self) -> web.Response:
        n = self.config.max_sessions
        return _message_page(503, "503 · all sessions in use",
                             f"All {n} session{'s' if n != 1 else ''} of this mbsim server are "
                             "in use. Close a tab that runs mbsim, or ask whoever started the "
                             "server to raise --max-sessions, then reload this page.")

    async def handle_index(self, request: web.Request) -> web.Response:
        if self.full():
            return self._full_page()
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

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """A file the app offered (``App.deliver_text``): streamed chunk by chunk from it."""
        key = request.match_info["key"]
        try:
            meta = await self.download_manager.get_download_metadata(key)
        except KeyError:
            raise web.HTTPNotFound(text="no such download (each link works once)")
        response = web.StreamResponse()
        content_type = meta.mime_type + (f"; charset={meta.encoding}" if meta.encoding else "")
        response.headers["Content-Type"] = content_type
        disposition = "inline" if meta.open_method == "browser" else "attachment"
        safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", meta.file_name) or "download"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{safe_name}"'
        await response.prepare(request)
        async for chunk in self.download_manager.download(key):
            await response.write(chunk)
        await response.write_eof()
        return response

    # -- one session per websocket ---------------------------------------------------------
    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            return _message_page(503, "503 · server stopping", "This mbsim server is stopping.")
        if self.full():
            return self._full_page()
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=MAX_MESSAGE)
        session_id = self._next_id
        self._next_id += 1
        session = SessionProcess(
            self.config.argv, extra_env=self.config.extra_env,
            write_bytes=websocket.send_bytes, write_str=websocket.send_str,
            close=websocket.close, download_manager=self.download_manager,
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
                            f"{len(self.sessions)} of {self.config.max_sessions} in use)")
            reader = asyncio.ensure_future(self._read_browser(websocket, session))
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
        try:
            await asyncio.shield(session.end())
            await self.download_manager.cancel_app_downloads(app_service_id=session.app_service_id)
        finally:
            if self.sessions.pop(session_id, None) is not None and session.process is not None:
                self.config.log(f"session {session_id} closed ({len(self.sessions)} of "
                                f"{self.config.max_sessions} in use)")
            self.websockets.discard(websocket)
            if not websocket.closed:
                try:
                    await websocket.close()
                except Exception:
                    pass

    async def _read_browser(self, websocket: web.WebSocketResponse,
                            session: SessionProcess) -> None:
        """The browser's messages: keys (``stdin``), ``resize``, ``ping``, ``focus``, ``blur``."""
        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
                kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            except (ValueError, TypeError, IndexError, KeyError):
                continue  # not the protocol: ignore it
            if kind == "stdin" and isinstance(data, str):
                await session.send_bytes(data.encode("utf-8"))
            elif kind == "resize" and isinstance(data, dict):
                await session.set_terminal_size(
                    _clamp(data.get("width"), MIN_COLS, MAX_COLS, 80),
                    _clamp(data.get("height"), MIN_ROWS, MAX_ROWS, 24))
            elif kind == "ping":
                await websocket.send_json(["pong", data])
            elif kind == "focus":
                await session.focus()
            elif kind == "blur":
                await session.blur()

    async def close_all(self) -> None:
        """End every session (quit, then SIGTERM, then SIGKILL) and close every websocket."""
        self._closing = True
        await asyncio.gather(*(s.end() for s in list(self.sessions.values())),
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
        runner = web.AppRunner(self.make_app(), handle_signals=False, access_log=None,
                               shutdown_timeout=2.0)
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
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def serve(sock: socket.socket, config: ServeConfig, ready: Callable[[], None] | None = None) -> None:
    """Run the server on ``sock`` until Ctrl+C; every session process is ended before returning."""
    asyncio.run(SessionServer(config).run(sock, ready))


#: The page for one tab. textual.js (from /static) finds ``.textual-terminal``, reads its
#: ``data-session-websocket-url`` and ``data-font-size`` and adds ``-first-byte`` / ``-closed``
#: to the body. The font is the file textual-serve ships, served from here; if it cannot load,
#: the terminal falls back to the local monospace fonts named after it (same cell grid: xterm.js
#: measures whichever font it gets).
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/xterm.css">
<link rel="preload" href="/static/fonts/RobotoMono-VariableFont_wght.ttf" as="font" type="font/ttf" crossorigin>
<style>
@font-face {{ font-family: "Roboto Mono"; font-style: normal; font-weight: 100 700;
  src: url("/static/fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }}
@font-face {{ font-family: "Roboto Mono"; font-style: italic; font-weight: 100 700;
  src: url("/static/fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }}
html, body {{ margin: 0; height: 100%; background: #0c181f; color: #eee;
  font-family: "Roboto Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
.note {{ position: absolute; inset: 0; display: flex; align-items: center;
  justify-content: center; text-align: center; font-size: 16px; }}
body.-first-byte .starting {{ display: none; }}
.ended {{ display: none; z-index: 10; background: #0c181f; }}
body.-closed .ended {{ display: flex; }}
.ended button {{ margin-top: 1em; padding: .6em 1.6em; font: inherit; color: #fff;
  background: #5e0ba7; border: 0; cursor: pointer; }}
#terminal {{ position: absolute; inset: 0; opacity: 0; }}
body.-first-byte #terminal {{ opacity: 1; }}
</style>
<script src="/static/js/textual.js"></script>
</head>
<body>
<div class="note starting">{title}: starting a session…</div>
<div class="note ended"><div>Session ended.<br>
<button type="button" onclick="window.location.reload()">Start again</button></div></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{websocket_url}"
 data-font-size="{font_size}"></div>
</body>
</html>
"""

#: A refusal (403, 503): says what happened and what to do, in the same colours as the app page.
MESSAGE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 0; height: 100vh; display: flex; align-items: center; justify-content: center;
background: #0c181f; color: #eee; font: 16px "DejaVu Sans Mono", Menlo, Consolas, monospace; }}
main {{ max-width: 40em; padding: 2em; background: #12232d; }}</style></head>
<body><main><h1>{title}</h1><p>{text}</p></main></body></html>
"""
