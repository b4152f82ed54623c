"""Under ``mbsim serve``, a running session yields the CPU to the sessions whose student pressed a key.

A class on one machine: 30 sessions, half of them running at the default speed (a frame every
few tens of ms, ~5 % of a core each), half stepping with keys (~15 ms of CPU a key). When several
keys arrive at once, the kernel shares the cores among every runnable session alike, so each key
waits for the running sessions' frames as much as for the other keys. A running session's frame
can wait a few ms unnoticed; a key's answer is what a student waits for.

So a web session forked by the fork server (:mod:`tui.web_zygote`, which makes it the leader of a
session of its own, hence of an *autogroup* of its own: Linux shares the CPU between autogroups)
gives its autogroup the nice value :data:`RUNNING_NICE` while it runs (weight 110 against 1024
for nice 0: a tenth of a paused session's claim when both want the CPU) and 0 again when it
pauses. Nothing changes when the CPU is free: nice only divides contended time, and 15 running
sessions together still weigh more than a CPU hog at nice 0 (measured: their frames and bytes/s
are unchanged in the class load test; nice 10 against 5 paired: key latency p95 0.86/0.64).

Only ever this process's own autogroup is written (``/proc/self/autogroup``, which an
unprivileged process may set to 0 or above). The kernel allows one such write per 100 ms on the
whole machine to an unprivileged process (``EAGAIN`` otherwise): a write that did not happen is
retried after :data:`RETRY` seconds until the wanted value is in place, and a session writes at most every
:data:`MIN_GAP` seconds, however fast its student toggles space. Where autogroups are off or
absent (``/proc/sys/kernel/sched_autogroup_enabled`` not 1, or ``/proc/self/autogroup`` not in the
form sched(7) gives), or any other error occurs, nothing is done: the session runs as before.
``bench/serve_load.py --focus-first --before DIR`` measures it (the key latency of stepping tabs
while others run).
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import time
import weakref
from typing import Any, Callable

#: The autogroup nice of a running session (0 while paused).
RUNNING_NICE = 10
#: Seconds (drawn between the two) before a write the kernel refused for now (EAGAIN) is tried
#: again: drawn, so that sessions refused together do not all come back together.
RETRY = (0.1, 0.3)
#: Seconds between two writes of one session at most (a student toggling space quickly).
MIN_GAP = 0.25

PROC = "/proc"
AUTOGROUP = PROC + "/self/autogroup"
AUTOGROUP_ENABLED = PROC + "/sys/kernel/sched_autogroup_enabled"


def autogroups_on() -> bool:
    """Whether the kernel says its autogroups are on (``sched_autogroup_enabled`` reads 1)."""
    try:
        with open(AUTOGROUP_ENABLED, encoding="ascii") as f:
            return f.read(16).strip() == "1"
    except (OSError, UnicodeDecodeError):
        return False


def autogroup_nice(pid: int | str = "self") -> int | None:
    """The nice value of a process's autogroup, from ``/proc/PID/autogroup`` ("/autogroup-N nice
    K", sched(7)); None where it does not read so (no such file, or an emulated /proc that shows
    the file empty: seen on a CI machine, where writes would then do nothing we could see)."""
    try:
        with open(f"{PROC}/{pid}/autogroup", encoding="ascii") as f:
            fields = f.read(128).split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 3 or not fields[0].startswith("/autogroup-") or fields[1] != "nice":
        return None
    try:
        return int(fields[2])
    except ValueError:
        return None


def write_autogroup_nice(nice: int) -> None:
    """Set this process's autogroup nice (raises OSError as the kernel refuses)."""
    with open(AUTOGROUP, "w", encoding="ascii") as f:
        f.write(str(int(nice)))


class RunPriority:
    """The wanted autogroup nice of this session (from its run loops' ``running``), applied."""

    def __init__(self, writer: Callable[[int], None] = write_autogroup_nice,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = False
        self.applied = 0                  # the nice value in place (0: as the session started)
        self.writes = 0                   # writes that succeeded (tests)
        self._writer = writer
        self._clock = clock
        self._hosts: weakref.WeakSet = weakref.WeakSet()   # run loops that run now
        self._last_write = -1e9
        self._pending: asyncio.TimerHandle | None = None

    def enable(self) -> None:
        """Take part (called in a forked web session, after ``setsid``), if autogroups are on
        and this process's own reads as the kernel documents it (:func:`autogroup_nice`)."""
        self.enabled = autogroups_on() and autogroup_nice() is not None and os.access(AUTOGROUP, os.W_OK)

    def wanted(self) -> int:
        return RUNNING_NICE if any(getattr(h, "running", False) for h in self._hosts) else 0

    def running_changed(self, host: Any) -> None:
        """``host`` (a :class:`tui.runloop.RunLoop`) started or stopped running."""
        if not self.enabled:
            return
        if getattr(host, "running", False):
            self._hosts.add(host)
        else:
            self._hosts.discard(host)
        self.apply()

    def apply(self) -> None:
        """Write the wanted value if it is not in place; later, if not now (see the module)."""
        if not self.enabled:
            return
        want = self.wanted()
        if want == self.applied:
            return
        wait = self._last_write + MIN_GAP - self._clock()
        if wait <= 0:
            try:
                self._writer(want)
            except OSError as err:
                if err.errno != errno.EAGAIN:  # not allowed here (or no such file): leave it be
                    self.enabled = False
                    return
                wait = random.uniform(*RETRY)
            else:
                self._last_write = self._clock()
                self.applied = want
                self.writes += 1
                return
        self._later(wait)

    def _later(self, wait: float) -> None:
        if self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (not in the app): the next change tries again
        self._pending = loop.call_later(wait, self._retry)

    def _retry(self) -> None:
        self._pending = None
        self.apply()


#: This process's (one per session process; enabled by :func:`tui.web_zygote._session`).
PRIORITY = RunPriority()
