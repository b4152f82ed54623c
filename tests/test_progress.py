"""``mbsim run``'s progress (issue 15 item 8): on a terminal the epoch's line is updated in place
a few times a second; in a pipe or a file, one line per epoch. Time comes from a fake clock, so
nothing here depends on how fast the machine is."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

from mbsim.engine import Scenario, Simulation
from mbsim.tui.cli import main
from mbsim.tui.cli.progress import CLEAR, INTERVAL, LiveLine, eta_text, progress_line, train_live
from mbsim.tui.cli.run import _epoch_text, format_metric

ROOT = Path(__file__).resolve().parents[1]
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}, "PYTHONPATH": str(ROOT)}
FINAL_RE = re.compile(r"^Epoch (\d+)/(\d+)  +(\d+)/(\d+) ([━─]{20})  loss: \S+  train: \S+(  val: \S+)?$")
LIVE_RE = re.compile(r"^Epoch (\d+)/(\d+)  +(\d+)/(\d+) ([━─]{20})  ETA (\d+s|\d+:\d\d(:\d\d)?|\?)(  loss: \S+)?$")


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_eta_reads_like_keras():
    assert [eta_text(s) for s in (0, 42.4, 60, 252, 3723)] == ["0s", "42s", "1:00", "4:12", "1:02:03"]
    assert eta_text(float("inf")) == "?"


def test_progress_line_bar_and_eta():
    line = progress_line(1, 1, 17400, 100000, 252, 0.0931, format_metric)
    assert line == "Epoch 1/1   17400/100000 ━━━─────────────────  ETA 4:12  loss: 0.0931"
    assert LIVE_RE.match(line)


def test_the_live_line_updates_at_most_every_interval():
    out = io.StringIO()
    clock = FakeClock(INTERVAL / 10)  # ten calls per interval
    live = LiveLine(out, clock, columns=200)
    shown = sum(live.update(f"x{k}") for k in range(100))
    assert shown == 10  # the first, then one every INTERVAL (each update() reads the clock once)
    assert out.getvalue().startswith("\rx0" + CLEAR) and "\n" not in out.getvalue()


def test_the_live_line_never_wraps():
    out = io.StringIO()
    LiveLine(out, FakeClock(1.0), columns=30).update("y" * 100)
    assert out.getvalue() == "\r" + "y" * 29 + CLEAR


def test_on_a_terminal_the_final_lines_are_the_pipe_lines(capsys):
    argv = ["run", "--samples", "200", "--batch-size", "2", "--epochs", "3"]
    assert main(argv) == 0
    pipe_lines = capsys.readouterr().out.splitlines()
    sim = Simulation(Scenario(samples=200, batch_size=2, epochs=3))
    out = io.StringIO()
    train_live(sim, out, _epoch_text, format_metric, clock=FakeClock(0.01))
    text = out.getvalue()
    finals = [line.split("\r")[-1].removesuffix(CLEAR) for line in text.split("\n")[:-1]]
    assert finals == pipe_lines and len(finals) == 3
    live = [part.removesuffix(CLEAR) for line in text.split("\n") for part in line.split("\r")[1:-1]]
    assert live and all(LIVE_RE.match(p) for p in live), live[:3]
    batches = [int(LIVE_RE.match(p)[3]) for p in live]
    assert all(0 < b < 100 for b in batches)  # in progress, never a finished epoch


def _pty_run(*argv: str) -> bytes:
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mbsim", "run", *argv], cwd=ROOT, env=ENV,
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    out = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(master)
    return out


def test_a_terminal_gets_the_line_updated_in_place():
    text = _pty_run("--samples", "2000", "--batch-size", "1", "--epochs", "2", "--val-samples", "0").decode()
    lines = text.replace("\r\n", "\n").split("\n")
    finals = [line.split("\r")[-1].removesuffix(CLEAR) for line in lines if line]
    assert len(finals) == 2 and all(FINAL_RE.match(f) for f in finals), finals
    live = [p.removesuffix(CLEAR) for line in lines for p in line.split("\r")[1:-1]]
    # how many in-place updates an epoch gets depends on the machine's speed (the fake-clock
    # tests above check the cadence); here: there is at least one, and each is a live line
    assert len(live) >= 1 and all(LIVE_RE.match(p) for p in live), live[:3]


def test_a_pipe_gets_one_line_per_epoch():
    result = subprocess.run([sys.executable, "-m", "mbsim", "run", "--samples", "2000", "--batch-size", "1",
                             "--epochs", "2", "--val-samples", "0"], cwd=ROOT, env=ENV, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and all(FINAL_RE.match(line) for line in lines)
    assert "\r" not in result.stdout and "\x1b" not in result.stdout and "ETA" not in result.stdout
