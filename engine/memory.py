"""How much memory a run, K runs, the lab or the app's views will take, estimated before any of
it is allocated, and the budget an estimate is checked against (issue 23 item 8, issue 24).

The budget (:func:`budget`): ``MBSIM_MEMORY_BUDGET`` when set (a size: ``512M``, ``2G``,
``1.5GiB``; K, M, G, T are powers of 1024, a plain number is bytes), else
:data:`MEMORY_FRACTION` (a quarter) of the memory the kernel says is available
(``MemAvailable`` in /proc/meminfo), else :data:`UNKNOWN_BUDGET`. A quarter leaves the rest to
the machine's other users (a class on one server) and to what the estimate does not see.

An estimate (:class:`Estimate`) is a sum of named parts, each the bytes of the arrays the engine
holds at once at its peak, from the shapes alone (N, the validation samples V, the features d,
the parameters P, the hidden units H, the batch B, the runs K); no data is drawn. Each part
follows the code that allocates it (the module it names). The figures are upper bounds on
what tracemalloc measures (tests/test_memory_estimates.py: measured ≤ estimate ≤
:data:`ESTIMATE_FACTOR` × measured over a range of sizes), plus the Python process itself
(:data:`PROCESS_BYTES`).

Pure arithmetic: nothing here imports NumPy.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

FLOAT = 8                         # bytes of a float64 or an int64 index
MB = 1 << 20
#: The share of the available memory a command or a session may plan to use.
MEMORY_FRACTION = 0.25
#: The environment variable that sets the budget instead.
BUDGET_VARIABLE = "MBSIM_MEMORY_BUDGET"
#: The budget when the available memory is not known (no /proc/meminfo).
UNKNOWN_BUDGET = 2 << 30
#: The estimates are within this factor above the measured peak (tests/test_memory_estimates.py).
ESTIMATE_FACTOR = 4.0
#: The interpreter, NumPy and (for the app) Textual before any array: resident, measured.
PROCESS_BYTES = {"headless": 40 * MB, "app": 70 * MB}

#: Constants of the engine the estimates follow (imported lazily would pull NumPy in).
GATHER_ABOVE = 1 << 20            # engine.batches
EVAL_CHUNK = 1 << 20              # engine.target
AHEAD_ELEMENTS = 1 << 20          # engine.orders
AHEAD_PASSES = 8
CHUNK_ELEMENTS = 1 << 19          # engine.chunks
NOISE_CHUNK = 1 << 19             # engine.noise (the readout's per-sample gradients, a piece)
PASS_ELEMENTS = 1 << 19           # engine.models.mlp (a pass over the data: hidden units a piece)
BAND_EVAL_FLOATS = 1 << 19        # engine.band (rows of a band evaluation, engine.chunks)
CHECKPOINT_NUMBERS = 8_000_000    # engine.ensemble._CHECKPOINT_BUDGET
HISTORY_BYTES = 8 * MB            # a lone run's History (32,768 rows) and its checkpoints' vectors
FEATURES = {"line": 1, "plane": 2, "hyperplane": 16, "three-losses": 1}   # others: 2


class BudgetError(ValueError):
    """``MBSIM_MEMORY_BUDGET`` is not a size (the message says what is allowed)."""


@dataclass(frozen=True)
class Shape:
    """The sizes an estimate needs, from a scenario (:func:`shape_of`)."""

    n: int                # training samples N
    v: int                # validation samples V
    d: int                # features
    p: int                # parameters
    hidden: int           # hidden units (0: a linear or logistic model)
    batch: int            # batch size B
    sampling: str         # reshuffle, stratified (drawn ahead: checkpoints keep no orders), ...
    bce: bool = False     # a classification loss (its evaluation holds more temporaries)

    @property
    def ahead(self) -> bool:
        """The orders are drawn ahead (engine.orders): a checkpoint keeps none."""
        return self.sampling in ("reshuffle", "stratified")


@dataclass
class Estimate:
    """Bytes a thing will hold at its peak, by part (all held at once)."""

    what: str
    parts: dict[str, int] = field(default_factory=dict)
    process: int = 0

    @property
    def arrays(self) -> int:
        """The arrays' bytes (what tracemalloc measures)."""
        return sum(self.parts.values())

    @property
    def total(self) -> int:
        """The arrays and the process itself."""
        return self.arrays + self.process

    def add(self, part: str, nbytes: float) -> None:
        self.parts[part] = self.parts.get(part, 0) + int(math.ceil(max(0.0, nbytes)))

    def largest(self, k: int = 2) -> str:
        """The ``k`` largest parts, for a message: "orders 7.5 GiB, data 48 MiB"."""
        top = sorted(self.parts.items(), key=lambda kv: -kv[1])[:k]
        return ", ".join(f"{name} {size_text(b)}" for name, b in top if b)


def size_text(nbytes: float) -> str:
    """1.5 GiB, 120 MiB, 512 KiB (powers of 1024, as the budget is written)."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= scale:
            value = nbytes / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{int(nbytes)} B"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a size such as ``512M``, ``2G``, ``1.5GiB``, ``300MB`` or ``1000000``."""
    match = _SIZE.match(text)
    if not match:
        raise BudgetError(f"{BUDGET_VARIABLE}={text!r}: not a size; write e.g. 512M, 2G or "
                          "1.5GiB (K, M, G, T: powers of 1024; a plain number is bytes)")
    unit = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[match.group(2).lower()]
    value = float(match.group(1)) * unit
    if value < 1:
        raise BudgetError(f"{BUDGET_VARIABLE}={text!r}: must be more than 0 bytes")
    return int(value)


def mem_available(meminfo: str = "/proc/meminfo") -> int | None:
    """MemAvailable from /proc/meminfo, bytes (None where there is no such file or line)."""
    try:
        with open(meminfo, encoding="ascii", errors="replace") as f:
            text = f.read(64 * 1024)
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def budget(env: Mapping[str, str] | None = None, meminfo: str = "/proc/meminfo") -> tuple[int, str]:
    """(bytes, where they come from) — see the module docstring. Raises :class:`BudgetError`
    for a ``MBSIM_MEMORY_BUDGET`` that is not a size."""
    env = os.environ if env is None else env
    text = env.get(BUDGET_VARIABLE)
    if text is not None and text.strip():
        return parse_size(text), f"{BUDGET_VARIABLE}={text.strip()}"
    avail = mem_available(meminfo)
    if avail is None:
        return UNKNOWN_BUDGET, f"{size_text(UNKNOWN_BUDGET)}: the available memory is not known"
    return int(avail * MEMORY_FRACTION), f"a quarter of the {size_text(avail)} available"


# --- shapes ---------------------------------------------------------------------------------
def shape_of(scenario: Any, dataset: Any = None, batch: int | None = None) -> Shape:
    """The sizes of ``scenario`` (a dataset's own shape when given: a CSV file's, read)."""
    if dataset is not None:
        n, v, d = int(dataset.X.shape[0]), int(dataset.X_val.shape[0]), int(dataset.X.shape[1])
        bce = dataset.task == "classification"
    else:
        n, v = int(scenario.samples), int(scenario.val_samples)
        d = FEATURES.get(scenario.dataset, 2)
        bce = scenario.dataset not in FEATURES
        if scenario.dataset == "three-losses":
            n = 3
    mlp = scenario.model == "mlp"
    h = int(scenario.hidden) if mlp else 0
    p = h * d + 2 * h + 1 if mlp else d + (1 if scenario.bias else 0)
    b = max(1, min(int(batch if batch is not None else scenario.batch_size), n))   # a micro-batch
    return Shape(n, v, d, p, h, b, str(scenario.sampling), bce)


def _width(s: Shape) -> int:
    """Working floats per sample of a forward pass: the output, and the hidden layer."""
    return 1 + s.hidden


def _evaluation_floats(s: Shape) -> float:
    """Floats per sample and run of a full evaluation (engine.models: the outputs, the bce's
    temporaries, the MLP's hidden layer and activation)."""
    return (3.0 if s.bce else 1.5) + 2 * s.hidden


# --- the parts ------------------------------------------------------------------------------
def add_data(e: Estimate, s: Shape) -> None:
    """The data set, held once (engine.prepare: training and validation stacked); while it is
    made, the drawn arrays and their stacked copy and the generator's temporaries."""
    data = (s.n + s.v) * (s.d + 1) * FLOAT
    e.add("data", 3 * data)


def add_runs(e: Estimate, s: Shape, k: int, *, record: bool, evaluate: bool = True) -> None:
    """K runs of one plan (engine.runs): their orders, the batches in pass order or gathered,
    a step's working arrays, the full evaluation in chunks of runs, the checkpoints."""
    n, b, d = s.n, s.batch, s.d
    kn = k * n * FLOAT
    # engine.orders: this pass's and the next pass's (drawn while this one is still held), the
    # block drawn ahead, the samplers' shared 0..N−1
    passes_ahead = max(1, min(AHEAD_PASSES, AHEAD_ELEMENTS // max(1, k * n)))
    block = passes_ahead * kn
    e.add("orders", 2 * kn + (block if passes_ahead > 1 else 0) + 2 * n * FLOAT)
    if s.sampling == "stratified":    # engine.stratified: the draws and the sorts that assemble them
        e.add("orders", 5 * block + 2 * min(AHEAD_ELEMENTS, max(1, n // b) * (n + 1)))
    # engine.batches: the pass's data in its order (twice while the next is made) or each
    # step's batch gathered in chunks of runs
    gather = k * n * (d + 1) > GATHER_ABOVE
    if gather:
        rows = min(k, max(1, GATHER_ABOVE // (b * (d + 1))))
        e.add("batches", 2 * rows * b * (d + 1) * FLOAT)
    else:
        rows = k
        # the MLP's inputs carry a column of ones (engine.batches; rows of 3 padded to 4)
        ones = (2 if d == 2 else 1) if s.hidden >= 2 and d >= 2 else 0
        e.add("batches", 2 * k * n * (d + 1 + ones) * FLOAT * (1.5 if d == 1 and not s.hidden and k > 1 else 1))
    # a step: the forward and backward pass of the rows at once (the MLP's hidden layer: its
    # pre-activation, activation, derivative and products)
    e.add("step", rows * b * (6 + 5 * s.hidden + d) * FLOAT + 6 * k * s.p * FLOAT)
    if evaluate:   # engine.target: the full losses, chunks of runs of EVAL_CHUNK outputs
        rows_e = min(k, max(1, EVAL_CHUNK // max(1, n + s.v)))
        e.add("evaluation", rows_e * (n + s.v) * _evaluation_floats(s) * FLOAT)
    if record and not s.ahead:   # checkpoints keep the orders not drawn ahead
        e.add("checkpoints", max(CHECKPOINT_NUMBERS * FLOAT, 2 * k * (n + 4 * s.p) * FLOAT)
              if k > 1 else 2048 * n * FLOAT)
    e.add("bookkeeping", (HISTORY_BYTES if k == 1 else 0) + 40 * k * s.p * FLOAT + 64 * k * FLOAT)


def add_full_data_readings(e: Estimate, s: Shape) -> None:
    """What the main screen reads over the whole data (engine.readings, engine.landscape,
    engine.lens, engine.noise): the noise readout's per-sample gradients (pieces of
    NOISE_CHUNK numbers, the piece and its centred copy), full-batch GD's forward and backward
    passes (the MLP's in pieces of PASS_ELEMENTS hidden units; the outputs and residuals, a
    few floats a sample), the landscape's and the lens's pieces."""
    per_sample = 3 * min(s.n * s.p, NOISE_CHUNK) * FLOAT
    rows = min(s.n, max(64, PASS_ELEMENTS // max(1, s.hidden))) if s.hidden else s.n
    gd = (rows * (6 + 5 * s.hidden + s.d) + (6 * s.n if s.hidden else 0)) * FLOAT
    pieces = 3 * 3 * CHUNK_ELEMENTS * FLOAT        # a piece's arrays, up to three computations at once
    least_squares = 3 * s.n * (s.d + 1) * FLOAT if not s.hidden else 0
    e.add("readings", max(per_sample, gd, least_squares) + pieces + 4 * s.n * FLOAT)


# --- what commands and views need -------------------------------------------------------------
def estimate_run(scenario: Any, runs: int = 1, dataset: Any = None) -> Estimate:
    """``mbsim run`` (``--runs K``): the data, K runs without record (headless)."""
    s = shape_of(scenario, dataset)
    e = Estimate(f"{runs:,} run{'s' if runs != 1 else ''} of {s.n:,} samples", process=PROCESS_BYTES["headless"])
    add_data(e, s)
    add_runs(e, s, runs, record=False)
    return e


def estimate_lab(scenario: Any, runs: int, batch_sizes: list[int], candidates: int = 1,
                 dataset: Any = None) -> Estimate:
    """``mbsim lab``: the data, the probe run and its readings, and the largest point (one
    ensemble of runs × learning rates at a time, released when it ends)."""
    s = shape_of(scenario, dataset)
    k = runs * candidates
    e = Estimate(f"the lab's {k:,} runs a batch size over {s.n:,} samples", process=PROCESS_BYTES["headless"])
    add_data(e, s)
    worst: Estimate | None = None
    for b in sorted(set(batch_sizes)) or [s.batch]:
        point = Estimate("point")
        add_runs(point, shape_of(scenario, dataset, batch=b), k, record=False)
        if worst is None or point.arrays > worst.arrays:
            worst = point
    assert worst is not None
    for name, nbytes in worst.parts.items():
        e.add(name, nbytes)
    add_runs(e, s, 1, record=False)                        # the pilot's lone runs, the probe
    e.add("readings", 3 * s.n * s.p * FLOAT)               # per-sample gradients (noise scale)
    return e


def estimate_view(view: str, scenario: Any, runs: int = 100, dataset: Any = None) -> Estimate:
    """The app's views beyond the main screen's own run: ``"main"`` (the run, recorded, and its
    readings), ``"compare"`` (three more runs: B = N, B, 1), ``"cloud"`` (``runs`` runs,
    recorded, and their loss band), ``"lab"`` (as :func:`estimate_lab`, default sizes)."""
    s = shape_of(scenario, dataset)
    what = {"main": f"the app on {s.n:,} samples", "compare": f"compare mode's three runs of {s.n:,} samples",
            "cloud": f"the noise cloud's {runs:,} runs of {s.n:,} samples",
            "lab": f"the lab over {s.n:,} samples"}.get(view, view)
    e = Estimate(what, process=PROCESS_BYTES["app"] if view == "main" else 0)
    if view == "main":
        add_data(e, s)
        add_runs(e, s, 1, record=True)
        add_full_data_readings(e, s)
    elif view == "compare":
        for b in (s.n, s.batch, 1):
            add_runs(e, shape_of(scenario, dataset, batch=b), 1, record=True)
    elif view == "cloud":
        add_runs(e, s, runs, record=True)
        rows = max(1, BAND_EVAL_FLOATS // max(1, (s.n + s.v) * _width(s)))
        e.add("band", rows * (s.n + s.v) * _evaluation_floats(s) * FLOAT)
    elif view == "lab":
        from math import log2
        sizes = [1 << j for j in range(int(log2(max(1, s.n))) + 1)]
        lab = estimate_lab(scenario, 8, sizes, 1, dataset)
        for name, nbytes in lab.parts.items():
            if name != "data":
                e.add(name, nbytes)
    else:
        raise ValueError(f"no such view: {view!r}")
    return e


def refusal(e: Estimate, limit: int, source: str, advice: str = "") -> str | None:
    """None when ``e`` fits ``limit``; else the one line that says so: what it needs, the
    budget and where it comes from, ``advice`` (what fits), and how to change the budget."""
    if e.total <= limit:
        return None
    line = (f"{e.what} would need about {size_text(e.total)} ({e.largest()}), over the memory "
            f"budget of {size_text(limit)} ({source})")
    if advice:
        line += f"; {advice}"
    return line + f"; or raise the budget ({BUDGET_VARIABLE}={rounded_up(e.total)})"


def rounded_up(nbytes: int) -> str:
    """A budget that holds ``nbytes``, as it is written: 16G, 640M."""
    if nbytes >= 1 << 30:
        return f"{math.ceil(nbytes / (1 << 30))}G"
    return f"{max(1, math.ceil(nbytes / (1 << 20) / 10) * 10)}M"


def runs_that_fit(scenario: Any, limit: int, runs: int, make: Any = None, dataset: Any = None) -> int:
    """The largest K ≤ ``runs`` whose estimate (``make(K)``, default :func:`estimate_run`)
    fits ``limit`` (0 when not even one run does): a bisection, the estimate growing with K."""
    make = make or (lambda k: estimate_run(scenario, k, dataset))
    if make(1).total > limit:
        return 0
    lo, hi = 1, runs
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if make(mid).total <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo
