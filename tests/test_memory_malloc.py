"""How freed memory goes back (issue 24): engine.pieces' hook around every loop over pieces, and
the app's use of it (tui.memory_views: arrays of 256 KiB and more mapped alone, except inside a
reading in pieces, where the heap serves the pieces and the next piece reuses the last one's
pages; given back when the reading ends)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

import mbsim.engine.models.mlp as mlp_module
from mbsim.engine import pieces
from mbsim.engine.chunks import least_squares, mean_losses
from mbsim.engine.landscape import full_batch_gradient
from mbsim.engine.models import LinearModel, MLPModel
from mbsim.engine.noise import model_noise_report
from mbsim.engine.target import evaluate_runs

from memory_helpers import sample_data


@pytest.fixture
def entered():  # noqa: ANN201
    """A counting scope installed around the loops over pieces; the default put back after."""
    count = {"in": 0, "now": 0, "most": 0}

    @contextmanager
    def scope():  # noqa: ANN202
        count["in"] += 1
        count["now"] += 1
        count["most"] = max(count["most"], count["now"])
        try:
            yield
        finally:
            count["now"] -= 1

    pieces.set_scope(scope)
    yield count
    pieces.set_scope(None)


def test_every_reading_in_pieces_runs_in_the_scope(entered, monkeypatch) -> None:  # noqa: ANN001
    lin, net = LinearModel("linear", "mse", 2), MLPModel("bce", 2, 8, "tanh")
    X, y, _ = sample_data(lin, 3_000)
    Xb, yb, _ = sample_data(net, 3_000)
    p_lin, p_net = np.array([0.3, -0.2, 0.1]), np.linspace(-0.5, 0.5, net.n_params)

    def count(fn) -> int:  # noqa: ANN001
        before = entered["in"]
        fn()
        assert entered["now"] == 0
        return entered["in"] - before

    # small: the one-array paths, no scope
    assert count(lambda: model_noise_report(lin, p_lin, X, y, 32)) == 0
    assert count(lambda: least_squares(X, y)) == 0
    # in pieces: each loop once
    assert count(lambda: model_noise_report(lin, p_lin, X, y, 32, elements=600)) == 1
    assert count(lambda: least_squares(X, y, elements=600)) == 1
    assert count(lambda: least_squares(np.hstack([X, X[:, :1]]), y, elements=600)) == 2   # + the QR pass
    assert count(lambda: mean_losses(lin, np.stack([p_lin, 2 * p_lin]), X, y, elements=600)) == 1
    assert count(lambda: full_batch_gradient(net, p_net, Xb, yb, elements=600)) == 1
    monkeypatch.setattr(mlp_module, "PASS_ELEMENTS", 8 * 640)           # 640 rows a piece
    assert count(lambda: net.forward(p_net, Xb)) == 1
    assert count(lambda: net.batch_grad(p_net, Xb, yb)) == 1
    assert count(lambda: net._forward_shared_runs(np.stack([p_net, -p_net]), Xb)) == 1
    monkeypatch.setattr("mbsim.engine.target.EVAL_CHUNK", 3_000)         # one run a chunk
    runs = np.stack([p_lin, 2 * p_lin, -p_lin])
    assert count(lambda: evaluate_runs(lin, runs, X, y, 3_000)) == 1
    assert entered["most"] >= 1


def test_the_default_scope_changes_no_number(entered) -> None:  # noqa: ANN001
    # the hook only wraps: with it and without it the same numbers, bit for bit
    net = MLPModel("bce", 2, 8, "tanh")
    X, y, _ = sample_data(net, 4_000, seed=3)
    p = np.linspace(-0.7, 0.4, net.n_params)
    with_scope = model_noise_report(net, p, X, y, 32, elements=900)
    pieces.set_scope(None)
    assert pieces.scope().__class__.__name__ == "nullcontext"
    without = model_noise_report(net, p, X, y, 32, elements=900)
    for name in ("full_grad", "trace_cov", "b_simple", "expected_sq_norm"):
        assert np.array_equal(getattr(with_scope, name), getattr(without, name)), name


#: A subprocess: the app's settings (tune_malloc), then 30 "pieces" of 4 MB made and freed,
#: inside a reading's scope or outside; prints the minor page faults they took and the RSS
#: growth left after the scope ended (MB).
CHILD = """
import contextlib, resource, re, sys, numpy as np
from pathlib import Path
from mbsim.engine import pieces
from mbsim.tui import memory_views
def rss():
    return int(re.search(r'VmRSS:\\s+(\\d+)', Path('/proc/self/status').read_text()).group(1)) / 1024
tuned = memory_views.tune_malloc()
a = np.ones(1 << 20); del a
before = rss()
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
f0 = faults()
with pieces.scope() if sys.argv[1] == 'in' else contextlib.nullcontext():
    for _ in range(30):
        g = np.ones((1 << 19) - 512)      # a piece: just under 4 MiB
        h = np.ones(1 << 17)              # and a smaller one
        g += h.sum()
        del g, h
print(tuned, faults() - f0, rss() - before)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux /proc")
def test_pieces_reuse_the_heap_and_go_back_after() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}

    def run(where: str) -> tuple[str, int, float]:
        out = subprocess.run([sys.executable, "-c", CHILD, where], capture_output=True, text=True,
                             check=True, env=env).stdout.split()
        return out[0], int(out[1]), float(out[2])

    tuned, faults_in, left_in = run("in")
    if tuned != "True":            # not glibc: nothing to check
        return
    _, faults_out, left_out = run("out")
    # outside a reading each 4 MB array is mapped and faulted in afresh (~1,000 pages each, 30
    # times); inside, the heap's pages are reused: about one piece's worth of faults
    assert faults_out > 25 * 900, faults_out
    assert faults_in < 5 * 1_100, faults_in
    # and nothing stays resident once the reading has ended (given back by the scope's end)
    assert left_in < 3 and left_out < 3, (left_in, left_out)


def test_the_scope_restores_the_thresholds_across_threads_and_nesting(monkeypatch) -> None:  # noqa: ANN001
    from mbsim.tui import memory_views

    calls: list[tuple[int, int]] = []
    trims: list[int] = []
    monkeypatch.setattr(memory_views, "_glibc",
                        lambda: (lambda pad: trims.append(pad) or 1, lambda p, v: calls.append((p, v)) or 1))
    monkeypatch.setattr(memory_views, "_depth", 0)
    scope = memory_views._heap_for_pieces
    barrier = threading.Barrier(4)

    def reading() -> None:
        with scope():
            barrier.wait()
            with scope():               # a loop over pieces inside another
                pass
            barrier.wait()

    threads = [threading.Thread(target=reading) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    mmap = [v for p, v in calls if p == memory_views._M_MMAP_THRESHOLD]
    # raised once when the first reading began, lowered once when the last ended, then trimmed
    assert mmap == [memory_views.PIECES_MMAP_THRESHOLD, memory_views.MMAP_THRESHOLD]
    assert memory_views._depth == 0 and trims == [0]


def test_a_reading_in_pieces_is_given_up_when_asked() -> None:
    # engine.pieces.stop_when: the landscape's losses stop at the next piece (a closed view's
    # worker), and the thread's predicate is its own
    lin = LinearModel("linear", "mse", 2)
    X, y, _ = sample_data(lin, 5_000)
    batch = np.stack([np.array([0.3, -0.2, 0.1]) * s for s in range(4)])
    calls = {"n": 0}

    def after_three() -> bool:
        calls["n"] += 1
        return calls["n"] > 3

    pieces.stop_when(after_three)
    try:
        with pytest.raises(pieces.Cancelled):
            mean_losses(lin, batch, X, y, elements=700)
    finally:
        pieces.stop_when(None)
    assert calls["n"] == 4                      # asked before each piece, stopped at the fourth
    seen: list[bool] = []
    pieces.stop_when(lambda: True)
    try:
        worker = threading.Thread(target=lambda: seen.append(bool(len(mean_losses(lin, batch, X, y, elements=700)))))
        worker.start()
        worker.join()
    finally:
        pieces.stop_when(None)
    assert seen == [True]                       # another thread is not stopped
    whole = lin.per_sample_losses_many(batch, X, y).mean(axis=1)
    np.testing.assert_allclose(mean_losses(lin, batch, X, y, elements=700), whole, rtol=1e-13)


def test_one_landscape_grid_at_a_time_the_latest_next() -> None:
    # CellCanvas.run_in_thread: a grid asked while one computes waits (the latest replacing
    # the earlier), and starts when the one in flight ends; another kind runs beside it
    import asyncio

    from textual.app import App, ComposeResult

    from mbsim.tui.widgets._cells import CellCanvas

    started: list[tuple] = []
    done: list[tuple] = []
    gate = threading.Event()

    class Host(App):
        def compose(self) -> ComposeResult:
            yield CellCanvas(id="canvas")

    async def script() -> None:
        app = Host()
        async with app.run_test(size=(40, 10)) as pilot:
            canvas = app.query_one(CellCanvas)

            def job(key):  # noqa: ANN001, ANN202
                def fn():  # noqa: ANN202
                    started.append(key)
                    if key == ("grid", 1):
                        gate.wait(5)
                    return key
                return fn

            for k in (1, 2, 3):
                canvas.run_in_thread(("grid", k), job(("grid", k)), lambda key, r: done.append(r), "t")
            canvas.run_in_thread(("ref", 0), job(("ref", 0)), lambda key, r: done.append(r), "t")
            for _ in range(100):
                await pilot.pause(0.02)
                if ("ref", 0) in done:
                    break
            assert started[0] == ("grid", 1) and ("grid", 3) not in started and canvas.pending_work
            assert ("ref", 0) in done                    # beside the grid, not after it
            gate.set()
            for _ in range(200):
                await pilot.pause(0.02)
                if not canvas.pending_work:
                    break
            assert not canvas.pending_work

    asyncio.run(script())
    assert sorted(started) == [("grid", 1), ("grid", 3), ("ref", 0)]    # 2 replaced by 3
    assert sorted(done) == sorted(started)
