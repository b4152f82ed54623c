"""Keys answer whatever is running (issue 23 item 11): at max speed the frame loop gives way to
Textual between frames, so a key is handled before the next frame or the one after — counted in
frames, not in seconds (the machine may be slow; the frame count is what the loop decides)."""

from __future__ import annotations

import asyncio

from textual import events

from mbsim.engine import Scenario
from mbsim.tui.app import MbsimApp

SIZE = (141, 80)
FRAMES = 2      # a key posted during a frame is handled before the frame after next at the latest


def count_frames(host) -> list[int]:  # noqa: ANN001
    """Count the frames (``_tick``) of a run loop host from now on."""
    counter = [0]
    tick = host._tick

    def counted() -> None:
        counter[0] += 1
        tick()

    host._tick = counted
    return counter


async def frames_until(host, key: str, character: str | None, done) -> int:  # noqa: ANN001
    """Post ``key`` to the app while ``host`` runs flat out; the frames that ran before ``done()``."""
    counter = count_frames(host)
    for _ in range(5):                       # a few frames first, so the key lands mid-run
        start = counter[0]
        while counter[0] == start:
            await asyncio.sleep(0.001)
    before = counter[0]
    host.app.post_message(events.Key(key, character))
    while not done():
        assert counter[0] - before <= 50, "the key was not handled while frames kept running"
        await asyncio.sleep(0.001)
    return counter[0] - before


async def test_space_pauses_within_a_frame_at_max_speed() -> None:
    app = MbsimApp(Scenario(epochs=100_000), paused=True, speed="max")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("space")
        assert app.running and app.speed is None
        frames = await frames_until(app, "space", " ", lambda: not app.running)
        assert frames <= FRAMES
        iteration = app.sim.iteration
        await pilot.pause()
        assert app.sim.iteration == iteration       # paused: nothing ran after the key


async def test_a_speed_key_acts_within_a_frame_at_max_speed() -> None:
    app = MbsimApp(Scenario(epochs=100_000), paused=True, speed="max")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("space")
        frames = await frames_until(app, "minus", "-", lambda: app.speed is not None)
        assert frames <= FRAMES
        assert app.running and app.speed == 1000


async def test_the_noise_cloud_pauses_within_a_frame_at_max_speed() -> None:
    app = MbsimApp(Scenario(samples=400, batch_size=4, epochs=10_000), paused=True, speed="max", runs=50)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("k")
        await pilot.pause()
        screen = app.screen
        assert screen.speed is None
        await pilot.press("space")
        assert screen.running
        frames = await frames_until(screen, "space", " ", lambda: not screen.running)
        assert frames <= FRAMES
