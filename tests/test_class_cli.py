"""``mbsim class`` and ``mbsim join`` on bad input (issue 22): one line naming what is wrong and
what is allowed, exit code 2, nothing bound or drawn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

MBSIM = [sys.executable, "-m", "mbsim"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(MBSIM + list(args), capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("args, words", [
    (["class"], "give a built-in lesson's name or a FILE.md"),
    (["class", "no-such-lesson"], "no such lesson"),
    (["class", "why-shuffle", "--code", "ab"], "--code 'ab': 4 to 12 characters from A-Z and 0-9"),
    (["class", "why-shuffle", "--code", "ABC\x1b[2J"], "4 to 12 characters"),
    (["class", "why-shuffle", "--port", "0"], "--port '0': a whole number from 1 to 65535"),
    (["class", "why-shuffle", "--max-students", "0"], "--max-students '0': a whole number from 1 to 1000"),
    (["class", "why-shuffle", "--results", "/no/such/folder/a.csv"], "--results"),
    (["join"], "give the address the teacher's screen shows"),
    (["join", "http://127.0.0.1:8000/"], "the room code is missing"),
    (["join", "ftp://127.0.0.1:8000/ABCD"], "starts with http://"),
    (["join", "http://127.0.0.1:8000/AB"], "is not a room code"),
    (["join", "http://127.0.0.1:8000/ABCD?x=1"], "nothing after the code"),
    (["join", "http://127.0.0.1:99999/ABCD"], "valid port"),
    (["join", "http://127.0.0.1:8000/ABCD", "--name", "\x1b\x07"], "--name"),
    (["join", "http://127.0.0.1:8000/ABCD", "--screen"], "started by mbsim class only"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    done = run(*args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and words in done.stderr
    assert "\x1b" not in done.stderr and "Traceback" not in done.stderr


def test_a_class_that_is_not_there_is_one_line() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run("join", f"http://127.0.0.1:{port}/ABCD")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot connect" in done.stderr


def test_a_lesson_on_csv_data_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("x,y\n1,2\n2,4\n3,6\n4,8\n")
    (tmp_path / "l.md").write_text('+++\ntitle = "csv"\ndataset = "csv:d.csv"\nbatch_size = 2\nval_samples = 1\n'
                                   "+++\n# one\n\nhello\n")
    done = run("class", "l.md", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "reads a CSV file" in done.stderr
