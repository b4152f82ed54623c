"""Load test of ``mbsim serve``: a class of browser sessions on loopback, half of them running.

A real server (``python -m mbsim serve`` on a free 127.0.0.1 port, a child process) and N websocket
clients speaking textual.js's protocol (``/ws?width=&height=``, JSON ``["stdin", keys]``; the
screen comes back as binary messages). Bounded: N sessions (default 30), K keys each (default 12),
an overall deadline; it stops by itself and ends the server with SIGINT, as Ctrl+C would.

Measured (DESIGN.md's class budget: 30 sessions, half running, on 2 cores):

* the burst: N tabs opening at once, seconds until every one has its first screen (≤ 3 s), and
  the CPU time each session process had used by then (its own: a forked session's starts at
  the fork, a started one's includes its imports); their sum with the server's and the fork
  server's CPU meanwhile, over the cores, is the burst of an otherwise idle machine (the figure
  to read when other work shares the machine);
* key latency: R sessions (default N/2) run at the default speed (``space``) while the others
  press ``n`` (one batch; paused, so nothing else is drawn) K times, 0.3 s apart: from sending
  the key to the first screen bytes back; median, p95 (≤ 150 ms) and worst over every key;
* CPU: the share of a core each running session used meanwhile (from /proc), each stepping one
  (its ``n`` keys: one batch and its redraw each; the first key also gives the app the focus,
  a whole-screen repaint) with its CPU per key, and the server's; then, all paused, each
  session's share over a quiet window (an idle paused session: ~0);
* RSS of each session process once the keys were pressed, and of the server;
* bytes per second a running session receives (DESIGN.md's SSH budget: 20 KB/s) from a second
  after its ``space`` (the first second apart: a web app's first key gives it the focus, and
  Textual repaints the whole screen once), and a paused one afterwards (~0);
* that nothing crashed: every session alive and connected to the end, then gone after Ctrl+C,
  and the server's exit code 0.

``--focus-first``: every tab sends textual.js's ``["focus"]`` once all are up and gets 1.5 s for
the repaint it causes, before any key: what a browser does, since keys reach xterm.js only once
the student has clicked into the terminal (without it, each stepping tab's first ``n`` also
carries the focus restyle and whole-screen repaint, ~2x a key's CPU: 15 of the 180 keys).

The stepping tabs' first keys are sent in the same millisecond (all tabs were opened and focused
together): a herd, answered together at about (their keys' CPU + the running sessions') over the
cores, since the kernel shares the CPU among them; their latencies are printed apart. Later keys
spread out by themselves. ``--stagger S``: each stepping tab's first key comes at a random 0..S s
(the same draws every run), as students' keys do; the default 0 keeps the herd (figures comparable
with earlier runs).

The reference run is one session alone, measured the same way in this same process; the ratios
N-sessions / one-session are printed. Prints figures; asserts nothing except "no crash".

With ``--before DIR`` (another checkout, e.g. ``git archive main | tar -x -C /tmp/before``), the
same measurements are made of DIR's code too, alternating before / now ``--pairs`` times (the
machine's load changes less within a pair), and the ratios now / before of each pair are printed:
CPU figures (per session, to the first screen, per key) are the ones to read on a shared machine.

    python bench/serve_load.py [--sessions 30] [--running 15] [--keys 12] [--size 120x40]
                               [--before DIR [--pairs 2]] [--focus-first] [--stagger S]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from serve_helpers import alive, rss_mb, start_server  # noqa: E402

DEADLINE = 600.0  # seconds: the whole load test never runs longer
QUIET = 4.0        # seconds: the window over which every paused, idle session's CPU is read


def import_dir(root: Path) -> Path:
    """A folder whose ``mbsim`` is ``root`` (a symlink): first on the server's PYTHONPATH, so
    ``python -m mbsim serve`` (its fork server and sessions) runs that checkout's code whatever
    checkout is installed (an editable install's finder comes after the path's)."""
    d = Path(tempfile.gettempdir()) / f"mbsim-serve-bench-{os.getpid()}-{abs(hash(str(root)))}"
    d.mkdir(exist_ok=True)
    link = d / "mbsim"
    if not link.exists():
        link.symlink_to(root, target_is_directory=True)
    return d


def use_checkout(root: Path) -> None:
    """Servers started from now on run ``root``'s code (see :func:`import_dir`)."""
    os.environ["PYTHONPATH"] = str(import_dir(root)) + os.pathsep + BASE_PYTHONPATH


BASE_PYTHONPATH = os.environ.get("PYTHONPATH", "")


@dataclass
class Session:
    ws: aiohttp.ClientWebSocketResponse
    latencies: list[float] = field(default_factory=list)
    first_sent: float = 0.0  # when its first key was sent (time.monotonic)
    key_bytes: int = 0
    key_seconds: float = 0.0
    run_bytes: int = 0
    first_bytes: int = 0    # within FIRST_SECOND of its space (the first key's own repaint)
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


async def press_keys(s: Session, keys: int, settle: float, delay: float = 0.0) -> None:
    """``n`` ``keys`` times: latency to the first bytes back, then what follows within ``settle``;
    the first key ``delay`` seconds after the others' would be (see ``--stagger``)."""
    await drain(s.ws, 0.5 + delay)  # whatever the first frame left behind
    start = time.monotonic()
    for i in range(keys):
        sent = time.monotonic()
        if i == 0:
            s.first_sent = sent
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far (/proc/PID/stat fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


FIRST_SECOND = 1.0   # a running session's bytes are counted from this long after its space
FOCUS_SETTLE = 1.5   # seconds the tabs' focus repaints get (--focus-first) before any key


async def keep_reading(s: Session, stop: asyncio.Event) -> None:
    """A running session's screen bytes until ``stop`` (read, so the app is never held back).

    The first :data:`FIRST_SECOND` after its ``space`` are counted apart (``first_bytes``): a web
    app's first key gives it the focus, and Textual then repaints the whole screen once (~40 KB
    at 120×40); the running rate (DESIGN.md's 20 KB/s) is what follows."""
    start = time.monotonic()
    steady = start + FIRST_SECOND
    while not stop.is_set():
        try:
            msg = await asyncio.wait_for(s.ws.receive(), 0.2)
        except asyncio.TimeoutError:
            continue
        if msg.type == aiohttp.WSMsgType.BINARY:
            if time.monotonic() < steady:
                s.first_bytes += len(msg.data)
            else:
                s.run_bytes += len(msg.data)
        elif msg.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"session closed: {msg}")
    s.run_seconds = max(1e-9, time.monotonic() - steady)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def measure(n: int, running: int, keys: int, cols: int, rows: int,
                  focus_first: bool = False, stagger: float = 0.0) -> dict:
    server = start_server("--max-sessions", str(max(n, 1)))
    try:
        async with aiohttp.ClientSession() as client:
            helpers = [server.proc.pid, *([fork] if (fork := server.fork_server()) else [])]
            helpers_cpu = sum(cpu_seconds(pid) for pid in helpers)
            t0 = time.monotonic()
            sessions = await asyncio.gather(*(connect(server.url, client, cols, rows)
                                              for _ in range(n)))
            all_up = time.monotonic() - t0
            pids = server.sessions()
            start_cpu = statistics.median(cpu_seconds(pid) for pid in pids)
            # the whole burst's CPU: every session's so far (a forked one's from its fork), the
            # server's and its fork server's meanwhile; over the cores, the burst of an idle machine
            burst_cpu = (sum(cpu_seconds(pid) for pid in pids)
                         + sum(cpu_seconds(pid) for pid in helpers) - helpers_cpu)
            if focus_first:  # each student clicks into the page's terminal (textual.js: "focus")
                for s in sessions:
                    await s.ws.send_json(["focus"])
                await asyncio.gather(*(drain(s.ws, FOCUS_SETTLE) for s in sessions))
            runners, steppers = sessions[:running], sessions[running:]
            stop = asyncio.Event()
            for s in runners:
                await s.ws.send_json(["stdin", " "])
            readers = [asyncio.ensure_future(keep_reading(s, stop)) for s in runners]
            await asyncio.sleep(1.0 if runners else 0.0)  # running is under way
            cpu0 = {pid: cpu_seconds(pid) for pid in [*pids, server.proc.pid]}
            c0 = time.monotonic()
            rng = random.Random(24)  # the same delays in every run (before and now alike)
            await asyncio.gather(*(press_keys(s, keys, 0.3, rng.uniform(0.0, stagger))
                                   for s in steppers))
            wall = time.monotonic() - c0
            cpu = {pid: (cpu_seconds(pid) - was) / wall for pid, was in cpu0.items()}
            rss = [rss_mb(pid) for pid in pids]
            stop.set()
            await asyncio.gather(*readers)
            for s in runners:
                await s.ws.send_json(["stdin", " "])
            quiet = await asyncio.gather(*(drain(s.ws, 1.0) for s in sessions))
            idle0 = {pid: cpu_seconds(pid) for pid in pids}
            q0 = time.monotonic()
            quiet = await asyncio.gather(*(drain(s.ws, QUIET) for s in sessions))
            quiet_wall = time.monotonic() - q0
            idle = [(cpu_seconds(pid) - was) / quiet_wall for pid, was in idle0.items()]
            alive_before_stop = sum(alive(pid) for pid in pids)
            connected = sum(not s.ws.closed for s in sessions)
            server_rss = rss_mb(server.proc.pid)
            code = server.stop()
            for s in sessions:
                await s.ws.close()
    finally:
        if server.proc.poll() is None:
            server.stop()
    latencies = [x for s in steppers for x in s.latencies]
    later = [x for s in steppers for x in s.latencies[1:]]  # each tab's first key left out
    firsts = [s.latencies[0] for s in steppers]
    first_sent = [s.first_sent for s in steppers]
    session_cpu = sorted((cpu[pid] for pid in pids), reverse=True)
    # the stepping sessions' CPU per key: their CPU over the window, over the keys each pressed
    stepping = session_cpu[running:]
    per_key = [share * wall / keys for share in stepping]
    return {
        "sessions": n, "running": running, "pids": len(pids), "all_up_s": all_up,
        "focus_first": focus_first,
        "start_cpu_s": start_cpu, "burst_cpu_s": burst_cpu,
        "rss_median": statistics.median(rss), "rss_max": max(rss), "server_rss": server_rss,
        "lat_median_ms": 1000 * statistics.median(latencies),
        "lat_p95_ms": 1000 * percentile(latencies, 0.95), "lat_max_ms": 1000 * max(latencies),
        "lat_p95_later_ms": 1000 * percentile(later, 0.95) if later else 0.0,
        "stagger": stagger, "first_spread_ms": 1000 * (max(first_sent) - min(first_sent)),
        "first_min_ms": 1000 * min(firsts), "first_median_ms": 1000 * statistics.median(firsts),
        "first_max_ms": 1000 * max(firsts),
        "cpu_running": statistics.median(session_cpu[:running]) if running else 0.0,
        "cpu_stepping": statistics.median(stepping) if stepping else 0.0,
        "cpu_per_key_ms": 1000 * statistics.median(per_key) if per_key else 0.0,
        "cpu_idle": statistics.fmean(idle), "cpu_idle_max": max(idle),
        "cpu_server": cpu[server.proc.pid],
        "run_Bps": statistics.median(s.run_bytes / s.run_seconds for s in runners) if runners else 0,
        "first_bytes": statistics.median(s.first_bytes for s in runners) if runners else 0,
        "paused_Bps": max(q / QUIET for q in quiet),
        "alive": alive_before_stop, "connected": connected, "exit": code,
        "left_after_stop": sum(alive(pid) for pid in pids),
    }


def report(r: dict) -> None:
    print(f"  {r['sessions']} session(s), {r['running']} running: all up in {r['all_up_s']:.1f} s "
          f"(CPU to its first screen {r['start_cpu_s']:.2f} s a session, median); RSS per session "
          f"median {r['rss_median']:.0f} MB, max {r['rss_max']:.0f} MB (server {r['server_rss']:.0f} MB)")
    print(f"    key latency median {r['lat_median_ms']:.0f} ms, p95 {r['lat_p95_ms']:.0f} ms, "
          f"worst {r['lat_max_ms']:.0f} ms; CPU per running session {100 * r['cpu_running']:.1f} % "
          f"of a core, per stepping one {100 * r['cpu_stepping']:.1f} % "
          f"({r['cpu_per_key_ms']:.0f} ms a key, n), server {100 * r['cpu_server']:.1f} %")
    print(f"    the burst's CPU: {r['burst_cpu_s']:.2f} CPU-s (sessions, server, fork server), "
          f"{r['burst_cpu_s'] / (os.cpu_count() or 1):.2f} s over {os.cpu_count()} idle cores")
    print(f"    key latency p95 without each tab's first key: {r['lat_p95_later_ms']:.0f} ms")
    if r["sessions"] - r["running"] > 1:
        print(f"    each stepping tab's first key: the {r['sessions'] - r['running']} sent within "
              f"{r['first_spread_ms']:.0f} ms of each other (--stagger {r['stagger']:g}), answered in "
              f"{r['first_min_ms']:.0f}-{r['first_max_ms']:.0f} ms (median {r['first_median_ms']:.0f})")
    print(f"    all paused, {QUIET:g} s quiet: CPU per session mean {100 * r['cpu_idle']:.2f} %, "
          f"max {100 * r['cpu_idle_max']:.2f} % of a core")
    print(f"    bytes/s per running session {r['run_Bps'] / 1024:.1f} KB/s from {FIRST_SECOND:g} s after "
          f"its space (the first second: {r['first_bytes'] / 1024:.0f} KB, with the whole-screen repaint "
          f"of a web app's first focus); paused afterwards {r['paused_Bps']:.0f} B/s")
    print(f"    crashes: {r['sessions'] - r['alive']} sessions died, "
          f"{r['sessions'] - r['connected']} disconnected; after Ctrl+C: server exit "
          f"{r['exit']}, {r['left_after_stop']} session processes left")


def print_run(ref: dict, load: dict, cols: int, rows: int, label: str = "") -> bool:
    """One run's figures (the reference session, the class); True if anything crashed."""
    print(f"mbsim serve under load{label}, {cols}x{rows}, loopback, {os.cpu_count()} cores; "
          "reference = one session alone" + ("; each tab focused before its keys (--focus-first)"
                                             if ref.get("focus_first") else ""))
    report(ref)
    report(load)
    print(f"  ratios {load['sessions']} sessions / 1: RSS per session "
          f"{load['rss_median'] / ref['rss_median']:.2f}x, key latency median "
          f"{load['lat_median_ms'] / ref['lat_median_ms']:.1f}x, p95 "
          f"{load['lat_p95_ms'] / ref['lat_p95_ms']:.1f}x; burst {load['sessions']} tabs / 1 tab "
          f"{load['all_up_s'] / ref['all_up_s']:.1f}x")
    print(f"  budgets (DESIGN.md): key latency p95 {load['lat_p95_ms']:.0f} ms (≤ 150), "
          f"{load['sessions']} tabs up in {load['all_up_s']:.1f} s (≤ 3)")
    crashed = bool(load["alive"] != load["sessions"] or load["connected"] != load["sessions"]
                   or load["exit"] != 0 or load["left_after_stop"] or ref["left_after_stop"])
    print("  result: " + ("CRASH (see above)" if crashed else "nothing crashed"))
    return crashed


#: (key, what) of the figures compared now / before with --before.
PAIRED = (("start_cpu_s", "CPU to a session's first screen"), ("all_up_s", "burst, all up"),
          ("burst_cpu_s", "the burst's CPU (all processes)"),
          ("cpu_running", "CPU per running session"), ("cpu_per_key_ms", "CPU per n key"),
          ("cpu_idle", "CPU per paused idle session"), ("cpu_server", "server CPU"),
          ("lat_median_ms", "key latency median"), ("lat_p95_ms", "key latency p95"),
          ("lat_p95_later_ms", "key latency p95, first keys left out"),
          ("first_median_ms", "each tab's first key, median"),
          ("rss_median", "RSS per session"))


def print_pairs(pairs: list[tuple[dict, dict]]) -> None:
    """now / before of each figure, each pair (measured one after the other) and their median."""
    print(f"now / before, {len(pairs)} pair(s) of runs of {pairs[0][0]['sessions']} sessions "
          "(below 1: now is cheaper or faster)")
    for key, what in PAIRED:
        ratios = [now[key] / before[key] for before, now in pairs if before[key] > 0]
        values = "; ".join(f"{before[key]:.3g} -> {now[key]:.3g}" for before, now in pairs)
        if ratios:
            print(f"  {what}: {values}  ratio {statistics.median(ratios):.2f} "
                  f"({', '.join(f'{r:.2f}' for r in ratios)})")
        else:
            print(f"  {what}: {values}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--running", type=int, default=None, help="default: half the sessions")
    parser.add_argument("--keys", type=int, default=12)
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--before", default=None, metavar="DIR",
                        help="another checkout measured alternately with this one, paired")
    parser.add_argument("--pairs", type=int, default=1, help="with --before: pairs of runs (1..5)")
    parser.add_argument("--focus-first", action="store_true",
                        help="every tab sends textual.js's focus (a click into the terminal, "
                             "which a browser needs before any key reaches it) once it is up, "
                             "1.5 s before the keys; without it the first key gives the focus")
    parser.add_argument("--stagger", type=float, default=0.0, metavar="S",
                        help="each stepping tab presses its first key at a random 0..S s (the same "
                             "draws in every run) instead of all in the same millisecond (default 0)")
    args = parser.parse_args()
    running = args.sessions // 2 if args.running is None else args.running
    if not 2 <= args.sessions <= 60 or not 1 <= args.keys <= 100 or not 0 <= running < args.sessions:
        parser.error("--sessions 2..60, --running below --sessions, --keys 1..100 (a bounded test)")
    if not 0.0 <= args.stagger <= 10.0:
        parser.error("--stagger 0..10 seconds (a bounded test)")
    if not 1 <= args.pairs <= 5:
        parser.error("--pairs 1..5 (a bounded test)")
    try:
        cols, rows = (int(x) for x in args.size.split("x"))
    except ValueError:
        parser.error("--size COLSxROWS, e.g. 120x40")
    before = Path(args.before).resolve() if args.before else None
    if before is not None and not (before / "tui" / "webserve.py").is_file():
        parser.error(f"--before {args.before}: not a checkout of mbsim (no tui/webserve.py)")

    async def both():
        ref = await asyncio.wait_for(measure(1, 0, args.keys, cols, rows, args.focus_first,
                                             args.stagger), DEADLINE)
        load = await asyncio.wait_for(measure(args.sessions, running, args.keys, cols, rows,
                                              args.focus_first, args.stagger), DEADLINE)
        return ref, load

    if before is None:
        use_checkout(ROOT)
        ref, load = asyncio.run(both())
        return 1 if print_run(ref, load, cols, rows) else 0
    crashed, pairs = False, []
    for i in range(args.pairs):
        runs = {}
        for label, root in (("before", before), ("now", ROOT)):
            use_checkout(root)
            runs[label] = asyncio.run(both())
            crashed |= print_run(*runs[label], cols, rows, f" ({label}: {root}, pair {i + 1})")
        pairs.append((runs["before"][1], runs["now"][1]))
    print_pairs(pairs)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
