"""``mbsim plan``: the batch arithmetic of a scenario, without training.

Every number comes from the engine's :class:`engine.sampling.Plan`; the sentences are written so
a student can check them with a pencil.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

import dataclasses

from mbsim.engine.arithmetic import arithmetic_line, epoch_steps_text
from mbsim.engine.errors import ScenarioError, visible
from mbsim.engine.sampling import EPOCH_ENDS, Plan, make_plan
from mbsim.engine.scenario import Scenario

from .common import EXIT_OK, UsageError
from .scenario_args import Sources, build_scenario

NAME = "plan"
SUMMARY = "print the batch arithmetic, no training"
DESCRIPTION = "Batches per epoch and their sizes, iterations, steps and samples seen."
EPILOG = """\
examples:
  mbsim plan                              the worked example: 40 batches of 5 per epoch
  mbsim plan --samples 1000 --batch-size 400              3 batches per epoch: 400, 400, 200
  mbsim plan --samples 50000 --batch-size 64 --drop-last  781 batches, 16 samples left over
  mbsim plan --preset steps-per-epoch --json
  mbsim plan --samples 1000 --batch-size 10 --steps-per-epoch 30 --epochs 5 --epoch-end cut
                                          Keras with arrays: 30, 30, 30, 10, 30 = 130 steps
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


def _pattern(plan: Plan) -> dict[str, Any]:
    """The steps of every epoch as run lengths: ``cycle`` (a list of {steps, epochs}) repeated
    ``repeats`` times, then ``tail`` (SCIENCE.md §1.3; see :meth:`Plan.epoch_pattern`)."""
    cycle, repeats, tail = plan.epoch_pattern()
    def runs(values: Sequence[int]) -> list[dict[str, int]]:
        return [{"steps": size, "epochs": count} for count, size in _runs(values)]
    return {"cycle": runs(cycle), "repeats": repeats, "tail": runs(tail)}


def _alternative(plan: Plan, scenario: Scenario) -> Plan:
    """The same batch arithmetic with ``scenario``'s epoch_end (for the comparison lines)."""
    return make_plan(
        plan.n_samples, plan.batch_size, drop_last=plan.drop_last, accumulate=plan.accumulate,
        steps_per_epoch=plan.steps_per_epoch, epochs=plan.epochs, epoch_end=scenario.epoch_end,
        sampling=plan.sampling,
    )


def plan_data(scenario: Scenario, src: Sources) -> dict[str, Any]:
    """Every number of the plan, as plain data (``mbsim plan --json``)."""
    from mbsim.engine.checks import check_scenario

    try:  # the same checks as mbsim run's Simulation (one validation path), without training
        scenario, plan, val = check_scenario(scenario)
    except ScenarioError as err:
        raise UsageError(src.describe(err)) from None
    m, k = plan.batches_per_pass, plan.accumulate
    by_choice = {}
    if plan.steps_per_epoch is not None:
        for choice in EPOCH_ENDS:
            other = dataclasses.replace(scenario, epoch_end=choice)
            alt = plan if choice == plan.epoch_end else _alternative(plan, other)
            by_choice[choice] = {
                **_pattern(alt),
                "total_iterations": alt.total_iterations, "total_steps": alt.total_steps,
                "text": epoch_steps_text(alt),
            }
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
        "epoch_end": plan.epoch_end,
        "epoch_steps": _pattern(plan),
        "epoch_steps_by_choice": by_choice,
        "arithmetic": arithmetic_line(plan),
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
    uneven = len(d["epoch_steps"]["cycle"]) > 1
    up_to = "up to " if uneven else ""
    lines.append(f"Per epoch: {up_to}{_plural(d['iterations_per_epoch'], 'iteration')}, "
                 f"{up_to}{_plural(d['steps_per_epoch'], 'step')}")
    lines.append(f"In total ({_plural(d['epochs'], 'epoch')}): {_plural(d['total_iterations'], 'iteration')}, "
                 f"{_plural(d['total_steps'], 'step')}, {d['total_samples']:,} samples seen")
    if spe:
        per_epoch = spe * k
        end = d["epoch_end"]
        how = {
            "continue": "the data iterator runs on across epochs",
            "cut": "the iterator runs on, but an epoch also ends where a pass runs out and the next "
                   "epoch starts a fresh pass (Keras with arrays)",
            "restart": "every epoch starts a fresh pass and uses only its first batches (a PyTorch "
                       "loop that breaks early)",
        }[end]
        if end == "restart":
            used = d["total_samples"] // d["epochs"]
            over = (f"{_plural(d['epochs'], 'epoch')} start {_plural(d['epochs'], 'pass').replace('passs', 'passes')}, "
                    f"each using {used:,} of its {d['samples_per_pass']:,} samples")
        else:
            over = f"{_plural(d['epochs'], 'epoch')} make {_passes(d['passes'])} over the data"
        lines.append(
            f"steps_per_epoch = {spe}, epoch_end = {end}: an epoch asks for {_plural(spe, 'step')} "
            f"({per_epoch:,} batches), not a pass; {how}, so {over}"
        )
        lines.append("Steps of each epoch, by epoch_end:")
        for choice, alt in d["epoch_steps_by_choice"].items():
            mark = "  ← this run" if choice == end else ""
            lines.append(f"  {choice + ':':<9} {alt['text']}{mark}")
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
    lines.append(f"Arithmetic: {d['arithmetic']}")
    return lines


def execute(ns: argparse.Namespace) -> int:
    """Print the plan (or its JSON)."""
    scenario, src = build_scenario(ns)
    data = plan_data(scenario, src)
    if ns.json:
        print(json.dumps(data, indent=2))  # JSON escapes control characters itself
    else:
        print("\n".join(visible(line) for line in plan_lines(data)))
    return EXIT_OK
