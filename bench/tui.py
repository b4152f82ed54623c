"""The TUI at full speed, under ``App.run_test(size=(120, 40))``: prints figures, asserts nothing.

Budgets (DESIGN.md): at max speed the engine keeps ≥ 10,000 steps/s while the screen updates
≥ 10 times/s; a key answers within 100 ms; the cost of a frame does not grow with the length of
the history (1k vs 1M steps).

    python bench/tui.py [--seconds 4] [--long 1000000]

``--long`` is the length of the long history; building it runs the engine headless first
(about a minute for 1M steps).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from mbsim.engine import Scenario, Simulation  # noqa: E402
from mbsim.tui.app import MbsimApp  # noqa: E402

SIZE = (120, 40)


def count_screen_updates(app: MbsimApp) -> list[int]:
    """Count the screen updates Textual composes (headless, it composes them but writes nothing)."""
    counter = [0]
    display = app._display

    def counted(screen, renderable):  # noqa: ANN001
        if renderable is not None:
            counter[0] += 1
        return display(screen, renderable)

    app._display = counted
    return counter


async def full_speed(seconds: float) -> None:
    app = MbsimApp(Scenario(epochs=100_000), paused=True, speed="max")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        updates = count_screen_updates(app)
        await pilot.press("space")
        await asyncio.sleep(0.5)  # warm up
        it0, frames0, plots0, updates0 = app.iterations_run, app.frames, app.plot_frames, updates[0]
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)  # (pilot.pause would also poll for idleness, which it never is)
        elapsed = time.perf_counter() - t0
        iterations = app.iterations_run - it0
        n_updates = updates[0] - updates0
        frames, plots = app.frames - frames0, app.plot_frames - plots0
        # key latency while running flat out: from the key event arriving to the run stopping
        latencies = []
        for _ in range(20):
            t = time.perf_counter()
            app.post_message(events.Key("space", " "))
            while app.running:
                await asyncio.sleep(0.001)
            latencies.append(time.perf_counter() - t)
            app.post_message(events.Key("space", " "))
            while not app.running:
                await asyncio.sleep(0.001)
            await asyncio.sleep(0.2 + 0.0123 * len(latencies))  # land at different points of a frame
        app.pause()
        print(f"max speed for {elapsed:.1f} s at {SIZE[0]}×{SIZE[1]}:")
        print(f"  engine:          {iterations / elapsed:10,.0f} steps/s   (budget ≥ 10,000: "
              f"{iterations / elapsed / 10_000:.2f}×)")
        print(f"  screen updates:  {n_updates / elapsed:10.1f} /s        (budget ≥ 10: "
              f"{n_updates / elapsed / 10:.2f}×)")
        print(f"  frames (panels): {frames / elapsed:10.1f} /s, plot draws {plots / elapsed:.1f} /s")
        print(f"  key latency:     {1000 * max(latencies):10.1f} ms worst of {len(latencies)} "
              f"(median {1000 * statistics.median(latencies):.1f} ms; budget ≤ 100 ms)")

    # headless engine alone, for the ratio
    sim = Simulation(Scenario(epochs=100_000))
    t = time.perf_counter()
    n = sim.run_iterations(20_000)
    headless = n / (time.perf_counter() - t)
    print(f"  engine headless: {headless:10,.0f} steps/s → the TUI keeps {iterations / elapsed / headless:.0%}")


async def frame_cost(sim: Simulation, frames: int = 60) -> tuple[float, float]:
    """Median seconds of (every panel's ``show`` after one step, that plus Textual composing the
    screen) — the first is the app's own work, the second what a frame costs in all."""
    app = MbsimApp(sim, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        updates = count_screen_updates(app)
        shows, totals = [], []
        for _ in range(frames):
            sim.step_iteration()
            before = updates[0]
            t = time.perf_counter()
            app.redraw(force=True)
            shows.append(time.perf_counter() - t)
            while updates[0] == before:  # until Textual has composed the update
                await asyncio.sleep(0.0005)
            totals.append(time.perf_counter() - t)
            await pilot.pause()
    return statistics.median(shows), statistics.median(totals)


def history_of(steps: int) -> Simulation:
    epochs = steps // 40 + 10
    sim = Simulation(Scenario(epochs=epochs))
    t = time.perf_counter()
    done = 0
    while done < steps:
        done += sim.run_iterations(min(100_000, steps - done))
        if steps >= 100_000:
            print(f"\r  building a history of {steps:,} steps: {done:,}", end="", flush=True, file=sys.stderr)
    if steps >= 100_000:
        print(f" ({time.perf_counter() - t:.0f} s)", file=sys.stderr)
    return sim


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--long", type=int, default=1_000_000)
    ns = ap.parse_args()
    asyncio.run(full_speed(ns.seconds))
    print("cost of a frame (one step, every panel redrawn; then with the screen composed):")
    short = asyncio.run(frame_cost(history_of(1_000)))
    print(f"  with 1k steps of history:   show {1000 * short[0]:7.2f} ms   composed {1000 * short[1]:7.2f} ms")
    long_sim = history_of(ns.long)
    long = asyncio.run(frame_cost(long_sim))
    print(f"  with {ns.long / 1e6:g}M steps of history:   show {1000 * long[0]:7.2f} ms   composed {1000 * long[1]:7.2f} ms")
    print(f"  ratio long/short: show {long[0] / short[0]:.2f}, composed {long[1] / short[1]:.2f} (budget: flat, ~1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
