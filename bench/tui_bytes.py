"""Bytes per second the TUI writes to a real terminal (80×24, 120×40, 200×60), running at the default speed and paused.

Budget (DESIGN.md): ≤ 20 KB/s running at the default speed over SSH, ~0 while paused.

The app runs in a child process on a pseudo-terminal (``pty.fork``) sized with TIOCSWINSZ; the
parent reads everything the child writes (Textual writes the screen to stderr, which is the pty
too) and counts the bytes after a warm-up. Prints figures, asserts nothing.

    python bench/tui_bytes.py [--seconds 10] [--warmup 2] [--sizes 80x24,120x40,200x60] [-- extra mbsim options]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(args: list[str], seconds: float, warmup: float, cols: int, rows: int,
            keys: tuple[bytes, ...] = ()) -> dict[str, float]:
    """Run ``python -m mbsim ARGS`` on a pty; return bytes/s after ``warmup`` and the first-frame time.

    ``keys`` are typed one by one, 0.5 s apart, once the first screenful has arrived (e.g.
    ``(b"k", b" ")`` opens the noise cloud and runs it); ``warmup`` then counts from the last."""
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(ROOT)
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(ROOT))
        env.pop("NO_COLOR", None)
        os.execvpe(sys.executable, [sys.executable, "-m", "mbsim", *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    total = counted = 0
    first_frame = None
    t_warm = start + warmup
    t_end = t_warm + seconds
    try:
        while True:
            now = time.perf_counter()
            if now >= t_end:
                break
            ready, _, _ = select.select([fd], [], [], min(0.05, t_end - now))
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            if not data:
                break
            total += len(data)
            now = time.perf_counter()
            if first_frame is None and total > cols * rows:  # a screenful has been written
                first_frame = now - start
                for key in keys:
                    time.sleep(0.5)
                    os.write(fd, key)
                if keys:
                    now = time.perf_counter()
                    t_warm = now + warmup
                    t_end = t_warm + seconds
            if now >= t_warm:
                counted += len(data)
    finally:
        try:
            os.write(fd, b"q")
            deadline = time.perf_counter() + 3
            while time.perf_counter() < deadline:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if select.select([fd], [], [], 0.05)[0]:
                    try:
                        os.read(fd, 65536)
                    except OSError:
                        pass
            else:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            pass
        os.close(fd)
    return {"kb_per_s": counted / seconds / 1024, "first_frame_s": first_frame or float("nan"),
            "total_kb": total / 1024}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--sizes", "--size", default="80x24,120x40,200x60",
                    help="terminal sizes, comma-separated (COLSxROWS)")
    ap.add_argument("extra", nargs="*", help="extra mbsim options (after --)")
    ns = ap.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in ns.sizes.split(",")]
    print(f"mbsim TUI on a pty, {ns.seconds:g} s after a {ns.warmup:g} s warm-up; budget: running ≤ 20 KB/s, paused ~0")
    for cols, rows in sizes:
        results = {}
        for label, opts in (("running", ["--run"]), ("paused", ["--paused"])):
            r = measure([*opts, *ns.extra], ns.seconds, ns.warmup, cols, rows)
            results[label] = r
        running, paused = results["running"]["kb_per_s"], results["paused"]["kb_per_s"]
        print(f"  {cols:3d}×{rows:<3d} running {running:7.2f} KB/s ({running / 20:.2f}× the budget)"
              f"   paused {paused:6.2f} KB/s   first frame after {results['running']['first_frame_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
