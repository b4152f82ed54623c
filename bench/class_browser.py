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
* per teacher key (``n``, K times, 0.6 s apart): the teacher's own latency (key sent → its pane
  shows the new counters, read with tmux capture-pane every few ms) and each page's follow
  latency (key sent → shared: the page has the picture showing the new iteration; own: the first
  screen bytes after the key, a locked tab draws only when the teacher's state changes); median,
  p95, worst;
* CPU (share of a core) of the teacher and of its helper processes (the screen, or the tabs)
  during the keys, and their memory;
* the reference: the same with one page, in this same run; ratios printed.

    python bench/class_browser.py [--pages 30] [--keys 15] [--design shared|own]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from class_load import CODE, Teacher, cpu_seconds, memory_mb, percentile  # noqa: E402

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


def teacher_shows(teacher: Teacher, iteration: int) -> bool:
    return f"Iteration {iteration}  " in teacher.tmux("capture-pane", "-p", "-t", "t")


async def keys_phase(teacher: Teacher, tabs: list[Tab], keys: int, iteration: int) -> dict:
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
        while time.monotonic() - sent < 10 and not teacher_shows(teacher, iteration):
            await asyncio.sleep(0.003)
        mine.append(time.monotonic() - sent)
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
    teacher = Teacher(lesson, n)
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
