"""Estimates before allocation (issue 23 item 8, issue 24 item 5): the budget, the estimates
against what tracemalloc measures, and the commands that refuse in one line."""

from __future__ import annotations

import tracemalloc

import pytest

from mbsim.engine import Simulation
from mbsim.engine.ensemble import Ensemble
from mbsim.engine.memory import (ESTIMATE_FACTOR, BudgetError, budget, estimate_lab, estimate_run,
                           parse_size, refusal, runs_that_fit, size_text)
from mbsim.engine.scenario import DEFAULT
from mbsim.tui.cli import main


# --- the budget -------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("512M", 512 * 2**20), ("2G", 2 * 2**30), ("1.5GiB", 3 * 2**29), ("300MB", 300 * 2**20),
    ("64k", 65_536), ("1000000", 1_000_000), (" 1T ", 2**40),
])
def test_sizes(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "-1G", "1.2.3M", "5X", "0", "G"])
def test_bad_sizes_say_what_is_allowed(text: str) -> None:
    with pytest.raises(BudgetError, match="MBSIM_MEMORY_BUDGET"):
        parse_size(text)


def test_the_budget_is_a_quarter_of_the_available_memory(tmp_path) -> None:  # noqa: ANN001
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    8000000 kB\n")
    limit, source = budget({}, str(meminfo))
    assert limit == 8_000_000 * 1024 // 4
    assert "quarter" in source
    assert budget({"MBSIM_MEMORY_BUDGET": "300M"}, str(meminfo)) == (300 * 2**20, "MBSIM_MEMORY_BUDGET=300M")
    unknown, why = budget({}, str(tmp_path / "missing"))
    assert unknown == 2 << 30 and "not known" in why


# --- the estimates against the measured peak ----------------------------------------------------
CASES = [
    ({"samples": 200, "batch_size": 5}, 1, 300),
    ({"samples": 10_000, "batch_size": 32}, 1, 700),
    ({"samples": 300_000, "batch_size": 32}, 1, 200),
    ({"samples": 10_000, "batch_size": 32}, 100, 400),
    ({"samples": 100_000, "batch_size": 1000}, 20, 250),
    ({"samples": 20_000, "batch_size": 64, "dataset": "xor", "model": "mlp", "hidden": 16}, 10, 400),
    ({"samples": 8_000, "batch_size": 8_000, "dataset": "xor", "model": "mlp", "hidden": 64}, 4, 3),
    ({"samples": 100_000, "batch_size": 100_000, "val_samples": 100_000}, 5, 3),
    ({"samples": 30_000, "batch_size": 64, "dataset": "hyperplane"}, 3, 1000),
    ({"samples": 50_000, "batch_size": 100, "sampling": "replacement"}, 2, 1200),
    ({"samples": 20_000, "batch_size": 50, "dataset": "blobs", "sampling": "stratified"}, 8, 900),
]


@pytest.mark.parametrize("changes, runs, iterations", CASES, ids=[f"{c}x{k}" for c, k, _ in CASES])
def test_estimates_bound_the_measured_peak(changes: dict, runs: int, iterations: int) -> None:
    # what a run or K runs (as `mbsim run --runs K` makes them) allocate, measured by tracemalloc
    # from before the data is drawn: the estimate is above it, and within ESTIMATE_FACTOR of it
    sc = DEFAULT.replace(**changes).validate()
    est = estimate_run(sc, runs)
    tracemalloc.start()
    try:
        if runs == 1:
            sim = Simulation(sc, record=False)
            sim.run_iterations(iterations)
        else:
            ens = Ensemble.seeds(sc, runs, evaluate="read", band=False, record=False)
            ens.run_iterations(iterations)
            assert len(ens.train_loss) == runs
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= est.arrays <= ESTIMATE_FACTOR * peak, (size_text(peak), size_text(est.arrays), est.parts)


def test_the_estimate_grows_with_what_grows() -> None:
    sc = DEFAULT.replace(samples=100_000, batch_size=100)
    assert estimate_run(sc, 10).total < estimate_run(sc, 20).total
    assert estimate_run(sc, 10).total < estimate_run(sc.replace(samples=200_000), 10).total
    mlp = sc.replace(dataset="xor", model="mlp", batch_size=10_000)
    assert estimate_run(mlp.replace(hidden=8), 4).total < estimate_run(mlp.replace(hidden=64), 4).total


def test_runs_that_fit() -> None:
    sc = DEFAULT.replace(samples=1_000_000, batch_size=100)
    limit = 1 << 30
    k = runs_that_fit(sc, limit, 1000)
    assert 1 <= k < 1000
    assert estimate_run(sc, k).total <= limit < estimate_run(sc, k + 1).total
    assert runs_that_fit(sc, 1 << 20, 10) == 0          # not even one
    assert refusal(estimate_run(sc, 1), 1 << 40, "test") is None


def test_the_lab_estimate_is_its_largest_point() -> None:
    sc = DEFAULT.replace(samples=50_000, batch_size=64)
    small = estimate_lab(sc, 8, [1, 2, 4], 7)
    large = estimate_lab(sc, 8, [1, 2, 4, 50_000], 7)
    assert small.total <= large.total
    assert estimate_lab(sc, 8, [64], 1).total < estimate_lab(sc, 8, [64], 7).total


# --- the commands ---------------------------------------------------------------------------
def _refused(capsys, monkeypatch, argv: list[str], budget_text: str | None = None) -> str:  # noqa: ANN001
    if budget_text is None:
        monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    else:
        monkeypatch.setenv("MBSIM_MEMORY_BUDGET", budget_text)
    tracemalloc.start()
    try:
        code = main(argv)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert peak < 64 * 2**20           # refused before anything large was allocated
    return lines[0]


def test_a_thousand_runs_of_a_million_samples_are_refused(capsys, monkeypatch) -> None:  # noqa: ANN001
    # issue 23: this allocated 7.5 GiB; with a 6 GiB budget (a quarter of 24 GB available)
    line = _refused(capsys, monkeypatch, ["run", "--runs", "1000", "--samples", "1000000",
                                          "--batch-size", "100000"], "6G")
    assert "1,000 runs of 1,000,000 samples" in line and "over the memory budget of 6.0 GiB" in line
    assert "MBSIM_MEMORY_BUDGET=6G" in line
    k = int(line.split("--runs ")[1].split()[0])
    sc = DEFAULT.replace(samples=1_000_000, batch_size=100_000)
    assert estimate_run(sc, k).total <= 6 << 30 < estimate_run(sc, k + 1).total


def test_a_wide_mlp_on_a_million_samples_is_refused(capsys, monkeypatch) -> None:  # noqa: ANN001
    # issue 23: this asked for 95 GiB; not even one run fits 6 GiB
    line = _refused(capsys, monkeypatch, ["run", "--runs", "50", "--samples", "1000000", "--val-samples",
                                          "1000000", "--model", "mlp", "--hidden", "256",
                                          "--batch-size", "1000000", "--dataset", "xor"], "6G")
    assert "not even one run fits" in line and "--hidden" in line and "--batch-size" in line


def test_the_lab_is_refused_with_what_fits(capsys, monkeypatch) -> None:  # noqa: ANN001
    line = _refused(capsys, monkeypatch, ["lab", "--samples", "100000"], "200M")
    assert "the lab's" in line and "--runs" in line and "fits" in line


def test_a_bad_budget_is_one_line(capsys, monkeypatch) -> None:  # noqa: ANN001
    line = _refused(capsys, monkeypatch, ["run", "--quiet"], "plenty")
    assert "MBSIM_MEMORY_BUDGET='plenty': not a size" in line


def test_what_fits_runs(capsys, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MBSIM_MEMORY_BUDGET", "1G")
    assert main(["run", "--quiet", "--runs", "3", "--epochs", "2"]) == 0
