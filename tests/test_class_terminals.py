"""Class mode in real terminals (issue 22): the teacher (``mbsim class``) and two followers
(``mbsim join``) in tmux panes of their own. A follower's keys do not move the teacher (nor the
other follower), and say "following the teacher"; the teacher's keys move every screen; an
answer typed on a follower shows in the teacher's tally and in the results file; a wrong code
is one line and exit 2; Ctrl+C on the teacher ends the class, every follower says so and no
process is left.

Nothing is timed: each step waits (up to a generous limit) for the text it expects."""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

MBSIM = [sys.executable, "-m", "mbsim"]
ANSWER_BOX = "your answer, then enter"  # the placeholder of the answer box ``t`` opens (tui.widgets.lesson_panel)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tmux:
    def __init__(self) -> None:
        self.socket = f"mbsim-class-{uuid.uuid4().hex[:8]}"
        self.started = False

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False).stdout

    def window(self, name: str, command: list[str]) -> None:
        shell = " ".join(_quote(a) for a in command) + "; echo rc=$?; sleep 600"
        if not self.started:
            self.run("new-session", "-d", "-s", "class", "-n", name, "-x", "120", "-y", "40", shell)
            self.started = True
        else:
            self.run("new-window", "-t", "class", "-n", name, shell)

    def screen(self, name: str) -> str:
        return self.run("capture-pane", "-p", "-t", f"class:{name}")

    def keys(self, name: str, *keys: str) -> None:
        self.run("send-keys", "-t", f"class:{name}", *keys)

    def wait(self, name: str, text: str, limit: float = 60.0) -> str:
        """The screen once ``text`` shows on it (read across wrapped lines and panel borders)."""
        end = time.monotonic() + limit
        screen = ""
        while time.monotonic() < end:
            screen = self.screen(name)
            if flat(text) in flat(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed in {name}:\n{screen}")

    def kill(self) -> None:
        self.run("kill-server")


def flat(text: str) -> str:
    return " ".join(text.replace("│", " ").split())


def _quote(a: str) -> str:
    return "'" + a.replace("'", "'\\''") + "'"


def counters(screen: str) -> str:
    return next(line.strip() for line in screen.splitlines() if "Iteration" in line and "Epoch" in line)


@pytest.fixture
def tmux():
    t = Tmux()
    yield t
    t.kill()


def test_a_class_in_three_terminals(tmux: Tmux, tmp_path: Path) -> None:
    port = free_port()
    results = tmp_path / "answers.csv"
    env_path = os.environ.get("PATH", "")
    assert env_path is not None
    tmux.window("teacher", MBSIM + ["class", "epochs-and-batches", "--port", str(port), "--code", "TERM42",
                                    "--results", str(results)])
    tmux.wait("teacher", f"http://127.0.0.1:{port}/TERM42")
    url = f"http://127.0.0.1:{port}/TERM42"
    tmux.window("ada", MBSIM + ["join", url, "--name", "Ada"])
    tmux.window("bob", MBSIM + ["join", url, "--name", "Bob"])
    tmux.wait("teacher", "2 students")
    for who in ("ada", "bob"):
        tmux.wait(who, "following the teacher")
    start = "Iteration 0  Step 0"
    # a follower's keys: the teacher does not move, nor does the other follower
    tmux.keys("ada", "n", "space", "PageDown")
    tmux.wait("ada", "following the teacher: the teacher")
    time.sleep(1.0)            # (what would move has had time to: nothing may have)
    assert start in counters(tmux.screen("teacher"))
    assert start in counters(tmux.screen("bob"))
    # the teacher's keys move everyone
    tmux.keys("teacher", "n", "n")
    for who in ("teacher", "ada", "bob"):
        tmux.wait(who, "Iteration 2  Step 2")
    # an answer on a follower shows in the teacher's tally and in the results
    tmux.keys("bob", "t")
    tmux.wait("bob", ANSWER_BOX)             # the answer box is open: what is typed goes there
    tmux.keys("bob", "40", "Enter")
    tmux.wait("teacher", "answered 1/2 · correct 1")
    tmux.wait("bob", "✓")
    tmux.keys("ada", "t")
    tmux.wait("ada", ANSWER_BOX)
    tmux.keys("ada", "8", "Enter")
    tmux.wait("teacher", "answered 2/2 · correct 1 · wrong: 8 (1)")
    rows = list(csv.DictReader(results.open()))
    assert sorted((r["name"], r["answer"], r["correct"], r["slide"], r["question"]) for r in rows) == [
        ("Ada", "8", "no", "1", "1"), ("Bob", "40", "yes", "1", "1")]
    # a wrong code: one line, exit 2
    wrong = subprocess.run(MBSIM + ["join", f"http://127.0.0.1:{port}/NOPE99"], capture_output=True, text=True,
                           timeout=60)
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "wrong room code" in wrong.stderr
    # Ctrl+C on the teacher ends the class: every follower says so, nothing is left running
    tmux.keys("teacher", "C-c")
    for who in ("ada", "bob"):
        tmux.wait(who, "the teacher ended the class")
        tmux.wait(who, "rc=0")
    tmux.wait("teacher", "mbsim class: ended (2 students joined")
    # (the python processes' command lines; the panes' shells quote each word)
    pattern = f"tui (class|join) .*{port}"
    end = time.monotonic() + 30      # (the teacher's interpreter is exiting: it may take a moment)
    while (left := subprocess.run(["pgrep", "-a", "-f", pattern], capture_output=True, text=True).stdout) \
            and time.monotonic() < end:
        time.sleep(0.1)
    assert left == "", left
