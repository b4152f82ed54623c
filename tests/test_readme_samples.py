"""Docs that cannot drift (issue 21, item 9): the README's sample outputs are the program's.

Each documented command is run as a user would (``python -m mbsim ...``, a fresh process) and its
output compared with the line the README shows for it, character for character; the figures
the README quotes from ``mbsim plan`` (auto eval_every) are read from its output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def mbsim(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "mbsim", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def readme_block_after(words: str) -> list[str]:
    """The lines of the first fenced block after the sentence ending in ``words``."""
    at = README.index(words)
    start = README.index("```\n", at) + 4
    end = README.index("```", start)
    return README[start:end].rstrip("\n").split("\n")


@pytest.mark.parametrize("command,words", [
    (("run", "--epochs", "3"), "the last line of `mbsim run --epochs 3`:"),
    (("run", "--epochs", "3", "--runs", "100"), "the last line of `mbsim run --epochs 3 --runs 100`:"),
])
def test_the_run_lines_are_the_programs(command, words):
    shown = readme_block_after(words)
    assert len(shown) == 1
    assert mbsim(*command).rstrip("\n").split("\n")[-1] == shown[0]


@pytest.mark.parametrize("args", [(), ("--samples", "1000", "--batch-size", "400")])
def test_the_arithmetic_lines_are_mbsim_plans(args):
    line = mbsim("plan", *args).rstrip("\n").split("\n")[-1]
    assert line.startswith("Arithmetic: ")
    assert line.removeprefix("Arithmetic: ") in readme_block_after("with numbers, every one from the engine's plan:")


def test_the_auto_eval_every_figures_are_mbsim_plans():
    m = re.search(r"\((\d[\d,]*) for the worked example, (\d[\d,]*) for a million\s+samples in batches of 32\)",
                  README)
    assert m, "the README's eval_every sentence moved"

    def every(*args: str) -> str:
        out = mbsim("plan", *args)
        found = re.search(r"evaluated every ([\d,]+) steps", out)
        assert found, out
        return found.group(1)

    assert m.group(1) == every()
    assert m.group(2) == every("--samples", "1000000", "--batch-size", "32")


def test_the_readme_screenshot_is_the_apps():
    """docs/screenshot.svg is what docs/make_screenshots.py makes from the app now."""
    done = subprocess.run([sys.executable, "docs/make_screenshots.py", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
