"""Benchmark of the ensemble (DESIGN.md "Budgets": 100 runs of the worked example within 3× the
time of one); prints ratios, is not a test.

In one process, alternating, median of ROUNDS: ``Ensemble.seeds(scenario, K).run_to_end()``
against ``Simulation(scenario).run_to_end()`` — the same scenario, so the same number of steps
per run; construction included in both (and, paired, each round's ensemble between two lone
runs, the median of those ratios); CPU time of the process (``time.process_time``), so
other programs on a shared machine count less. Two ensembles:

* ``evaluate="step"``: the full training and validation losses of all K runs after every step,
  as the lone run computes its own today — K times the lone run's arithmetic, in stacked arrays;
* ``evaluate="read"`` (what ``mbsim run --runs K`` uses without ``--history``): the losses only
  when read (here: never during the run), divergence settled by a bound (exact, see
  engine/ensemble.py). The lone run evaluates its full losses at its eval points (every
  ``eval_every`` steps and at each epoch end, issue 14), so it still does a little more; hence
  also the like-for-like ratio against an ensemble of ONE run with ``evaluate="read"`` (same
  code, same evaluation policy).

Three models: the worked example (linear, N = 200, B = 5), logistic regression on blobs (B = 10,
reshuffled; and the ``imbalanced`` preset, whose stratified sampler is a Python routine per run
and pass: it costs K times the lone run's), and ``xor-mlp`` (8 tanh units, B = 10).

Run it after the README's install:  .venv/bin/python bench/ensemble.py [--rounds N] [--runs K]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from engine import Scenario, load_preset  # noqa: E402
from engine.ensemble import Ensemble  # noqa: E402
from engine.simulation import Simulation  # noqa: E402

BUDGET = 3.0


def _time(fn) -> float:  # noqa: ANN001
    """CPU seconds of this process (the machine may be shared; wall time would count waits)."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def measure(scenario: Scenario, runs: int, rounds: int) -> tuple[float, float, float, float, int, float]:
    """(median seconds of one lone run, of the K-run ensemble evaluating every step, of the
    ensemble evaluating when read, of a one-run ensemble evaluating when read, steps per run,
    and the median over rounds of the ratio read-ensemble / lone run, each round's ensemble
    timed between two lone runs so that a change of the machine's speed counts on both sides)."""
    lone, ens, lazy, single, pair = [], [], [], [], []
    steps = 0
    for _ in range(rounds):
        def one() -> None:
            nonlocal steps
            sim = Simulation(scenario)
            sim.run_to_end()
            steps = sim.step

        def many(evaluate: str, k: int = runs) -> None:
            e = Ensemble.seeds(scenario, k, evaluate=evaluate)
            e.run_to_end()

        lone.append(_time(one))
        ens.append(_time(lambda: many("step")))
        before = _time(one)
        lazy.append(_time(lambda: many("read")))
        after = _time(one)
        pair.append(lazy[-1] / ((before + after) / 2))
        single.append(_time(lambda: many("read", 1)))
    med = statistics.median
    return med(lone), med(ens), med(lazy), med(single), steps, med(pair)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=0, help="override every scenario's epochs (0: 100)")
    a = ap.parse_args()
    epochs = a.epochs or 100
    cases = [
        ("linear   worked example", Scenario(epochs=epochs)),
        ("logistic blobs         ", Scenario(dataset="blobs", model="logistic", batch_size=10, lr=0.2,
                                             epochs=epochs)),
        ("logistic imbalanced    ", load_preset("imbalanced").replace(epochs=epochs)),
        ("mlp      xor-mlp       ", load_preset("xor-mlp").replace(epochs=epochs)),
    ]
    print(f"K = {a.runs} runs vs 1 run, in one process, median of {a.rounds} (budget: ratio <= {BUDGET:g} "
          "for the worked example)")
    verdict = ""
    for name, sc in cases:
        one, many, lazy, single, steps, pair = measure(sc, a.runs, a.rounds)
        us = 1e6 / steps
        print(f"{name}  {steps:>6} steps  Simulation {one * us:6.1f} us/step | {a.runs} runs: "
              f"evaluate=step {many * us:7.1f} us/step ratio {many / one:5.2f} | "
              f"evaluate=read {lazy * us:7.1f} us/step ratio {lazy / one:5.2f}, paired {pair:5.2f} "
              f"(vs 1-run ensemble, read: {lazy / single:5.2f})")
        if name.startswith("linear"):
            worst = max(lazy / one, pair)
            verdict = (f"worked example: evaluate=read (the default) {lazy / one:.2f}x one Simulation "
                       f"(paired rounds: {pair:.2f}x), "
                       f"{'within' if worst <= BUDGET else 'OVER'} the {BUDGET:g}x budget; "
                       f"evaluate=step {many / one:.2f}x (K times the full-loss evaluations)")
    print(verdict)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
