"""Load test of class mode: one teacher (``mbsim class`` in a tmux pane: it needs a terminal) and
N protocol-level followers on loopback (websockets that join and read the states, as
``mbsim join`` does, without drawing).

Measured (DESIGN.md's class budget: 200 followers, follow latency p95 ≤ 500 ms, the teacher's
process ≤ 150 MB beyond the app itself, on 2 cores):

* the join burst: N followers connecting at once, seconds until every one has its first state;
* follow latency on keys: the teacher presses ``n`` K times (tmux send-keys), 0.4 s apart; for
  each press and each follower, the time from sending the key to receiving the first state
  whose run is one iteration further: median, p95, worst. This is end to end: the key through
  tmux, the app's handling, the publish interval (0.1 s), the server, the socket, the JSON;
* follow latency while running: the teacher runs (space) for R seconds; for every state
  received, its publish time (the state's ``at``) to its arrival: median, p95, worst, and the
  states a follower received per second;
* the teacher process: CPU (share of one core, from /proc) in each phase, RSS before any
  follower (the app itself) and its peak with N;
* that every follower is told when the class ends (Ctrl+C in the teacher's pane) and the teacher
  exits.

The reference is the same measurement with one follower, in this same run; ratios are printed.
Prints figures; asserts nothing except that nothing crashed.

    python bench/class_load.py [--followers 200] [--keys 20] [--run 8] [--lesson why-shuffle]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CODE = "BENCH1"
DEADLINE = 900.0


@dataclass
class Follower:
    ws: aiohttp.ClientWebSocketResponse
    iteration: int = -1
    seen: dict[int, float] = field(default_factory=dict)        # iteration → when first seen
    lags: list[float] = field(default_factory=list)             # publish → arrival (running)
    states: int = 0
    ended: bool = False
    first: float = 0.0
    record_lag: bool = False


async def read(f: Follower) -> None:
    try:
        async for msg in f.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data = json.loads(msg.data)
            kind = data.get("t")
            if kind == "state":
                f.states += 1
                if not f.first:
                    f.first = time.monotonic()
                it = data["sim"]["iteration"]
                f.seen.setdefault(it, time.monotonic())
                f.iteration = it
                if f.record_lag:
                    f.lags.append(now - data["at"])
            elif kind == "end":
                f.ended = True
    except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
        pass


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Teacher:
    """``mbsim class`` in a private tmux server."""

    def __init__(self, lesson: str, followers: int) -> None:
        self.socket = f"mbsim-bench-{uuid.uuid4().hex[:8]}"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        cmd = (f"exec {sys.executable} -m mbsim class {lesson} --port {self.port} --code {CODE} "
               f"--max-students {followers + 10}")
        self.tmux("new-session", "-d", "-s", "t", "-x", "120", "-y", "40", cmd)
        self.pid = int(self.tmux("list-panes", "-t", "t", "-F", "#{pane_pid}").split()[0])

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              cwd=ROOT, check=False).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    async def ready(self) -> None:
        for _ in range(600):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", self.port)
                w.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError("the teacher never listened:\n" + self.tmux("capture-pane", "-p", "-t", "t"))

    def alive(self) -> bool:
        return Path(f"/proc/{self.pid}").exists()

    def kill(self) -> None:
        self.tmux("kill-server")


async def connect(client: aiohttp.ClientSession, url: str, name: str) -> Follower:
    ws = await client.ws_connect(url, max_msg_size=4 * 1024 * 1024, heartbeat=30)
    await ws.send_str(json.dumps({"t": "join", "protocol": 1, "name": name}))
    return Follower(ws)


async def phase(teacher: Teacher, followers: list[Follower], keys: int, run: float) -> dict:
    """Keys, then a run: the figures of one class size."""
    pid = teacher.pid
    out: dict = {"n": len(followers)}
    await asyncio.sleep(1.0)
    # keys: each press one iteration further
    lat: list[float] = []
    c0, t0 = cpu_seconds(pid), time.monotonic()
    for _ in range(keys):
        start = max(f.iteration for f in followers)
        sent = time.monotonic()
        teacher.keys("n")
        deadline = sent + 10.0
        while time.monotonic() < deadline and not all(start + 1 in f.seen for f in followers):
            await asyncio.sleep(0.005)
        lat += [f.seen[start + 1] - sent for f in followers if start + 1 in f.seen]
        out.setdefault("missed", 0)
        out["missed"] += sum(1 for f in followers if start + 1 not in f.seen)
        await asyncio.sleep(0.4)
    out["key_cpu"] = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    out["key"] = lat
    # running
    for f in followers:
        f.record_lag, f.states = True, 0
    c0, t0 = cpu_seconds(pid), time.monotonic()
    teacher.keys("space")
    await asyncio.sleep(run)
    teacher.keys("space")
    out["run_cpu"] = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    out["run_rate"] = statistics.mean(f.states for f in followers) / run
    out["run"] = [x for f in followers for x in f.lags]
    for f in followers:
        f.record_lag, f.lags = False, []
    await asyncio.sleep(1.0)
    return out


def line(name: str, xs: list[float]) -> str:
    if not xs:
        return f"  {name}: none"
    ms = [1000 * x for x in xs]
    return (f"  {name}: median {statistics.median(ms):6.1f} ms  p95 {percentile(ms, 0.95):6.1f} ms  "
            f"worst {max(ms):6.1f} ms  ({len(ms)} samples)")


async def measure(n: int, keys: int, run: float, lesson: str) -> None:
    teacher = Teacher(lesson, n)
    url = f"ws://127.0.0.1:{teacher.port}/{CODE}/follow"
    tasks: list[asyncio.Task] = []
    try:
        await teacher.ready()
        await asyncio.sleep(2.0)
        app_mb = memory_mb(teacher.pid)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
            one = [await connect(client, url, "ref")]
            tasks += [asyncio.ensure_future(read(f)) for f in one]
            ref = await phase(teacher, one, keys, run)
            t0 = time.monotonic()
            crowd = list(await asyncio.gather(*(connect(client, url, f"s{i}") for i in range(n - 1))))
            tasks += [asyncio.ensure_future(read(f)) for f in crowd]
            crowd = one + crowd
            while time.monotonic() - t0 < 60 and not all(f.first for f in crowd):
                await asyncio.sleep(0.02)
            burst = max(f.first for f in crowd) - t0 if all(f.first for f in crowd) else float("nan")
            big = await phase(teacher, crowd, keys, run)
            peak_mb = memory_mb(teacher.pid, "VmHWM")
            now_mb = memory_mb(teacher.pid)
            teacher.keys("C-c")
            end = time.monotonic()
            while time.monotonic() - end < 30 and not all(f.ended for f in crowd):
                await asyncio.sleep(0.05)
            told = sum(f.ended for f in crowd)
            while time.monotonic() - end < 30 and teacher.alive():
                await asyncio.sleep(0.05)
            exited = not teacher.alive()
    finally:
        for t in tasks:
            t.cancel()
        teacher.kill()
    print(f"class mode, lesson {lesson}: 1 follower (reference) and {n} followers; {keys} keys, {run:g} s running")
    print(f"join burst: {n - 1} followers connecting at once, all with their first state after {burst:.2f} s")
    for r in (ref, big):
        print(f"{r['n']} follower{'s' if r['n'] != 1 else ''}:")
        print(line("key → state (end to end)", r["key"]) + (f"  [{r['missed']} missed]" if r["missed"] else ""))
        print(line("running: publish → arrival", r["run"]))
        print(f"  states a follower received per second while running: {r['run_rate']:.1f}")
        print(f"  teacher CPU: {100 * r['key_cpu']:.0f} % of a core on keys, {100 * r['run_cpu']:.0f} % running")
    if ref["key"] and big["key"]:
        print(f"ratio {n}/1: key latency p95 {percentile(big['key'], .95) / percentile(ref['key'], .95):.2f}x, "
              f"teacher CPU running {big['run_cpu'] / max(ref['run_cpu'], 1e-9):.2f}x")
    print(f"teacher memory: {app_mb:.0f} MB with no follower (the app itself); now {now_mb:.0f} MB, "
          f"peak {peak_mb:.0f} MB: {peak_mb - app_mb:+.0f} MB for {n} followers (budget +150 MB)")
    p95 = percentile(big["key"] + big["run"], 0.95) * 1000
    print(f"budget: follow latency p95 {p95:.0f} ms at {n} followers (≤ 500 ms: {'met' if p95 <= 500 else 'NOT met'})")
    print(f"end: {told}/{n} followers told the class ended; teacher exited: {exited}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--followers", type=int, default=200)
    parser.add_argument("--keys", type=int, default=20)
    parser.add_argument("--run", type=float, default=8.0)
    parser.add_argument("--lesson", default="why-shuffle")
    ns = parser.parse_args()
    if shutil.which("tmux") is None:
        print("bench/class_load.py needs tmux (the teacher's app needs a terminal)", file=sys.stderr)
        return 2

    async def bounded() -> None:
        await asyncio.wait_for(measure(ns.followers, ns.keys, ns.run, ns.lesson), DEADLINE)

    asyncio.run(bounded())
    return 0


if __name__ == "__main__":
    sys.exit(main())
