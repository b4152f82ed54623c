"""Load test of ``mbsim serve``: many concurrent browser sessions on loopback, each pressing keys.

A real server (``python -m tui serve`` on a free 127.0.0.1 port, a child process) and N websocket
clients speaking textual.js's protocol (``/ws?width=&height=``, JSON ``["stdin", keys]``; the
screen comes back as binary messages). Bounded: N sessions (default 20), K keys each (default 12),
a few seconds of running each, an overall deadline; it stops by itself and ends the server with
SIGINT, as Ctrl+C would.

Measured, per session:

* RSS of its process (VmRSS from /proc) once every session has pressed its keys;
* key latency: from sending ``n`` (one batch; the app is paused, so nothing else is drawn) to
  the first screen bytes back; median and worst over every key of every session;
* bytes per second it received while stepping with keys, and while running at the default
  speed (``space``) — DESIGN.md's SSH budget is 20 KB/s running, ~0 paused;
* that nothing crashed: every session alive and connected to the end, then gone after
  Ctrl+C, and the server's exit code 0.

The reference run is one session alone, measured the same way in this same process; the ratios
N-sessions / one-session are printed. Prints figures; asserts nothing except "no crash".

    python bench/serve_load.py [--sessions 20] [--keys 12] [--run-seconds 4] [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from serve_helpers import alive, rss_mb, start_server  # noqa: E402

DEADLINE = 600.0  # seconds: the whole load test never runs longer


@dataclass
class Session:
    ws: aiohttp.ClientWebSocketResponse
    latencies: list[float] = field(default_factory=list)
    key_bytes: int = 0
    key_seconds: float = 0.0
    run_bytes: int = 0
    run_seconds: float = 0.0
    quiet_bytes: int = 0


async def connect(url: str, client: aiohttp.ClientSession, cols: int, rows: int) -> Session:
    ws_url = re.sub(r"^http", "ws", url.rstrip("/")) + f"/ws?width={cols}&height={rows}"
    ws = await client.ws_connect(ws_url, max_msg_size=0)
    got = 0
    while got < 1000:  # the first full frame
        msg = await ws.receive(timeout=DEADLINE)
        if msg.type != aiohttp.WSMsgType.BINARY:
            if msg.type == aiohttp.WSMsgType.TEXT:
                continue
            raise RuntimeError(f"session closed before its first frame: {msg}")
        got += len(msg.data)
    return Session(ws)


async def drain(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> int:
    """Bytes received within ``seconds``."""
    total, end = 0, time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.BINARY:
            total += len(msg.data)
        elif msg.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"session closed: {msg}")
    return total


async def press_keys(s: Session, keys: int, settle: float) -> None:
    """``n`` ``keys`` times: latency to the first bytes back, then what follows within ``settle``."""
    await drain(s.ws, 0.5)  # whatever the first frame left behind
    start = time.monotonic()
    for _ in range(keys):
        sent = time.monotonic()
        await s.ws.send_json(["stdin", "n"])
        while True:
            msg = await s.ws.receive(timeout=DEADLINE)
            if msg.type == aiohttp.WSMsgType.BINARY:
                s.latencies.append(time.monotonic() - sent)
                s.key_bytes += len(msg.data)
                break
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"session closed: {msg}")
        s.key_bytes += await drain(s.ws, settle)
    s.key_seconds = time.monotonic() - start


async def run_then_pause(s: Session, seconds: float) -> None:
    await s.ws.send_json(["stdin", " "])
    start = time.monotonic()
    s.run_bytes = await drain(s.ws, seconds)
    s.run_seconds = time.monotonic() - start
    await s.ws.send_json(["stdin", " "])
    await drain(s.ws, 1.0)
    s.quiet_bytes = await drain(s.ws, 2.0)  # paused: should be ~0


async def measure(n: int, keys: int, run_seconds: float, cols: int, rows: int) -> dict:
    server = start_server("--max-sessions", str(max(n, 1)))
    try:
        async with aiohttp.ClientSession() as client:
            t0 = time.monotonic()
            sessions = await asyncio.gather(*(connect(server.url, client, cols, rows)
                                              for _ in range(n)))
            all_up = time.monotonic() - t0
            pids = server.sessions()
            await asyncio.gather(*(press_keys(s, keys, 0.3) for s in sessions))
            rss = [rss_mb(pid) for pid in pids]
            await asyncio.gather(*(run_then_pause(s, run_seconds) for s in sessions))
            alive_before_stop = sum(alive(pid) for pid in pids)
            connected = sum(not s.ws.closed for s in sessions)
            server_rss = rss_mb(server.proc.pid)
            code = server.stop()
            for s in sessions:
                await s.ws.close()
    finally:
        if server.proc.poll() is None:
            server.stop()
    latencies = sorted(x for s in sessions for x in s.latencies)
    return {
        "sessions": n, "pids": len(pids), "all_up_s": all_up,
        "rss_median": statistics.median(rss), "rss_max": max(rss), "server_rss": server_rss,
        "lat_median_ms": 1000 * statistics.median(latencies), "lat_max_ms": 1000 * max(latencies),
        "keys_Bps": statistics.median(s.key_bytes / s.key_seconds for s in sessions),
        "run_Bps": statistics.median(s.run_bytes / s.run_seconds for s in sessions),
        "run_Bps_max": max(s.run_bytes / s.run_seconds for s in sessions),
        "paused_Bps": max(s.quiet_bytes / 2.0 for s in sessions),
        "alive": alive_before_stop, "connected": connected, "exit": code,
        "left_after_stop": sum(alive(pid) for pid in pids),
    }


def report(r: dict) -> None:
    print(f"  {r['sessions']} session(s): all up in {r['all_up_s']:.1f} s; "
          f"RSS per session median {r['rss_median']:.0f} MB, max {r['rss_max']:.0f} MB "
          f"(server {r['server_rss']:.0f} MB)")
    print(f"    key latency median {r['lat_median_ms']:.0f} ms, worst {r['lat_max_ms']:.0f} ms; "
          f"bytes/s per session: stepping {r['keys_Bps'] / 1024:.1f} KB/s, running "
          f"{r['run_Bps'] / 1024:.1f} KB/s (max {r['run_Bps_max'] / 1024:.1f}), paused "
          f"{r['paused_Bps']:.0f} B/s")
    print(f"    crashes: {r['sessions'] - r['alive']} sessions died, "
          f"{r['sessions'] - r['connected']} disconnected; after Ctrl+C: server exit "
          f"{r['exit']}, {r['left_after_stop']} session processes left")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--keys", type=int, default=12)
    parser.add_argument("--run-seconds", type=float, default=4.0)
    parser.add_argument("--size", default="120x40")
    args = parser.parse_args()
    if not 1 <= args.sessions <= 50 or not 1 <= args.keys <= 100:
        parser.error("--sessions 1..50, --keys 1..100 (this is a bounded load test)")
    cols, rows = (int(x) for x in args.size.split("x"))

    async def both():
        ref = await asyncio.wait_for(measure(1, args.keys, args.run_seconds, cols, rows), DEADLINE)
        load = await asyncio.wait_for(
            measure(args.sessions, args.keys, args.run_seconds, cols, rows), DEADLINE)
        return ref, load

    ref, load = asyncio.run(both())
    print(f"mbsim serve under load, {cols}x{rows}, loopback; reference = one session alone")
    report(ref)
    report(load)
    print(f"  ratios {load['sessions']} sessions / 1: RSS per session "
          f"{load['rss_median'] / ref['rss_median']:.2f}x, key latency median "
          f"{load['lat_median_ms'] / ref['lat_median_ms']:.1f}x, worst "
          f"{load['lat_max_ms'] / ref['lat_max_ms']:.1f}x")
    crashed = (load["alive"] != load["sessions"] or load["connected"] != load["sessions"]
               or load["exit"] != 0 or load["left_after_stop"] or ref["left_after_stop"])
    print("  result: " + ("CRASH (see above)" if crashed else "nothing crashed"))
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
