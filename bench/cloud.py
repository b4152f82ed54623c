"""The noise cloud's frames per second at 120×40 while running K = 100 at max speed, and the
bytes per second written to the terminal at the default speed (as bench/tui_bytes.py counts).

Prints the screen updates per second (DESIGN.md budget: ≥ 10) next to the main screen's in the
same process (the ratio), and the wire's bytes per second (budget ≤ 20 KB/s)."""

from __future__ import annotations

import asyncio
import time

from engine import Scenario
from tui.app import MbsimApp


async def measure(cloud: bool, speed, seconds: float = 3.0) -> tuple[float, float, int]:  # noqa: ANN001
    app = MbsimApp(Scenario(), speed=speed, runs=100)
    written = [0]
    async with app.run_test(size=(120, 40)) as pilot:
        driver = app._driver
        orig = driver.write

        def write(data: str) -> None:
            written[0] += len(data.encode())
            orig(data)

        driver.write = write
        if cloud:
            await pilot.press("k")
            await pilot.pause(0.5)
        host = app.screen if cloud else app
        await pilot.press("space")
        await pilot.pause(0.3)
        f0, b0, i0, t0 = host.frames, written[0], host.iterations_run, time.perf_counter()
        await pilot.pause(seconds)
        dt = time.perf_counter() - t0
        fps = (host.frames - f0) / dt
        return fps, (written[0] - b0) / dt, host.iterations_run - i0


def main() -> None:
    main_fps, _, main_it = asyncio.run(measure(False, None))
    cloud_fps, _, cloud_it = asyncio.run(measure(True, None))
    _, cloud_bytes, _ = asyncio.run(measure(True, 10))
    print(f"main screen, max speed: {main_fps:.1f} frames/s ({main_it} steps in 3 s)")
    print(f"noise cloud K=100, max speed: {cloud_fps:.1f} frames/s ({cloud_it} ticks of 100 runs in 3 s)"
          f"  ratio cloud/main {cloud_fps / max(main_fps, 1e-9):.2f}  (budget >= 10 frames/s)")
    print(f"noise cloud K=100, default speed x10: {cloud_bytes / 1000:.1f} KB/s on the wire (budget <= 20 KB/s)")


if __name__ == "__main__":
    main()
