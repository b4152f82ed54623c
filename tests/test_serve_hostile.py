"""``mbsim serve`` against hostile clients (issue 23): what a browser tab, a forged request or a
killed server must never be able to do.

Servers are real: a ``python -m mbsim serve`` child on a free loopback port (tests/serve_helpers.py)
spoken to with raw sockets and aiohttp, as an attacker would; where a test needs a setting the
command line does not have (a short header timeout, a session command that will not quit), the
server is :class:`tui.webserve.SessionServer` itself, in this process, on a loopback socket.
Nothing asserts on time: waits have generous deadlines only so that a broken server fails a
test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.scenario import from_toml_text
from serve_helpers import (HANG_GUARD, ROOT, SHARED, alive, raw_request, screen_text, start_server,
                           wait_until, websocket_request)
from test_serve import open_session
from mbsim.tui import webserve


def refused_lines(server) -> list[str]:
    server.pump(0.2)
    return [line for line in server.lines if line.startswith("refused")]


def wait_log(server, pattern: str) -> str:
    """The first log line matching ``pattern`` (waiting for it)."""
    return server.wait_line(pattern).string


# -- 1. a browser tab never writes the server's files --------------------------------------------
@pytest.mark.xdist_group(SHARED)
async def test_save_scenario_in_a_browser_offers_a_download_and_writes_nothing(served):
    """ctrl+p, "download scen", enter: the TOML comes as a download; the server's folder stays
    empty (on main the palette's "Save scenario…" wrote the typed path on the server)."""
    server = served  # shared: the server's exit code is checked when it stops (tests/conftest.py)
    async with aiohttp.ClientSession() as client:
        ws = await open_session(server.url, client, cols=120, rows=40)
        await ws.send_json(["stdin", "\x10"])  # ctrl+p: the command palette
        for ch in "download scen":
            await ws.send_json(["stdin", ch])

        async def until_listed() -> None:  # the command's help line is on the screen
            shown = b""
            while "downloaded by your browser" not in screen_text(shown):
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                shown += msg.data

        async def offered() -> str:  # screen bytes, then the offer (a JSON text message)
            while True:
                msg = await ws.receive()
                assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
                if msg.type == aiohttp.WSMsgType.TEXT:
                    kind, key = json.loads(msg.data)
                    if kind == "deliver_file_start":
                        return key

        await asyncio.wait_for(until_listed(), HANG_GUARD)
        await ws.send_json(["stdin", "\r"])
        key = await asyncio.wait_for(offered(), HANG_GUARD)
        async with client.get(server.url.rstrip("/") + f"/download/{key}") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "application/toml; charset=utf-8"
            assert response.headers["Content-Disposition"] == \
                'attachment; filename="worked-example.toml"'
            text = await response.text()
        await ws.close()
    wait_until(lambda: server.sessions() == [], "the session ends with its websocket")
    # the served scenario (the worked example) with every setting resolved, as a file reads back
    assert from_toml_text(text) == Simulation(Scenario()).scenario
    assert sorted(p.name for p in server.cwd.iterdir()) == []


# -- 2. DNS rebinding and foreign origins --------------------------------------------------------
def test_a_forged_host_with_a_matching_origin_is_refused_dns_rebinding():
    """A page of attacker.example whose name now resolves to 127.0.0.1: the browser sends
    ``Host: attacker.example:PORT`` and ``Origin: http://attacker.example:PORT``. Nothing opens."""
    server = start_server()
    port = server.port
    try:
        forged = f"attacker.example:{port}"
        answer = raw_request(port, websocket_request(
            port, host=forged, extra=f"Origin: http://{forged}\r\n"))
        assert answer is not None and answer.status == 421
        assert b"answers only to its own address" in answer.body
        page = raw_request(port, f"GET / HTTP/1.1\r\nHost: {forged}\r\nConnection: close\r\n\r\n"
                           .encode())
        assert page is not None and page.status == 421  # nor is its page served to that name
        assert server.sessions() == []
        # its own names still work: localhost (with its own origin) and the address
        for name in (f"localhost:{port}", f"127.0.0.1:{port}"):
            answer = raw_request(port, websocket_request(port, host=name,
                                                         extra=f"Origin: http://{name}\r\n"))
            assert answer is not None and answer.status == 101, name
        wait_log(server, rf"^refused GET /ws\?width=80&height=24 from 127\.0\.0\.1: 421 unknown "
                         rf"Host '{forged}'$")
    finally:
        assert server.stop() == 0


FOREIGN_ORIGINS = ["chrome-extension://127.0.0.1:{port}", "null", "file://127.0.0.1:{port}",
                   "ftp://127.0.0.1:{port}", "ws://127.0.0.1:{port}", "http://127.0.0.1:{other}",
                   "http://127.0.0.1:{port}@attacker.example"]


def test_only_an_http_origin_of_this_server_may_open_a_session():
    server = start_server()
    port = server.port
    try:
        other = port + 1 if port < 65535 else port - 1
        for origin in FOREIGN_ORIGINS:
            forged = origin.format(port=port, other=other)
            answer = raw_request(port, websocket_request(port, extra=f"Origin: {forged}\r\n"))
            assert answer is not None and answer.status == 403, forged
        assert server.sessions() == []
        secure = raw_request(port, websocket_request(
            port, extra=f"Origin: https://127.0.0.1:{port}\r\n"))  # behind a TLS proxy
        assert secure is not None and secure.status == 101
    finally:
        assert server.stop() == 0


# -- 4. sessions end with their server -----------------------------------------------------------
async def test_sessions_end_when_their_server_is_killed():
    server = start_server()
    pids: list[int] = []
    try:
        async with aiohttp.ClientSession() as client:
            sockets = [await open_session(server.url, client) for _ in range(2)]
            pids = wait_until(lambda: len(server.sessions()) == 2 and server.sessions(),
                              "two session processes")
            server.proc.kill()  # SIGKILL: the server cannot end its sessions itself
            server.proc.wait()
            wait_until(lambda: not any(alive(pid) for pid in pids),
                       "every session ends once its stdin closed")
            for ws in sockets:
                await ws.close()
    finally:
        for pid in pids:
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


async def test_a_forked_session_leads_its_own_group_by_the_time_the_server_has_its_pid():
    # the server ends a session by signalling its process group (webserve.Session.end): a pid
    # handed over before the child's setsid names no group yet, and a Ctrl+C at that moment
    # left the session running and the server waiting for it (seen: "did not stop on SIGINT")
    from mbsim.tui.web_spawn import ForkServer
    from mbsim.tui.webserve import session_environment

    env = session_environment({}, 80, 24)
    env.pop("MBSIM_FORCE_TUI", None)
    spawner = ForkServer()
    assert await spawner.start(env)
    pids: list[int] = []
    try:
        for _ in range(8):
            process = await spawner.spawn([sys.executable, "-m", "mbsim"], env)
            pids.append(process.pid)
            assert os.getpgid(process.pid) == process.pid   # at once, with no wait
            os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), HANG_GUARD)
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        await spawner.stop()


# -- 5. malformed HTTP: a 4xx, a short page, one log line, no traceback --------------------------
MALFORMED = {
    "plain GET of /ws": (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
                         400, r"refused GET /ws from 127\.0\.0\.1: 400 not a valid websocket handshake"),
    "bad Sec-WebSocket-Version": ("version", 400, r"refused GET /ws\?\S+ from 127\.0\.0\.1: 400 "
                                                  r"not a valid websocket handshake"),
    "no Sec-WebSocket-Key": ("key", 400, r"refused GET /ws\?\S+ from 127\.0\.0\.1: 400 not a "
                                         r"valid websocket handshake"),
    "3000 path segments": (b"GET /static/" + b"a/" * 3000 + b" HTTP/1.1\r\nHost: 127.0.0.1:{port}"
                           b"\r\nConnection: close\r\n\r\n", 404,
                           r"refused GET /static/a/a/.*… from 127\.0\.0\.1: 404 not found"),
    "an oversized header": (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Big: " + b"a" * 20000 +
                            b"\r\n\r\n", 400, r"refused a malformed request from 127\.0\.0\.1: 400 "
                                              r"Got more than 8190 bytes"),
    "too many headers": (b"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" +
                         b"".join(b"X-%d: a\r\n" % i for i in range(300)) + b"\r\n", 400,
                         r"refused a malformed request from 127\.0\.0\.1: 400 Too many headers"),
}


def test_malformed_requests_get_a_short_4xx_page_and_one_log_line_each():
    server = start_server()
    port = server.port
    try:
        for name, (data, status, _) in MALFORMED.items():
            if data == "version":
                data = websocket_request(port, version="99")
            elif data == "key":
                data = websocket_request(port, key=None)
            else:
                data = data.replace(b"{port}", str(port).encode())
            answer = raw_request(port, data)
            assert answer is not None, f"{name}: the connection was dropped without an answer"
            assert answer.status == status, name
            assert len(answer.body) < 2000, name  # a short page, not a traceback
            assert b"Traceback" not in answer.body and b"Errno" not in answer.body, name
        # a last, ordinary refusal: once its line is there, every earlier line is too
        answer = raw_request(port, f"GET /nothing-here HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                   "Connection: close\r\n\r\n".encode())
        assert answer is not None and answer.status == 404 and b"<h1>404" in answer.body
        wait_log(server, r"^refused GET /nothing-here from 127\.0\.0\.1: 404 not found$")
        lines = refused_lines(server)
        assert len(lines) == len(MALFORMED) + 1, lines
        for (name, (_, _, pattern)), line in zip(MALFORMED.items(), lines):
            assert re.match(pattern, line), (name, line)
        assert server.sessions() == []
    finally:
        assert server.stop() == 0
    assert not any("Traceback" in line or "Error handling" in line for line in server.err_lines)
    assert not any("Traceback" in line for line in server.lines)


@pytest.mark.xdist_group(SHARED)
def test_static_files_are_only_textual_serves_own(served):
    port = served.port
    server = served  # shared: the server's exit code is checked when it stops (tests/conftest.py)
    for path in ("/static/../webserve.py", "/static/%2e%2e/%2e%2e/pyproject.toml",
                 "/static/js", "/static/", "/static//etc/passwd", "/static/js/textual.js/x"):
        answer = raw_request(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                                   "Connection: close\r\n\r\n".encode())
        assert answer is not None and answer.status == 404, path
    answer = raw_request(port, f"GET /static/js/textual.js HTTP/1.1\r\nHost: 127.0.0.1:{port}"
                               "\r\nConnection: close\r\n\r\n".encode())
    assert answer is not None and answer.status == 200 and len(answer.body) > 100_000


# -- 6. every websocket message kind: malformed ones ignored, the session lives ------------------
BAD_MESSAGES = [
    ('["stdin", "\\ud800"]', "stdin: the keys are not valid Unicode (a lone surrogate)"),
    ('["resize", {"width": Infinity, "height": 30}]', "resize: width is not finite"),
    ('["resize", {"width": 100, "height": NaN}]', "resize: height is not finite"),
    ("[" * 5000 + "]" * 5000, "JSON nested too deeply"),
    ('{"stdin": "n"}', "not a list [kind, data]"),
    ('[]', "not a list [kind, data]"),
    ('[1, 2]', "the kind is not a string"),
    ('["stdin", 7]', "stdin: the keys are not a string"),
    ('["resize", [100, 30]]', "resize: the size is not an object {width, height}"),
    ('["resize", {"width": "100", "height": 30}]', "resize: width is not a number"),
    ('["resize", {"width": true, "height": 30}]', "resize: width is not a number"),
    ('["ping", {"a": 1}]', "ping: the text is not a string of at most 64 characters"),
    ('["quit"]', "unknown kind (allowed: stdin, resize, ping, focus, blur)"),
    ("not json", "not JSON (Expecting value at character 0)"),
    ("[" + "9" * 5000 + "]", "a number with too many digits"),
]


async def test_malformed_websocket_messages_are_ignored_with_one_log_line_and_the_session_lives():
    server = start_server()
    try:
        async with aiohttp.ClientSession() as client:
            ws = await open_session(server.url, client)
            (pid,) = server.sessions()
            for raw, _ in BAD_MESSAGES:
                await ws.send_str(raw)
            await ws.send_bytes(b"\x00\x01")
            await ws.send_str('["ping", "still here"]')
            assert await asyncio.wait_for(pong(ws), HANG_GUARD) == "still here"
            await ws.send_json(["stdin", "n"])  # and the app still takes keys
            msg = await ws.receive(timeout=HANG_GUARD)
            assert msg.type == aiohttp.WSMsgType.BINARY
            assert alive(pid) and server.sessions() == [pid]
            await ws.close()
        wait_log(server, r"^session 1 closed")
    finally:
        assert server.stop() == 0
    ignored = [line for line in server.lines if line.startswith("session 1: ignored")]
    expected = [f"session 1: ignored a malformed message: {why}" for _, why in BAD_MESSAGES]
    assert ignored == expected + ["session 1: ignored a binary message (the protocol is JSON text)"]


async def pong(ws: aiohttp.ClientWebSocketResponse) -> str:
    """The text of the next pong (screen bytes before it are skipped): the server's reader went
    through every message sent before the ping and still answers."""
    while True:
        msg = await ws.receive()
        assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
        if msg.type == aiohttp.WSMsgType.TEXT:
            kind, text = json.loads(msg.data)
            if kind == "pong":
                return text


# -- 9. a bad --lesson is one line before anything is bound --------------------------------------
def test_serve_with_a_lesson_that_does_not_exist_is_one_line_and_exit_2_before_binding():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "mbsim", "serve", "--lesson", "no-such-lesson",
                           "--port", str(port)], cwd=ROOT, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=HANG_GUARD)
    assert done.returncode == 2
    assert done.stdout == ""  # no banner, no URL: nothing was served
    (line,) = done.stderr.splitlines()
    assert line.startswith("mbsim: no-such-lesson:1: no such lesson: built-in lessons are ")


# -- 10. a closed tab frees its place at once; slowloris ----------------------------------------
#: A session that speaks the protocol's first words, then ignores quit, the end of its stdin and
#: SIGTERM: only SIGKILL ends it.
STUBBORN = ("import signal, sys, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "sys.stdout.buffer.write(b'__GANGLION__\\n' + b'D' + (2).to_bytes(4, 'big') + b'hi')\n"
            "sys.stdout.flush()\n"
            "time.sleep(600)\n")


class InProcessServer:
    """:class:`tui.webserve.SessionServer` on a loopback socket, in this test's event loop."""

    def __init__(self, config: webserve.ServeConfig) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.server = webserve.SessionServer(config)
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> "InProcessServer":
        started = asyncio.Event()
        self.task = asyncio.ensure_future(self.server.run(self.sock, started.set, self.stop))
        await asyncio.wait_for(started.wait(), HANG_GUARD)
        return self

    async def __aexit__(self, *exc) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, HANG_GUARD)
        self.sock.close()


async def test_a_closed_tab_frees_its_place_at_once_while_its_process_is_ended(monkeypatch):
    monkeypatch.setattr(webserve, "QUIT_GRACE", HANG_GUARD)  # the stubborn process outlives the test
    lines: list[str] = []
    config = webserve.ServeConfig(argv=[sys.executable, "-c", STUBBORN], max_sessions=1,
                                  log=lines.append)
    pids: list[int] = []
    try:
        async with InProcessServer(config) as served:
            url = f"ws://127.0.0.1:{served.port}/ws?width=80&height=24"
            async with aiohttp.ClientSession() as client:
                ws = await client.ws_connect(url)
                msg = await ws.receive(timeout=HANG_GUARD)
                assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"hi"
                (session,) = served.server.sessions.values()
                pids.append(session.process.pid)
                await ws.close()
                for _ in range(int(HANG_GUARD / 0.05)):
                    if not served.server.sessions or session.process.returncode is not None:
                        break
                    await asyncio.sleep(0.05)
                # the place is free while the process is still being ended (on main the place
                # was held until the process had gone: quit, 3 s, SIGTERM, 2 s, SIGKILL)
                assert served.server.sessions == {} and session.process.returncode is None
                assert "session 1 closed (0 of 1 in use)" in lines
                again = await client.ws_connect(url)  # the next tab is served, not refused (503)
                msg = await again.receive(timeout=HANG_GUARD)
                assert msg.type == aiohttp.WSMsgType.BINARY and msg.data == b"hi"
                pids.extend(s.process.pid for s in served.server.sessions.values())
                for pid in pids:  # end the stubborn processes now (the server would wait)
                    os.killpg(pid, signal.SIGKILL)
                await again.close()
    finally:
        for pid in pids:
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)


async def test_a_connection_that_never_finishes_its_headers_is_closed_slowloris():
    lines: list[str] = []
    config = webserve.ServeConfig(argv=[sys.executable, "-c", "pass"], max_sessions=1,
                                  log=lines.append, header_timeout=0.5)
    async with InProcessServer(config) as served:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed = False
        end = time.monotonic() + HANG_GUARD
        while time.monotonic() < end:  # one more header line every 0.1 s, never the blank line
            try:
                writer.write(b"X-Slow: a\r\n")
                await writer.drain()
                data = await asyncio.wait_for(reader.read(1024), 0.1)
            except asyncio.TimeoutError:
                continue
            except ConnectionError:
                closed = True
                break
            if data == b"":
                closed = True
                break
        writer.close()
        assert closed, "the server kept a connection whose headers never ended"
        # an ordinary request on a new connection is still answered
        answer = await asyncio.to_thread(
            raw_request, served.port,
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nConnection: close\r\n\r\n".encode())
        assert answer is not None and answer.status == 200


# -- the request checks, one by one ---------------------------------------------------------------
def test_host_names_a_server_answers_to():
    from mbsim.tui.web_requests import allowed_host_names, host_allowed

    loop = allowed_host_names("127.0.0.1", loopback=True)
    for host in ("127.0.0.1:8000", "localhost:8000", "LOCALHOST.:8000", "class.localhost",
                 "[::1]:8000", "10.1.2.3:8000"):  # an IP address cannot be rebound
        assert host_allowed(host, loop), host
    for host in ("attacker.example:8000", "localhost.attacker.example", "127.0.0.1.nip.io", "",
                 None, "a b", "x@127.0.0.1", "127.0.0.1:99999", "127.0.0.1/path", "[::1"):
        assert not host_allowed(host, loop), host
    # a name given with --host (resolving to loopback) is accepted as itself only
    named = allowed_host_names("mbsim-box", loopback=True)
    assert host_allowed("mbsim-box:8000", named)
    assert not host_allowed("mbsim-box.attacker.example", named)
    # every interface: also this machine's name, alone or with its domain
    wild = allowed_host_names("0.0.0.0", loopback=False, machine="Teacher-PC")
    for host in ("teacher-pc:8000", "teacher-pc.school.lan:8000", "localhost:8000", "192.168.1.5"):
        assert host_allowed(host, wild), host
    for host in ("teacher-pcx:8000", "evil.example", "school.lan"):
        assert not host_allowed(host, wild), host
    # one address of this machine, not loopback: its name or address only
    assert allowed_host_names("192.168.1.5", loopback=False) == frozenset()


def test_origins_that_may_open_a_session():
    from mbsim.tui.web_requests import origin_allowed

    assert origin_allowed(None, "127.0.0.1:8000")  # not a browser page: the token still applies
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert origin_allowed("https://127.0.0.1:8000", "127.0.0.1:8000")
    assert origin_allowed("http://LOCALHOST:8000", "localhost:8000")
    assert origin_allowed("http://example.org", "example.org:80")  # default ports compared
    for origin in ("chrome-extension://127.0.0.1:8000", "null", "file://", "ws://127.0.0.1:8000",
                   "http://127.0.0.1:8001", "http://127.0.0.1", "http://localhost:8000",
                   "http://127.0.0.1:8000@evil.example", "http://[::1:8000", "http:", ""):
        assert not origin_allowed(origin, "127.0.0.1:8000"), origin


def test_the_log_lets_a_burst_through_then_one_a_second_and_counts_the_rest():
    from mbsim.tui.web_requests import LimitedLog

    now = [0.0]
    lines: list[str] = []
    log = LimitedLog(lines.append, clock=lambda: now[0])
    for i in range(LimitedLog.BURST + 5):
        log(f"line {i} \x1b[31m")
    assert len(lines) == LimitedLog.BURST  # the 5 after the burst were held back
    assert lines[0] == "line 0 \\x1b[31m"  # a client's escape sequence is shown, not obeyed
    now[0] += 1.0 / LimitedLog.PER_SECOND
    log("later")
    assert lines[-1] == "later (and 5 more not shown)"
    log("too soon")
    assert lines[-1] == "later (and 5 more not shown)"


@pytest.mark.xdist_group(SHARED)
def test_on_every_interface_the_machines_name_is_served_and_another_is_not(served_everywhere):
    server = served_everywhere  # shared, as served (tests/conftest.py)
    port = server.port
    token = re.search(r"\?token=([\w-]+)$", server.url).group(1)
    machine = socket.gethostname()
    for host, status in ((f"{machine}:{port}", 200), (f"localhost:{port}", 200),
                         (f"127.0.0.1:{port}", 200), (f"evil.example:{port}", 421)):
        answer = raw_request(port, f"GET /?token={token} HTTP/1.1\r\nHost: {host}\r\n"
                                   "Connection: close\r\n\r\n".encode())
        assert answer is not None and answer.status == status, host
