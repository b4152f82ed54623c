"""A hook around the loops that compute a whole-data reading in pieces (issue 24).

The readings over every sample at large N (the noise readout, the full loss and gradient, the
landscape's losses, the least-squares minimum) go in pieces of a few MB so their memory does not
grow with N (engine.chunks, engine.noise, the MLP's forward pass). Each piece's arrays are
freed before the next piece makes the same ones again: how the C library hands that memory out
(mapped afresh each time, or reused) is the caller's business, not the engine's. So each such
loop runs inside :func:`scope`, by default nothing at all; an application may install a context
manager of its own with :func:`set_scope` (the TUI's: tui.memory_views). Scopes nest (a loop
over pieces may call another) and may be entered from several threads at once.
"""

from __future__ import annotations

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
