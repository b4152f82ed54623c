"""Hostile input to the command line (issue 23): signals in the lab's pilot and in a run, lesson
and scenario files beyond Python's limits, a NUL in a path, a negative batch size list.

Each bad file is one line ``mbsim: FILE:LINE: …`` (lessons) or ``mbsim: scenario file …``
and exit code 2, like every other bad lesson or scenario; signals are sent to child processes.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mbsim.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}, "PYTHONPATH": str(ROOT)}
GUARD = 120.0  # seconds: a broken command fails the test instead of hanging it


def one_line(err: str) -> str:
    assert err.startswith("mbsim: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "internal error" not in err and "Traceback" not in err
    return err.rstrip("\n")


def lesson(front: str = "", block: str = "") -> str:
    """A one-slide lesson; ``front`` goes in the front matter (line 3), ``block`` in the slide's
    mbsim block (line 11)."""
    return f'+++\ntitle = "t"\n{front}\n+++\n\n# A slide\n\nSome words.\n\n```mbsim\n{block}\n```\n'


# -- 7. lesson and scenario files beyond Python's limits -----------------------------------------
DEEP_ARRAY = "x = " + "[" * 900 + "]" * 900
DEEP_TABLE = "x = " + "{a = " * 900 + "1" + "}" * 900
LONG_NUMBER = "epochs = " + "1" * 5000


@pytest.mark.parametrize("where, text, line, reason", [
    ("block", DEEP_ARRAY, 11, "the ```mbsim block of slide 1 nests arrays or tables too deeply"),
    ("block", DEEP_TABLE, 11, "the ```mbsim block of slide 1 nests arrays or tables too deeply"),
    ("front", DEEP_ARRAY, 3, "the front matter nests arrays or tables too deeply"),
    ("front", DEEP_TABLE, 3, "the front matter nests arrays or tables too deeply"),
    ("block", LONG_NUMBER, 11, "the ```mbsim block of slide 1 holds a number with 5,000 digits; "
                               "at most 4,300 are allowed"),
    ("front", LONG_NUMBER, 3, "the front matter holds a number with 5,000 digits; at most 4,300 "
                              "are allowed"),
], ids=["deep-array-block", "deep-table-block", "deep-array-front", "deep-table-front",
        "long-number-block", "long-number-front"])
def test_lesson_files_beyond_pythons_limits_are_file_line_and_exit_2(capsys, tmp_path, where,
                                                                     text, line, reason):
    path = tmp_path / "hostile.md"
    path.write_text(lesson(**{where: text}))
    assert path.read_text().splitlines()[line - 1] == text  # the line the message must name
    assert main(["lesson", str(path), "--check"]) == 2
    err = one_line(capsys.readouterr().err)
    assert err.startswith(f"mbsim: {path}:{line}: {reason}"), err


@pytest.mark.parametrize("where", ["front", "block"])
def test_a_nul_in_a_lessons_csv_path_is_file_line_and_exit_2(capsys, tmp_path, where):
    path = tmp_path / "nul.md"
    path.write_text(lesson(**{where: 'dataset = "csv:a\\u0000b.csv"'}))
    assert main(["lesson", str(path), "--check"]) == 2
    err = one_line(capsys.readouterr().err)
    assert re.fullmatch(rf"mbsim: {re.escape(str(path))}:\d+: csv 'a\\x00b\.csv': a file name "
                        "cannot contain a NUL character", err), err


def test_a_scenario_file_with_a_5000_digit_number_is_one_line_and_exit_2(capsys, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text("batch_size = 4\n" + LONG_NUMBER + "\n")
    assert main(["plan", "--scenario", str(path)]) == 2
    err = one_line(capsys.readouterr().err)
    assert err == (f"mbsim: scenario file {str(path)!r}: line 2: holds a number with 5,000 digits; "
                   "at most 4,300 are allowed")


@pytest.mark.parametrize("argv", [["plan", "--dataset", "csv:a\x00b.csv"],
                                  ["plan", "--scenario", "s\x00.toml"]])
def test_a_nul_in_a_path_is_one_line_and_exit_2(capsys, argv):
    assert main(argv) == 2
    err = one_line(capsys.readouterr().err)
    assert "a file name cannot contain a NUL character" in err and "\x00" not in err


# -- 10. a negative batch size list ---------------------------------------------------------------
@pytest.mark.parametrize("argv", [["--batch-sizes", "-1,2"], ["--batch-sizes=-1,2"]])
def test_lab_batch_sizes_with_a_negative_number_says_what_is_wrong(capsys, argv):
    assert main(["lab", *argv]) == 2
    assert one_line(capsys.readouterr().err) == (
        "mbsim: --batch-sizes -1,2: '-1' is not a whole number from 1 to N; give e.g. 1,2,4,8 "
        "or pow2")


def test_lab_batch_sizes_without_a_value_says_what_it_takes(capsys):
    assert main(["lab", "--batch-sizes"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "mbsim: --batch-sizes: needs a value (batch sizes, e.g. 1,2,4,8 or pow2)")


# -- 3. the lab stopped in its pilot ---------------------------------------------------------------
@pytest.mark.parametrize("signum, code, what", [(signal.SIGINT, 130, "interrupted"),
                                                (signal.SIGHUP, 129, "hung up (SIGHUP)")])
def test_lab_stopped_in_its_pilot_writes_both_files_and_exits_with_the_signal(tmp_path, signum,
                                                                             code, what):
    """The pilot (choosing the target loss) of 100,000 samples runs B = 1 for 100 epochs first:
    10 million steps, far more than the time a signal takes. Stderr is a terminal so that the
    lab shows its progress line, which says when the pilot is under way."""
    out_json, out_csv = tmp_path / "lab.json", tmp_path / "lab.csv"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mbsim", "lab", "--samples", "100000", "--epochs", "100",
         "--json", str(out_json), "--csv", str(out_csv)],
        cwd=tmp_path, env=ENV, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = b""
    try:
        end = time.monotonic() + GUARD
        while b"choosing the target loss: pilot run B = 1 " not in seen:
            assert time.monotonic() < end and proc.poll() is None, seen
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                seen += os.read(master, 4096)
        proc.send_signal(signum)
        out, _ = proc.communicate(timeout=GUARD)
        while True:  # the rest of stderr
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == code
    last = seen.decode("utf-8", "replace").replace("\r\x1b[K", "\n").strip().splitlines()[-1]
    assert last == (f"mbsim: {what} after 0 of {len(default_sizes(100_000))} batch sizes "
                    f"({last.split('(')[-1].split(')')[0]}); wrote {str(out_json)!r}, {str(out_csv)!r}")
    doc = json.loads(out_json.read_text())  # strict JSON: no NaN anywhere
    assert doc["points"] == [] and doc["complete"] is False and doc["target_loss"] is None
    assert doc["n_samples"] == 100_000 and doc["fit"] is None
    assert out_csv.read_text().splitlines() == [
        "batch_size,lr,runs,reached,steps,examples,epochs,diverged,fit_steps,regime,"
        "time_per_step,time_to_target"]
    assert "Target loss not chosen yet (stopped during the pilot that chooses it)" in out.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lab.csv", "lab.json"]  # no temp file


def default_sizes(n: int) -> list[int]:
    """1, 2, 4, … below N, and N (the lab's pow2 default, written out here)."""
    sizes, b = [], 1
    while b < n:
        sizes.append(b)
        b *= 2
    return sizes + [n]


# -- 10. five quick Ctrl+C during a run ------------------------------------------------------------
def test_five_quick_sigints_during_a_run_end_with_130_every_time(tmp_path):
    """The first SIGINT stops the run; the four right behind it must change nothing (on main they
    could arrive after the handler was restored, and the process died by the signal)."""
    for trial in range(4):
        hist = tmp_path / f"h{trial}.csv"
        proc = subprocess.Popen([sys.executable, "-m", "mbsim", "run", "--epochs", "100000",
                                 "--history", str(hist)], cwd=ROOT, env=ENV, text=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            assert proc.stdout.readline().startswith("Epoch 1/100000")  # training is under way
            for _ in range(5):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.0005 * trial)
            _, err = proc.communicate(timeout=GUARD)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, (trial, proc.returncode, err)
        assert re.fullmatch(r"mbsim: interrupted at step \d+ \(epoch \d+/100000\); wrote .*\n", err)
