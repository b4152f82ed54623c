"""How many sessions ``mbsim serve`` takes at once, from what it serves and the machine it is on.

Two limits, the smaller one wins (and never more than :data:`DEFAULT_CAP`):

* memory: ``MEMORY_SHARE`` of the memory available when the server starts, divided by what one
  session takes. That is first estimated from the scenario (:func:`estimate_session_mb`: a
  session of the worked example with every view opened, measured, plus this scenario's data
  beyond it), then *measured*: :meth:`Sizing.cap` takes the largest peak resident memory
  (VmHWM) any session of this server has reached so far, when larger than the estimate, so a
  class whose sessions turn out bigger is capped lower from then on (never higher: a session
  grows as views are opened);
* cores: with :data:`RUNNING_SHARE` of the sessions running at the default speed, each using
  :data:`SESSION_CPU_RUNNING` of a core (measured), the running ones may use at most
  :data:`CPU_SHARE` of the machine's cores, so that a key pressed anywhere still finds a core
  (the latency budget).

The figures are this machine's, measured with bench/serve_load.py and the scripts named below;
they change when a session's memory or CPU does (issue 24: the views' memory and the running
app's redraws are being cut) and must then be measured again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

#: The default cap never exceeds this, whatever the machine.
DEFAULT_CAP = 50
#: Share of the available memory the sessions may plan to use.
MEMORY_SHARE = 0.75
#: Peak resident memory of a session of the worked example at 120x40 with every view opened in
#: turn (lens, phase, compare, the noise cloud, the lab), MB: VmHWM 114 (62 at its first frame;
#: xor-mlp 192, N = 10,000 548 before issue 24's memory work).
SESSION_VIEWS_MB = 114.0
#: How many copies of the data a session holds at most (the data, its standardized and
#: validation parts, the orders drawn ahead, the views' working arrays), as a multiple of the
#: dataset's arrays.
DATA_COPIES = 4.0
#: Share of a core one session uses while running at the default speed, 120x40, under the web
#: driver (measured: 10.7 %, 16 KB/s; paused 0.2-0.5 %).
SESSION_CPU_RUNNING = 0.11
#: Share of the sessions planned to be running at once (DESIGN.md: "half running").
RUNNING_SHARE = 0.5
#: Share of the cores the running sessions may use (the rest keeps keys prompt).
CPU_SHARE = 0.7
#: The worked example's dataset arrays, MB (200 + 50 samples of one feature and a target).
WORKED_EXAMPLE_DATA_MB = (250 * 2 * 8) / 2**20


def mem_available_mb(meminfo: str | Path = "/proc/meminfo") -> float | None:
    """MemAvailable from /proc/meminfo in MB (None where there is no such file or line)."""
    try:
        with open(meminfo, encoding="ascii", errors="replace") as f:
            text = f.read(64 * 1024)
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def data_mb(sim: Any) -> float:
    """The scenario's dataset arrays (training and validation inputs and targets), MB."""
    data = sim.dataset
    arrays = [getattr(data, name, None) for name in ("X", "y", "X_val", "y_val")]
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays) / 2**20


def estimate_session_mb(sim: Any) -> float:
    """What one session of ``sim``'s scenario is expected to take at its peak, MB:
    :data:`SESSION_VIEWS_MB` plus :data:`DATA_COPIES` times its data beyond the worked example's."""
    return SESSION_VIEWS_MB + DATA_COPIES * max(0.0, data_mb(sim) - WORKED_EXAMPLE_DATA_MB)


def cpu_cap(cores: int | None) -> int:
    """Sessions the cores hold: ``CPU_SHARE × cores / (RUNNING_SHARE × SESSION_CPU_RUNNING)``."""
    return max(1, int(CPU_SHARE * (cores or 1) / (RUNNING_SHARE * SESSION_CPU_RUNNING)))


def memory_cap(available_mb: float | None, per_session_mb: float) -> int | None:
    """Sessions the memory holds: ``MEMORY_SHARE × available / per session`` (None: unknown)."""
    if available_mb is None:
        return None
    return max(1, int(MEMORY_SHARE * available_mb // per_session_mb))


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of ``pid`` so far (VmHWM), MB; 0 when /proc has none."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0.0
    match = re.search(r"^VmHWM:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


@dataclass
class Sizing:
    """The default cap of a server and how it follows the sessions' measured memory."""

    estimate_mb: float
    available_mb: float | None
    cores: int | None = field(default_factory=os.cpu_count)
    measured_mb: float = 0.0  # the largest peak seen so far (sessions that ended included)

    @property
    def per_session_mb(self) -> float:
        return max(self.estimate_mb, self.measured_mb)

    def initial_cap(self) -> int:
        """The cap before any session is measured."""
        by_memory = memory_cap(self.available_mb, self.estimate_mb)
        caps = [DEFAULT_CAP, cpu_cap(self.cores)] + ([by_memory] if by_memory is not None else [])
        return max(1, min(caps))

    def observe(self, pids: Iterable[int]) -> None:
        """Take the sessions' peak memory into account."""
        for pid in pids:
            self.measured_mb = max(self.measured_mb, peak_rss_mb(pid))

    def cap(self) -> int:
        """The cap now: the initial one, lowered if sessions turned out larger than estimated."""
        by_memory = memory_cap(self.available_mb, self.per_session_mb)
        return max(1, min(self.initial_cap(), by_memory if by_memory is not None else DEFAULT_CAP))

    def describe(self) -> str:
        """For the banner: what the cap comes from."""
        cores = self.cores or 1
        return f"sized for ~{self.per_session_mb:.0f} MB a session on {cores} core{'s' if cores != 1 else ''}"
