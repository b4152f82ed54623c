"""The batch-size lab: steps against examples to reach a loss, swept over batch sizes.

For each batch size B (default: the powers of two below N, and N) K runs (default 8, differing
in the sampling seed: :meth:`engine.ensemble.Ensemble.seeds`' streams 0..K−1) train until the
full training loss reaches a target, checked after **every** step (``eval_every = 1``), so the
counts are exact: each run is bit-identical to the lone
``Simulation(scenario.replace(batch_size=B, lr=lr_B, eval_every="1", target_loss=T,
accumulate=1, steps_per_epoch=0), sampling_stream=k)``. The check costs what the step's batch
costs, not an evaluation of the data set: a loss bound clears the steps that cannot have reached
the target, and only the others are evaluated (:mod:`engine.target`, issue 24), so the lab
scales with N. A point records, over the runs that
reached the target, the **median** steps S, examples E (samples seen, = B·S when B divides N)
and epochs E/N; ``reached`` counts them (k of K); the budget is the scenario's epochs.

**The trade-off** (McCandlish, Kaplan, Amodei et al. 2018): S = S_min + E_min/B, fitted by
:func:`engine.tradeoff.fit_hyperbola`; the regimes of :func:`engine.tradeoff.regime`.

**The prediction**: B_simple = tr Σ / |G|² (:func:`engine.noise.noise_report`) at the initial
parameters and at the target (median over the runs that reached it), and the two-batch estimate
(:func:`engine.noise.two_batch_estimate`) at the same parameters.

**Learning-rate rules** (:data:`LR_RULES`), relative to the scenario's B₀ and lr η₀:
``constant`` η₀; ``linear`` η₀·B/B₀ (Goyal et al. 2017, without warm-up); ``sqrt`` η₀·√(B/B₀);
``tuned``: per B, the best of η₀ × :data:`TUNED_FACTORS` (as Shallue et al. 2018 tune per B):
most runs reaching the target, then the fewest median steps, then the smaller lr. The runs of an
lr that can no longer win against one whose runs have all ended are stopped (:func:`cannot_win`):
the point is the one a sweep running every lr to its end gives (tests/test_lab.py); the
``tried`` entry of a stopped lr says where (``stopped_at``) and what it had reached by then.

**The default target** (:func:`choose_target`): a pilot runs stream 0 of every batch size
(at its rule's lr; the tuned rule's pilot uses η₀) for min(epochs, :data:`PILOT_EPOCHS`)
epochs, at most :data:`PILOT_STEPS` steps; each batch size's *level* is the median of its
training losses at the pilot's points over its second half (its noise floor, or how far the
budget lets it get): the epoch ends, or, when the epochs would take more steps than that (a
large N), :data:`PILOT_POINTS` evenly spaced steps. The target is
the highest level plus half the spread of the levels: T = max + ½(max − min). Every batch
size's first run went below its level in the pilot, so the slowest batch size reaches T within
the budget; the margin lets its other seeds reach it too.

**Hardware model** (:class:`Hardware`): a device processes up to P samples in parallel, so a
step of B samples takes ceil(B/P) time units (B ≤ P: one unit, the rest of the device idle);
it holds at most M samples, so B > M does not fit (marked; no time). Time to target =
S · ceil(B/P). Defaults P = 16, M = 128.
"""

from __future__ import annotations

import gc
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .ensemble import MAX_RUNS, Ensemble, Member
from .errors import ScenarioError
# the rules and defaults live in engine.names, NumPy-free, for ``mbsim lab --help``
from .names import LAB_MEMORY as DEFAULT_MEMORY
from .names import LAB_PARALLEL as DEFAULT_PARALLEL
from .names import LAB_RUNS as DEFAULT_RUNS
from .names import LR_RULES, TUNED_FACTORS
from .noise import noise_report, two_batch_estimate
from .sampling import stream_generator
from .scenario import Scenario
from .simulation import TARGET_REACHED, Simulation
from .tradeoff import REGIMES, Fit, fit_hyperbola, regime

#: The pilot that chooses the default target runs at most this many epochs, and at most
#: PILOT_STEPS steps (then its level is read at PILOT_POINTS evenly spaced steps): so the pilot
#: of a large N costs what a small one does (issue 24).
PILOT_EPOCHS = 100
PILOT_STEPS = 20_000
PILOT_POINTS = 100
#: The sampling stream of the two-batch estimate's batches (none of the runs uses it).
TWO_BATCH_STREAM = 1_000_003
#: The two-batch estimate uses at most this many pairs of batches per parameter vector.
TWO_BATCH_PAIRS = 200
#: Seconds of training between two progress reports.
REPORT_EVERY = 0.1
#: The tuned rule's learning rates are compared (and the losing ones stopped, :func:`cannot_win`)
#: after about this many samples of steps (at least one step, at most 64).
PRUNE_CHUNK_SAMPLES = 4096
TARGET_RULE = ("the highest level reached by any batch size in a pilot (stream 0, median of the "
               f"end-of-epoch losses over the second half of min(epochs, {PILOT_EPOCHS}) epochs, "
               f"at most {PILOT_STEPS:,} steps) plus half the spread of the levels")


# ------------------------------------------------------------------------------------------------
# the pieces


def default_batch_sizes(n_samples: int) -> list[int]:
    """The powers of two below N, and N (1, 2, 4, …, N)."""
    sizes = []
    b = 1
    while b < n_samples:
        sizes.append(b)
        b *= 2
    sizes.append(n_samples)
    return sizes


def lr_for(rule: str, lr0: float, batch0: int, batch_size: int) -> float:
    """The learning rate of batch size B under ``rule`` (tuned: the grid's centre η₀)."""
    if rule == "linear":
        return lr0 * batch_size / batch0
    if rule == "sqrt":
        return lr0 * math.sqrt(batch_size / batch0)
    return lr0


def lr_candidates(rule: str, lr0: float, batch0: int, batch_size: int) -> list[float]:
    """The learning rates tried at batch size B: one, or the tuned grid η₀ × TUNED_FACTORS."""
    if rule == "tuned":
        return [lr0 * f for f in TUNED_FACTORS]
    return [lr_for(rule, lr0, batch0, batch_size)]


@dataclass(frozen=True)
class Hardware:
    """A device with P samples in parallel per step and room for M samples (module docstring)."""

    parallel: int = DEFAULT_PARALLEL
    memory: int = DEFAULT_MEMORY

    FORMULA = "time per step = ceil(B/P) units; B > M does not fit"

    def fits(self, batch_size: int) -> bool:
        return batch_size <= self.memory

    def step_time(self, batch_size: int) -> int | None:
        """ceil(B/P) time units, None when B > M."""
        return -(-batch_size // self.parallel) if self.fits(batch_size) else None

    def time_to_target(self, batch_size: int, steps: float | None) -> float | None:
        t = self.step_time(batch_size)
        return None if t is None or steps is None else steps * t


@dataclass
class Point:
    """One batch size of the sweep (medians over the runs that reached the target)."""

    batch_size: int
    lr: float
    runs: int
    reached: int
    steps: float | None
    examples: float | None
    epochs: float | None
    diverged: int = 0
    b_simple_target: float | None = None
    tried: list[dict[str, Any]] = field(default_factory=list)   # tuned: every lr of the grid

    @property
    def majority(self) -> bool:
        """At least half of the runs reached the target (the fit uses only these points)."""
        return self.steps is not None and 2 * self.reached >= self.runs


@dataclass
class Progress:
    """What a progress callback is told: the phase, the batch size in work, runs done of all."""

    phase: str            # "pilot" (choosing the target) or "sweep"
    batch_size: int | None
    point: int            # 0-based index of the batch size in work
    points: int
    runs_done: int
    runs_total: int
    elapsed: float
    eta: float | None     # seconds, from the runs done so far (None before the first)


@dataclass
class LabResult:
    """Everything the lab measured (see :meth:`to_dict` for the JSON form)."""

    scenario: str
    n_samples: int
    epochs_budget: int
    runs: int
    lr_rule: str
    lr0: float
    batch0: int
    target_loss: float
    target_rule: str
    points: list[Point]
    batch_sizes: list[int]
    fit: Fit | None
    b_simple_start: float
    b_simple_target: float | None
    two_batch_start: float | None
    two_batch_target: float | None
    hardware: Hardware
    complete: bool
    elapsed: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``mbsim lab --json`` (non-finite numbers become None)."""
        hw = self.hardware
        fit = None
        if self.fit is not None:
            fit = {"s_min": _num(self.fit.s_min), "e_min": _num(self.fit.e_min),
                   "b_crit": _num(self.fit.b_crit), "points": self.fit.points,
                   "method": "least squares of (S - S_min - E_min/B)/S over the points that "
                             "at least half the runs reached"}
        points = []
        for p in self.points:
            d = {"batch_size": p.batch_size, "lr": p.lr, "runs": p.runs, "reached": p.reached,
                 "steps": _num(p.steps), "examples": _num(p.examples), "epochs": _num(p.epochs),
                 "diverged": p.diverged, "b_simple_target": _num(p.b_simple_target),
                 "time_per_step": hw.step_time(p.batch_size),
                 "time_to_target": _num(hw.time_to_target(p.batch_size, p.steps)),
                 "fits_memory": hw.fits(p.batch_size)}
            if self.fit is not None:
                d["regime"] = regime(p.batch_size, self.fit.b_crit)
            if p.tried:
                d["tried"] = p.tried
            points.append(d)
        return {
            "scenario": self.scenario, "n_samples": self.n_samples,
            "epochs_budget": self.epochs_budget, "runs": self.runs, "lr_rule": self.lr_rule,
            "lr": self.lr0, "batch_size": self.batch0,
            "tuned_factors": list(TUNED_FACTORS) if self.lr_rule == "tuned" else None,
            "target_loss": _num(self.target_loss), "target_rule": self.target_rule,
            "points": points, "fit": fit,
            "b_simple": {"start": _num(self.b_simple_start), "target": _num(self.b_simple_target)},
            "two_batch": {"start": _num(self.two_batch_start), "target": _num(self.two_batch_target)},
            "hardware": {"parallel": hw.parallel, "memory": hw.memory, "formula": hw.FORMULA},
            "complete": self.complete, "batch_sizes": self.batch_sizes,
        }


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def cannot_win(hit_steps: Sequence[float], running: int, next_step: int, lr: float,
               best: tuple[float, float, float]) -> bool:
    """True when a learning rate of the tuned rule can no longer win against ``best``, the key
    (−reached, median steps (inf when none reached), lr) of one whose runs have all ended: the
    winner has the most runs reaching the target, then the fewest median steps, then the smaller
    lr. This one's runs reached the target at ``hit_steps`` so far and ``running`` runs still
    train; each of those can reach it at step ``next_step`` at the earliest. So it ends with at
    most len(hit_steps) + running runs reaching the target; with exactly the winner's number it
    needs every running run to reach it, and its median is then at least that of ``hit_steps``
    with ``running`` copies of ``next_step`` (a median never falls when a value rises)."""
    most = len(hit_steps) + running
    best_reached = -best[0]
    if most != best_reached or running == 0:
        return most < best_reached
    low = float(np.median(list(hit_steps) + [float(next_step)] * running))
    return (low, lr) > (best[1], best[2])


# ------------------------------------------------------------------------------------------------
# the sweep


class Lab:
    """The sweep over batch sizes (see the module docstring); :meth:`run` then :meth:`result`.

    ``run`` may be stopped (``cancelled()`` returning True, or a KeyboardInterrupt): the batch
    sizes finished by then are kept and :meth:`result` reports them (``complete`` False).
    """

    def __init__(self, scenario: Scenario, *, batch_sizes: Sequence[int] | None = None,
                 runs: int = DEFAULT_RUNS, lr_rule: str = "constant", target_loss: float | None = None,
                 hardware: Hardware | None = None, prune: bool = True) -> None:
        if lr_rule not in LR_RULES:
            raise ScenarioError("lr_rule", lr_rule, "allowed: " + ", ".join(LR_RULES))
        cands = len(TUNED_FACTORS) if lr_rule == "tuned" else 1
        if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or not 1 <= runs * cands <= MAX_RUNS:
            raise ScenarioError("runs", runs, f"must be a whole number from 1 to {MAX_RUNS // cands}"
                                + (f" with the tuned rule ({cands} learning rates each)" if cands > 1 else ""))
        self.base = scenario.replace(eval_every="1", accumulate=1, steps_per_epoch=0, target_loss=0.0)
        self.probe = Simulation(self.base)
        n = self.probe.dataset.n_samples
        self.n_samples = n
        sizes = list(batch_sizes) if batch_sizes else default_batch_sizes(n)
        for b in sizes:
            if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 1 <= b <= n:
                raise ScenarioError("batch_sizes", b, f"each batch size must be a whole number from 1 to N = {n}")
        self.batch_sizes = sorted(set(int(b) for b in sizes))
        self.runs = int(runs)
        self.lr_rule = lr_rule
        self.lr0 = float(scenario.lr)
        self.batch0 = int(scenario.batch_size * scenario.accumulate)
        if target_loss is not None and not (math.isfinite(target_loss) and target_loss > 0):
            raise ScenarioError("target_loss", target_loss, "must be a number above 0")
        self.target_loss = target_loss
        self.target_rule = "given" if target_loss is not None else TARGET_RULE
        self.hardware = hardware or Hardware()
        #: the tuned rule stops a learning rate's runs once it can no longer win (the point's
        #: figures are the same; its ``tried`` entry then says where it stopped)
        self.prune = bool(prune)
        self.points: list[Point] = []
        self._reached_params: list[tuple[int, np.ndarray, float]] = []   # (B, θ, B_simple at θ)
        self.complete = False
        self.elapsed = 0.0
        self.pilot_levels: dict[int, float] = {}

    # --- the default target -----------------------------------------------------------------
    def choose_target(self, progress: Callable[[Progress], None] | None = None,
                      cancelled: Callable[[], bool] | None = None) -> float:
        """The default target (module docstring): a pilot of stream 0 per batch size."""
        if self.target_loss is not None:
            return self.target_loss
        epochs = min(self.base.epochs, PILOT_EPOCHS)
        sc = self.base.replace(epochs=epochs, eval_every="epoch")
        start = self.probe.initial_train_loss
        levels = {}
        t0 = time.monotonic()
        last = t0
        # stream 0 of each batch size, alone (each is the ensemble's member 0, bit for bit;
        # a lone run of one is cheaper than an ensemble group of one)
        for j, b in enumerate(self.batch_sizes):
            sim = Simulation(sc.replace(batch_size=b, lr=lr_for(self.lr_rule, self.lr0, self.batch0, b)),
                             record=False)
            losses = []
            per_epoch = sim.plan.steps_per_epoch_count
            stride = 0 if epochs * per_epoch <= PILOT_STEPS else PILOT_STEPS // PILOT_POINTS
            while (sim.run_epoch() if not stride else
                   len(losses) < PILOT_POINTS and sim.run_iterations(stride) == stride):
                losses.append(sim.train_loss)
                if cancelled is not None and cancelled():
                    raise KeyboardInterrupt
                now = time.monotonic()
                if progress is not None and now - last >= REPORT_EVERY:
                    last = now
                    progress(Progress("pilot", b, j, len(self.batch_sizes), 0, self.runs_total(),
                                      now - t0, None))
            tail = np.array(losses[len(losses) // 2:])
            level = float(np.median(tail)) if len(tail) else math.nan
            # a run that diverged, or that never got below its start, sets no level
            if sim.status != "diverged" and np.isfinite(tail).all() and level < start:
                levels[b] = level
        self.pilot_levels = levels
        if not levels:
            raise ScenarioError("lr", self.lr0, "in the pilot that chooses the target loss no batch "
                                "size got below its initial loss; use a smaller lr or give --target-loss")
        hi, lo = max(levels.values()), min(levels.values())
        self.target_loss = hi + 0.5 * (hi - lo)
        return self.target_loss

    def runs_total(self) -> int:
        """Runs in the whole sweep: batch sizes × K (× the tuned grid's learning rates)."""
        cands = len(TUNED_FACTORS) if self.lr_rule == "tuned" else 1
        return len(self.batch_sizes) * self.runs * cands

    # --- one batch size ---------------------------------------------------------------------
    def point_scenario(self, batch_size: int, lr: float) -> Scenario:
        """The scenario every run of a point is a lone Simulation of (with its sampling stream)."""
        assert self.target_loss is not None
        return self.base.replace(batch_size=batch_size, lr=lr, target_loss=self.target_loss)

    def _run_point(self, index: int, batch_size: int, t0: float,
                   progress: Callable[[Progress], None] | None,
                   cancelled: Callable[[], bool] | None) -> Point:
        lrs = lr_candidates(self.lr_rule, self.lr0, self.batch0, batch_size)
        k = self.runs
        sc = self.base.replace(target_loss=self.target_loss)
        members = [Member(f"B={batch_size} lr={lr:g} run {s}", {"batch_size": batch_size, "lr": lr}, s)
                   for lr in lrs for s in range(k)]
        # the target after every step at the cost of the batch (engine.target)
        ens = Ensemble(sc, members, align="steps", evaluate="read", band=False, exact_target=True, record=False)
        done_before = index * k * len(lrs)
        total = self.runs_total()
        last = time.monotonic()
        # a check of the learning rates between chunks of about the same work at any B
        chunk = max(1, min(64, PRUNE_CHUNK_SAMPLES // batch_size))
        stopped_at: dict[int, int] = {}
        try:
            while not ens.done:
                ens.run_iterations(chunk)
                if cancelled is not None and cancelled():
                    raise KeyboardInterrupt
                if self.prune and len(lrs) > 1:
                    self._stop_losing_lrs(ens, lrs, k, stopped_at)
                now = time.monotonic()
                if progress is not None and now - last >= REPORT_EVERY:
                    last = now
                    done = done_before + sum(s != "ready" for s in ens.status)
                    progress(self._progress(index, batch_size, done, total, now - t0))
        except BaseException:
            ens.release()     # stopped: its K × N arrays go back now, not at a later collection
            raise
        status = ens.status
        steps, samples = ens.step, ens.samples_seen
        params = ens.params
        n = self.n_samples
        tried = []
        best = None
        for c, lr in enumerate(lrs):
            rows = range(c * k, (c + 1) * k)
            hit = [r for r in rows if status[r] == TARGET_REACHED]
            div = sum(status[r] == "diverged" for r in rows)
            s_med = _median([float(steps[r]) for r in hit])
            e_med = _median([float(samples[r]) for r in hit])
            entry = {"lr": lr, "reached": len(hit), "steps": s_med, "examples": e_med,
                     "epochs": None if e_med is None else e_med / n, "diverged": int(div),
                     "stopped_at": stopped_at.get(c)}
            if c in stopped_at:       # stopped: what its runs did by then, no medians
                entry.update(steps=None, examples=None, epochs=None)
            tried.append(entry)
            key = (-len(hit), math.inf if s_med is None else s_med, lr)
            if best is None or key < best[0]:
                best = (key, c, hit, entry)
        assert best is not None
        _, c, hit, entry = best
        b_target = []
        for r in hit:
            rep = noise_report(self.probe.model.per_sample_grads(params[r], self.probe.X, self.probe.y), batch_size)
            b_target.append(rep.b_simple)
            self._reached_params.append((batch_size, params[r].copy(), rep.b_simple))
        point = Point(batch_size, lrs[c], k, len(hit), entry["steps"], entry["examples"], entry["epochs"],
                      entry["diverged"], _median(b_target), tried if len(lrs) > 1 else [])
        ens.release()         # the K × N arrays go back now
        del ens
        # the point's objects refer to each other: collect them now, not at a time of the
        # collector's own (only what the sweep made is traversed: see run())
        gc.collect()
        return point

    @staticmethod
    def _stop_losing_lrs(ens: Ensemble, lrs: list[float], k: int, stopped_at: dict[int, int]) -> None:
        """Stop the runs of every learning rate that can no longer win against one whose runs
        have all ended (:func:`cannot_win`); ``stopped_at`` gets the step each was stopped at."""
        status = ens.status
        steps = ens.step
        best = None
        open_ = []
        for c, lr in enumerate(lrs):
            if c in stopped_at:
                continue
            rows = range(c * k, (c + 1) * k)
            hit = [float(steps[r]) for r in rows if status[r] == TARGET_REACHED]
            running = [r for r in rows if status[r] in ("ready", "diverging")]
            if running:
                open_.append((c, lr, hit, running))
                continue
            key = (-len(hit), math.inf if not hit else float(np.median(hit)), lr)
            best = key if best is None or key < best else best
        if best is None:
            return
        for c, lr, hit, running in open_:
            now = int(steps[running[0]])          # the running runs of a point step together
            if cannot_win(hit, len(running), now + 1, lr, best):
                ens.stop([c * k + j for j in range(k)])
                stopped_at[c] = now

    def _progress(self, index: int, batch_size: int, done: int, total: int, elapsed: float) -> Progress:
        eta = elapsed / done * (total - done) if done else None
        return Progress("sweep", batch_size, index, len(self.batch_sizes), done, total, elapsed, eta)

    # --- the whole sweep ----------------------------------------------------------------------
    def run(self, progress: Callable[[Progress], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> bool:
        """Choose the target (unless given), then run every batch size in increasing order.
        True when complete; False when stopped (the finished points are kept)."""
        t0 = time.monotonic()
        # what exists before the sweep is left out of its collections (gc.collect() after each
        # batch size then traverses the sweep's own objects, not the whole program's)
        gc.freeze()
        try:
            with np.errstate(all="ignore"):
                self.choose_target(progress, cancelled)
                for i, b in enumerate(self.batch_sizes):
                    if i < len(self.points):
                        continue
                    if cancelled is not None and cancelled():
                        raise KeyboardInterrupt
                    self.points.append(self._run_point(i, b, t0, progress, cancelled))
                    if progress is not None:
                        done = (i + 1) * len(self.points[-1].tried or [0]) * self.runs
                        progress(self._progress(i, b, done, self.runs_total(), time.monotonic() - t0))
            self.complete = True
        except KeyboardInterrupt:
            self.complete = False
            self.elapsed += time.monotonic() - t0
            raise
        finally:
            gc.unfreeze()
        self.elapsed += time.monotonic() - t0
        return self.complete

    # --- the readings ---------------------------------------------------------------------------
    def two_batch_at(self, params_list: Sequence[np.ndarray]) -> float | None:
        """The two-batch estimate of B_simple (SCIENCE.md §3) at the given parameters, pooled:
        per parameter vector, the consecutive batches of b = the scenario's batch size in one
        permutation (stream :data:`TWO_BATCH_STREAM`), b and 2b = B; ratio of the averages.
        At the start the same θ₀ is given K times (K permutations), as many as at the target
        (one per run that reached it). At most :data:`TWO_BATCH_PAIRS` pairs per vector (the
        first of the permutation), so a large N costs what a small one does."""
        b = self.batch0
        n = self.n_samples
        pairs = min((n // b) // 2, TWO_BATCH_PAIRS)
        if pairs < 1 or not len(params_list):
            return None
        gen = stream_generator(self.base.seed, TWO_BATCH_STREAM)
        grads_all, sizes_all = [], []
        model, X, y = self.probe.model, self.probe.X, self.probe.y
        for p in params_list:
            order = gen.permutation(n)[: 2 * pairs * b]
            g = model.per_sample_grads(p, X, y)[order]
            grads_all.append(g.reshape(2 * pairs, b, -1).mean(axis=1))
            sizes_all.append(np.full(2 * pairs, b))
        est = two_batch_estimate(np.vstack(grads_all), np.concatenate(sizes_all))
        return None if est is None else est.b_simple_est

    def result(self) -> LabResult:
        """What is done so far (all of it after a complete :meth:`run`)."""
        good = [p for p in self.points if p.majority]
        fit = fit_hyperbola([p.batch_size for p in good], [p.steps for p in good])
        with np.errstate(all="ignore"):
            start = self.probe.noise().b_simple
            reached = [p for _, p, _ in self._reached_params]
            bt = [b for _, _, b in self._reached_params]    # B_simple does not depend on B
            two_start = self.two_batch_at([self.probe.initial_params] * self.runs)
            two_target = self.two_batch_at(reached) if reached else None
        return LabResult(
            scenario=self.base.name or "", n_samples=self.n_samples, epochs_budget=self.base.epochs,
            runs=self.runs, lr_rule=self.lr_rule, lr0=self.lr0, batch0=self.batch0,
            target_loss=float(self.target_loss) if self.target_loss is not None else math.nan,
            target_rule=self.target_rule, points=list(self.points), batch_sizes=list(self.batch_sizes),
            fit=fit, b_simple_start=start, b_simple_target=_median(bt),
            two_batch_start=two_start, two_batch_target=two_target, hardware=self.hardware,
            complete=self.complete, elapsed=self.elapsed)


def run_lab(scenario: Scenario, **kw: Any) -> LabResult:
    """The whole sweep at once (no progress, no stopping): :class:`Lab` ``(scenario, **kw)``."""
    lab = Lab(scenario, **kw)
    lab.run()
    return lab.result()


__all__ = ["Lab", "LabResult", "Point", "Fit", "Hardware", "Progress", "fit_hyperbola", "cannot_win",
           "default_batch_sizes", "lr_for", "lr_candidates", "regime", "run_lab", "LR_RULES",
           "TUNED_FACTORS", "REGIMES", "asdict"]
