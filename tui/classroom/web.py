"""Browser followers: a student opens ``http://HOST:PORT/CODE``, gives a name, and follows.

Design, chosen by measuring (bench/class_browser.py, 2 cores): **one shared rendering** of the
class's screen for every page, with each student's answer box in the page itself.

* The class's screen is one follower process (``python -m mbsim join LOCAL_URL --screen``,
  headless at 120×40, admitted by a key only this process knows, counted as no student): it
  follows the teacher exactly as a terminal follower does and, when what it draws changed, sends
  an SVG picture of itself (gzipped, ~15 KB). The server keeps the last few; each page is told
  the new version and fetches it (an ``<img>``: the browser scales it to the window, and an SVG
  as an image loads nothing from another host).
* The page speaks the class protocol itself (``/CODE/follow``, ``join`` with ``page: true``): it
  is a student (its name in the roster, its answers judged and tallied), shows the open
  question's answer box and the teacher's verdict, and says when the class ends.
* Free play: when the teacher unlocks the class, the page offers "play on your own": that tab
  then gets its own follower process (``/CODE/play``: ``mbsim serve``'s session machinery, as
  below), since a student's own run cannot be a shared picture.

Why not one process per tab for everything (the design ``mbsim serve`` uses): every tab then
redraws every change of the teacher's screen by itself; measured on this 2-core machine, 4 tabs
already took a page turn's p95 to ~550 ms, and 30 would be several seconds. One rendering costs
the same for 1 tab or 30; a page's share is a 15 KB fetch.

* ``GET /CODE``: the name form; ``?name=``: the class page (:data:`CLASS_PAGE`);
* ``GET /CODE/screen/V.svg``: a picture (the class server's);
* ``GET /CODE/play?name=``: textual.js's page for a tab's own process, whose websocket is
  ``/CODE/tab/TOKEN`` (a one-time token for the name: it never sits in a process list's URL);
* ``/static/…`` and ``/download/KEY``: textual-serve's files and a tab's screenshot.

The class server's guard (Host, Origin, room code) is in front of all of it.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import secrets
import signal
import sys
import time
from typing import Any, Callable

from aiohttp import web

from ..serve_sizing import Sizing
from ..web_pages import PAGE
from ..webserve import ServeConfig, SessionServer, session_environment
from ..web_requests import origin_allowed
from ..web_spawn import ForkServer
from .protocol import SCREEN_KEY_ENV, clean_name
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


CLASS_PAGE = """<!doctype html><html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width, initial-scale=1"><title>{title}</title>
<style>
html,body{margin:0;height:100%;background:#0c181f;color:#eee;font:16px "DejaVu Sans Mono",Menlo,Consolas,monospace}
body{display:flex;flex-direction:column}
#bar{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:center;padding:.4em .8em;background:#12232d}
#who{font-weight:bold}#note{color:#9ab}
#screenbox{flex:1;min-height:0;display:flex;align-items:center;justify-content:center}
#screen{max-width:100%;max-height:100%}
form{display:flex;gap:.5em;align-items:center}input,button,a.button{font:inherit;padding:.3em .7em}
button,a.button{color:#fff;background:#5e0ba7;border:0;cursor:pointer;text-decoration:none}
#verdict.ok{color:#7d7}#verdict.no{color:#f88}[hidden]{display:none!important}
</style></head><body>
<div id=bar><span id=who></span><span id=where>joining…</span>
<form id=answer hidden><label id=qlabel for=text>answer:</label><input id=text maxlength=200 autocomplete=off
 placeholder="your answer to the open question"><button type=submit>send</button></form>
<span id=verdict></span><a id=free class=button hidden>play on your own</a><span id=note></span></div>
<div id=screenbox><img id=screen alt="the teacher's screen, as it appears on every student's screen"></div>
<script>
const CFG = {config};
const $ = id => document.getElementById(id);
let state = null, shown = 0, mine = {}, ended = false, ws = null;
$("who").textContent = CFG.name;
$("free").href = "/" + CFG.code + "/play?name=" + encodeURIComponent(CFG.name);
function openQuestion() {
  if (!state) return -1;
  for (let q = 0; q < state.questions; q++)
    if (!(String(q) in state.revealed) && !mine[state.slide + ":" + q]) return q;
  return -1;
}
function update() {
  if (!state || ended) return;
  const q = openQuestion();
  $("where").textContent = "slide " + (state.slide + 1) + (state.locked ? " · following the teacher" : " · the class is unlocked");
  $("answer").hidden = q < 0;
  if (q >= 0) $("qlabel").textContent = "answer Q" + (q + 1) + ":";
  $("free").hidden = state.locked;
}
function load(v) {
  const img = new Image();
  img.onload = () => { if (v > shown) { shown = v; $("screen").src = img.src; } };
  img.src = "/" + CFG.code + "/screen/" + v + ".svg";
}
function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/" + CFG.code + "/follow");
  ws.onopen = () => { $("note").textContent = ""; ws.send(JSON.stringify({t: "join", protocol: 1, name: CFG.name, page: true})); };
  ws.onmessage = e => {
    const m = JSON.parse(e.data);
    if (m.t === "hello") { $("who").textContent = m.name; }
    else if (m.t === "state") { const turned = !state || state.slide !== m.slide; state = m;
      if (turned) { $("verdict").textContent = ""; $("verdict").className = ""; } update(); }
    else if (m.t === "screen") { load(m.v); }
    else if (m.t === "verdict") { $("verdict").textContent = m.message; $("verdict").className = m.correct ? "ok" : "no";
      if (m.correct) mine[m.slide + ":" + m.question] = true; update(); }
    else if (m.t === "end") { ended = true; $("where").textContent = m.why; $("answer").hidden = true;
      $("free").hidden = true; document.body.classList.add("-ended"); }
  };
  ws.onclose = () => { if (!ended) { $("note").textContent = "connection lost: reconnecting…"; setTimeout(connect, 2000); } };
}
$("answer").onsubmit = e => {
  e.preventDefault();
  const q = openQuestion(), text = $("text").value.trim();
  if (q < 0 || !text || !ws || ws.readyState !== 1) return;
  ws.send(JSON.stringify({t: "answer", slide: state.slide, question: q, text: text}));
  $("verdict").textContent = "sent: " + text; $("verdict").className = ""; $("text").value = "";
};
connect();
</script></body></html>
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
        self.log = log
        self.screen_task: asyncio.Task | None = None
        self.screen_process: asyncio.subprocess.Process | None = None
        self.closing = False
        server.on_page = self.start_screen

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/{code}/play", self.play_page),
                web.get("/static/{path:.+}", self.sessions.handle_static),
                web.get("/favicon.ico", self.sessions.handle_favicon),
                web.get("/download/{key}", self.handle_download),
                web.get("/{code}/tab/{token}", self.handle_tab)]

    async def start(self) -> None:
        """The fork server (tabs start in a fraction of a second); without it, tabs start slower."""
        spawner = ForkServer()
        if await spawner.start(session_environment()):
            self.sessions.spawner = spawner

    async def page(self, request: web.Request) -> web.StreamResponse:
        """``/CODE``: the name form, or the class page for ``?name=``."""
        name = clean_name(request.query.get("name", ""))
        if not name:
            return web.Response(text=NAME_FORM.format(title=html.escape(self.title)), content_type="text/html",
                                headers={"Cache-Control": "no-store"})
        self.start_screen()
        config = json.dumps({"code": request.match_info["code"], "name": name}).replace("</", "<\\/")
        return web.Response(text=CLASS_PAGE.replace("{title}", html.escape(self.title)).replace("{config}", config),
                            content_type="text/html", headers={"Cache-Control": "no-store"})

    # -- the class's screen --------------------------------------------------------------------
    def start_screen(self) -> None:
        """Start the class's screen process (once; again if it ended)."""
        if self.screen_task is None or self.screen_task.done():
            self.screen_task = asyncio.ensure_future(self._run_screen())

    async def _run_screen(self) -> None:
        env = dict(os.environ)
        env[SCREEN_KEY_ENV] = self.server.screen_secret
        env.pop("TEXTUAL_DRIVER", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mbsim", "join", self.local_url, "--screen", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        self.screen_process = proc
        assert proc.stderr is not None
        tail = await proc.stderr.read(4096)
        await proc.wait()
        if tail and not self.closing and self.log is not None:
            self.log(f"class: the class's screen ended: {tail.decode('utf-8', 'replace').strip()[-200:]}")

    async def play_page(self, request: web.Request) -> web.StreamResponse:
        """``/CODE/play?name=``: this tab's own follower process (free play)."""
        name = clean_name(request.query.get("name", ""))
        if not name:
            raise web.HTTPFound(f"/{request.match_info['code']}")
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
        return [sys.executable, "-m", "mbsim", "join", self.local_url, "--name", name]

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
        """End the class's screen and every tab's process (quit, then SIGTERM, then SIGKILL),
        then the fork server."""
        self.closing = True
        proc = self.screen_process
        if proc is not None and proc.returncode is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    await asyncio.wait_for(proc.wait(), 3.0)
                    break
                except asyncio.TimeoutError:
                    continue
        if self.screen_task is not None:
            self.screen_task.cancel()
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
