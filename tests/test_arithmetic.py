"""The arithmetic line (engine.arithmetic): every variant against a hand-computed string.

The numbers are SCIENCE.md §1's worked ones (40 / 40,000; 400, 400, 200; 782 and 781 with
drop_last for 50,000 / 64) and §1.2-§1.3's, worked out by hand in the comments."""

from __future__ import annotations

from mbsim.engine.arithmetic import arithmetic_line, epoch_steps_text, runs_text
from mbsim.engine.sampling import make_plan


def test_worked_example() -> None:
    # 200/5 = 40 exactly; 40 × 1000 = 40,000
    assert arithmetic_line(make_plan(200, 5, epochs=1000)) == (
        "N = 200, B = 5 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · "
        "40 × 1000 epochs = 40,000 steps"
    )


def test_short_last_batch() -> None:
    # ⌈1000/400⌉ = 3: 400, 400 and 1000 − 2·400 = 200; 3 × 10 = 30
    assert arithmetic_line(make_plan(1000, 400, epochs=10)) == (
        "N = 1000, B = 400 → ⌈1000/400⌉ = 3 batches per epoch (last one 200) · "
        "3 × 10 epochs = 30 steps"
    )


def test_fifty_thousand_by_64() -> None:
    # 50,000 = 781·64 + 16: ⌈⌉ = 782 (last one 16); 782 × 20 = 15,640
    assert arithmetic_line(make_plan(50_000, 64, epochs=20)) == (
        "N = 50000, B = 64 → ⌈50000/64⌉ = 782 batches per epoch (last one 16) · "
        "782 × 20 epochs = 15,640 steps"
    )


def test_drop_last() -> None:
    # ⌊50000/64⌋ = 781, 16 left out; 781 × 20 = 15,620
    assert arithmetic_line(make_plan(50_000, 64, epochs=20, drop_last=True)) == (
        "N = 50000, B = 64, drop_last → ⌊50000/64⌋ = 781 batches per epoch (16 samples left out) · "
        "781 × 20 epochs = 15,620 steps"
    )
    # 200 = 40·5: nothing to drop
    assert "⌊200/5⌋ = 40 batches per epoch (none left out)" in arithmetic_line(
        make_plan(200, 5, drop_last=True))
    # 11 = 5·2 + 1: one sample left out
    assert "(1 sample left out)" in arithmetic_line(make_plan(11, 5, drop_last=True))


def test_accumulation() -> None:
    # 40 iterations per epoch in steps of 4: ⌈40/4⌉ = 10 steps, effective batch 20;
    # 10 × 1000 = 10,000 steps, 40 × 1000 = 40,000 iterations
    assert arithmetic_line(make_plan(200, 5, epochs=1000, accumulate=4)) == (
        "N = 200, B = 5, K = 4 → ⌈200/5⌉ = 40 batches per epoch (last one 5) · "
        "⌈40/4⌉ = 10 steps per epoch, effective batch 4 × 5 = 20 · "
        "10 × 1000 epochs = 10,000 steps (40,000 iterations)"
    )
    # 40 = 13·3 + 1: 14 steps, the last of a single micro-batch
    assert "⌈40/3⌉ = 14 steps per epoch (the last of only 1 micro-batch), effective batch 3 × 5 = 15" \
        in arithmetic_line(make_plan(200, 5, epochs=2, accumulate=3))


def test_steps_per_epoch_continue() -> None:
    # 100 batches per pass; 30 × 5 = 150 steps = 1,500 batches = 1.5 passes
    assert arithmetic_line(make_plan(1000, 10, steps_per_epoch=30, epochs=5)) == (
        "N = 1000, B = 10 → ⌈1000/10⌉ = 100 batches per pass (last one 10) · "
        "steps_per_epoch = 30, continue: 30 × 5 epochs = 150 steps (1.5 passes)"
    )


def test_steps_per_epoch_cut() -> None:
    # Keras 3.15: a pass of 100 batches gives epochs of 30, 30, 30, 10, then a fresh pass: 30
    assert arithmetic_line(make_plan(1000, 10, steps_per_epoch=30, epochs=5, epoch_end="cut")) == (
        "N = 1000, B = 10 → ⌈1000/10⌉ = 100 batches per pass (last one 10) · "
        "steps_per_epoch = 30, cut where a pass runs out: 30, 30, 30, 10, 30 = 130 steps"
    )


def test_steps_per_epoch_restart() -> None:
    # every epoch the first min(30, 100) = 30 batches of a fresh pass; 30 × 5 = 150
    assert arithmetic_line(make_plan(1000, 10, steps_per_epoch=30, epochs=5, epoch_end="restart")) == (
        "N = 1000, B = 10 → ⌈1000/10⌉ = 100 batches per pass (last one 10) · "
        "steps_per_epoch = 30, restart: a fresh pass each epoch, min(30, 100) = 30 steps per epoch · "
        "30 × 5 epochs = 150 steps"
    )
    # with K = 4: min(120, 100) = 100 iterations, ⌈100/4⌉ = 25 steps; 25 × 5 = 125, 500 iterations
    assert arithmetic_line(make_plan(1000, 10, steps_per_epoch=30, epochs=5, epoch_end="restart",
                                     accumulate=4)) == (
        "N = 1000, B = 10, K = 4 → ⌈1000/10⌉ = 100 batches per pass (last one 10) · "
        "effective batch 4 × 10 = 40 · "
        "steps_per_epoch = 30, restart: a fresh pass each epoch, min(30·4, 100) = 100 iterations, "
        "⌈100/4⌉ = 25 steps per epoch · 25 × 5 epochs = 125 steps (500 iterations)"
    )


def test_sampling_with_replacement() -> None:
    # (1 − 1/200)^200 = exp(200·ln 0.995) = exp(−1.00251) = 0.36696 → 36.7%
    assert arithmetic_line(make_plan(200, 5, epochs=1000, sampling="replacement")) == (
        "N = 200, B = 5, with replacement (an epoch is 200 draws) → "
        "⌈200/5⌉ = 40 batches per epoch (last one 5) · 40 × 1000 epochs = 40,000 steps · "
        "each epoch misses about (1 − 1/200)^200 ≈ 36.7% of the samples"
    )


def test_epoch_steps_text_run_lengths() -> None:
    assert runs_text([30, 30, 30, 10]) == "30 × 3, 10"
    # 102 epochs of a 4-epoch cycle: 25 cycles (2,500 steps) and two more epochs of 30
    long = make_plan(1000, 10, steps_per_epoch=30, epochs=102, epoch_end="cut")
    assert epoch_steps_text(long) == "(30 × 3, 10) × 25, 30 × 2 = 2,560 steps"
    even = make_plan(1000, 10, steps_per_epoch=20, epochs=100, epoch_end="cut")
    assert epoch_steps_text(even) == "20 × 100 = 2,000 steps"
    short = make_plan(1000, 400, steps_per_epoch=2, epochs=4, epoch_end="cut")
    assert epoch_steps_text(short) == "2, 1, 2, 1 = 6 steps"
