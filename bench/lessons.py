"""Benchmark of lessons; prints numbers, is not a test.

1. Checking: ``load_lesson`` (read, parse, check every run condition against the plan) for all
   built-in lessons, against loading and validating every built-in preset, in one process
   (median of ROUNDS). A check should cost about what reading a few scenario files costs.
2. Going back: on the largest built-in (epochs-and-batches, 9 slides, up to 50,000 samples),
   the cost of rewinding each slide's start with the engine's exact rewind
   (``Simulation.goto_iteration``) against building that start afresh from the lesson's
   directives, headless.

Run it after the README's install:  .venv/bin/python bench/lessons.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mbsim.engine.lessons import builtin_names, load_lesson, run_target  # noqa: E402
from mbsim.engine.scenario import load_preset, preset_names  # noqa: E402
from mbsim.engine.simulation import Simulation  # noqa: E402


def median_time(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def play(lesson):  # noqa: ANN001, ANN201
    """(sim, iteration) at every slide's start, playing the directives headless."""
    starts, sim = [], Simulation(lesson.start)
    for slide in lesson.slides:
        starts.append((sim, sim.iteration))
        if slide.fresh:
            sim = Simulation(slide.scenario)
        if slide.run is not None:
            seg = sim.segment
            target = run_target(slide.run, sim.plan, sim.iteration, sim.step, start_iteration=seg.start_iteration,
                                start_step=seg.start_step, start_epoch=seg.start_epoch)
            sim.run_iterations(target - sim.iteration)
    return starts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    check = median_time(lambda: [load_lesson(n) for n in builtin_names()], rounds)
    presets = median_time(lambda: [load_preset(n).validate() for n in preset_names()], rounds)
    print(f"check all {len(builtin_names())} lessons: {check * 1000:.1f} ms; "
          f"load all {len(preset_names())} presets: {presets * 1000:.1f} ms; ratio {check / presets:.2f}")
    lesson = load_lesson("epochs-and-batches")
    starts = play(lesson)
    rewind = median_time(lambda: [sim.goto_iteration(it) for sim, it in starts], rounds)
    rebuild = median_time(lambda: play(lesson), rounds)
    print(f"rewind every slide start of epochs-and-batches: {rewind * 1000:.1f} ms; "
          f"replaying the lesson from the first slide: {rebuild * 1000:.1f} ms; ratio {rewind / rebuild:.2f}")


if __name__ == "__main__":
    main()
