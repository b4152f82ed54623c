"""tests/conftest.py's ``-n auto`` rule: 1.5 workers a core, PYTEST_XDIST_AUTO_NUM_WORKERS when
it is a number; a value that is not one is said and ignored, as pytest-xdist's own hook does
(it stopped the run with a ValueError traceback)."""

from __future__ import annotations

import os

import pytest

from conftest import pytest_xdist_auto_num_workers


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def test_the_environment_decides_when_it_is_a_number(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "5")
    assert pytest_xdist_auto_num_workers(None) == 5


def test_a_value_that_is_not_a_number_is_said_and_ignored(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "abc")
    with pytest.warns(UserWarning, match="not a number: 'abc'"):
        workers = pytest_xdist_auto_num_workers(None)
    c = cores()
    assert workers == c + (c + 1) // 2          # 3 on 2 cores (the module's rule)
