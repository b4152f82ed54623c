"""What the panels draw — one run, a handful or a cloud — and how compare mode tells its
three runs apart: one colour, one line and one marker per run.

A panel's ``show(source)`` takes a :class:`~engine.Simulation` (one run, the main screen), a
:class:`~engine.compare.Comparison` (a handful: ``runs`` is a list of labelled simulations) or
an :class:`~engine.ensemble.Ensemble` (a cloud of K runs); :func:`source_kind` tells which, and
:func:`revision_key` is what its picture depends on (the engine's revisions: the one refresh rule).

Run 0 is Batch GD (B=N), run 1 the scenario's mini-batch size, run 2 SGD (B=1)
(:class:`engine.compare.Comparison`). The same style is used in the landscape, the loss plot and
the counters rows, so a colour or a marker means the same run everywhere:

* Batch GD: white (the theme's text colour on light themes), solid line ``━``, marker ``■``;
* mini-batch: orange, dotted ``┄``, marker ``◆``;
* SGD: magenta, dotted ``┄``, marker ``●``.

Without colour (``NO_COLOR``) the paths use letters instead (see the landscape).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunStyle:
    """Colours (dark / light theme), line glyph, marker and NO_COLOR letter of one run."""

    dark: str
    light: str
    line: str
    marker: str
    letter: str
    dotted: bool

    def color(self, dark: bool) -> str:
        return self.dark if dark else self.light


RUN_STYLES: tuple[RunStyle, RunStyle, RunStyle] = (
    RunStyle("#ffffff", "#202020", "━", "■", "G", dotted=False),
    RunStyle("#ffa22e", "#d55e00", "┄", "◆", "M", dotted=True),
    RunStyle("#ff5fd7", "#aa3377", "┄", "●", "S", dotted=True),
)
START_MARKER = "○"


def short_name(label: str) -> str:
    """``Batch GD (B=200)`` → ``GD``, ``Mini-batch GD (B=5)`` → ``mini-batch``, ``SGD (B=1)`` → ``SGD``."""
    algo = label.split(" (")[0]
    return {"Batch GD": "GD", "Mini-batch GD": "mini-batch"}.get(algo, algo)


def short_names(labels: list[str]) -> list[str]:
    """Short names, with the batch size added where two runs would read the same."""
    names = [short_name(lab) for lab in labels]
    out = []
    for name, lab in zip(names, labels):
        if names.count(name) > 1:
            b = lab.split("(")[-1].rstrip(")")
            name = f"{name} {b}"
        out.append(name)
    return out


def has_history(src: Any) -> bool:
    """True for a Simulation (one run with a ``history``), asked without reading it: reading
    ``Simulation.history`` records the current step's full losses first, a pass over all N
    samples (``hasattr`` calls the property: at N = 10⁶, ~4 ms in every frame of the header and
    the counters, issue 24)."""
    return hasattr(type(src), "history") or "history" in getattr(src, "__dict__", ())


def source_kind(src: Any) -> str:
    """"one" (a Simulation), "runs" (a Comparison: a list of labelled runs) or "cloud" (an
    Ensemble of K runs)."""
    if has_history(src):
        return "one"
    if isinstance(getattr(src, "runs", None), list):
        return "runs"
    return "cloud"


def revision_key(src: Any) -> tuple:
    """What a picture of ``src`` depends on: each simulation's identity and revision (bumped by
    every change), or the ensemble's."""
    kind = source_kind(src)
    if kind == "one":
        return (id(src), src.revision, src.step, src.history.count)
    if kind == "runs":
        return tuple((id(r.sim), r.sim.revision) for r in src.runs)
    return (id(src), getattr(src, "revision", None), tuple(src.iteration[:1]))


_LAST: list = [None, None, None]      # (simulation, its revision, its last iteration's values)


def last_iteration(sim: Any) -> Any:
    """``sim.last`` (the last finished iteration, every phase's values), computed once per
    revision of the simulation: the panels ask for it several times a frame, and each time the
    engine recomputes predictions, losses and per-sample gradients of the batch."""
    cached, revision, value = _LAST
    if cached is sim and revision == sim.revision:
        return value
    value = sim.last
    _LAST[:] = [sim, sim.revision, value]
    return value


def current_or_last(sim: Any) -> Any:
    """The iteration in progress (``sim.pending``), else the last one done (or None)."""
    return sim.pending if sim.pending is not None else last_iteration(sim)


_BRIEF: list = [None, None, None]     # (simulation, its revision, its last iteration in brief)


def last_brief(sim: Any) -> Any:
    """``sim.last_brief()`` (the last finished iteration's place, batch and loss, without its
    per-sample values: ``engine.readings.RunReadings.last_brief``), once per revision of the
    simulation; ``sim.last`` for one without it. What the panels read every frame (the strip,
    the detail line): the whole ``sim.last`` is computed only when something shows it (the
    phase view)."""
    cached, revision, value = _BRIEF
    if cached is sim and revision == sim.revision:
        return value
    _, full_revision, full = _LAST
    if _LAST[0] is sim and full_revision == sim.revision:
        value = full                                    # (already computed this revision)
    else:
        brief = getattr(sim, "last_brief", None)
        value = brief() if callable(brief) else sim.last
    _BRIEF[:] = [sim, sim.revision, value]
    return value


def current_or_brief(sim: Any) -> Any:
    """The iteration in progress (``sim.pending``), else the last one done in brief
    (:func:`last_brief`), or None: its ``position``, ``phase`` and ``batch_loss``."""
    return sim.pending if sim.pending is not None else last_brief(sim)


_UPDATE: list = [None, None, None]    # (simulation, its revision, its last step written out)


def last_update_of(sim: Any) -> Any:
    """``sim.last_update()`` (the optimizer's last step written out; None for a simulation
    without one), computed once per revision of the simulation."""
    cached, revision, value = _UPDATE
    if cached is sim and revision == sim.revision:
        return value
    last_update = getattr(sim, "last_update", None)
    value = last_update() if callable(last_update) else None
    _UPDATE[:] = [sim, sim.revision, value]
    return value
