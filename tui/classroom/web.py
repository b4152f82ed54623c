"""Browser followers: a student opens ``http://HOST:PORT/CODE`` and follows in the page.

Design (measured, bench/class_browser.py): each tab is its own follower process,
``python -m tui join http://127.0.0.1:PORT/CODE --name NAME`` under textual's web driver, run by
``mbsim serve``'s session machinery (:class:`tui.webserve.SessionServer`: textual-serve's process
protocol, the fork server that starts a tab in a fraction of a second, the session cap sized by
memory, every process ended with the class). The tab's process is an ordinary follower of the
class server on loopback (the same protocol, the same exact replay, the same answer box and
mask); the teacher's process only forwards the tab's keys and screen bytes.

* ``GET /CODE``: a small page asking for the student's name, then (``?name=``) textual.js's page
  (:data:`tui.web_pages.PAGE`) whose websocket is ``/CODE/tab/TOKEN``: a one-time token for the
  name, so the name never sits in a process list's URL nor is reused by another page;
* ``GET /CODE/tab/TOKEN``: the tab's session (:meth:`BrowserTabs.handle_tab`);
* ``/static/…``: textual-serve's files (textual.js, xterm.css, the font), and ``/download/KEY``
  (a tab's screenshot, single use), as ``mbsim serve``.

The class server's guard (Host, Origin, room code) is in front of all of it.
"""

from __future__ import annotations

import html
import secrets
import sys
import time
from typing import Any, Callable

from aiohttp import web

from ..serve_sizing import Sizing
from ..web_pages import PAGE
from ..webserve import ServeConfig, SessionServer, session_environment
from ..web_requests import origin_allowed
from ..web_spawn import ForkServer
from .protocol import clean_name
from .server import ClassServer, message_page

#: Seconds a page's token for its tab stays valid.
TOKEN_LIFE = 120.0
MAX_TOKENS = 1000

NAME_FORM = """<!doctype html><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
<title>{title}</title><style>body{{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;
background:#0c181f;color:#eee;font:18px "DejaVu Sans Mono",Menlo,Consolas,monospace}}main{{padding:2em;background:#12232d}}
input,button{{font:inherit;padding:.4em .8em;margin:.3em 0}}button{{color:#fff;background:#5e0ba7;border:0;cursor:pointer}}</style>
<main><h1>{title}</h1><form method=get><label>Your name (the teacher sees it)<br>
<input name=name maxlength=32 autofocus required></label><br><button type=submit>Join the class</button></form></main>
"""


class BrowserTabs:
    """The browser side of a class (module docstring)."""

    def __init__(self, server: ClassServer, local_url: str, *, sizing: Sizing | None = None,
                 max_tabs: int = 30, title: str = "mbsim class", log: Callable[[str], None] | None = None) -> None:
        """``local_url`` is the class address as a tab's process reaches it (loopback)."""
        self.server = server
        self.local_url = local_url
        self.title = title
        config = ServeConfig(argv=[], max_sessions=max_tabs, title=title, log=log or (lambda line: None),
                             host_names=server.host_names, sizing=sizing)
        self.sessions = SessionServer(config)
        self.tokens: dict[str, tuple[str, float]] = {}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/static/{path:.+}", self.sessions.handle_static),
                web.get("/favicon.ico", self.sessions.handle_favicon),
                web.get("/download/{key}", self.handle_download),
                web.get("/{code}/tab/{token}", self.handle_tab)]

    async def start(self) -> None:
        """The fork server (tabs start in a fraction of a second); without it, tabs start slower."""
        spawner = ForkServer()
        if await spawner.start(session_environment()):
            self.sessions.spawner = spawner

    async def page(self, request: web.Request) -> web.StreamResponse:
        """``/CODE``: the name form, or the tab's page for ``?name=``."""
        name = clean_name(request.query.get("name", ""))
        if not name:
            return web.Response(text=NAME_FORM.format(title=html.escape(self.title)), content_type="text/html",
                                headers={"Cache-Control": "no-store"})
        if self.sessions.full():
            return message_page(503, "The class is full in browsers",
                                "Every browser seat of this class is taken; follow in a terminal with "
                                f"<code>mbsim join {html.escape(str(request.url.with_query(None)))}</code>, "
                                "or ask the teacher.")
        now = time.monotonic()
        for t in [t for t, (_, exp) in self.tokens.items() if exp < now]:
            del self.tokens[t]
        if len(self.tokens) >= MAX_TOKENS:
            return message_page(503, "Too many pages opening", "Try again in a minute.")
        token = secrets.token_urlsafe(16)
        self.tokens[token] = (name, now + TOKEN_LIFE)
        scheme = "wss" if request.secure else "ws"
        code = request.match_info["code"]
        body = PAGE.format(title=html.escape(f"{self.title} · {name}"),
                           websocket_url=html.escape(f"{scheme}://{request.host}/{code}/tab/{token}"), font_size=16)
        return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """A file a tab offered (its screenshot): single-use links, asked for by this server's
        page only (as ``mbsim serve``)."""
        if not origin_allowed(request.headers.get("Origin"), request.headers.get("Host")):
            return message_page(403, "Another site", "Downloads of this class open from its own page.")
        return await self.sessions.handle_download(request)

    def argv(self, name: str) -> list[str]:
        return [sys.executable, "-m", "tui", "join", self.local_url, "--name", name]

    async def handle_tab(self, request: web.Request) -> web.StreamResponse:
        """A tab's session: its own ``mbsim join`` process (each token opens one)."""
        entry = self.tokens.pop(request.match_info["token"], None)
        if entry is None or entry[1] < time.monotonic():
            return message_page(403, "Open the class page again", "This page's session has expired: reload it.")
        # SessionServer.handle_websocket reads config.argv when it makes the session, before its
        # first await: set for this tab just before (one event loop: nothing runs in between)
        self.sessions.config.argv = self.argv(entry[0])
        return await self.sessions.handle_websocket(request)

    async def close(self) -> None:
        """End every tab's process (quit, then SIGTERM, then SIGKILL), then the fork server."""
        await self.sessions.close_all()
        if self.sessions.spawner is not None:
            await self.sessions.spawner.stop()


def local_url(sock: Any, code: str) -> str:
    """The class address a process on this machine reaches: the bound address (loopback for a
    wildcard) and port."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/{code}"
