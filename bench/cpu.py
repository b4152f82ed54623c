"""The real app in a pseudo-terminal: its CPU share (paused, running at the default speed) and how
fast a key acts while it runs (default speed and max). Prints figures, asserts nothing.

Budgets (DESIGN.md, issues 24 and 23): a running app at the default speed ≤ 5 % of a core at
120×40, paused ~0; a key acts within ~100 ms whatever is running.

Each case starts ``mbsim`` (``python -m mbsim``) as a child on a pty of the given size, drains and
emulates its screen (pyte), waits for the first screen and a warm-up, then reads the child's CPU
time (``/proc/PID/stat`` utime + stime, every thread) over ``--seconds``. Key latency: while
running, ``space`` is written to the pty and timed until the header says "paused" on the emulated
screen (then ``space`` again until it says "running"), ``--keys`` times at staggered moments.

With ``--before DIR`` (another checkout, e.g. ``git archive main | tar -x -C /tmp/before``), each
CPU case runs that checkout's app and this one's at the same time (paired: the same moments of a
shared machine) and the ratio now / before is printed; key latencies are measured one after the
other.

    python bench/cpu.py [--seconds 20] [--size 120x40] [--keys 10] [--before DIR] [--only NAME]
                        [--large] [--warm S]

``--large`` adds the worked example at N = 10⁶, B = 32 (the O(N) readings; its landscape grid,
seconds of CPU in a thread, comes and goes with the picture's box: measure after a longer
``--warm``).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import signal
import statistics
import struct
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

import pyte

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")

#: (name, mbsim options): the worked example and an MLP preset, as in issue 24.
CASES = (
    ("worked example", []),
    ("xor-mlp (MLP)", ["--preset", "xor-mlp"]),
)
#: --large: the worked example at N = 10⁶, B = 32 (issue 24: the O(N) readings at large N).
LARGE = ("N=10^6, B=32", ["--samples", "1000000", "--batch-size", "32"])


def import_dir(root: Path) -> Path:
    """A folder whose ``mbsim`` is ``root`` (a symlink): first on the child's PYTHONPATH, so
    ``python -m mbsim`` runs that checkout's code whatever checkout is installed (an editable
    install's finder comes after the path's)."""
    d = Path(tempfile.gettempdir()) / f"mbsim-bench-{os.getpid()}-{abs(hash(str(root)))}"
    d.mkdir(exist_ok=True)
    link = d / "mbsim"
    if not link.exists():
        link.symlink_to(root, target_is_directory=True)
    return d


class PtyApp:
    """``mbsim`` on a pty: its screen emulated by pyte, its CPU time read from /proc."""

    def __init__(self, root: Path, args: list[str], size: tuple[int, int]) -> None:
        cols, rows = size
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.lock = threading.Lock()
        self.changes = 0
        self.bytes = 0
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
               "PYTHONPATH": str(import_dir(root)) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        env.pop("TEXTUAL", None)
        pid, fd = pty.fork()
        if pid == 0:                                       # the child: the app on the pty
            os.chdir(root)
            os.execve(sys.executable, [sys.executable, "-m", "mbsim", *args], env)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        self.alive = True
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                break
            if not data:
                break
            with self.lock:
                self.stream.feed(data)
                self.changes += 1
                self.bytes += len(data)
        self.alive = False

    def row(self, y: int) -> str:
        with self.lock:
            return self.screen.display[y]

    def text(self) -> str:
        with self.lock:
            return "\n".join(self.screen.display)

    def send(self, data: bytes) -> None:
        os.write(self.fd, data)

    def cpu(self) -> float:
        """CPU seconds (user + system, all threads) the app has used so far."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def main_cpu(self) -> float:
        """CPU seconds of the app's main thread (the event loop: frames, panels, Textual), without
        its worker threads (the landscape's grid, the writer)."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / TICK

    def wait_for(self, predicate, timeout: float) -> float | None:  # noqa: ANN001
        """Seconds until ``predicate(self)`` holds (polled every ms), None past ``timeout``."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if predicate(self):
                return time.perf_counter() - t0
            time.sleep(0.001)
        return None

    def close(self) -> None:
        try:
            self.send(b"q")
            for _ in range(100):
                pid, _status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.05)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
        except (OSError, ChildProcessError):
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def header_says(word: str):  # noqa: ANN201
    return lambda app: word in app.row(0)


def start(root: Path, args: list[str], size: tuple[int, int]) -> PtyApp:
    app = PtyApp(root, args, size)
    if app.wait_for(lambda a: "paused" in a.row(0) or "running" in a.row(0), 60) is None:
        app.close()
        raise SystemExit(f"bench: no first screen from {root} {' '.join(args)}:\n{app.text()}")
    return app


def cpu_share(root: Path, args: list[str], size: tuple[int, int], seconds: float, warm: float = 3.0) -> float:
    """Percent of a core the app uses over ``seconds`` (after ``warm`` seconds)."""
    app = start(root, args, size)
    try:
        time.sleep(warm)
        c0, t0 = app.cpu(), time.perf_counter()
        time.sleep(seconds)
        c1, t1 = app.cpu(), time.perf_counter()
        if not app.alive:
            raise SystemExit(f"bench: the app ended early:\n{app.text()}")
        return 100 * (c1 - c0) / (t1 - t0)
    finally:
        app.close()


BYTES: dict[str, float] = {}   # label → bytes/s the app wrote in the last cpu_shares_together
MAIN: dict[str, float] = {}    # label → % of a core of its main thread in the last cpu_shares_together


def cpu_shares_together(roots: list[tuple[str, Path]], args: list[str], size: tuple[int, int],
                        seconds: float, warm: float = 3.0) -> dict[str, float]:
    """Percent of a core each checkout's app uses, all running at the same time (the same moments
    of a shared machine: paired)."""
    apps = {label: start(root, args, size) for label, root in roots}
    try:
        time.sleep(warm)
        c0 = {label: app.cpu() for label, app in apps.items()}
        m0 = {label: app.main_cpu() for label, app in apps.items()}
        b0 = {label: app.bytes for label, app in apps.items()}
        t0 = time.perf_counter()
        time.sleep(seconds)
        c1 = {label: app.cpu() for label, app in apps.items()}
        m1 = {label: app.main_cpu() for label, app in apps.items()}
        b1 = {label: app.bytes for label, app in apps.items()}
        t1 = time.perf_counter()
        for label in apps:
            BYTES[label] = (b1[label] - b0[label]) / (t1 - t0)
            MAIN[label] = 100 * (m1[label] - m0[label]) / (t1 - t0)
        for app in apps.values():
            if not app.alive:
                raise SystemExit(f"bench: an app ended early:\n{app.text()}")
        return {label: 100 * (c1[label] - c0[label]) / (t1 - t0) for label in apps}
    finally:
        for app in apps.values():
            app.close()


def key_latency(root: Path, args: list[str], size: tuple[int, int], keys: int) -> list[float]:
    """Seconds from writing ``space`` to the header showing its effect (paused / running), while
    the app runs; ``2 * keys`` keys (each pause and each resume)."""
    app = start(root, [*args, "--epochs", "100000", "--run"], size)   # never finishes meanwhile
    out = []
    try:
        time.sleep(2.0)
        for i in range(keys):
            for word in ("paused", "running"):
                app.send(b" ")
                got = app.wait_for(header_says(word), 10.0)
                out.append(10.0 if got is None else got)
                time.sleep(0.3 + 0.0137 * i)     # land at different points of a frame
        return out
    finally:
        app.close()


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--size", default="120x40")
    ap.add_argument("--keys", type=int, default=10)
    ap.add_argument("--before", default=None, help="another checkout measured alongside, paired")
    ap.add_argument("--only", default=None, help="cases whose name contains this")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--large", action="store_true", help="also the worked example at N = 10^6, B = 32")
    ap.add_argument("--warm", type=float, default=3.0, help="seconds after the first screen before measuring")
    a = ap.parse_args()
    size = tuple(int(v) for v in a.size.lower().split("x"))
    roots = [("before", Path(a.before).resolve())] if a.before else []
    roots.append(("now", ROOT))
    cases = [c for c in CASES + ((LARGE,) if a.large else ()) if a.only is None or a.only in c[0]]
    print(f"mbsim on a {size[0]}×{size[1]} pty; CPU over {a.seconds:g} s (% of one core); "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if not a.no_cpu:
        for name, opts in cases:
            for mode, extra in (("paused", []), ("running ×10", ["--run"])):
                got = cpu_shares_together(roots, opts + extra, size, a.seconds, a.warm)
                line = "  ".join(f"{label} {v:5.1f} %" for label, v in got.items())
                ratio = f"  (now/before {got['now'] / got['before']:.2f})" if "before" in got and got["before"] > 0 else ""
                wire = "  ".join(f"{label} {BYTES[label] / 1000:5.1f} KB/s" for label in got)
                main = "  ".join(f"{label} {MAIN[label]:5.1f} %" for label in got)
                print(f"  {name:16} {mode:12} {line}{ratio}   wire: {wire}   main thread: {main}", flush=True)
    if not a.no_latency:
        print(f"key latency while running (space → header changes), {2 * a.keys} keys; budget ≤ 100 ms")
        for name, opts in cases:
            for speed in ("10", "max"):
                for label, root in roots:
                    lat = key_latency(root, opts + ["--speed", speed], size, a.keys)
                    print(f"  {name:16} speed {speed:4} {label:6} median {1000 * statistics.median(lat):6.1f} ms  "
                          f"p95 {1000 * pct(lat, 0.95):6.1f} ms  worst {1000 * max(lat):6.1f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
