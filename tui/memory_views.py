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
from typing import Any

from mbsim.engine.memory import (BUDGET_VARIABLE, BudgetError, budget, estimate_lab, estimate_view, refusal,
                           runs_that_fit, size_text)

#: What one view's own runs may hold in a session (their orders, working arrays, band): with
#: the process (~70 MB) and the main screen's run, DESIGN.md's 150 MB.
VIEW_BYTES = 96 << 20


#: glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: Blocks at least this large are mapped on their own and unmapped when freed.
MMAP_THRESHOLD = 256 << 10
_malloc_tuned: bool | None = None


def give_back_freed_memory() -> bool:
    """Make freed arrays go back to the system (glibc; elsewhere nothing is done): True when set.

    glibc maps a block of 128 KiB or more on its own and unmaps it when it is freed, but the
    first time such a block is freed it raises that threshold to the block's size (up to
    32 MiB): after one array of N floats at N = 10⁶ (8 MB) is freed, every later array up to
    that size comes from the heap, where a freed array stays resident behind the ones allocated
    after it. A session that reads the whole data set in pieces then holds its peak for good
    (measured, N = 10⁶, bench/session.py: 157 MB resident after the main screen instead of
    102). Fixing the threshold (mallopt turns the adjustment off) keeps arrays of 256 KiB and
    more mapped, so closing a view returns its arrays; smaller blocks are unchanged.
    ``MALLOC_MMAP_THRESHOLD_`` set in the environment is left as the user set it.
    """
    global _malloc_tuned
    if _malloc_tuned is not None:
        return _malloc_tuned
    _malloc_tuned = False
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") is not None:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _malloc_tuned = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    if _malloc_tuned:
        mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)   # a freed heap top goes back soon too
    return _malloc_tuned


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
