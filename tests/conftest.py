"""Settings for the whole suite (pytest loads this file before the tests)."""

from __future__ import annotations

import os


def pytest_configure(config) -> None:  # noqa: ANN001
    """A TUI started by a test (on a pseudo-terminal, or with run_test's size) takes its size
    from there, never from the test runner's environment: pytest-xdist's workers have
    COLUMNS=80 LINES=24 in theirs, which a child ``python -m mbsim`` would obey (an 80×24 screen
    on a 120×40 pty), and a serial run in a terminal would not."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
