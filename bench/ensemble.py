"""Benchmark of the ensemble (DESIGN.md "Budgets": 100 runs of the worked example within 3× the
time of one); prints ratios, is not a test.

In one process, alternating, median of ROUNDS: ``Ensemble.seeds(scenario, K).run_to_end()``
against ``Simulation(scenario, record=False).run_to_end()`` (the ensemble without band or
checkpoints: as ``mbsim run`` makes both) — the same scenario, so the same number of steps
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
reshuffled; and the ``imbalanced`` preset, whose stratified sampler draws a permutation of
N + 1 per run and pass and assembles every run's orders at once, engine/stratified.py), and
``xor-mlp`` (8 tanh units, B = 10).

**From the command line** (issue 25, the budget as a user meets it): whole processes,
``mbsim run --quiet --runs K`` against ``mbsim run --quiet`` for the four models (the worked
example; logistic on blobs; the ``imbalanced`` preset, stratified sampling; ``xor-mlp``), CPU
time of each child (user + system), startup removed: each command is also run with
``--epochs 1`` and the ratio is (T_K(E) − T_K(1)) / (T_1(E) − T_1(1)), the cost of E − 1 epochs
of K runs against one run's; paired: each round's four commands run next to each other, the
median over rounds of the per-round ratios. Budget: ≤ 3×.

Run it after the README's install:  .venv/bin/python bench/ensemble.py [--rounds N] [--runs K]
                                        [--cli-rounds N] [--cli-epochs E] [--no-cli] [--no-inprocess]
                                        [--before DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from mbsim.engine import Scenario, load_preset  # noqa: E402
from mbsim.engine.ensemble import Ensemble  # noqa: E402
from mbsim.engine.simulation import Simulation  # noqa: E402

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
            sim = Simulation(scenario, record=False)      # as mbsim run: no record in memory
            sim.run_to_end()
            steps = sim.step

        def many(evaluate: str, k: int = runs) -> None:
            e = Ensemble.seeds(scenario, k, evaluate=evaluate, band=False, record=False)
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


#: The four models from the command line: (name, options, epochs E).
CLI_CASES = (
    ("linear   worked example", [], 400),
    ("logistic blobs         ", ["--dataset", "blobs", "--model", "logistic", "--batch-size", "10", "--lr", "0.2"], 400),
    ("stratified imbalanced  ", ["--preset", "imbalanced"], 400),
    ("mlp      xor-mlp       ", ["--preset", "xor-mlp"], 300),
)


def child_cpu(cmd: list[str], env: dict[str, str]) -> float:
    """CPU seconds (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd[:6])} ... failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _package_path(root: Path) -> str:
    """A folder holding one entry, ``mbsim``, a link to the checkout ``root`` (the repository's
    root is the package ``mbsim``, issue 25 item 8): on PYTHONPATH it makes ``python -m mbsim``
    import that checkout, whatever the virtual environment installed (an editable install of
    another worktree is found after PYTHONPATH)."""
    folder = Path(tempfile.gettempdir()) / f"mbsim-bench-{os.getuid()}-{hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:12]}"
    folder.mkdir(exist_ok=True)
    link = folder / "mbsim"
    if not (link.is_symlink() and link.resolve() == root.resolve()):
        if link.is_symlink():
            link.unlink()
        link.symlink_to(root.resolve(), target_is_directory=True)
    return str(folder)


def command_line(runs: int, rounds: int, epochs_scale: float, before: Path | None = None) -> bool:
    """Print the command-line ratios of the four models; True when every one is within budget.
    With ``before`` (another checkout, e.g. main), each round also runs that checkout's four
    commands right before this one's (paired: the same moment of a shared machine)."""
    roots = [("before", before), ("now", ROOT)] if before is not None else [("now", ROOT)]
    envs = {label: {**os.environ, "PYTHONPATH": _package_path(root) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                    "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            for label, root in roots}
    for label, env in envs.items():
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        where = subprocess.run([sys.executable, "-c", "import mbsim; print(mbsim.__file__)"], env=env,
                               capture_output=True, text=True).stdout.strip()
        print(f"  {label}: {where}")
    return all([_command_line_cases(runs, rounds, epochs_scale, envs)])


def _command_line_cases(runs: int, rounds: int, epochs_scale: float, envs: dict[str, dict[str, str]]) -> bool:
    script = Path(sys.executable).parent / "mbsim"
    mbsim = [str(script)] if script.exists() else [sys.executable, "-m", "mbsim"]
    print(f"From the command line: mbsim run --quiet --runs {runs} vs mbsim run --quiet, CPU of whole "
          f"processes, startup removed (the same command with --epochs 1 subtracted), paired, median of "
          f"{rounds} rounds (budget <= {BUDGET:g}x)")
    ok = True
    for name, opts, epochs in CLI_CASES:
        e = str(max(2, int(epochs * epochs_scale)))
        one = mbsim + ["run", "--quiet"] + opts
        many = one + ["--runs", str(runs)]
        for label_env in envs.values():
            for cmd in (one, many):                 # warm the file cache and the compiled modules
                child_cpu(cmd + ["--epochs", "1"], label_env)
        ratios: dict[str, list[float]] = {label: [] for label in envs}
        lone: dict[str, list[float]] = {label: [] for label in envs}
        group: dict[str, list[float]] = {label: [] for label in envs}
        for _ in range(rounds):
            for label, label_env in envs.items():
                t1 = child_cpu(one + ["--epochs", e], label_env) - child_cpu(one + ["--epochs", "1"], label_env)
                tk = child_cpu(many + ["--epochs", e], label_env) - child_cpu(many + ["--epochs", "1"], label_env)
                ratios[label].append(tk / t1)
                lone[label].append(t1)
                group[label].append(tk)
        for label in envs:
            r = statistics.median(ratios[label])
            if label == "now":
                ok = ok and 0 < r <= BUDGET
            print(f"  {name} {label:6s} {e:>4} epochs: one run {statistics.median(lone[label]):6.3f} s, {runs} runs "
                  f"{statistics.median(group[label]):6.3f} s: {r:5.2f}x  "
                  f"(rounds: {', '.join(f'{x:.2f}' for x in ratios[label])})  "
                  f"{'NOISE (a difference <= 0: more epochs or rounds)' if r <= 0 else 'OK' if r <= BUDGET else 'OVER'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=0, help="override every scenario's epochs (0: 100)")
    ap.add_argument("--cli-rounds", type=int, default=5)
    ap.add_argument("--cli-epochs", type=float, default=1.0, help="scale the command-line cases' epochs")
    ap.add_argument("--no-cli", action="store_true", help="in-process figures only")
    ap.add_argument("--no-inprocess", action="store_true", help="command-line figures only")
    ap.add_argument("--before", default=None, help="another checkout (e.g. main) measured alongside, paired")
    a = ap.parse_args()
    if not a.no_cli:
        command_line(a.runs, a.cli_rounds, a.cli_epochs, Path(a.before).resolve() if a.before else None)
    if a.no_inprocess:
        return 0
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
