"""``mbsim plan``: the batch arithmetic of a scenario, without training.

Every number comes from the engine's :class:`engine.sampling.Plan`; the sentences are written so
a student can check them with a pencil.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

from engine.errors import ScenarioError
from engine.scenario import Scenario

from .common import EXIT_OK, UsageError
from .scenario_args import Sources, build_scenario, make_simulation

NAME = "plan"
SUMMARY = "print the batch arithmetic, no training"
DESCRIPTION = "Batches per epoch and their sizes, iterations, steps and samples seen."
EPILOG = """\
examples:
  mbsim plan                              the worked example: 40 batches of 5 per epoch
  mbsim plan --samples 1000 --batch-size 400              3 batches per epoch: 400, 400, 200
  mbsim plan --samples 50000 --batch-size 64 --drop-last  781 batches, 16 samples left over
  mbsim plan --preset steps-per-epoch --json
"""
SCENARIO_OPTIONS = True


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``mbsim plan`` (besides the scenario's)."""
    parser.add_argument("--json", action="store_true", default=False, help="print the plan as JSON")


def summarize_sizes(sizes: Sequence[int], list_up_to: int = 6) -> str:
    """``400, 400, 200`` for a few batches; ``781 × 64, 1 × 16`` (run lengths) for many."""
    if len(sizes) <= list_up_to:
        return ", ".join(str(s) for s in sizes)
    return ", ".join(f"{count} × {size}" for count, size in _runs(sizes))


def _runs(sizes: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for s in sizes:
        if runs and runs[-1][1] == s:
            runs[-1] = (runs[-1][0] + 1, s)
        else:
            runs.append((1, s))
    return runs


def _plural(n: int | float, word: str) -> str:
    text = f"{n:,}" if isinstance(n, int) else f"{n:g}"
    return f"{text} {word}{'' if n == 1 else 's'}"


def plan_data(scenario: Scenario, src: Sources) -> dict[str, Any]:
    """Every number of the plan, as plain data (``mbsim plan --json``)."""
    from engine.sampling import make_plan

    val = scenario.val_samples
    if scenario.is_csv:  # N comes from the file
        sim = make_simulation(scenario, src)
        scenario, plan, val = sim.scenario, sim.plan, len(sim.dataset.y_val)
    else:
        try:
            plan = make_plan(
                scenario.samples, scenario.batch_size, drop_last=scenario.drop_last,
                accumulate=scenario.accumulate, steps_per_epoch=scenario.steps_per_epoch_or_none,
                epochs=scenario.epochs,
            )
        except ScenarioError as err:
            raise UsageError(src.describe(err)) from None
        scenario = scenario.resolved()
    m, k = plan.batches_per_pass, plan.accumulate
    return {
        "scenario": scenario.name,
        "dataset": scenario.dataset,
        "training_samples": plan.n_samples,
        "validation_samples": val,
        "batch_size": plan.batch_size,
        "algorithm": plan.algorithm,
        "algorithm_long": plan.algorithm_long,
        "drop_last": plan.drop_last,
        "batches_per_pass": m,
        "batch_sizes": [{"count": c, "size": s} for c, s in _runs(plan.batch_sizes)],
        "last_batch_size": plan.batch_sizes[-1],
        "leftover_per_pass": plan.leftover,
        "samples_per_pass": plan.samples_per_pass,
        "accumulate": k,
        "effective_batch": plan.effective_batch,
        "steps_per_epoch_setting": plan.steps_per_epoch or 0,
        "iterations_per_epoch": plan.iterations_per_epoch,
        "steps_per_epoch": plan.steps_per_epoch_count,
        "epochs": plan.epochs,
        "total_iterations": plan.total_iterations,
        "total_steps": plan.total_steps,
        "total_samples": plan.total_samples,
        "passes": plan.passes,
        "optimizer": scenario.optimizer,
        "lr": scenario.lr,
        "schedule": scenario.schedule,
        "sampling": scenario.sampling,
        "eval_every_setting": scenario.eval_every,
        "eval_every": _eval_every(scenario, plan, val),
    }


def _eval_every(scenario: Scenario, plan: Any, val: int) -> int | str:
    """The steps between full-loss evaluations the run will use ("epoch" for every epoch end),
    as :meth:`engine.scenario.Scenario.eval_interval` resolves it (the Simulation does the same)."""
    k = scenario.eval_interval(plan.n_samples + val, plan.total_samples / max(1, plan.total_steps))
    return "epoch" if k is None else k


_SAMPLING_TEXT = {
    "reshuffle": "a fresh random order every pass; every sample is used once per pass",
    "once": "one random order drawn at the start and reused every pass",
    "sequential": "samples 0..N-1 in index order every pass",
    "replacement": "every batch is drawn with replacement; an epoch is N draws, so some samples "
                   "come twice and some not at all",
    "stratified": "every batch keeps the class proportions of the data set",
}


def _passes(p: float) -> str:
    if float(p).is_integer():
        return _plural(int(p), "pass").replace("passs", "passes")
    return f"{p:,.4g} passes"


def plan_lines(d: dict[str, Any]) -> list[str]:
    """The plan as sentences a student can check with a pencil."""
    n, b, m = d["training_samples"], d["batch_size"], d["batches_per_pass"]
    k, spe = d["accumulate"], d["steps_per_epoch_setting"]
    sizes = [s for run in d["batch_sizes"] for s in [run["size"]] * run["count"]]
    lines = [
        f"Scenario: {d['scenario']} (dataset {d['dataset']})",
        f"Samples: {n:,} training, {d['validation_samples']:,} validation (held out, not trained on)",
    ]
    if k == 1:
        lines.append(f"Batch size {b:,} of N = {n:,}: {d['algorithm_long']} ({d['algorithm']})")
    else:
        lines.append(f"Batch size {b:,} of N = {n:,}, effective batch {d['effective_batch']:,}: "
                     f"{d['algorithm_long']} ({d['algorithm']})")
    what = "pass" if spe else "epoch"
    lines.append(f"{_plural(m, 'batch').replace('batchs', 'batches')} per {what}: {summarize_sizes(sizes)}")
    if d["leftover_per_pass"]:
        left = d["leftover_per_pass"]
        lines.append(f"drop_last: the {_plural(left, 'leftover sample')} ({n:,} mod {b:,}) are dropped "
                     f"each {what}; {d['samples_per_pass']:,} samples are used")
    elif sizes[-1] != b:
        lines.append(f"The last batch has only {_plural(sizes[-1], 'sample')} ({n:,} − {m - 1:,} × {b:,}); with a "
                     "mean loss it still takes a full step, so each of its samples weighs more")
    if k == 1:
        lines.append(f"Accumulation: none; every iteration is a step (effective batch {d['effective_batch']:,})")
    else:
        text = (f"Accumulation: {k} micro-batches of {b:,} per step, effective batch "
                f"{d['effective_batch']:,} ({k} × {b:,})")
        if not spe and m % k:
            text += f"; the last step of an epoch has only {m % k} micro-batch{'es' if m % k > 1 else ''}"
        lines.append(text)
    lines.append(f"Per epoch: {_plural(d['iterations_per_epoch'], 'iteration')}, "
                 f"{_plural(d['steps_per_epoch'], 'step')}")
    lines.append(f"In total ({_plural(d['epochs'], 'epoch')}): {_plural(d['total_iterations'], 'iteration')}, "
                 f"{_plural(d['total_steps'], 'step')}, {d['total_samples']:,} samples seen")
    if spe:
        per_epoch = d["iterations_per_epoch"]
        lines.append(
            f"steps_per_epoch = {spe}: an epoch is {_plural(spe, 'step')} ({per_epoch:,} batches), not a pass; "
            f"the data iterator runs on across epochs, so {_plural(d['epochs'], 'epoch')} make "
            f"{_passes(d['passes'])} over the data"
        )
    else:
        lines.append(f"Epochs = passes: each epoch is one pass over the {n:,} samples "
                     f"({_plural(d['epochs'], 'epoch')} = {_plural(d['epochs'], 'pass').replace('passs', 'passes')})")
    sampling = d["sampling"]
    lines.append(f"Sampling {sampling}: {_SAMPLING_TEXT.get(sampling, 'see SCIENCE.md')}")
    lines.append(f"Optimizer: {d['optimizer']}, lr {d['lr']:g}, schedule {d['schedule']}")
    k = d["eval_every"]
    when = "at every epoch end" if k == "epoch" else f"every {_plural(k, 'step')} and at every epoch end"
    chosen = " (auto: at most ~10% of the run's cost)" if d["eval_every_setting"] == "auto" else ""
    lines.append(f"Full training and validation losses: evaluated {when}{chosen}")
    return lines


def execute(ns: argparse.Namespace) -> int:
    """Print the plan (or its JSON)."""
    scenario, src = build_scenario(ns)
    data = plan_data(scenario, src)
    if ns.json:
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(plan_lines(data)))
    return EXIT_OK
