"""The noise cloud (K = 100 runs) at 120×40: screen updates and panel frames per second at
max speed, next to the main screen's in the same process (the ratio), and the bytes per
second it writes to a real terminal at the default speed (as bench/tui_bytes.py counts them).

Budgets (DESIGN.md, issue 11): ≥ 10 screen updates per second at max speed; ≤ 20 KB/s on the
wire at the default speed. Prints figures, asserts nothing.

    python bench/cloud.py [--seconds 4] [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/ holds engine.py and tui.py: make `import engine` and `import tui` find the packages
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from mbsim.engine import Scenario  # noqa: E402
from mbsim.tui.app import MbsimApp  # noqa: E402

SIZE = (120, 40)


def _bench_module(name: str):  # noqa: ANN202
    """A sibling benchmark script as a module (bench/tui.py would shadow the tui package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def at_max_speed(cloud: bool, runs: int, seconds: float) -> tuple[float, float, float]:
    """(screen updates/s, panel frames/s, ticks/s) of the main screen or the cloud at max speed."""
    app = MbsimApp(Scenario(epochs=100_000), paused=True, speed="max", runs=runs)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if cloud:
            await pilot.press("k")
            await pilot.pause(0.5)
        host = app.screen if cloud else app
        updates = _bench_module("tui").count_screen_updates(app)
        await pilot.press("space")
        await asyncio.sleep(0.5)  # warm up
        f0, u0, i0, t0 = host.frames, updates[0], host.iterations_run, time.perf_counter()
        await asyncio.sleep(seconds)  # (pilot.pause would also wait for idleness, which never comes)
        dt = time.perf_counter() - t0
        result = ((updates[0] - u0) / dt, (host.frames - f0) / dt, (host.iterations_run - i0) / dt)
        await pilot.press("space")
        return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--runs", type=int, default=100)
    ns = ap.parse_args()
    main_u, main_f, main_i = asyncio.run(at_max_speed(False, ns.runs, ns.seconds))
    cloud_u, cloud_f, cloud_i = asyncio.run(at_max_speed(True, ns.runs, ns.seconds))
    print(f"max speed for {ns.seconds:g} s at {SIZE[0]}×{SIZE[1]}:")
    print(f"  main screen (1 run):    {main_u:6.1f} screen updates/s, {main_f:6.1f} frames/s, {main_i:9,.0f} steps/s")
    print(f"  noise cloud (K={ns.runs}):  {cloud_u:6.1f} screen updates/s, {cloud_f:6.1f} frames/s, "
          f"{cloud_i:9,.0f} ticks/s ({cloud_i * ns.runs:,.0f} member steps/s)")
    print(f"  ratio cloud/main: updates {cloud_u / max(main_u, 1e-9):.2f}, frames {cloud_f / max(main_f, 1e-9):.2f}"
          f"   (budget ≥ 10 updates/s: {cloud_u / 10:.2f}×)")

    tui_bytes = _bench_module("tui_bytes")
    cols, rows = SIZE
    wire = {}
    for label, keys in (("main screen", (b" ",)), ("noise cloud", (b"k", b" "))):
        wire[label] = tui_bytes.measure(["--paused", "--runs", str(ns.runs)], ns.seconds * 2, 2.0, cols, rows, keys)
    print(f"on a pty at {cols}×{rows}, default speed, {ns.seconds * 2:g} s after a 2 s warm-up:")
    for label, r in wire.items():
        print(f"  {label}: {r['kb_per_s']:6.2f} KB/s   ({r['kb_per_s'] / 20:.2f}× the 20 KB/s budget)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
