"""``mbsim lab``: the batch-size lab headless — steps against examples to reach a loss.

The sweep, the fit and the readings are :mod:`engine.lab`'s; this module parses the options,
shows a progress line on stderr (on a terminal), prints the table, the fit and the noise
scales, and writes ``--json`` and ``--csv`` atomically (:func:`engine.atomic.atomic_writer`).
Ctrl+C (or SIGTERM, SIGHUP) keeps the batch sizes finished by then: the table, the fit and the
files hold them, and the exit code is 130 (143, 129). Never imports textual.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from contextlib import ExitStack
from typing import Any, TextIO

from mbsim.engine.errors import ScenarioError, visible

from .common import EXIT_CODES_TEXT, EXIT_OK, PROG, Interrupted, UsageError
from .headless import Interrupts, is_terminal, named
from .scenario_args import build_scenario, make_simulation
from .writers import check_output_paths, csv_float

NAME = "lab"
SUMMARY = "the batch-size lab: steps vs examples to reach a loss, over batch sizes"
DESCRIPTION = ("For each batch size, K runs (differing in the sampling seed) train until the full "
               "training loss reaches a target (checked after every step); prints the median steps, "
               "examples and epochs, the fit of (S/S_min - 1)(E/E_min - 1) = 1, B_crit = E_min/S_min "
               "next to the noise scale B_simple, and the time under a simple hardware model.")
EPILOG = """\
examples:
  mbsim lab                               the worked example: B = 1, 2, 4, ..., 128, 200; 8 runs each,
                                          the best lr of a grid per batch size (Shallue et al.)
  mbsim lab --lr 0.05                     one lr for every batch size (the constant rule)
  mbsim lab --lr-rule linear              Goyal et al.: lr proportional to B (from --batch-size, --lr)
  mbsim lab --batch-sizes 1,4,16,64 --runs 4 --target-loss 0.1
  mbsim lab --json lab.json --csv lab.csv --parallel 32 --memory 256

--lr X (a scenario option) is the learning rate at --batch-size B0: the constant rule uses it for
every batch size, linear scales it by B/B0, sqrt by sqrt(B/B0), tuned (the default, unless --lr
is given) tries it x 1/4 ... 16 and keeps the lr that reaches the target in the fewest steps.
--target-loss 0 (the default) lets the lab choose the target and print the rule.
Hardware model: a step of B samples takes ceil(B/P) time units; B > M does not fit.
Ctrl+C keeps the batch sizes done: table and files hold them (exit 130).
""" + EXIT_CODES_TEXT + "\n"
SCENARIO_OPTIONS = True
COLUMNS = ("batch_size", "lr", "runs", "reached", "steps", "examples", "epochs", "diverged",
           "fit_steps", "regime", "time_per_step", "time_to_target")
MAX_HARDWARE = 1_000_000_000


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``mbsim lab`` (besides the scenario's)."""
    from mbsim.engine.names import LAB_MEMORY as DEFAULT_MEMORY
    from mbsim.engine.names import LAB_PARALLEL as DEFAULT_PARALLEL
    from mbsim.engine.names import LAB_RUNS as DEFAULT_RUNS
    from mbsim.engine.names import LR_RULES

    g = parser.add_argument_group("the sweep")
    g.add_argument("--batch-sizes", metavar="B1,B2,...|pow2", dest="batch_sizes", default=None,
                   help="the batch sizes, comma-separated; pow2 (default): 1, 2, 4, ... below N, and N")
    g.add_argument("--lr-rule", metavar="RULE", dest="lr_rule", default=None,
                   help="the learning rate per batch size: " + ", ".join(LR_RULES)
                        + " (default: tuned; constant when --lr is given)")
    g.add_argument("--runs", metavar="K", default=None,
                   help=f"runs per batch size, differing in the sampling seed (default: {DEFAULT_RUNS})")
    hw = parser.add_argument_group("hardware model")
    hw.add_argument("--parallel", metavar="P", default=None,
                    help=f"samples the device processes in parallel per step (default: {DEFAULT_PARALLEL})")
    hw.add_argument("--memory", metavar="M", default=None,
                    help=f"samples the device holds at once; a larger batch does not fit (default: {DEFAULT_MEMORY})")
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="F.json", dest="json_out", default=argparse.SUPPRESS,
                     help="write the points, the target, the fit and the noise scales as JSON")
    out.add_argument("--csv", metavar="F.csv", dest="csv_out", default=argparse.SUPPRESS,
                     help="write the table as CSV, one row per batch size")


# ------------------------------------------------------------------------------------------------
# parsing


def _shown(text: str) -> str:
    return text if text.isprintable() else repr(text)


def parse_batch_sizes(text: str | None) -> list[int] | None:
    """``pow2`` (or nothing): None, the default; else a comma-separated list of whole numbers ≥ 1
    (the upper bound N is checked by the engine once the data is made)."""
    if text is None or text.strip().lower() == "pow2":
        return None
    sizes = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = int(part, 10)
        except ValueError:
            value = 0
        if value < 1:
            raise UsageError(f"--batch-sizes {_shown(text)}: {repr(part) if part else 'an empty item'} is not a "
                             "whole number from 1 to N; give e.g. 1,2,4,8 or pow2")
        sizes.append(value)
    return sizes


def parse_whole(option: str, text: str | None, low: int, high: int, what: str) -> int | None:
    """A whole number in [low, high] or a one-line usage error naming the option."""
    if text is None:
        return None
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise UsageError(f"{option} {_shown(text)}: must be a whole number from {low:,} to {high:,} ({what})")
    return value


def parse_rule(text: str) -> str:
    from mbsim.engine.names import LR_RULES

    if text not in LR_RULES:
        import difflib

        close = difflib.get_close_matches(text, LR_RULES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"--lr-rule {_shown(text)}: allowed: {', '.join(LR_RULES)}{hint}")
    return text


# ------------------------------------------------------------------------------------------------
# output


def fmt(x: float | None) -> str:
    """A number of the table: 6 significant digits; ``-`` for none."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    if isinstance(x, int):
        return str(x)
    return f"{x:.6g}"


def table_rows(result) -> list[dict[str, Any]]:  # noqa: ANN001
    """The rows of the table, CSV and JSON share: one per batch size (:data:`COLUMNS`)."""
    from mbsim.engine.lab import regime

    hw, fit = result.hardware, result.fit
    rows = []
    for p in result.points:
        rows.append({
            "batch_size": p.batch_size, "lr": p.lr, "runs": p.runs, "reached": p.reached,
            "steps": p.steps, "examples": p.examples, "epochs": p.epochs, "diverged": p.diverged,
            "fit_steps": fit.steps(p.batch_size) if fit is not None else None,
            "regime": regime(p.batch_size, fit.b_crit) if fit is not None else "",
            "time_per_step": hw.step_time(p.batch_size),
            "time_to_target": hw.time_to_target(p.batch_size, p.steps),
        })
    return rows


def report(result, out: TextIO) -> None:  # noqa: ANN001
    """The table, the fit, B_crit next to B_simple and the two-batch estimate, the curve."""
    hw = result.hardware
    name = visible(result.scenario or "scenario")
    print(f"Batch-size lab: {name}, N = {result.n_samples}, {result.runs} runs per batch size, "
          f"lr rule {result.lr_rule} (lr {result.lr0:g} at B = {result.batch0})", file=out)
    if not math.isfinite(result.target_loss):  # stopped in the pilot that chooses it
        print(f"Target loss not chosen yet (stopped during the pilot that chooses it); "
              f"budget {result.epochs_budget:,} epochs", file=out)
    elif result.target_rule == "given":
        print(f"Target loss {fmt(result.target_loss)} (given), checked after every step; "
              f"budget {result.epochs_budget:,} epochs", file=out)
    else:
        print(f"Target loss {fmt(result.target_loss)} (chosen: {result.target_rule}), checked after "
              f"every step; budget {result.epochs_budget:,} epochs", file=out)
    head = ("B", "lr", "steps", "examples", "epochs", "reached", "fit steps", "regime",
            "time/step", "time to target")
    cells = []
    for r in table_rows(result):
        t_step = "B > M" if r["time_per_step"] is None else str(r["time_per_step"])
        cells.append((str(r["batch_size"]), fmt(r["lr"]), fmt(r["steps"]), fmt(r["examples"]),
                       fmt(r["epochs"]), f"{r['reached']}/{r['runs']}", fmt(r["fit_steps"]),
                       r["regime"] or "-", t_step, fmt(r["time_to_target"])))
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) if i != 7 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths))), file=out)
    for c in cells:
        print("  ".join(v.rjust(w) if i != 7 else v.ljust(w) for i, (v, w) in enumerate(zip(c, widths))), file=out)
    print("steps, examples, epochs: medians over the runs that reached the target", file=out)
    fit = result.fit
    if fit is None:
        print("Fit: too few batch sizes that at least half the runs reached (need 2)", file=out)
    else:
        print(f"Fit of (S/S_min - 1)(E/E_min - 1) = 1 over {fit.points} batch sizes: "
              f"S_min = {fmt(fit.s_min)} steps, E_min = {fmt(fit.e_min)} examples", file=out)
        print(f"Fitted curve: S = S_min + E_min/B = {fmt(fit.s_min)} + {fmt(fit.e_min)}/B;  "
              f"E = E_min + S_min*B", file=out)
    b_crit = fit.b_crit if fit is not None else None
    print(f"B_crit = E_min/S_min = {fmt(b_crit)}   B_simple = tr Sigma/|G|^2: "
          f"{fmt(result.b_simple_start)} at the start, {fmt(result.b_simple_target)} at the target", file=out)
    print(f"Two-batch estimate of B_simple (b = {result.batch0}, B = {2 * result.batch0}): "
          f"{fmt(result.two_batch_start)} at the start, {fmt(result.two_batch_target)} at the target", file=out)
    print(f"Hardware model: P = {hw.parallel} samples in parallel, M = {hw.memory} in memory; "
          f"{hw.FORMULA}; time to target = steps x ceil(B/P)", file=out)
    if not result.complete:
        done = ", ".join(str(p.batch_size) for p in result.points) or "none"
        print(f"Stopped early: batch sizes done: {done} of {len(result.batch_sizes)}", file=out)


def write_json(result, stream: TextIO) -> None:  # noqa: ANN001
    doc = result.to_dict()
    rows = table_rows(result)
    for d, r in zip(doc["points"], rows):
        d["fit_steps"] = r["fit_steps"] if r["fit_steps"] is None or math.isfinite(r["fit_steps"]) else None
    stream.write(json.dumps(doc, indent=1, allow_nan=False) + "\n")


def write_csv(result, stream: TextIO) -> None:  # noqa: ANN001
    stream.write(",".join(COLUMNS) + "\n")
    for r in table_rows(result):
        cells = []
        for col in COLUMNS:
            v = r[col]
            if v is None:
                cells.append("")
            elif isinstance(v, str):
                cells.append(v)
            elif isinstance(v, int):
                cells.append(str(v))
            else:
                cells.append(csv_float(v))
        stream.write(",".join(cells) + "\n")


# ------------------------------------------------------------------------------------------------


def progress_text(p) -> str:  # noqa: ANN001
    """``lab: B = 16 (5/9)  runs 32/72  elapsed 3s  ETA 4s`` (or the pilot's line)."""
    from .progress import eta_text

    if p.phase == "pilot":
        return (f"lab: choosing the target loss: pilot run B = {p.batch_size} ({p.point + 1}/{p.points})  "
                f"elapsed {eta_text(p.elapsed)}")
    eta = eta_text(p.eta) if p.eta is not None else "?"
    return (f"lab: B = {p.batch_size} ({p.point + 1}/{p.points})  runs {p.runs_done}/{p.runs_total}  "
            f"elapsed {eta_text(p.elapsed)}  ETA {eta}")


def execute(ns: argparse.Namespace) -> int:
    """Run the sweep; 0 when done, 130/143/129 when stopped (what is done is printed and written)."""
    guard = Interrupts()
    with guard.installed():
        return _execute(ns, guard)


def _execute(ns: argparse.Namespace, guard) -> int:  # noqa: ANN001
    from mbsim.engine.lab import DEFAULT_MEMORY, DEFAULT_PARALLEL, DEFAULT_RUNS, MAX_RUNS, TUNED_FACTORS, Hardware, Lab

    scenario, src = build_scenario(ns)
    # --lr X alone: that lr for every batch size; else a rule relative to the scenario's lr
    rule = parse_rule(ns.lr_rule) if ns.lr_rule is not None else ("constant" if "lr" in src.explicit else "tuned")
    cands = len(TUNED_FACTORS) if rule == "tuned" else 1
    runs = parse_whole("--runs", ns.runs, 1, MAX_RUNS // cands,
                       "runs per batch size" + (f"; the tuned rule runs {cands} lrs each" if cands > 1 else ""))
    parallel = parse_whole("--parallel", ns.parallel, 1, MAX_HARDWARE, "samples processed in parallel")
    memory = parse_whole("--memory", ns.memory, 1, MAX_HARDWARE, "samples the device holds")
    sizes = parse_batch_sizes(ns.batch_sizes)
    outputs = {opt: getattr(ns, dest) for opt, dest in (("--json", "json_out"), ("--csv", "csv_out"))
               if getattr(ns, dest, None) is not None}
    check_output_paths(outputs)
    from .memory_check import check_lab

    held = check_lab(scenario, src, runs or DEFAULT_RUNS, sizes, cands)   # over the budget: one line
    make_simulation(scenario, src)          # data errors and a non-finite start: one line
    del held
    hardware = Hardware(parallel or DEFAULT_PARALLEL, memory or DEFAULT_MEMORY)
    target = scenario.target_loss if scenario.target_loss > 0 else None
    try:
        lab = Lab(scenario, batch_sizes=sizes, runs=runs or DEFAULT_RUNS, lr_rule=rule,
                  target_loss=target, hardware=hardware)
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None
    line = None
    if is_terminal(sys.stderr):
        from .progress import LiveLine

        line = LiveLine(sys.stderr)

    def progress(p) -> None:  # noqa: ANN001
        if line is not None:
            line.update(progress_text(p))

    stopped: Interrupted | None = None
    t0 = time.monotonic()
    try:
        try:
            lab.run(progress)
        except ScenarioError as err:
            raise UsageError(src.describe(err)) from None
        except Interrupted as sig:
            stopped = sig
        except KeyboardInterrupt:
            stopped = Interrupted()
    finally:
        guard.critical = True               # a second signal waits until the files are written
        if line is not None:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    try:
        result = lab.result()
        report(result, sys.stdout)
        from mbsim.engine.atomic import atomic_writer

        with ExitStack() as stack:
            for option, path in outputs.items():
                stream = stack.enter_context(named(option, path, atomic_writer(path)))
                (write_json if option == "--json" else write_csv)(result, stream)
    finally:
        guard.critical = False
    stopped = stopped or (Interrupted(guard.pending) if guard.pending else None)
    guard.pending = None
    if stopped is not None:
        written = f"; wrote {', '.join(repr(p) for p in outputs.values())}" if outputs else ""
        print(f"{PROG}: {visible(stopped.what)} after {len(lab.points)} of {len(lab.batch_sizes)} batch "
              f"sizes ({time.monotonic() - t0:.1f}s){visible(written)}", file=sys.stderr)
        return stopped.exit_code
    return EXIT_OK

