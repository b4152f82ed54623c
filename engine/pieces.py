"""A hook around the loops that compute a whole-data reading in pieces (issue 24).

The readings over every sample at large N (the noise readout, the full loss and gradient, the
landscape's losses, the least-squares minimum) go in pieces of a few MB so their memory does not
grow with N (engine.chunks, engine.noise, the MLP's forward pass). Each piece's arrays are
freed before the next piece makes the same ones again: how the C library hands that memory out
(mapped afresh each time, or reused) is the caller's business, not the engine's. So each such
loop runs inside :func:`scope`, by default nothing at all; an application may install a context
manager of its own with :func:`set_scope` (the TUI's: tui.memory_views). Scopes nest (a loop
over pieces may call another) and may be entered from several threads at once.

A reading that may take long (a landscape's losses over every sample: minutes for an MLP at
N = 10⁶) can also be given up between two pieces: a thread that computes for someone who may
stop wanting the result sets :func:`stop_when` (a predicate), and :func:`check`, called
before each piece, raises :class:`Cancelled` once it holds.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Callable

_scope: Callable[[], AbstractContextManager] = nullcontext


def set_scope(factory: Callable[[], AbstractContextManager] | None) -> None:
    """Install ``factory`` (called with no argument, it gives a context manager) around every
    loop over pieces; None puts back the default (nothing)."""
    global _scope
    _scope = factory if factory is not None else nullcontext


def scope() -> AbstractContextManager:
    """The context a loop over pieces runs in (see the module docstring)."""
    return _scope()


class Cancelled(Exception):
    """A reading in pieces given up between two pieces (:func:`stop_when`)."""


_stop = threading.local()


def stop_when(predicate: Callable[[], bool] | None) -> None:
    """In this thread, give up the readings in pieces once ``predicate()`` is true (checked
    before each piece); None: never (the default)."""
    _stop.when = predicate


def check() -> None:
    """Raise :class:`Cancelled` when this thread's :func:`stop_when` predicate holds."""
    when = getattr(_stop, "when", None)
    if when is not None and when():
        raise Cancelled("the reading was given up")
