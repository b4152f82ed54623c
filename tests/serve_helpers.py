"""Helpers for the ``mbsim serve`` tests and bench/serve_load.py: a server child process, /proc.

The server runs as a real child process (``python -m mbsim serve``), so what is checked is what a
teacher starts: its stdout lines, its session processes (found through /proc), its signals.
Waits have generous deadlines only so that a broken server fails a test instead of hanging it;
nothing asserts on how long anything took.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD = 60.0  # seconds: a broken server fails the test instead of hanging it


def free_port() -> int:
    """A loopback port nobody listens on (the kernel's choice for port 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc/*/stat (field 4 is the parent)."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        after = stat.rsplit(")", 1)[1].split()
        if after[0] == "Z":  # a zombie is gone, only not yet reaped
            continue
        tree.setdefault(int(after[1]), []).append(int(entry.name))
    return tree


def parent_of(pid: int) -> int | None:
    """The parent of ``pid`` (field 4 of /proc/PID/stat), None when it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``."""
    tree, out, todo = children_of(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (VmRSS)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", text, re.M).group(1)) / 1024


def wait_until(predicate, what: str, guard: float = HANG_GUARD, step: float = 0.1):
    """Poll ``predicate`` until it is true; fail with ``what`` if it never is."""
    end = time.monotonic() + guard
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"never happened: {what}")


@dataclass
class ServerProcess:
    """``python -m mbsim serve …`` as a child; ``lines`` collects its stdout."""

    proc: subprocess.Popen
    url: str
    port: int
    lines: list[str] = field(default_factory=list)
    err_lines: list[str] = field(default_factory=list)
    #: the server's working folder (where a session would write a file, were it to)
    cwd: Path = ROOT
    #: :meth:`wait_line` looks at ``lines[since:]``: on a server shared by several tests
    #: (tests/conftest.py, ``served``), the lines printed since the current test began
    since: int = 0
    _partial: dict[int, bytes] = field(default_factory=dict)

    def pump(self, timeout: float = 0.0) -> None:
        """Collect whatever the server printed so far."""
        streams = {self.proc.stdout: self.lines, self.proc.stderr: self.err_lines}
        ready, _, _ = select.select(list(streams), [], [], timeout)
        for stream in ready:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                continue
            pending = self._partial.get(stream.fileno(), b"") + chunk
            *whole, rest = pending.split(b"\n")
            self._partial[stream.fileno()] = rest
            streams[stream].extend(line.decode("utf-8", "replace") for line in whole)

    def wait_line(self, pattern: str) -> re.Match:
        """The first stdout line since :attr:`since` matching ``pattern`` (waiting for it)."""
        end = time.monotonic() + HANG_GUARD
        while time.monotonic() < end:
            for line in self.lines[self.since:]:
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None:
                self.pump(0.2)
                for line in self.lines[self.since:]:
                    if m := re.search(pattern, line):
                        return m
                raise AssertionError(f"server exited {self.proc.returncode}: {self.err_lines}")
            self.pump(0.2)
        raise AssertionError(f"server never printed {pattern!r}: {self.lines} {self.err_lines}")

    def mark(self) -> int:
        """Start a new test's part of the log: :meth:`wait_line` looks only at what the server
        prints from now on (what it printed so far is collected first)."""
        while True:
            count = len(self.lines)
            self.pump(0)
            if len(self.lines) == count:
                break
        self.since = len(self.lines)
        return self.since

    def sessions(self) -> list[int]:
        """The live session processes below the server: its children started as
        ``python -m mbsim``, and those forked by its fork server (``python -m mbsim.tui.web_zygote``, a
        child of the server; not itself a session)."""
        return [pid for pid in descendants(self.proc.pid) if pid != self.fork_server()]

    def fork_server(self) -> int | None:
        """The server's fork server process, if it runs one."""
        for pid in children_of().get(self.proc.pid, []):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline[1:3] == [b"-m", b"mbsim.tui.web_zygote"] and parent_of(pid) == self.proc.pid:
                return pid
        return None

    def stop(self) -> int:
        """Ctrl+C (SIGINT), then wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(HANG_GUARD)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the server did not stop on SIGINT")
        self.pump(0.2)
        return code


def start_server(*args: str, port: int | None = None, cwd: Path | None = None) -> ServerProcess:
    """Start ``mbsim serve --port P ARGS`` on loopback and wait for its ``open URL`` line.

    ``cwd``: the server's working folder (by default the repository; the code is always the
    repository's, through PYTHONPATH)."""
    env = dict(os.environ)
    env.pop("TEXTUAL_DRIVER", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for attempt in range(5):
        # mbsim refuses --port 0, so the port is the kernel's choice of a moment ago: another test
        # (a parallel worker) may take it first; the server then says "already in use" and exits
        chosen = port or free_port()
        argv = [sys.executable, "-m", "mbsim", "serve", "--port", str(chosen), *args]
        proc = subprocess.Popen(argv, cwd=cwd or ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        server = ServerProcess(proc, "", chosen, cwd=cwd or ROOT)
        try:
            server.url = server.wait_line(r"^open (http://\S+)").group(1)
        except AssertionError:
            if port is None and attempt < 4 and any("already in use" in line for line in server.err_lines):
                proc.wait()
                proc.stdout.close()
                proc.stderr.close()
                continue
            raise
        return server
    raise AssertionError("unreachable")


def quit_packet() -> bytes:
    """The web driver's meta packet asking the app to quit (``M`` + 4-byte length + JSON)."""
    payload = json.dumps({"type": "quit"}).encode()
    return b"M" + len(payload).to_bytes(4, "big") + payload


@dataclass
class RawResponse:
    """What a server answered to a hand-written request: status, headers (lower-case names), body."""

    status: int
    headers: dict[str, str]
    body: bytes


def raw_request(port: int, data: bytes, guard: float = HANG_GUARD) -> RawResponse | None:
    """Send ``data`` as is on a new loopback connection and read the answer until the server
    closes or the response is complete; None when the server closed without a word."""
    with socket.create_connection(("127.0.0.1", port), timeout=guard) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            head, sep, body = received.partition(b"\r\n\r\n")
            if sep and head.startswith(b"HTTP/1.1 101"):  # a websocket was opened: enough
                break
            if sep:
                length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if length and len(body) >= int(length.group(1)):
                    break
    if not received:
        return None
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(status, headers, body)


def websocket_request(port: int, path: str = "/ws?width=80&height=24", *,
                      host: str | None = None, extra: str = "",
                      version: str | None = "13", key: str | None = "dGhlIHNhbXBsZSBub25jZQ==") -> bytes:
    """A websocket handshake as bytes; ``host``, ``version`` and ``key`` may be forged or left out."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {host or f'127.0.0.1:{port}'}",
             "Upgrade: websocket", "Connection: Upgrade"]
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\\\)|\x1b[()][0-9A-Za-z]|\x1b.")


def screen_text(data: bytes) -> str:
    """The text in a stream of terminal bytes, escape sequences removed (for "has X appeared")."""
    return ANSI.sub(b"", data).decode("utf-8", "replace")


@dataclass
class Offered:
    """A file the app offered and the browser downloaded: the response's status, headers
    (lower-case names) and text, and how many offers it took (see :func:`download_screenshot`)."""

    status: int
    headers: dict[str, str]
    text: str
    attempts: int


#: Seconds without screen bytes after which a tab's app counts as idle (nothing left to draw).
QUIET = 0.5
#: Seconds a screenshot's offer may take after its S before S is pressed again.
OFFER_WAIT = 20.0


async def download_screenshot(ws, client, base_url: str, *, attempts: int = 3) -> Offered:  # noqa: ANN001
    """Press ``S`` in the tab ``ws`` (an aiohttp websocket opened as textual.js does), wait for the
    app's offer (``deliver_file_start``), then for the app to be idle (no screen bytes for
    :data:`QUIET` s), and download ``/download/KEY``.

    The server asks the app for each chunk and waits :data:`tui.web_downloads.CHUNK_WAIT` for it;
    when none comes (the app's process starved of CPU on a loaded machine) the download is cut:
    a 503 page, and the key is spent. A cut download (503), or a 200 whose body is not a whole
    SVG, is therefore asked for again with a new ``S`` (a screenshot changes nothing the tests
    look at), at most ``attempts`` offers, and then the test fails saying so; so is an S whose
    offer does not come within OFFER_WAIT. Any other status is returned as it came, for the test
    to judge. No request waits longer than HANG_GUARD."""
    import asyncio

    import aiohttp

    offers: asyncio.Queue[str] = asyncio.Queue()
    last_bytes = [time.monotonic()]

    async def read() -> None:
        while True:
            msg = await ws.receive()
            if msg.type == aiohttp.WSMsgType.BINARY:
                last_bytes[0] = time.monotonic()
            elif msg.type == aiohttp.WSMsgType.TEXT:
                kind, *rest = json.loads(msg.data)
                if kind == "deliver_file_start" and rest:
                    offers.put_nowait(rest[0])
            else:
                offers.put_nowait("")    # the tab closed or failed: no offer will come
                return

    reader = asyncio.ensure_future(read())
    short: list[int] = []
    try:
        for attempt in range(1, attempts + 1):
            await ws.send_json(["stdin", "S"])
            try:
                key = await asyncio.wait_for(offers.get(), OFFER_WAIT)
            except asyncio.TimeoutError:             # no offer came (seen once in a loaded suite)
                short.append(f"no offer within {OFFER_WAIT:g} s")
                continue
            assert key, "the tab closed before the app offered its screenshot"
            end = time.monotonic() + HANG_GUARD
            while time.monotonic() - last_bytes[0] < QUIET and time.monotonic() < end:
                await asyncio.sleep(QUIET / 5)
            async with client.get(base_url.rstrip("/") + f"/download/{key}",
                                  timeout=aiohttp.ClientTimeout(total=HANG_GUARD)) as response:
                text = await response.text()
                headers = {k.lower(): v for k, v in response.headers.items()}
                cut = response.status == 503 and "cut short" in text
                if not cut and (response.status != 200 or text.rstrip().endswith("</svg>")):
                    return Offered(response.status, headers, text, attempt)
            short.append(f"{response.status}: {len(text)} characters")
    finally:
        reader.cancel()
        try:
            await reader
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the reader's end is not the test
            pass
    raise AssertionError(
        f"the screenshot's download was cut short {attempts} times ({short}; a whole SVG ends with "
        "</svg>): the server gives up when the app sends no chunk within its wait, so the app's "
        "process was starved of CPU each time")


# -- one server shared by the tests that only read from it ----------------------------------------
#: The xdist group of the tests that use a shared server (tests/conftest.py: ``served``,
#: ``served_everywhere``): all run on one pytest-xdist worker, which starts each server once.
SHARED = "shared-mbsim-serve"


def shared_server(folder: Path, *args: str):  # noqa: ANN201 - a fixture's generator
    """``mbsim serve ARGS`` working in ``folder``, for every test of this process that asks for
    it: started once (a start is an interpreter, the app's imports and its fork server: ~1.7
    CPU-s and seconds of waiting), stopped at the end of the run with Ctrl+C, which must end it
    with exit code 0 (each test's own ``assert server.stop() == 0`` before it was shared), and
    nothing it printed in its whole life may be a traceback."""
    server = start_server(*args, cwd=folder)
    try:
        yield server
    finally:
        code = server.stop()
    assert code == 0, (server.lines[-5:], server.err_lines)
    assert not any("Traceback" in line for line in server.lines + server.err_lines), \
        (server.lines, server.err_lines)


def one_test_of(server: ServerProcess):  # noqa: ANN201 - a fixture's generator
    """A test's turn on a shared server: it starts once no session of an earlier test is left
    (a bounded wait), with the log marked (its :meth:`ServerProcess.wait_line` reads only what
    the server prints from then on); after it, the server still runs, the test's sessions end,
    and none of its log lines was held back by the server's rate limit (20 lines at once, then
    one a second: tests/test_serve_hostile.py), which would make a test's log check depend on
    what ran before it."""
    assert server.proc.poll() is None, f"the shared server exited: {server.err_lines}"
    wait_until(lambda: server.sessions() == [], "no session of an earlier test left")
    start = server.mark()
    yield server
    assert server.proc.poll() is None, f"the shared server exited: {server.err_lines}"

    def counted_out() -> bool:  # every session the server opened for it closed, and gone
        server.pump(0)
        opened = [line for line in server.lines[start:] if re.match(r"session \d+ opened", line)]
        closed = [line for line in server.lines[start:] if re.match(r"session \d+ closed", line)]
        return len(opened) == len(closed) and server.sessions() == []

    wait_until(counted_out, "the test's sessions end")
    server.pump(0.2)
    assert not [line for line in server.lines[start:] if "more not shown" in line], \
        server.lines[start:]
