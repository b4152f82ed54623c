"""The detail line: the phase of the current iteration and the gradient-noise readout.

``forward → loss → backward → update   batch loss 0.1234``
``|G| 0.0599  |ĝ| 0.293  cos(ĝ,G) −0.795  tr Cov[ĝ] 0.0974  B_simple 138``

The readout comes from ``sim.noise()`` (exact, over every training sample, with the finite
population correction). It is computed at most :attr:`DetailLine.NOISE_INTERVAL` apart, and not
at all while the simulation has not moved. While the app's frame loop runs, a readout left for
later is computed in a later frame (:attr:`DetailLine.stale`: the loop asks), not by a timer of
its own: a timer between two frames would make Textual refresh the screen once more for one
line (issue 24: a light running app). Paused, a timer brings the last state's readout.

The readout is O(N) (a pass over every sample). While running it comes every
:attr:`DetailLine.RUNNING_NOISE_INTERVAL` seconds at most, and less often when that would take
more than :data:`NOISE_CPU_SHARE` of a core (its measured CPU time per readout ÷ the share: every
0.5 s at N = 200, about every 2 s at N = 10⁶), and the line then says which step it is of
(``at step 1234``) whenever the readout is older than the state shown, so a number is never shown
as if it were the current one. While running the whole line is drawn with each readout (the
batch loss and step sizes of the same step, ``at step 1234`` first): twice a second at small N
rather than in every frame (it was a fifth of a running app's CPU; at 4 a second, with its
screen refresh, a tenth, issue 24), rarer at large N. Paused (and on pausing), the line is the
state's, its readout within :attr:`DetailLine.NOISE_INTERVAL`.
"""

from __future__ import annotations

import math
import time

from rich.text import Text

from ._lines import ItemLine
from ._runs import current_or_brief, last_brief, last_update_of

PHASES = ("forward", "loss", "backward", "update")
#: While running, the share of a core the O(N) noise readout may take (its rate follows its cost).
NOISE_CPU_SHARE = 0.015


def fmt(x: float, spec: str = ".4g") -> str:
    """A number for the readout: ``—`` when unknown, ``∞`` when infinite, a real minus sign."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return format(x, spec).replace("-", "−")


def current_phase(sim) -> str | None:
    """The phase just done: ``sim.phase`` inside an iteration, "update" after a whole one."""
    phase = sim.phase
    if phase is None and sim.iteration > 0 and last_brief(sim) is not None:
        return "update"
    return phase


class DetailLine(ItemLine):
    """Phase (forward → loss → backward → update, the current one highlighted) and noise readout."""

    NOISE_INTERVAL = 0.25
    #: While running, at most this often (numbers changing faster than twice a second are not
    #: read anyway; each readout redraws the whole line: issue 24, a light running app).
    RUNNING_NOISE_INTERVAL = 0.5
    COMPONENT_CLASSES = {
        "detail--current", "detail--done", "detail--todo", "detail--label", "detail--value",
    }

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._sim = None
        self._noise = None
        self._noise_key: tuple | None = None
        self._noise_sim = None            # the run the readout was computed for
        self._noise_time = -math.inf
        self._trailing = None
        self.stale = False                # a readout is left for later (the frame loop asks)
        self.noise_computations = 0
        self.noise_cost = 0.0             # CPU seconds per readout (running mean)
        self.noise_step: int | None = None   # the step the readout shown is of
        self._drawn_running = None        # the run last drawn while running (its line kept)
        self.current: str | None = None   # the phase highlighted

    @staticmethod
    def noise_key(sim) -> tuple:
        """What the readout depends on: the parameters (step) and the current batch."""
        pending = sim.pending
        return (
            sim.iteration, sim.step, pending.iteration if pending is not None else -1,
            last_brief(sim) is None, sim.revision, sim.status,
        )

    def show(self, sim, *, force: bool = False) -> None:
        """Redraw from the simulation; recompute the noise if it is due (or ``force``)."""
        self._sim = sim
        key = self.noise_key(sim)
        computed = False
        if key != self._noise_key or sim is not self._noise_sim:   # a new run at the same counts
            wait = self._noise_time + self.interval() - time.monotonic()
            if force or wait <= 0:
                self._compute_noise(sim, key)
                computed = True
            else:
                self.stale = True
                if self._trailing is None and not getattr(self.app, "running", False):
                    # compute it once the interval has passed, so the last state is always
                    # shown (while running, a frame to come does: see the module docstring)
                    self._trailing = self.set_timer(wait, self._trailing_noise)
        else:
            self.stale = False
        running = self.running
        if running and not force and not computed and self._drawn_running is sim:
            return       # running: the line shows one step's readings together ("at step k")
        self._drawn_running = sim if running else None
        self._draw(sim)

    @property
    def running(self) -> bool:
        return bool(getattr(self.app, "running", False)) if self.is_attached else False

    def interval(self) -> float:
        """Seconds between two readouts: :attr:`NOISE_INTERVAL`; while running
        :attr:`RUNNING_NOISE_INTERVAL`, longer when a readout costs more than
        :data:`NOISE_CPU_SHARE` of a core at that rate (large N)."""
        if not self.running:
            return self.NOISE_INTERVAL
        return max(self.RUNNING_NOISE_INTERVAL, self.noise_cost / NOISE_CPU_SHARE)

    @property
    def due(self) -> bool:
        """True when a readout left for later may be computed now (the frame loop asks)."""
        return self.stale and time.monotonic() >= self._noise_time + self.interval()

    def _trailing_noise(self) -> None:
        self._trailing = None
        if self._sim is not None:
            self.show(self._sim)

    def settle(self) -> None:
        """Compute what is due now (tests and snapshots: no timer left pending)."""
        if self._trailing is not None:
            self._trailing.stop()
            self._trailing = None
        if self._sim is not None:
            self.show(self._sim, force=True)

    def _compute_noise(self, sim, key: tuple) -> None:
        cpu = time.thread_time()
        self._noise = sim.noise()
        cpu = time.thread_time() - cpu
        self.noise_cost = cpu if not self.noise_computations else 0.7 * self.noise_cost + 0.3 * cpu
        self.noise_step = sim.step
        self._noise_key = key
        self._noise_sim = sim
        self._noise_time = time.monotonic()
        self.stale = False
        self.noise_computations += 1

    def _draw(self, sim) -> None:
        style = (lambda name: self.get_component_rich_style(f"detail--{name}", partial=True)) \
            if self.is_attached else (lambda name: "")
        current = current_phase(sim)
        self.current = current
        done = PHASES.index(current) if current in PHASES else -1
        # the phases and the noise readout change far less often than the batch loss: their
        # texts are kept (and the line cache keeps their strips) until what they say changes
        gen = (getattr(self, "style_generation", 0), self.is_attached)
        memo = self.__dict__.setdefault("_memo", {})
        if memo.get("phases_key") != (done, gen):
            phases = Text()
            for k, name in enumerate(PHASES):
                if k:
                    phases.append(" → ", style=style("todo" if k > done else "done"))
                kind = "current" if k == done else ("done" if k < done else "todo")
                phases.append(f" {name} " if kind == "current" else name, style=style(kind))
            memo["phases_key"], memo["phases"] = (done, gen), phases
        running = self.running and self.noise_step is not None
        items = [self._at_step(style, memo, gen), memo["phases"]] if running else [memo["phases"]]
        loss = _batch_loss(sim)
        items.append(Text.assemble(("batch loss ", style("label")), (fmt(loss), style("value"))))
        r = self._noise
        if r is not None:
            if memo.get("noise_of") is not r or memo.get("noise_gen") != gen:
                memo["noise"] = [Text.assemble((label + " ", style("label")), (value, style("value")))
                                 for label, value in (
                                     ("|G|", fmt(r.grad_norm)),
                                     ("|ĝ|", fmt(r.batch_grad_norm)),
                                     ("cos(ĝ,G)", fmt(r.cosine, "+.3f")),
                                     ("tr Cov[ĝ]", fmt(r.trace_cov)),
                                     ("B_simple", fmt(r.b_simple)),
                                 )]
                memo["noise_of"], memo["noise_gen"] = r, gen
            items.append(None)
            items.extend(memo["noise"])
            if self.stale and not running:
                items.append(self._at_step(style, memo, gen))   # a readout of an earlier step
        step = _step_sizes(sim)
        if step is not None:
            items.append(Text.assemble((step[0] + " ", style("label")), (step[1], style("value"))))
        self.set_items(items)

    def _at_step(self, style, memo: dict, gen: tuple) -> Text:  # noqa: ANN001
        """"at step k": the step of the readout (running: of the whole line, drawn with it)."""
        at = memo.get("noise_at")
        if at is None or at[0] != (self.noise_step, gen):
            at = memo["noise_at"] = ((self.noise_step, gen), Text.assemble(
                ("at step ", style("label")), (str(self.noise_step), style("label"))))
        return at[1]


def _step_sizes(sim) -> tuple[str, str] | None:  # noqa: ANN001
    """Adam, RMSprop, Adagrad: the effective per-parameter step size of the last step, from the
    engine (``Simulation.last_update``): lr/(√v̂+ε) per parameter, a few shown."""
    terms = last_update_of(sim)
    if terms is None or terms.step_size is None:
        return None
    label = next((name for name, _ in terms.terms if name.startswith("lr/")), "step")
    v = terms.step_size
    shown = ", ".join(fmt(float(x), ".3g") for x in v[:3]) + (", …" if v.size > 3 else "")
    return f"step per parameter {label} =", f"({shown})"


def _batch_loss(sim) -> float:
    """The loss of the batch in progress once computed, else of the last batch done."""
    p = current_or_brief(sim)
    if p is None or p.phase < 1:
        return math.nan
    return p.batch_loss
