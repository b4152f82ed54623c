"""Messages the app sends to its panels (small dataclasses, as Textual allows).

The panels redraw from the simulation through ``show(sim)``; these messages only tell them about
things they cannot see in the state alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class SimulationChanged(Message, bubble=False):
    """The simulation jumped rather than moved forward.

    ``kind`` is "back" (one iteration undone), "reset" (back to the start) or "settings" (a live
    change of settings). A panel drops what it animates or caches about the previous state, e.g.
    the strip does not animate a reshuffle that was only stepped back over.

    The app hands it to each panel's ``on_simulation_changed`` directly, just before it redraws
    the panels, so a panel never draws the new state with the old assumptions.
    """

    kind: str


@dataclass
class RunStateChanged(Message):
    """The app started or stopped running, or changed its speed.

    ``speed`` is in iterations (batches) per second, None for "max".
    """

    running: bool
    speed: int | None


@dataclass
class LabProgress(Message):
    """The batch-size lab's sweep moved on (posted from its worker thread).

    ``progress`` is an :class:`engine.lab.Progress`: the phase, the batch size in work, the runs
    done of all, the elapsed time and the ETA.
    """

    progress: object


@dataclass
class LabFinished(Message):
    """The batch-size lab's sweep ended: ``result`` is its :class:`engine.lab.LabResult` (all of
    it, or the batch sizes done before escape stopped it: ``result.complete`` says which);
    ``error`` is the one-line reason when the sweep could not run at all."""

    result: object | None
    error: str = ""
