"""Where a session's memory goes (issue 24): bench/session.py's session under tracemalloc.

One case, in this process: the main screen run, then each view opened and closed in turn, as
``bench/session.py`` does. A thread polls the traced memory every few milliseconds and, each
time it passes the highest seen so far in the current view, snapshots the allocations; at the
end of each view the allocations of its peak snapshot are printed grouped by the first line
of mbsim's own code in their traceback (the place to fix), largest first, next to the
allocations still held after the view closed.

    python bench/session_trace.py 1m [--seconds 2] [--top 12] [--views lens,phase,...]

Slower than the plain session (tracemalloc's bookkeeping); the peak of a transient shorter
than the polling interval can be missed: the figure is a lower bound of the true peak.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import session as bench_session  # noqa: E402

FRAMES = 25


class Poller:
    """Snapshots the traced allocations at the highest traced memory since :meth:`reset`."""

    def __init__(self, every: float = 0.003) -> None:
        self.every = every
        self.best = 0
        self.snapshot: tracemalloc.Snapshot | None = None
        self._stop = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop:
            current = tracemalloc.get_traced_memory()[0]
            if current > self.best * 1.02 + (1 << 20):
                with self._lock:
                    snap = tracemalloc.take_snapshot()
                    self.best = current
                    self.snapshot = snap
            time.sleep(self.every)

    def reset(self) -> tuple[int, tracemalloc.Snapshot | None]:
        with self._lock:
            out = (self.best, self.snapshot)
            self.best = tracemalloc.get_traced_memory()[0]
            self.snapshot = None
            tracemalloc.reset_peak()
        return out

    def stop(self) -> None:
        self._stop = True


def where(tb: tracemalloc.Traceback) -> str:
    """The innermost line of mbsim's code in ``tb`` (else the innermost line)."""
    root = str(ROOT)
    frames = list(reversed(list(tb)))   # tracemalloc: oldest first
    for frame in frames:
        if frame.filename.startswith(root) and "/bench/" not in frame.filename:
            return f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno}"
    f = frames[0]
    return f"{f.filename}:{f.lineno}"


def table(snap: tracemalloc.Snapshot | None, top: int) -> list[str]:
    if snap is None:
        return ["  (no snapshot)"]
    sizes: dict[str, int] = {}
    for stat in snap.statistics("traceback"):
        key = where(stat.traceback)
        sizes[key] = sizes.get(key, 0) + stat.size
    total = sum(sizes.values())
    rows = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return [f"  total {total / 2**20:7.1f} MB"] + [f"  {b / 2**20:7.1f} MB  {k}" for k, b in rows]


async def traced(case: str, seconds: float, top: int) -> None:
    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()
    from mbsim.engine import Simulation
    from mbsim.engine.rules import TUI_POLICY
    from mbsim.engine.scenario import DEFAULT, load_preset
    from mbsim.tui.app import MbsimApp

    tracemalloc.start(FRAMES)
    poller = Poller()
    poller.thread.start()
    label, changes, preset = bench_session.case_of(case)
    base = load_preset(preset) if preset else DEFAULT
    scenario = base.replace(**changes).validate() if changes else base
    sim = Simulation(scenario, eval_policy=TUI_POLICY)

    def report(what: str) -> None:
        best, snap = poller.reset()
        rss = bench_session.status_mb("VmRSS")
        print(f"== {what}: traced peak >= {best / 2**20:.1f} MB, held now "
              f"{tracemalloc.get_traced_memory()[0] / 2**20:.1f} MB, RSS {rss:.0f} MB", flush=True)
        print("\n".join(table(snap, top)), flush=True)

    report("data")
    app = MbsimApp(sim, paused=True)
    async with app.run_test(size=bench_session.SIZE) as pilot:
        await pilot.pause()
        await pilot.press("space")
        await asyncio.sleep(seconds)
        await pilot.press("space")
        await pilot.pause()
        report("main")
        for key, close, what in bench_session.VIEWS:
            await pilot.press(key)
            await pilot.pause()
            if what in ("compare", "cloud"):
                await pilot.press("space")
            await asyncio.sleep(seconds)
            if what in ("compare", "cloud"):
                await pilot.press("space")
            await pilot.pause()
            await pilot.press(close)
            await pilot.pause()
            report(what)
            print("  held after closing:", flush=True)
            print("\n".join(table(tracemalloc.take_snapshot(), 6)), flush=True)
    poller.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", help=",".join(bench_session.CASES) + " or PRESET/N/B")
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--views", default=",".join(v[2] for v in bench_session.VIEWS))
    ns = parser.parse_args()
    chosen = ns.views.split(",")
    bench_session.VIEWS[:] = [v for v in bench_session.VIEWS if v[2] in chosen]
    asyncio.run(traced(ns.case, ns.seconds, ns.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
