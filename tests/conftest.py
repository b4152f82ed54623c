"""Settings for the whole suite (pytest loads this file before the tests)."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config) -> None:  # noqa: ANN001
    """A TUI started by a test (on a pseudo-terminal, or with run_test's size) takes its size
    from there, never from the test runner's environment: pytest-xdist's workers have
    COLUMNS=80 LINES=24 in theirs, which a child ``python -m mbsim`` would obey (an 80×24 screen
    on a 120×40 pty), and a serial run in a terminal would not."""
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: absent with -p no:xdist
def pytest_xdist_auto_num_workers(config) -> int:  # noqa: ANN001
    """``-n auto`` (the suite's addopts): one and a half workers per core (3 on 2 cores), not one.

    A third of a worker's time in this suite is spent waiting, not computing: on a child process
    (``mbsim serve`` and its sessions, ``python -m mbsim``, Chromium, tmux), on a socket, on an
    app's worker threads. With one worker per core, that time leaves a core idle (the quiet run of
    2 workers on 2 cores: 303 s wall for 385 CPU-s, i.e. 221 of its 606 core-seconds idle); a
    third worker computes meanwhile. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still decides when set, and
    ``-n N`` as ever."""
    from_env = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if from_env:
        try:
            return int(from_env)
        except ValueError:  # as pytest-xdist's own hook: said, then ignored (no traceback)
            import warnings

            warnings.warn(f"PYTEST_XDIST_AUTO_NUM_WORKERS is not a number: {from_env!r}. Ignoring it.")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return cores + (cores + 1) // 2


#: Test files with single tests that run long (seconds to tens of seconds: a hypothesis search
#: that runs the CLI, a lesson played slide by slide, a server or a browser as child processes),
#: longest first. They are collected first, so that under pytest-xdist (``--dist loadgroup``: the
#: xdist groups first, then the other tests in collection order) they start early and the end of
#: the run is short tests that the two workers share out, instead of one worker finishing a long
#: test while the other has nothing left to do. The other files keep their order after these.
LONG_FIRST = (
    "test_fuzz_cli.py",
    "test_lesson_mask.py",
    "test_class_follow.py",
    "test_class_browser.py",
    "test_serve_browser.py",
    "test_class_terminals.py",
    "test_lesson_snapshots.py",
    "test_fuzz_lessons.py",
    "test_optimizers.py",
    "test_compare.py",
    "test_serve.py",
    "test_serve_hostile.py",
    "test_serve_sizing.py",
    "test_fuzz_serve.py",
    "test_key_latency.py",
)


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001
    """Long-running files first (:data:`LONG_FIRST`); a stable sort, so each file's tests, and the
    files not listed, keep their order."""
    rank = {name: k for k, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))


#: Seconds of engine work a frame of a run may take in the tests that use ``long_frames``.
LONG_SLICE = 0.5


@pytest.fixture
def long_frames(monkeypatch):  # noqa: ANN001
    """Frames of a running app that each run the engine for up to :data:`LONG_SLICE` s instead of
    the app's :data:`mbsim.tui.runloop.SLICE` (40 ms, which keeps keys answering while a person
    watches). For tests that look at the screen only once a run has stopped (a lesson played slide
    by slide): the run reaches the same stop in a few frames instead of one redraw of the whole
    screen per 40 ms of engine (the one-iteration lesson's answer-mask cases: 8.7 and 5.7 CPU-s ->
    2.4 and 2.1; lessons whose runs are short gain little). Not for tests about how a running app
    answers keys or paces its frames."""
    from mbsim.tui import lesson_mode, runloop

    monkeypatch.setattr(runloop, "SLICE", LONG_SLICE)
    monkeypatch.setattr(lesson_mode, "SLICE", LONG_SLICE)


# -- mbsim serve, shared (tests/serve_helpers.py) -------------------------------------------------
@pytest.fixture(scope="session")
def _shared_serve(tmp_path_factory):  # noqa: ANN001, ANN202
    """``mbsim serve`` with its defaults, in a folder of its own, once per test process."""
    from serve_helpers import shared_server

    yield from shared_server(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="session")
def _shared_serve_everywhere(tmp_path_factory):  # noqa: ANN001, ANN202
    """``mbsim serve --host 0.0.0.0`` (a token required), once per test process."""
    from serve_helpers import shared_server

    yield from shared_server(tmp_path_factory.mktemp("served-everywhere"), "--host", "0.0.0.0")


@pytest.fixture
def served(_shared_serve):  # noqa: ANN001, ANN201
    """A running ``mbsim serve`` (defaults) for a test that only reads from it: shared by such
    tests (mark them ``pytest.mark.xdist_group(serve_helpers.SHARED)``), with no session left
    from an earlier test and the log read from this test's start (serve_helpers.one_test_of)."""
    from serve_helpers import one_test_of

    yield from one_test_of(_shared_serve)


@pytest.fixture
def served_everywhere(_shared_serve_everywhere):  # noqa: ANN001, ANN201
    """As ``served``, for ``mbsim serve --host 0.0.0.0``."""
    from serve_helpers import one_test_of

    yield from one_test_of(_shared_serve_everywhere)
