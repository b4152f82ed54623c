"""The panels of the main screen.

``header``, ``counters`` and ``detail`` are one-to-three-line text panels; ``strip``,
``landscape`` and ``lossplot`` are the graphical panels. Every panel has ``show(sim)``, which
reads the :class:`engine.Simulation` and redraws only when what it shows has changed.
"""

from .counters import CountersLine
from .detail import DetailLine
from .header import StatusHeader

__all__ = ["CountersLine", "DetailLine", "StatusHeader"]
