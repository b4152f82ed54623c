"""Benchmark of the batch-size lab; prints times, ratios and memory, is not a test.

Two parts:

1. (issue 12) In one process, alternating, median of ROUNDS: the default ``mbsim lab`` sweep of
   the worked example (``engine.lab.Lab(load_preset("worked-example"), lr_rule="tuned")``: B = 1,
   2, …, 128, 200; 8 runs each; 7 learning rates each; the default target chosen by the pilot)
   against one run of the worked example (``Simulation(scenario).run_to_end()``: 40,000 steps).
   CPU time (``time.process_time``) and wall time; the pilot's share. Also the constant-lr sweep.
2. (issue 24, "the lab at any N") Whole processes: ``mbsim lab --samples N`` (the default tuned
   sweep) at N = 200, 10,000 and 50,000, each in a fresh child process: its CPU time (user +
   system) and its peak resident memory (``ru_maxrss``), and N = 10,000 against N = 200 (budget:
   within 3x the CPU; at 50,000 it finishes; at most 150 MB). ``--before DIR`` runs the same
   commands with the engine and TUI of another checkout first (e.g. main), with a time limit;
   ``--ratio-rounds R`` then repeats the two smallest N, each checkout's pair side by side, R
   times, and prints the median of the per-round ratios (a shared machine is noisy).

Run it after the README's install:  .venv/bin/python bench/lab.py [--rounds N] [--sizes ...]
                                                                   [--before DIR] [--timeout S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from mbsim.engine import load_preset  # noqa: E402
from mbsim.engine.lab import Lab  # noqa: E402
from mbsim.engine.simulation import Simulation  # noqa: E402
from mbsim.engine.threads import use_one_blas_thread  # noqa: E402

BUDGET = 20.0
MEMORY_BUDGET_MB = 150
# a child that runs one command and reports its own child's CPU and peak RSS (a fresh process
# each time: RUSAGE_CHILDREN's peak is the largest of every child waited for so far)
CHILD = r"""
import resource, subprocess, sys, time
t0 = time.monotonic()
try:
    r = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=float(sys.argv[1]), stdin=subprocess.DEVNULL)
    state = "ok" if r.returncode == 0 else "failed: " + r.stderr.decode()[-200:].strip()
except subprocess.TimeoutExpired:
    state = "timeout"
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print(state.replace(" ", "_"), ru.ru_utime + ru.ru_stime, time.monotonic() - t0, ru.ru_maxrss / 1024)
"""


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


def lab_process(root: Path, n: int, timeout: float) -> tuple[str, float, float, float]:
    """(state, CPU s, wall s, peak MB) of ``mbsim lab --samples n`` with the code of ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mbsim = Path(sys.executable).parent / "mbsim"
    cmd = [str(mbsim)] if mbsim.exists() else [sys.executable, "-m", "mbsim"]
    out = subprocess.run([sys.executable, "-c", CHILD, str(timeout)] + cmd + ["lab", "--samples", str(n)],
                         capture_output=True, text=True, env=env, cwd=root)
    state, cpu, wall, peak = out.stdout.split()
    return state.replace("_", " "), float(cpu), float(wall), float(peak)


def at_any_n(root: Path, label: str, sizes: list[int], timeout: float) -> None:
    results = {}
    for n in sizes:
        results[n] = lab_process(root, n, timeout)
        state, cpu, wall, peak = results[n]
        what = "" if state == "ok" else f"  ({state}{' after ' + str(int(timeout)) + ' s' if state == 'timeout' else ''})"
        print(f"  {label:6s} mbsim lab --samples {n:>6,}: {cpu:7.1f} s CPU, {wall:7.1f} s wall, peak {peak:5.0f} MB"
              f"{' OVER' if peak > MEMORY_BUDGET_MB else ''}{what}")
    small, big = min(sizes), sorted(sizes)[1] if len(sizes) > 1 else None
    if big is not None and results[small][0] == "ok" and results[big][0] == "ok":
        r = results[big][1] / results[small][1]
        print(f"  {label:6s} N = {big:,} / N = {small:,}: {r:.2f}x the CPU (budget <= 3x: {'OK' if r <= 3 else 'OVER'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="200,10000,50000", help="N for part 2 (comma-separated)")
    parser.add_argument("--before", default=None, help="another checkout to measure first (part 2)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per lab process (part 2)")
    parser.add_argument("--skip-sweep", action="store_true", help="part 2 only")
    parser.add_argument("--ratio-rounds", type=int, default=0,
                        help="part 2: also this many paired rounds of the two smallest N (median ratio)")
    args = parser.parse_args()
    use_one_blas_thread()   # as the command line does
    if not args.skip_sweep:
        rows: dict[str, list[tuple[float, ...]]] = {"tuned": [], "constant": [], "run": []}
        for _ in range(args.rounds):
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
                  f"= {cpu / run_cpu:.2f}x one run; {verdict} the {BUDGET:.0f} s budget (median of {args.rounds})")
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"the lab at any N (issue 24): whole processes, the default tuned sweep of the worked example; "
          f"budget: N = 10,000 within 3x N = 200, N = 50,000 finishes, peak <= {MEMORY_BUDGET_MB} MB")
    if args.before:
        at_any_n(Path(args.before).resolve(), "before", sizes, args.timeout)
    at_any_n(ROOT, "now", sizes, args.timeout)
    if args.ratio_rounds:
        paired_ratio(args, sizes)


def paired_ratio(args: argparse.Namespace, sizes: list[int]) -> None:
    """N = 10,000 / N = 200 over rounds, each round's four (or two) processes next to each other
    (a shared machine's speed changes between rounds): the median of the per-round ratios."""
    small, big = min(sizes), sorted(sizes)[1]
    roots = ([("before", Path(args.before).resolve())] if args.before else []) + [("now", ROOT)]
    ratios: dict[str, list[float]] = {label: [] for label, _ in roots}
    for _ in range(args.ratio_rounds):
        for label, root in roots:
            a = lab_process(root, small, args.timeout)
            b = lab_process(root, big, args.timeout)
            if a[0] == "ok" and b[0] == "ok":
                ratios[label].append(b[1] / a[1])
    for label, values in ratios.items():
        if values:
            r = statistics.median(values)
            print(f"  {label:6s} N = {big:,} / N = {small:,}, paired, median of {len(values)} rounds: {r:.2f}x the CPU "
                  f"(rounds: {', '.join(f'{v:.2f}' for v in values)}; budget <= 3x: {'OK' if r <= 3 else 'OVER'})")


if __name__ == "__main__":
    main()
