"""``mbsim run --runs K``: the ensemble of K sampling seeds headless. The history's quantiles and
spread are checked against K lone Simulations (``sampling_stream=k``) stepped independently."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from mbsim.engine import Scenario
from mbsim.engine.simulation import Simulation
from mbsim.tui.cli import main
from mbsim.tui.cli.run import format_metric
from mbsim.tui.cli.run_ensemble import ENSEMBLE_HISTORY_COLUMNS


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def lone_runs(scenario: Scenario, runs: int) -> list[list[tuple[float, float, np.ndarray]]]:
    """(batch loss, train loss, params) after every step of each lone run k. The train loss is
    read at every step (a record holds it only at the run's eval points)."""
    result = []
    for k in range(runs):
        sim = Simulation(scenario, sampling_stream=k)
        rows: list[tuple[float, float, np.ndarray]] = []
        sim.on_step = lambda rec, rows=rows, sim=sim: rows.append((rec.batch_loss, sim.train_loss, rec.params.copy()))
        sim.run_to_end()
        result.append(rows)
    return result


def test_history_rows_hold_quantiles_and_spread_of_the_lone_runs(capsys, tmp_path) -> None:  # noqa: ANN001
    hist = tmp_path / "h.csv"
    code, out, err = run_cli(capsys, "run", "--runs", "3", "--epochs", "2", "--samples", "40",
                             "--history", str(hist))
    assert code == 0, err
    rows = list(csv.DictReader(hist.open()))
    assert tuple(rows[0].keys()) == ENSEMBLE_HISTORY_COLUMNS
    assert len(rows) == 2 * 8                                   # N = 40, B = 5: 8 steps per epoch
    lone = lone_runs(Scenario(epochs=2, samples=40), 3)
    for s, row in enumerate(rows):
        assert int(row["step"]) == s + 1
        batch = np.array([lone[k][s][0] for k in range(3)])
        train = np.array([lone[k][s][1] for k in range(3)])
        params = np.array([lone[k][s][2] for k in range(3)])
        # three values: the median is the middle one, q10 = lo + 0.2 (mid − lo) (linear interpolation)
        lo, mid, _hi = np.sort(train)
        assert float(row["train_loss_q50"]) == mid
        assert float(row["train_loss_q10"]) == pytest.approx(lo + 0.2 * (mid - lo), rel=1e-12)
        assert float(row["batch_loss_mean"]) == pytest.approx(batch.sum() / 3, rel=1e-12)
        assert float(row["spread"]) == pytest.approx(np.trace(np.cov(params.T)), rel=1e-9)
        assert row["diverged"] == "0"
    lines = out.splitlines()
    assert len(lines) == 2
    final_train = np.median([lone[k][-1][1] for k in range(3)])
    assert f"train: {format_metric(final_train)}" in lines[-1]
    assert lines[-1].startswith("Epoch 2/2  8/8 ")
    assert lines[-1].endswith("(medians of 3 runs)")


@pytest.mark.parametrize("value", ["0", "-2", "1001", "2.5", "many", ""])
def test_bad_runs_is_one_line_naming_the_range(capsys, value: str) -> None:  # noqa: ANN001
    code, out, err = run_cli(capsys, "run", "--runs", value, "--epochs", "1")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--runs" in err and "1 to 1000" in err


def test_trace_with_several_runs_is_refused_with_the_reason(capsys, tmp_path) -> None:  # noqa: ANN001
    code, _, err = run_cli(capsys, "run", "--runs", "3", "--trace", str(tmp_path / "t.jsonl"))
    assert code == 2 and "--trace writes the steps of one run" in err
    assert not (tmp_path / "t.jsonl").exists()


def test_one_run_is_the_plain_run(capsys) -> None:  # noqa: ANN001
    a = run_cli(capsys, "run", "--runs", "1", "--epochs", "2")
    b = run_cli(capsys, "run", "--epochs", "2")
    assert a == b and a[0] == 0


def test_diverging_runs_exit_3_and_say_how_many(capsys) -> None:  # noqa: ANN001
    code, _, err = run_cli(capsys, "run", "--runs", "4", "--epochs", "3", "--lr", "30", "--quiet")
    assert code == 3
    assert err.startswith("mbsim: 4 of 4 runs diverged") and err.count("\n") == 1


def test_ctrl_c_reports_the_last_step_written(tmp_path) -> None:  # noqa: ANN001
    """After the first epoch line, SIGINT: exit 130, and the step in the message is the last
    row of the history (every row whole)."""
    import os
    import re
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    hist = tmp_path / "h.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mbsim", "run", "--runs", "5", "--epochs", "100000", "--history", str(hist)],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    first = proc.stdout.readline()  # training is under way
    assert first.startswith("Epoch 1/100000") and first.rstrip().endswith("(medians of 5 runs)")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert re.fullmatch(r"mbsim: interrupted at step \d+ \(epoch \d+/100000\) of 5 runs; wrote .*\n", err)
    step = int(re.search(r"step (\d+)", err)[1])
    rows = list(csv.DictReader(hist.open()))
    assert step == len(rows) >= 40 and int(rows[-1]["step"]) == step
