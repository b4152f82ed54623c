"""Under ``mbsim serve`` a running session yields the CPU to key presses (tui/web_priority.py).

A forked web session gives its own autogroup the nice value RUNNING_NICE while it runs and 0
while paused; the kernel's one-write-per-100-ms limit (EAGAIN) is retried, a student toggling
space quickly causes at most one write per MIN_GAP, and anything else the kernel refuses turns
the mechanism off. Nothing here is timed: what is checked is what gets written, and (where the
kernel has autogroups on) what /proc says of a real session.
"""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import aiohttp
import pytest

from mbsim.tui import web_priority
from mbsim.tui.web_priority import MIN_GAP, RUNNING_NICE, RunPriority
from serve_helpers import start_server, wait_until
from test_serve import open_session


class Host:
    """A stand-in for a run loop: only ``running`` is read."""

    def __init__(self) -> None:
        self.running = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def priority(fail: list[int] | None = None) -> tuple[RunPriority, list[int], Clock]:
    """An enabled RunPriority writing into a list; ``fail`` lists errnos to raise first."""
    written: list[int] = []
    fail = list(fail or [])

    def writer(nice: int) -> None:
        if fail:
            raise OSError(fail.pop(0), "refused")
        written.append(nice)

    clock = Clock()
    p = RunPriority(writer, clock)
    p.enabled = True
    return p, written, clock


def toggle(p: RunPriority, host: Host, running: bool) -> None:
    host.running = running
    p.running_changed(host)


def test_running_writes_the_running_nice_and_pausing_writes_zero():
    p, written, clock = priority()
    a, b = Host(), Host()
    toggle(p, a, True)
    assert written == [RUNNING_NICE]
    clock.now += 1
    toggle(p, b, True)                 # another run loop (a screen) runs too: nothing to write
    toggle(p, a, False)                # one still runs
    assert written == [RUNNING_NICE] and p.applied == RUNNING_NICE
    toggle(p, b, False)
    assert written == [RUNNING_NICE, 0] and p.applied == 0


def test_outside_a_web_session_nothing_is_written():
    p, written, _ = priority()
    p.enabled = False
    toggle(p, Host(), True)
    assert written == [] and p.applied == 0
    assert web_priority.PRIORITY.enabled is False   # this test process is not a forked session


def test_a_refusal_other_than_eagain_turns_it_off():
    p, written, clock = priority(fail=[errno.EPERM])
    host = Host()
    toggle(p, host, True)
    assert p.enabled is False and written == []
    clock.now += 10
    toggle(p, host, False)
    toggle(p, host, True)
    assert written == []


async def test_eagain_is_retried_until_the_value_is_in_place():
    p, written, clock = priority(fail=[errno.EAGAIN, errno.EAGAIN])
    host = Host()
    toggle(p, host, True)
    assert written == [] and p.applied == 0          # refused for now: a retry is scheduled
    for _ in range(200):                             # the retries come from the event loop
        if written:
            break
        await asyncio.sleep(0.05)
    assert written == [RUNNING_NICE] and p.applied == RUNNING_NICE


async def test_space_toggled_fast_writes_at_most_once_per_gap_and_ends_as_wanted():
    p, written, clock = priority()
    host = Host()
    for i in range(101):               # 101 toggles at one instant of the (fake) clock: ends running
        toggle(p, host, i % 2 == 0)
    assert written == [RUNNING_NICE]   # the first; the others wait for MIN_GAP
    clock.now += MIN_GAP               # the gap has passed for the (real-time) retry
    toggle(p, host, False)             # paused at last: 0 wanted, written after the gap
    for _ in range(200):
        if p.applied == 0:
            break
        await asyncio.sleep(0.05)
    assert written == [RUNNING_NICE, 0]


def autogroups_shown() -> bool:
    """The kernel has autogroups on and shows this process's as sched(7) says (a CI machine's
    emulated /proc showed the file empty: there the mechanism stays off, see the test below)."""
    return web_priority.autogroups_on() and web_priority.autogroup_nice() is not None


def autogroup_nice(pid: int) -> int:
    nice = web_priority.autogroup_nice(pid)
    assert nice is not None, f"/proc/{pid}/autogroup does not read as /autogroup-N nice K"
    return nice


@pytest.mark.parametrize("enabled, shown, on", [
    ("1\n", "/autogroup-7 nice 0\n", True),
    ("1\n", "/autogroup-7 nice 10\n", True),
    ("0\n", "/autogroup-7 nice 0\n", False),      # autogroups off
    ("1\n", "", False),                          # an emulated /proc: the file is there but empty
    ("1\n", "/autogroup-7\n", False),
    ("1\n", "/autogroup-7 nice ten\n", False),
    ("1\n", None, False),                        # no such file
    (None, "/autogroup-7 nice 0\n", False),
])
def test_the_mechanism_is_on_only_where_the_kernel_shows_autogroups(tmp_path, monkeypatch,
                                                                    enabled, shown, on):
    (tmp_path / "self").mkdir()
    (tmp_path / "sys" / "kernel").mkdir(parents=True)
    if enabled is not None:
        (tmp_path / "sys/kernel/sched_autogroup_enabled").write_text(enabled)
    if shown is not None:
        (tmp_path / "self/autogroup").write_text(shown)
    monkeypatch.setattr(web_priority, "PROC", str(tmp_path))
    monkeypatch.setattr(web_priority, "AUTOGROUP", str(tmp_path / "self/autogroup"))
    monkeypatch.setattr(web_priority, "AUTOGROUP_ENABLED",
                        str(tmp_path / "sys/kernel/sched_autogroup_enabled"))
    p = RunPriority(lambda nice: None)
    p.enable()
    assert p.enabled is on
    if on:
        assert web_priority.autogroup_nice() == int(shown.split()[-1])


@pytest.mark.skipif(not autogroups_shown(), reason="the kernel has no autogroups (or they are off, "
                    "or /proc does not show them): the mechanism is off there (test above)")
async def test_a_served_session_runs_at_the_running_nice_and_pauses_at_zero():
    server = start_server("--max-sessions", "2")
    try:
        async with aiohttp.ClientSession() as client:
            ws = await open_session(server.url, client, cols=100, rows=30)
            (pid,) = server.sessions()
            server_nice = autogroup_nice(server.proc.pid)
            assert autogroup_nice(pid) == 0
            await ws.send_json(["stdin", " "])                  # run
            wait_until(lambda: autogroup_nice(pid) == RUNNING_NICE, "the running session yields")
            await ws.send_json(["stdin", " "])                  # pause
            wait_until(lambda: autogroup_nice(pid) == 0, "the paused session claims its share")
            assert autogroup_nice(server.proc.pid) == server_nice   # only its own group's
            await ws.close()
        wait_until(lambda: server.sessions() == [], "the session ends with its websocket")
    finally:
        assert server.stop() == 0
