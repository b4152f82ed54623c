"""Load test of class mode's browser followers: the teacher (``mbsim class`` in a tmux pane) and N
browser pages on loopback, without a browser's own cost. Two designs, measured the same way:

* ``shared`` (what a page gets, tui/classroom/web.py): each page joins over the class protocol
  (``join`` with ``page: true``) and, when told the class's screen changed, fetches its SVG
  picture (``/CODE/screen/V.svg``), as the page's script does; one headless follower renders the
  screen for everyone;
* ``own`` (free play, and what ``mbsim serve`` does): each tab its own ``mbsim join`` process,
  speaking textual.js's protocol to ``/CODE/tab/TOKEN`` after ``GET /CODE/play?name=``.

Measured (DESIGN.md: 30 browser followers on this 2-core machine, follow latency p95 ≤ 500 ms,
the teacher's keys ≤ 100 ms):

* the burst: N pages opening at once, seconds until every one shows the class;
* per teacher key (``n``, K times, 0.6 s apart): the teacher's own latency (key written to the
  teacher's pty → the first bytes of its screen update that show the new counters, read straight
  from the pty master, no tmux polling) and each page's follow
  latency (key sent → shared: the page has the picture showing the new iteration; own: the first
  screen bytes after the key, a locked tab draws only when the teacher's state changes); median,
  p95, worst;
* CPU (share of a core) of the teacher and of its helper processes (the screen, or the tabs)
  during the keys, and their memory;
* the reference: the same with one page, in this same run; and the teacher's keys against a plain
  ``mbsim lesson`` (no class) in a pty of the same size, measured the same way before and after the
  class in this same run; ratios printed.

    python bench/class_browser.py [--pages 30] [--keys 15] [--design shared|own]
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import fcntl
import json
import os
import re
import signal
import socket
import struct
import subprocess
import termios
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from class_load import CODE, ROOT, cpu_seconds, memory_mb, percentile  # noqa: E402

TOKEN = re.compile(r'data-session-websocket-url="ws://[^/]+(/[^"]+)"')


def descendants(pid: int) -> list[int]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


ESCAPE = re.compile(r"\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78DEMc])")
HEADER = re.compile(r"Iteration (\d+)")


class Screen:
    """Just enough of a terminal to read what an app shows: absolute and relative cursor moves,
    CR/LF, text (one cell a character), everything else (colours, modes) ignored."""

    def __init__(self, rows: int = 40, cols: int = 120) -> None:
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0
        self.tail = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, data: bytes) -> None:
        text = self.tail + self.decoder.decode(data)
        self.tail = ""
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\x1b":
                m = ESCAPE.match(text, i)
                if m is None:
                    if len(text) - i < 64:          # an escape cut by the read: finish it next time
                        self.tail = text[i:]
                        return
                    i += 1
                    continue
                self._escape(m.group(0))
                i = m.end()
                continue
            if c == "\r":
                self.x = 0
            elif c == "\n":
                self.y = min(self.rows - 1, self.y + 1)
            elif c >= " ":
                if self.x < self.cols:
                    self.grid[self.y][self.x] = c
                self.x += 1
            i += 1

    def _escape(self, seq: str) -> None:
        if not seq.startswith("\x1b[") or seq[2:3] in "?<=>":
            return
        final, args = seq[-1], [int(a) if a.isdigit() else 0 for a in seq[2:-1].split(";")]
        n = args[0] or 1
        if final in "Hf":
            self.y = min(self.rows, max(1, args[0] or 1)) - 1
            self.x = min(self.cols, max(1, (args[1] if len(args) > 1 else 0) or 1)) - 1
        elif final == "A":
            self.y = max(0, self.y - n)
        elif final == "B":
            self.y = min(self.rows - 1, self.y + n)
        elif final == "C":
            self.x = min(self.cols - 1, self.x + n)
        elif final == "D":
            self.x = max(0, self.x - n)
        elif final == "G":
            self.x = min(self.cols, n) - 1

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.grid)


class PtyApp:
    """An mbsim app in a pty of 120x40 whose screen bytes this process reads itself (arrival times
    kept), so a key's latency is measured to the first bytes that show its effect."""

    def __init__(self, args: list[str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLUMNS="120", LINES="40")
        self.proc = subprocess.Popen([sys.executable, "-m", "mbsim", *args], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=ROOT, env=env, start_new_session=True)
        os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        self.pid = self.proc.pid
        self.chunks: list[tuple[float, bytes]] = []
        self.screen = Screen()
        self.seen: dict[int, float] = {}          # iteration in the header → when it was first shown
        self.sent = 0.0
        asyncio.get_running_loop().add_reader(master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.fd)
            return
        now = time.monotonic()
        self.chunks.append((now, data))
        del self.chunks[:-400]
        self.screen.feed(data)
        for found in HEADER.finditer(self.screen.text()):
            self.seen.setdefault(int(found.group(1)), now)

    def keys(self, key: str) -> None:
        self.sent = time.monotonic()
        os.write(self.fd, {"n": b"n", "C-c": b"\x03"}.get(key, key.encode()))

    def shown_at(self, sent: float, iteration: int) -> float | None:
        """When the screen first showed ``Iteration N`` after ``sent``: the arrival time of the
        bytes that completed it (the pty is read as soon as it is readable)."""
        t = self.seen.get(iteration)
        return t if t is not None and t > sent else None

    def first_after(self, sent: float) -> float | None:
        return next((t for t, _ in self.chunks if t > sent), None)

    def screen_text(self) -> str:
        return self.screen.text()

    async def started(self, iteration: int = 0) -> None:
        for _ in range(600):
            if iteration in self.seen:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("the app never drew:\n" + self.screen_text()[-2000:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.fd)
        except (RuntimeError, ValueError):
            pass
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        os.close(self.fd)


class PtyTeacher(PtyApp):
    """``mbsim class`` in a pty read by this process."""

    def __init__(self, lesson: str, followers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        super().__init__(["class", lesson, "--port", str(self.port), "--code", CODE,
                          "--max-students", str(followers + 10)])

    async def ready(self) -> None:
        for _ in range(600):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("the teacher never listened:\n" + self.screen_text()[-2000:])


async def own_keys(app: PtyApp, keys: int, iteration: int) -> tuple[list[float], list[float], int]:
    """K ``n`` keys 0.6 s apart: (key → first bytes showing it, key → first bytes at all), iteration."""
    shown: list[float] = []
    first: list[float] = []
    for _ in range(keys):
        iteration += 1
        await asyncio.sleep(0.6)
        sent = time.monotonic()
        app.keys("n")
        while time.monotonic() - sent < 10 and app.shown_at(sent, iteration) is None:
            await asyncio.sleep(0.002)
        if (got := app.shown_at(sent, iteration)) is not None:
            shown.append(got - sent)
        if (got := app.first_after(sent)) is not None:
            first.append(got - sent)
    return shown, first, iteration


async def plain_lesson(lesson: str, keys: int) -> tuple[list[float], list[float]]:
    """The teacher's key latency of a plain ``mbsim lesson`` (no class), same pty, same way."""
    app = PtyApp(["lesson", lesson])
    try:
        await app.started()
        await asyncio.sleep(2.0)
        shown, first, _ = await own_keys(app, keys, 0)
    finally:
        app.kill()
    return shown, first


class Tab:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.first = 0.0
        self.last_bytes = 0.0
        self.bytes = 0
        self.arrivals: list[float] = []

    def first_after(self, sent: float) -> float | None:
        """When the first screen bytes after ``sent`` arrived (None if none did)."""
        return next((t for t in self.arrivals if t > sent), None)

    async def read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    now = time.monotonic()
                    self.first = self.first or now
                    self.last_bytes = now
                    self.bytes += len(msg.data)
                    self.arrivals.append(now)
                    del self.arrivals[:-200]
                elif msg.type == aiohttp.WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    if isinstance(data, list) and data and data[0] == "ping":
                        await self.ws.send_json(["pong", data[1]])
                else:
                    break
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass


async def open_tab(client: aiohttp.ClientSession, port: int, name: str) -> Tab:
    base = f"http://127.0.0.1:{port}"
    async with client.get(f"{base}/{CODE}/play", params={"name": name}) as r:
        page = await r.text()
    path = TOKEN.search(page).group(1)
    ws = await client.ws_connect(f"ws://127.0.0.1:{port}{path}?width=120&height=40", max_msg_size=0,
                                 headers={"Origin": base})
    return Tab(ws)


class Page:
    """A browser page of the shared design: the class protocol, and the pictures it is told of."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, client: aiohttp.ClientSession, base: str) -> None:
        self.ws, self.client, self.base = ws, client, base
        self.first = 0.0
        self.seen: dict[int, float] = {}          # iteration shown → when the picture arrived
        self.fetches = 0
        self.bytes = 0

    async def read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                if data.get("t") == "screen":
                    asyncio.ensure_future(self.fetch(data["v"]))
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass

    async def fetch(self, version: int) -> None:
        async with self.client.get(f"{self.base}/{CODE}/screen/{version}.svg") as r:
            if r.status != 200:
                return
            body = await r.read()
        now = time.monotonic()
        self.fetches += 1
        self.bytes += int(r.headers.get("Content-Length", len(body)))
        text = re.sub(r"<[^>]+>", "", body.decode("utf-8", "replace")).replace("&#160;", " ")
        found = re.search(r"Iteration\s*(\d+)", text)
        if found:
            self.first = self.first or now
            self.seen.setdefault(int(found.group(1)), now)

    def first_after(self, sent: float, iteration: int) -> float | None:
        t = self.seen.get(iteration)
        return t if t is not None and t > sent else None


async def open_page(client: aiohttp.ClientSession, port: int, name: str) -> Page:
    base = f"http://127.0.0.1:{port}"
    async with client.get(f"{base}/{CODE}", params={"name": name}) as r:
        await r.text()
    ws = await client.ws_connect(f"ws://127.0.0.1:{port}/{CODE}/follow", headers={"Origin": base})
    await ws.send_str(json.dumps({"t": "join", "protocol": 1, "name": name, "page": True}))
    return Page(ws, client, base)


async def keys_phase(teacher: PtyTeacher, tabs: list[Tab], keys: int, iteration: int) -> dict:
    pids = descendants(teacher.pid)
    cpu = {p: cpu_seconds(p) for p in pids if Path(f"/proc/{p}").exists()}
    tc0, t0 = cpu_seconds(teacher.pid), time.monotonic()
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(keys):
        iteration += 1
        await asyncio.sleep(0.6)
        sent = time.monotonic()
        teacher.keys("n")
        while time.monotonic() - sent < 10 and teacher.shown_at(sent, iteration) is None:
            await asyncio.sleep(0.002)
        if (got := teacher.shown_at(sent, iteration)) is not None:
            mine.append(got - sent)
        if isinstance(tabs[0], Page):
            while time.monotonic() - sent < 10 and not all(t.first_after(sent, iteration) for t in tabs):
                await asyncio.sleep(0.005)
            theirs += [got - sent for t in tabs if (got := t.first_after(sent, iteration)) is not None]
        else:
            while time.monotonic() - sent < 10 and not all(t.last_bytes > sent for t in tabs):
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.3)      # (a tab may draw in more than one go: the first bytes count)
            theirs += [got - sent for t in tabs if (got := t.first_after(sent)) is not None]
    spent = time.monotonic() - t0
    tab_cpu = sum(cpu_seconds(p) - c for p, c in cpu.items() if Path(f"/proc/{p}").exists()) / spent
    rss = [memory_mb(p) for p in pids if Path(f"/proc/{p}").exists()]
    return {"n": len(tabs), "teacher": mine, "tabs": theirs, "teacher_cpu": (cpu_seconds(teacher.pid) - tc0) / spent,
            "tab_cpu": tab_cpu, "rss": rss, "iteration": iteration}


def line(name: str, xs: list[float]) -> str:
    ms = [1000 * x for x in xs]
    if not ms:
        return f"  {name}: none"
    return (f"  {name}: median {statistics.median(ms):6.1f} ms  p95 {percentile(ms, .95):6.1f} ms  "
            f"worst {max(ms):6.1f} ms  ({len(ms)})")


async def measure(n: int, keys: int, lesson: str, design: str) -> None:
    plain, plain_first = await plain_lesson(lesson, keys)
    teacher = PtyTeacher(lesson, n)
    tasks: list[asyncio.Task] = []
    try:
        await teacher.ready()
        await asyncio.sleep(2.0)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
            opener = open_page if design == "shared" else open_tab
            one = [await opener(client, teacher.port, "ref")]
            tasks += [asyncio.ensure_future(t.read()) for t in one]
            while not one[0].first:
                await asyncio.sleep(0.05)
            await asyncio.sleep(2.0)
            ref = await keys_phase(teacher, one, keys, 0)
            t0 = time.monotonic()
            more = list(await asyncio.gather(*(opener(client, teacher.port, f"s{i}") for i in range(n - 1))))
            tasks += [asyncio.ensure_future(t.read()) for t in more]
            tabs = one + more
            while time.monotonic() - t0 < 180 and not all(t.first for t in more):
                await asyncio.sleep(0.05)
            burst = max(t.first for t in more) - t0 if all(t.first for t in more) else float("nan")
            await asyncio.sleep(5.0)        # let the tabs settle after their first state
            big = await keys_phase(teacher, tabs, keys, ref["iteration"])
    finally:
        for t in tasks:
            t.cancel()
        teacher.keys("C-c")
        await asyncio.sleep(3)
        teacher.kill()
    plain2, first2 = await plain_lesson(lesson, keys)
    plain += plain2
    plain_first += first2
    what = ("one shared rendering of the class's screen, pictures fetched by each page" if design == "shared"
            else "each tab its own mbsim join process")
    print(f"class mode, browser pages ({what}), lesson {lesson}; {keys} teacher keys")
    print(f"burst: {n - 1} pages opening at once, all showing the class after {burst:.1f} s")
    for r in (ref, big):
        print(f"{r['n']} page{'s' if r['n'] != 1 else ''}:")
        print(line("teacher's key → its own screen", r["teacher"]))
        print(line("teacher's key → a page shows it", r["tabs"]))
        print(f"  CPU: teacher {100 * r['teacher_cpu']:.0f} % of a core, its helpers together {100 * r['tab_cpu']:.0f} %")
        if r["rss"]:
            print(f"  helper processes (screen or tabs, fork server): {len(r['rss'])}, RSS median "
                  f"{statistics.median(r['rss']):.0f} MB, sum {sum(r['rss']):.0f} MB")
    print(f"plain mbsim lesson {lesson} (no class), before and after, same pty measure:")
    print(line("key → its own screen", plain))
    print(line("key → first screen bytes", plain_first))
    for r in (ref, big):
        pm, tm = statistics.median(plain), statistics.median(r["teacher"])
        pp, tp = percentile(plain, .95), percentile(r["teacher"], .95)
        print(f"teacher with {r['n']} page{'s' if r['n'] != 1 else ''} / plain lesson: median {tm / pm:.2f}x "
              f"({1000 * tm:.1f} vs {1000 * pm:.1f} ms), p95 {tp / pp:.2f}x ({1000 * tp:.1f} vs {1000 * pp:.1f} ms)")
    p95 = percentile(big["tabs"], .95) * 1000
    tp95 = percentile(big["teacher"], .95) * 1000
    print(f"budget at {n} pages: follow p95 {p95:.0f} ms (≤ 500: {'met' if p95 <= 500 else 'NOT met'}), "
          f"teacher's keys p95 {tp95:.0f} ms (≤ 100: {'met' if tp95 <= 100 else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--design", choices=("shared", "own"), default="shared")
    parser.add_argument("--keys", type=int, default=15)
    parser.add_argument("--lesson", default="why-shuffle")
    ns = parser.parse_args()
    asyncio.run(asyncio.wait_for(measure(ns.pages, ns.keys, ns.lesson, ns.design), 900))
    return 0


if __name__ == "__main__":
    sys.exit(main())
