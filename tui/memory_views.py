"""The app's memory check before a view makes its runs (engine.memory; issue 24).

Two limits:

* the machine's budget (:func:`engine.memory.budget`: ``MBSIM_MEMORY_BUDGET`` or a quarter of
  the available memory): a view, or the app itself, that would need more is refused in one
  line saying what fits;
* a view's share of a session (:data:`VIEW_BYTES`): the noise cloud and the lab, whose runs
  each hold an order of N samples, take as many runs as fit it when the number was not asked
  for (``--runs``), and say so — so a session stays near DESIGN.md's 150 MB whatever N (at
  N = 10⁶ the cloud shows a few runs instead of 100, and the lab one run per learning rate).
  ``MBSIM_MEMORY_BUDGET`` set replaces this share too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from mbsim.engine.memory import (BUDGET_VARIABLE, BudgetError, budget, estimate_lab, estimate_view, refusal,
                           runs_that_fit, size_text)
from mbsim.engine.pieces import set_scope as set_pieces_scope

#: What one view's own runs may hold in a session (their orders, working arrays, band): with
#: the process (~70 MB) and the main screen's run, DESIGN.md's 150 MB.
VIEW_BYTES = 96 << 20


#: glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8
#: Outside a reading in pieces, blocks at least this large are mapped on their own and
#: unmapped when freed (with the heap's top given back past twice this).
MMAP_THRESHOLD = 256 << 10
#: Inside one (engine.pieces): blocks up to this size come from the heap, where the next piece
#: reuses what the last one freed: a piece's arrays hold at most engine.chunks.CHUNK_ELEMENTS
#: floats (4 MiB); larger blocks (at N = 10⁶ an array of N floats, 8 MB) are still mapped.
PIECES_MMAP_THRESHOLD = (4 << 20) + (64 << 10)
#: ... and the heap's top is kept up to this size (a piece's arrays together, ~10 MB for the
#: MLP's noise readout: else they would be given back and faulted in again at every piece).
PIECES_TRIM_THRESHOLD = 32 << 20
_libc: Any = None          # glibc's malloc_trim and mallopt once looked up; False where there are none
_tuned = False
_cpu_at_trim = 0.0         # the process's CPU seconds at the last trim (give_back_if_busy)
_depth = 0                 # readings in pieces under way (threads and nesting)
_depth_lock = threading.Lock()
#: :func:`give_back_if_busy` trims when the process used at least this much CPU since the last trim.
BUSY_SECONDS = 0.05


def _glibc() -> Any:
    """(malloc_trim, mallopt) of glibc (malloc.h), or False (another C library: nothing to call)."""
    global _libc
    if _libc is None:
        _libc = False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            trim, mallopt = libc.malloc_trim, libc.mallopt
        except (OSError, AttributeError):
            return _libc
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        _libc = (trim, mallopt)
    return _libc


def _thresholds(mmap: int, trim: int) -> None:
    mallopt = _glibc()[1]
    mallopt(_M_MMAP_THRESHOLD, mmap)
    mallopt(_M_TRIM_THRESHOLD, trim)


@contextmanager
def _heap_for_pieces() -> Iterator[None]:
    """engine.pieces' scope: while any reading in pieces is under way the heap serves blocks up
    to :data:`PIECES_MMAP_THRESHOLD` and keeps :data:`PIECES_TRIM_THRESHOLD` at its top; when the last one ends the thresholds go back and the
    freed pages are given back (:func:`give_back_freed_memory`)."""
    global _depth
    with _depth_lock:
        _depth += 1
        if _depth == 1:
            _thresholds(PIECES_MMAP_THRESHOLD, PIECES_TRIM_THRESHOLD)
    try:
        yield
    finally:
        with _depth_lock:
            _depth -= 1
            if _depth == 0:
                _thresholds(MMAP_THRESHOLD, 2 * MMAP_THRESHOLD)
                give_back_freed_memory()


def tune_malloc() -> bool:
    """How the app's freed memory goes back to the system (glibc; elsewhere nothing is done):
    True when set. Done once, before the app starts its worker threads; ``MALLOC_ARENA_MAX``
    or ``MALLOC_MMAP_THRESHOLD_`` set in the environment leaves it all as the user set it.

    * The threshold. glibc maps a block of 128 KiB or more on its own and unmaps it when it
      is freed, but the first time such a block is freed it raises that threshold to the
      block's size (up to 32 MiB): after one array of N floats at N = 10⁶ (8 MB) is freed,
      every later array up to that size comes from the heap, where a freed array stays
      resident behind the ones allocated after it. Fixed at :data:`MMAP_THRESHOLD` (mallopt
      turns the adjustment off), arrays of 256 KiB and more are mapped alone and go back
      when freed: N = 10⁶, RSS after the main screen 157 → ~102 MB.
    * But a mapped block is faulted in afresh each time: a reading in pieces (engine.pieces)
      made and freed its few-MB arrays once a piece (xor-mlp at N = 10⁶: the noise readout
      550 ms of CPU against 240 ms from the heap, the full loss 58 against 36 ms; a session at
      10⁶ / 32 spent 60 s of system time in 67 s). So while one is under way the heap serves
      them (:data:`PIECES_MMAP_THRESHOLD`) and the next piece reuses the last one's pages;
      when it ends they are given back.
    * One arena for every thread: glibc gives each thread that allocates an arena of its own
      (up to 8 a core), and what a thread frees stays in its arena for that thread; the
      widgets compute in worker threads (measured, N = 50,000 / 64, heap thresholds: 148 MB
      peak with an arena a thread, 131 MB with one).
    """
    global _tuned
    libc = _glibc()
    if _tuned or not libc or any(os.environ.get(v) is not None
                                 for v in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")):
        return _tuned
    _tuned = bool(libc[1](_M_ARENA_MAX, 1))
    _thresholds(MMAP_THRESHOLD, 2 * MMAP_THRESHOLD)
    set_pieces_scope(_heap_for_pieces)
    return _tuned


def give_back_freed_memory() -> bool:
    """Give the pages of freed arrays back to the system now (glibc's ``malloc_trim(0)``; elsewhere
    nothing is done): True when some were given back.

    What the heap still holds after it is freed (blocks under the threshold, a reading's pieces:
    :func:`tune_malloc`) stays resident until trimmed: the app calls this when something large
    has just been let go (a reading in pieces ends, a view closes, a panel is hidden, a run
    pauses, the data are made) and once a second while it works (:func:`give_back_if_busy`).
    A trim takes ~1 ms.
    """
    libc = _glibc()
    if not libc:
        return False
    global _cpu_at_trim
    _cpu_at_trim = time.process_time()
    return bool(libc[0](0))


def give_back_if_busy() -> bool:
    """:func:`give_back_freed_memory` when the process has used :data:`BUSY_SECONDS` of CPU
    since the last trim (a running app, a view computing); nothing when idle (a paused app
    stays at ~0 CPU). For a one-second timer."""
    if time.process_time() - _cpu_at_trim < BUSY_SECONDS:
        return False
    return give_back_freed_memory()


def give_back_soon(app: Any) -> None:
    """:func:`give_back_freed_memory` now, and again a second later for what a widget's worker
    thread still held when a view closed (Textual ``app``'s timer)."""
    give_back_freed_memory()
    try:
        app.set_timer(1.0, give_back_freed_memory)
    except Exception:       # noqa: BLE001 - the app is closing: nothing more to give back
        pass


def machine_budget() -> tuple[int, str]:
    """The budget, or (for a ``MBSIM_MEMORY_BUDGET`` that is not a size) a 2 GiB stand-in: the
    command line refuses such a value before the app opens."""
    try:
        return budget()
    except BudgetError:
        return 2 << 30, "2.0 GiB"


def view_share() -> tuple[int, str]:
    """(:data:`VIEW_BYTES` and what it is), or the budget when ``MBSIM_MEMORY_BUDGET`` sets one."""
    limit, source = machine_budget()
    if os.environ.get(BUDGET_VARIABLE, "").strip() or limit <= VIEW_BYTES:
        return limit, source
    return VIEW_BYTES, "a view's share of a session"


def cloud_runs(scenario: Any, requested: int, asked: bool, dataset: Any = None) -> tuple[int, str]:
    """(K, a note or "") for the noise cloud: ``requested`` runs when they fit, else as many as
    fit the view's share (unless ``asked``: then the machine's budget only); K = 0 with the
    one-line refusal when not even one does."""
    share, source = machine_budget() if asked else view_share()

    def make(k: int):  # noqa: ANN202
        return estimate_view("cloud", scenario, runs=k, dataset=dataset)

    if make(requested).total <= share:
        return requested, ""
    k = runs_that_fit(scenario, share, requested, make=make)
    if k == 0 or (asked and k < requested):
        fits = f"--runs {k} fits" if k else "not even one run fits"
        return 0, refusal(make(requested), share, source, fits) or ""
    need = size_text(make(requested).total)
    return k, (f"the noise cloud shows {k} runs: {requested} would hold about {need} "
               f"(--runs {requested} asks for them, or set {BUDGET_VARIABLE})")


def lab_runs(scenario: Any, requested: int, candidates: int, dataset: Any = None) -> tuple[int, str]:
    """(runs per batch size, a note or "") for the lab screen, as :func:`cloud_runs` (the lab's
    default sizes: 1, 2, 4, …, N); 0 with the refusal when not even one run fits."""
    share, source = view_share()
    n = dataset.n_samples if dataset is not None else (3 if scenario.dataset == "three-losses"
                                                        else int(scenario.samples))
    sizes = [1 << j for j in range(max(1, n.bit_length())) if (1 << j) < n] + [n]

    def make(k: int):  # noqa: ANN202
        e = estimate_lab(scenario, k, sizes, candidates, dataset)
        e.parts.pop("data", None)          # the main screen's data, already held
        e.process = 0
        return e

    if make(requested).total <= share:
        return requested, ""
    k = runs_that_fit(scenario, share, requested, make=make)
    if k == 0:
        return 0, refusal(make(requested), share, source, "not even one run "
                          "a batch size fits: 'mbsim lab' runs it with the machine's budget") or ""
    return k, (f"the lab runs {k} run{'s' if k != 1 else ''} per batch size: {requested} would hold about "
               f"{size_text(make(requested).total)} (set {BUDGET_VARIABLE}, or run 'mbsim lab')")


def view_refusal(view: str, scenario: Any, dataset: Any = None) -> str:
    """The one line refusing compare mode (or the app itself: ``"main"``) past the machine's
    budget; "" when it fits."""
    limit, source = machine_budget()
    return refusal(estimate_view(view, scenario, dataset=dataset), limit, source) or ""
