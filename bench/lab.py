"""Benchmark of the batch-size lab (issue 12: the worked example's default sweep within 20 s on
this machine); prints times and ratios, is not a test.

In one process, alternating, median of ROUNDS: the default ``mbsim lab`` sweep of the worked
example (``engine.lab.Lab(load_preset("worked-example"), lr_rule="tuned")``: B = 1, 2, …, 128,
200; 8 runs each; 7 learning rates each; the default target chosen by the pilot) against one
run of the worked example (``Simulation(scenario).run_to_end()``: 40,000 steps). CPU time of
the process (``time.process_time``: other programs on the shared machine count less) and wall
time, both printed; the pilot's share is printed too. Also the constant-lr sweep (``--lr``).

Run it after the README's install:  .venv/bin/python bench/lab.py [--rounds N]
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

from engine import load_preset  # noqa: E402
from engine.lab import Lab  # noqa: E402
from engine.simulation import Simulation  # noqa: E402
from engine.threads import use_one_blas_thread  # noqa: E402

BUDGET = 20.0


def sweep(rule: str) -> tuple[float, float, float]:
    """(CPU s, wall s, pilot CPU s) of one whole default sweep."""
    lab = Lab(load_preset("worked-example"), lr_rule=rule)
    c0, w0 = time.process_time(), time.monotonic()
    lab.choose_target()
    pilot = time.process_time() - c0
    lab.run()
    lab.result()
    return time.process_time() - c0, time.monotonic() - w0, pilot


def one_run() -> tuple[float, float]:
    c0, w0 = time.process_time(), time.monotonic()
    Simulation(load_preset("worked-example")).run_to_end()
    return time.process_time() - c0, time.monotonic() - w0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    use_one_blas_thread()   # as the command line does
    rows: dict[str, list[tuple[float, ...]]] = {"tuned": [], "constant": [], "run": []}
    for _ in range(rounds):
        rows["run"].append(one_run())
        rows["tuned"].append(sweep("tuned"))
        rows["constant"].append(sweep("constant"))
    med = {k: [statistics.median(col) for col in zip(*v)] for k, v in rows.items()}
    run_cpu, run_wall = med["run"]
    print(f"one run of the worked example (40,000 steps): {run_cpu:.2f} s CPU, {run_wall:.2f} s wall")
    for rule, label in (("tuned", "default sweep (lr tuned, 9 B x 8 runs x 7 lrs)"),
                        ("constant", "constant-lr sweep (9 B x 8 runs)")):
        cpu, wall, pilot = med[rule]
        verdict = "within" if wall <= BUDGET else "OVER"
        print(f"{label}: {cpu:.2f} s CPU ({pilot:.2f} s of it the pilot), {wall:.2f} s wall "
              f"= {cpu / run_cpu:.2f}x one run; {verdict} the {BUDGET:.0f} s budget (median of {rounds})")


if __name__ == "__main__":
    main()
