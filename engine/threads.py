"""One BLAS thread for the engine (issue 14, "Scale").

The engine's matrices are small (a batch of a few dozen rows, at most a million rows of a few
columns for an evaluation); splitting them over OpenBLAS's default threads buys nothing, and on
a shared 2-core machine the threads contend with other processes: large-N evaluation measured
10–15× slower with two threads than with one. :func:`use_one_blas_thread` limits the BLAS thread
pools of the running process: before NumPy is imported (the command line, whose startup imports
no NumPy) through the libraries' own environment variables, read when they load; once NumPy is
loaded with threadpoolctl (the maintained library for this: it finds OpenBLAS, MKL or BLIS
wherever NumPy loaded them, which environment variables cannot do any more).

Where it applies: the command line (``mbsim run``, ``plan``, the TUI, ``serve``) calls it when it
builds a simulation, because there mbsim owns the process. Importing ``engine`` or constructing a
``Simulation`` in a notebook does NOT change the user's BLAS settings behind their back; call
``use_one_blas_thread()`` there to get the same behaviour.
"""

from __future__ import annotations

import os
import sys
from typing import Any

_LIMITER: Any = None
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS")


def use_one_blas_thread() -> bool:
    """Limit this process's BLAS thread pools to one thread (idempotent); False when
    threadpoolctl is not installed (then nothing changes)."""
    global _LIMITER
    if _LIMITER is not None:
        return True
    if "numpy" not in sys.modules:
        # NumPy (and with it BLAS) not loaded yet: the BLAS libraries read these variables when
        # they load, which is free, where threadpoolctl's scan of the loaded libraries costs
        # ~30 ms of every start. An explicit setting of the user's is kept.
        for var in _THREAD_VARIABLES:
            os.environ.setdefault(var, "1")
        _LIMITER = "environment"
        return True
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return False
    _LIMITER = threadpool_limits(limits=1, user_api="blas")
    return True


def blas_threads() -> list[int]:
    """The thread counts of the BLAS libraries loaded in this process (for tests and benches)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return [int(lib["num_threads"]) for lib in threadpool_info() if lib.get("user_api") == "blas"]
