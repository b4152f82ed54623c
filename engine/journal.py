"""The follow journal: a run's exact state in a few hundred bytes (class mode, issue 22).

A teacher's run is a :class:`~engine.simulation.Simulation`; the engine is deterministic, so a
follower that knows how the run was made reaches the very same state (counters, parameters,
losses to the last digit) by replaying it, without receiving a single number of the state.
What has to be known (a :class:`Journal`):

* the resolved scenario the run was made from and its evaluation policy
  (:class:`engine.rules.EvalPolicy`: when the full losses are evaluated, so the history and
  the target loss stop the same way);
* every live change of settings that is still in force, in the order it was made: the iteration
  it was made at, how many phases of that iteration had been done (``p`` at the start of a pass
  draws the pass's order from the generator, and the change starts from there), the settings as
  they were asked for (two changes at one iteration are not one change: the optimizer's fresh
  state depends on each step, :func:`engine.segment.fresh_optimizer`) and the note;
* the position: iterations done and phases of the next one done (or that it diverged).

Going back never needs to be replayed: :meth:`Simulation.goto_iteration` is exact, so a change
made after the iteration gone back to is forgotten exactly as the engine forgets its stretch of
settings. A :class:`Recorder` keeps this list for one simulation (it wraps the simulation's
``apply_changes`` and ``goto_iteration`` — every change and every jump back goes through them —
on that instance only); :func:`journal_of` reads it; :class:`Follower` brings a simulation to a
journal's state, forward or back, and replays from the start only when it has to.

On the wire a journal is compact JSON (:meth:`Journal.encode`); :meth:`Journal.decode` checks
every field strictly (types, names, ranges, sizes) and raises :class:`JournalError` with one
sentence saying what is wrong: a follower is never made to run an unbounded replay or read a
file by what it receives. Pure: no UI import.
"""

from __future__ import annotations

import json
import math
import weakref
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .alignment import ALIGNMENTS
from .errors import ScenarioError
from .rules import EvalPolicy
from .scenario import FIELD_NAMES, LIVE_SETTINGS, Scenario, from_mapping
from .simulation import DIVERGED, Simulation

#: Live changes a journal may carry (each one is a key press of the teacher's).
MAX_CHANGES = 2048
#: The encoded journal's size limit, in bytes.
MAX_JOURNAL_BYTES = 256 * 1024
#: The furthest iteration a journal may ask a follower to replay to.
MAX_ITERATION = 10_000_000
#: A change's note (shown on the loss plot) and a string setting are cut to this length.
MAX_TEXT = 200
#: The scenario's name and description may be this long.
MAX_DESCRIPTION = 2000
#: An evaluation policy's "every step up to" limit (samples).
MAX_POLICY = 100_000_000
#: Phases of the next iteration a position can have done: 1–3 after forward, loss and backward
#: (the update ends the iteration); :data:`DIVERGED_PHASES` when the next iteration was tried and
#: diverged (the run stays at its last finite state, the iteration not counted).
DIVERGED_PHASES = 4
MAX_PHASES = DIVERGED_PHASES
_SCALARS = (bool, int, float, str)


class JournalError(ValueError):
    """A journal that cannot be followed: one sentence saying what is wrong."""


@dataclass(frozen=True)
class Change:
    """One live change of settings: made after ``iteration`` iterations and ``phases`` phases of
    the next, asking for ``settings`` (name, value pairs, as asked), with its plot ``note``."""

    iteration: int
    phases: int
    settings: tuple[tuple[str, Any], ...]
    note: str = ""

    def to_json(self) -> list[Any]:
        return [self.iteration, self.phases, {k: v for k, v in self.settings}, self.note]


@dataclass(frozen=True)
class Journal:
    """A run's state as the list of what made it (module docstring)."""

    scenario: Scenario
    policy: int                      # EvalPolicy.every_step_up_to
    changes: tuple[Change, ...]
    iteration: int
    phases: int = 0

    def to_json(self) -> dict[str, Any]:
        """Plain data (JSON types only)."""
        return {"scenario": self.scenario.to_dict(), "policy": self.policy,
                "changes": [c.to_json() for c in self.changes], "iteration": self.iteration,
                "phases": self.phases}

    def encode(self) -> str:
        """Compact JSON text; :class:`JournalError` if it would exceed :data:`MAX_JOURNAL_BYTES`."""
        text = json.dumps(self.to_json(), separators=(",", ":"), allow_nan=False)
        if len(text.encode()) > MAX_JOURNAL_BYTES:
            raise JournalError(f"the run's journal is {len(text.encode()):,} bytes, more than the "
                               f"{MAX_JOURNAL_BYTES:,} a follower accepts (too many changes: reset the run)")
        return text

    @staticmethod
    def decode(text: str | bytes) -> Journal:
        """The journal of JSON ``text``, checked field by field (:func:`journal_from_json`)."""
        if len(text) > MAX_JOURNAL_BYTES:
            raise JournalError(f"journal of {len(text):,} bytes: at most {MAX_JOURNAL_BYTES:,} allowed")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:
            raise JournalError(f"journal is not JSON ({type(err).__name__})") from None
        return journal_from_json(data)

    @property
    def position(self) -> tuple[int, int]:
        """(iterations done, phases of the next done)."""
        return self.iteration, self.phases


# ------------------------------------------------------------------------------------------------
# checking plain data
def _int(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise JournalError(f"{what} must be a whole number, not {type(value).__name__}")
    if not low <= value <= high:
        raise JournalError(f"{what} {value} is out of range ({low} to {high:,})")
    return value


def _text(value: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise JournalError(f"{what} must be text, not {type(value).__name__}")
    if len(value) > limit:
        raise JournalError(f"{what} is {len(value):,} characters long: at most {limit:,} allowed")
    return value


def _scalar(value: Any, what: str) -> Any:
    if value is not None and not isinstance(value, _SCALARS):
        raise JournalError(f"{what} must be a number, text, true/false or null, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise JournalError(f"{what} must be finite")
    if isinstance(value, str):
        _text(value, what)
    return value


def _keys(data: Any, what: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise JournalError(f"{what} must be an object")
    extra = sorted(set(data) - set(allowed))
    missing = sorted(set(allowed) - set(data))
    if extra:
        raise JournalError(f"{what} has an unknown field {str(extra[0])[:40]!r}; allowed: {', '.join(allowed)}")
    if missing:
        raise JournalError(f"{what} lacks the field {missing[0]!r}")
    return data


def scenario_from_json(data: Any, *, allow_csv: bool = False) -> Scenario:
    """The scenario of plain data (every field a known setting of the right kind), validated.

    A CSV data set names a file on the follower's machine: refused unless ``allow_csv``."""
    if not isinstance(data, dict):
        raise JournalError("the scenario must be an object")
    for key, value in data.items():
        if key not in FIELD_NAMES:
            raise JournalError(f"the scenario has an unknown setting {str(key)[:40]!r}")
        limit = MAX_DESCRIPTION if key in ("name", "description") else MAX_TEXT
        if isinstance(value, str):
            _text(value, f"scenario setting {key}", limit)
        else:
            _scalar(value, f"scenario setting {key}")
    if not allow_csv and str(data.get("dataset", "")).startswith("csv:"):
        raise JournalError("the run reads a CSV file, which a follower does not open")
    try:
        return from_mapping(data, source="journal").validate()
    except (ScenarioError, TypeError, ValueError) as err:
        raise JournalError(f"the scenario cannot be used: {err}") from None


def change_from_json(data: Any, i: int) -> Change:
    """A :class:`Change` from its list ``[iteration, phases, {settings}, note]``."""
    what = f"change {i + 1}"
    if not isinstance(data, list) or len(data) != 4:
        raise JournalError(f"{what} must be a list of [iteration, phases, settings, note]")
    iteration = _int(data[0], f"{what}'s iteration", 0, MAX_ITERATION)
    phases = _int(data[1], f"{what}'s phases", 0, MAX_PHASES)
    settings = data[2]
    if not isinstance(settings, dict) or not settings:
        raise JournalError(f"{what}'s settings must be a non-empty object")
    for key, value in settings.items():
        if key not in LIVE_SETTINGS:
            raise JournalError(f"{what} changes {str(key)[:40]!r}, which is not a live setting "
                               f"({', '.join(sorted(LIVE_SETTINGS))})")
        _scalar(value, f"{what}'s {key}")
    note = _text(data[3], f"{what}'s note")
    return Change(iteration, phases, tuple(settings.items()), note)


def journal_from_json(data: Any, *, allow_csv: bool = False) -> Journal:
    """A :class:`Journal` from plain data, every field checked (:class:`JournalError` if not)."""
    data = _keys(data, "the journal", ("scenario", "policy", "changes", "iteration", "phases"))
    scenario = scenario_from_json(data["scenario"], allow_csv=allow_csv)
    policy = _int(data["policy"], "the policy", 0, MAX_POLICY)
    raw = data["changes"]
    if not isinstance(raw, list):
        raise JournalError("the changes must be a list")
    if len(raw) > MAX_CHANGES:
        raise JournalError(f"{len(raw):,} changes: at most {MAX_CHANGES:,} allowed")
    changes = tuple(change_from_json(c, i) for i, c in enumerate(raw))
    iteration = _int(data["iteration"], "the iteration", 0, MAX_ITERATION)
    phases = _int(data["phases"], "the phases", 0, MAX_PHASES)
    last = 0
    for i, c in enumerate(changes):
        if c.iteration < last:
            raise JournalError(f"change {i + 1} is at iteration {c.iteration}, before the change ahead of it")
        last = c.iteration
    if changes and (iteration, phases) < (last, 0):
        raise JournalError(f"the position (iteration {iteration}) is before the last change (iteration {last})")
    return Journal(scenario, policy, changes, iteration, phases)


# ------------------------------------------------------------------------------------------------
# the teacher's side: recording
def pending_phases(sim: Simulation) -> int:
    """Phases of the next iteration done (0 between iterations; 1–3 after forward/loss/backward;
    :data:`DIVERGED_PHASES` if it diverged)."""
    if sim.status == DIVERGED:
        return DIVERGED_PHASES
    p = sim.pending
    return p.phase + 1 if p is not None and p.phase >= 0 else 0


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python one of the same value (exact), for JSON."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


class Recorder:
    """The journal of one simulation, kept as it is changed (wraps its ``apply_changes`` and
    ``goto_iteration``; :func:`recorder` makes at most one per simulation)."""

    def __init__(self, sim: Simulation) -> None:
        self.scenario: Scenario = sim.segments[0].scenario
        self.policy = sim.eval_policy.every_step_up_to
        # a simulation changed before it was recorded: its stretches of settings, each one
        # change asking for every live setting (exact unless two changes were made at one iteration)
        self.changes: list[Change] = []
        for seg in sim.segments[1:]:
            settings = tuple((k, _plain(getattr(seg.scenario, k))) for k in sorted(LIVE_SETTINGS))
            self.changes.append(Change(seg.start_iteration, 0, settings, seg.note))
        self._sim = weakref.ref(sim)
        apply, goto = sim.apply_changes, sim.goto_iteration

        def apply_changes(note: str = "", **changes: object):  # noqa: ANN202 - Segment
            it, phases = sim.iteration, pending_phases(sim)
            seg = apply(note, **changes)
            settings = tuple((k, _plain(v)) for k, v in changes.items())
            self.changes.append(Change(it, phases, settings, note[:MAX_TEXT]))
            return seg

        def goto_iteration(target: int) -> None:
            goto(target)
            t = max(0, target)     # the engine forgets the stretches that start after t
            self.changes = [c for c in self.changes if c.iteration <= t]

        sim.apply_changes = apply_changes          # type: ignore[method-assign]
        sim.goto_iteration = goto_iteration        # type: ignore[method-assign]

    def journal(self) -> Journal:
        """The simulation's journal now."""
        sim = self._sim()
        if sim is None:
            raise JournalError("the simulation is gone")
        policy = sim.eval_policy.every_step_up_to   # the app may set it after recording began
        return Journal(self.scenario, policy, tuple(self.changes), sim.iteration, pending_phases(sim))


_RECORDERS: "weakref.WeakKeyDictionary[Simulation, Recorder]" = weakref.WeakKeyDictionary()


def recorder(sim: Simulation) -> Recorder:
    """The :class:`Recorder` of ``sim`` (made the first time it is asked for)."""
    rec = _RECORDERS.get(sim)
    if rec is None:
        rec = _RECORDERS[sim] = Recorder(sim)
    return rec


def journal_of(sim: Simulation) -> Journal:
    """The journal of ``sim`` now (recording starts with the first call)."""
    return recorder(sim).journal()


# ------------------------------------------------------------------------------------------------
# the follower's side: replaying
def move_to(sim: Simulation, iteration: int, phases: int = 0) -> None:
    """Bring ``sim`` to ``iteration`` iterations and ``phases`` phases of the next, forward by
    running or back by the engine's exact rewind; :class:`JournalError` if the run ends first."""
    if (sim.iteration, pending_phases(sim)) == (iteration, phases):
        return
    if (sim.iteration, pending_phases(sim)) > (iteration, phases):
        sim.goto_iteration(iteration)
    if sim.iteration < iteration:
        sim.run_iterations(iteration - sim.iteration)
    if sim.iteration != iteration:
        raise JournalError(f"the run ends at iteration {sim.iteration}, before iteration {iteration}")
    if phases == DIVERGED_PHASES:
        sim.step_iteration()
        if sim.status != DIVERGED or sim.iteration != iteration:
            raise JournalError(f"the run does not diverge after iteration {iteration}")
        return
    while pending_phases(sim) < phases:
        if sim.step_phase() is None:
            raise JournalError(f"the run has no iteration {iteration + 1} to do a phase of")


def replay(journal: Journal, *, make: Callable[[Scenario, EvalPolicy], Simulation] | None = None) -> Simulation:
    """A new simulation in the state ``journal`` describes (from the start)."""
    return Follower(make).follow(journal)


def _apply(sim: Simulation, change: Change) -> None:
    move_to(sim, change.iteration, change.phases)
    try:
        sim.apply_changes(change.note, **dict(change.settings))
    except ScenarioError as err:
        raise JournalError(f"the change at iteration {change.iteration} cannot be made: {err}") from None
    except TypeError as err:
        raise JournalError(f"the change at iteration {change.iteration} cannot be made: {err}") from None


class Follower:
    """A simulation kept in the state of the journals it is given, one after another: forward
    by running, back by rewinding, and from a fresh simulation only when it must be (another
    scenario, or a change the teacher undid at iteration 0)."""

    def __init__(self, make: Callable[[Scenario, EvalPolicy], Simulation] | None = None) -> None:
        """``make`` builds a simulation (default: ``Simulation(scenario, eval_policy=policy)``)."""
        self.make = make or (lambda sc, policy: Simulation(sc, eval_policy=policy))
        self.sim: Simulation | None = None
        self.journal: Journal | None = None
        self.replays = 0                     # simulations built from the start (tests, bench)

    def forget(self) -> None:
        """The simulation was changed by someone else (free play): the next journal replays."""
        self.journal = None

    def follow(self, want: Journal) -> Simulation:
        """The simulation, brought to ``want``'s state (:class:`JournalError` if it cannot be)."""
        sim, have = self.sim, self.journal
        self.journal = None                  # until the state is reached
        keep = 0
        if sim is None or have is None or have.scenario != want.scenario or have.policy != want.policy:
            sim = None
        else:
            k = 0
            while k < min(len(have.changes), len(want.changes)) and have.changes[k] == want.changes[k]:
                k += 1
            keep = k
            if k < len(have.changes):        # changes the teacher no longer has: go back before them
                first = have.changes[k].iteration
                if first == 0:
                    sim = None
                else:
                    keep = sum(1 for c in want.changes[:k] if c.iteration < first)
                    sim.goto_iteration(first - 1)
        if sim is None:
            try:
                sim = self.make(want.scenario, EvalPolicy(want.policy))
            except ScenarioError as err:
                raise JournalError(f"the scenario cannot be used: {err}") from None
            self.replays += 1
            self.sim, keep = sim, 0
        self.sim = sim
        for change in want.changes[keep:]:
            _apply(sim, change)
        move_to(sim, want.iteration, want.phases)
        self.journal = want
        return sim


# ------------------------------------------------------------------------------------------------
# views with runs of their own: compare mode's Comparison, the noise cloud's Ensemble
#: The ops a :class:`TickRecorder` writes: ``["t", n]`` n ticks, ``["e"]`` to the end of the
#: epoch, ``["b"]`` one tick back, ``["g", n]`` to tick n, ``["r", align]`` reset (aligned by
#: ``align`` from then on), ``["c", {settings}]`` a live change of every run.
TICK_OPS = ("t", "e", "b", "g", "r", "c")
MAX_TICKS = 10_000_000


class TickRecorder:
    """The ops done on a collection of runs stepped by ticks (a Comparison or an Ensemble), in
    order, so that a follower replaying them on a collection made the same way reaches the same
    state: each op is exact, and the ops are the collection's own methods. Consecutive ticks are
    one op; a tick undone by ``back`` right after it is dropped (back restores the state before
    it exactly)."""

    def __init__(self, collection: Any) -> None:
        self.ops: list[list[Any]] = []
        self.overflow = False
        names = ("tick", "tick_epoch", "back", "reset", "goto_tick", "apply_changes")
        originals = {n: getattr(collection, n) for n in names if hasattr(collection, n)}
        ops = self.ops

        def add(op: list[Any]) -> None:
            if len(ops) >= MAX_OPS:
                self.overflow = True
            else:
                ops.append(op)

        def tick() -> bool:
            moved = originals["tick"]()
            if moved:
                if ops and ops[-1][0] == "t":
                    ops[-1][1] += 1
                else:
                    add(["t", 1])
            return moved

        def tick_epoch() -> bool:
            moved = originals["tick_epoch"]()
            if moved:
                add(["e"])
            return moved

        def back() -> bool:
            moved = originals["back"]()
            if moved:
                if ops and ops[-1][0] == "t":
                    ops[-1][1] -= 1
                    if not ops[-1][1]:
                        ops.pop()
                elif ops and ops[-1][0] == "e":
                    ops.pop()
                else:
                    add(["b"])
            return moved

        def reset() -> None:
            originals["reset"]()
            add(["r", str(collection.align)])

        def goto_tick(n: int) -> None:
            originals["goto_tick"](n)
            add(["g", int(n)])

        def apply_changes(**changes: Any) -> Any:
            out = originals["apply_changes"](**changes)
            add(["c", {k: _plain(v) for k, v in changes.items()}])
            return out

        for name, fn in (("tick", tick), ("tick_epoch", tick_epoch), ("back", back), ("reset", reset),
                         ("goto_tick", goto_tick), ("apply_changes", apply_changes)):
            if name in originals:
                setattr(collection, name, fn)

    def journal(self) -> tuple[tuple[Any, ...], ...]:
        """The ops so far (None-free plain data; :func:`check_tick_ops` reads them back)."""
        return tuple(tuple(op) if op[0] != "c" else ("c", dict(op[1])) for op in self.ops)


MAX_OPS = 4096


def check_tick_ops(raw: Any) -> tuple[tuple[Any, ...], ...]:
    """Ops received from the wire, checked (:class:`JournalError` naming the first bad one)."""
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_OPS:
        raise JournalError(f"ops must be a list of at most {MAX_OPS}")
    out: list[tuple[Any, ...]] = []
    for i, op in enumerate(raw):
        what = f"op {i + 1}"
        if not isinstance(op, (list, tuple)) or not op or op[0] not in TICK_OPS:
            raise JournalError(f"{what} must be a list starting with one of {', '.join(TICK_OPS)}")
        kind = op[0]
        if kind in ("e", "b"):
            if len(op) != 1:
                raise JournalError(f"{what} takes nothing after {kind!r}")
            out.append((kind,))
        elif kind in ("t", "g"):
            if len(op) != 2:
                raise JournalError(f"{what} is [{kind!r}, n]")
            out.append((kind, _int(op[1], f"{what}'s count", 0 if kind == "g" else 1, MAX_TICKS)))
        elif kind == "r":
            if len(op) != 2 or op[1] not in ALIGNMENTS:
                raise JournalError(f"{what} is ['r', one of {', '.join(ALIGNMENTS)}]")
            out.append(("r", op[1]))
        else:
            if len(op) != 2 or not isinstance(op[1], dict) or not op[1]:
                raise JournalError(f"{what} is ['c', {{settings}}]")
            for key, value in op[1].items():
                if key not in LIVE_SETTINGS:
                    raise JournalError(f"{what} changes {str(key)[:40]!r}, which is not a live setting")
                _scalar(value, f"{what}'s {key}")
            out.append(("c", dict(op[1])))
    return tuple(out)


def apply_tick_ops(collection: Any, ops: Any) -> None:
    """Replay ``ops`` (checked) on ``collection``, in order; :class:`JournalError` if one
    cannot be done (a change refused, a tick that does not exist)."""
    with np.errstate(all="ignore"):
        for op in ops:
            kind = op[0]
            try:
                if kind == "t":
                    for _ in range(op[1]):
                        if not collection.tick():
                            break
                elif kind == "e":
                    collection.tick_epoch()
                elif kind == "b":
                    collection.back()
                elif kind == "g":
                    collection.goto_tick(op[1])
                elif kind == "r":
                    collection.align = op[1]
                    collection.reset()
                else:
                    collection.apply_changes(**op[1])
            except (ScenarioError, TypeError, ValueError) as err:
                raise JournalError(f"the view's op {kind!r} cannot be done: {err}") from None


def tick_ops_extend(have: tuple, want: tuple) -> tuple | None:
    """The ops to apply after ``have`` to reach ``want``, or None when ``want`` does not
    continue ``have`` (the follower then starts the view again)."""
    if len(want) < len(have):
        return None
    if not have:
        return want
    if want[: len(have) - 1] != have[:-1]:
        return None
    last, same = have[-1], want[len(have) - 1]
    if last == same:
        return want[len(have):]
    if last[0] == "t" and same[0] == "t" and same[1] > last[1]:
        return (("t", same[1] - last[1]),) + want[len(have):]
    return None
