"""The batch-size lab (engine/lab.py, ``mbsim lab``): the fit on exact hyperbola points, full-batch
GD's steps from an independent loop, the medians from lone Simulations, a problem where steps
must not increase and examples must not decrease with B, B_crit against B_simple, the default
target rule recomputed from lone runs, the files against the table, Ctrl+C keeping what is done."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mbsim.engine.lab import (PILOT_EPOCHS, TUNED_FACTORS, Hardware, Lab, cannot_win, default_batch_sizes,
                        fit_hyperbola, lr_for, regime)
from mbsim.engine.scenario import DEFAULT, Scenario
from mbsim.engine.simulation import Simulation
from mbsim.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]


# --- the pieces ---------------------------------------------------------------------------------


def test_fit_recovers_s_min_and_e_min_from_points_on_a_hyperbola():
    s_min, e_min = 37.0, 1234.0
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 1000]
    steps = [s_min * (1 + (e_min / s_min) / b) for b in sizes]     # S = S_min (1 + B_crit/B)
    for b, s in zip(sizes, steps):                                  # the points are on the hyperbola
        assert (s / s_min - 1) * (b * s / e_min - 1) == pytest.approx(1.0, rel=1e-12)
    fit = fit_hyperbola(sizes, steps)
    assert fit is not None and fit.points == len(sizes)
    assert fit.s_min == pytest.approx(s_min, rel=1e-10)
    assert fit.e_min == pytest.approx(e_min, rel=1e-10)
    assert fit.b_crit == pytest.approx(e_min / s_min, rel=1e-10)
    for e, s in fit.curve(16):
        assert (s / s_min - 1) * (e / e_min - 1) == pytest.approx(1.0, rel=1e-9)


def test_fit_keeps_s_min_and_e_min_non_negative():
    # steps that grow with B have no hyperbola through them: the best one with E_min ≥ 0 is flat
    fit = fit_hyperbola([1, 2, 4], [10.0, 11.0, 12.0])
    assert fit is not None and fit.e_min == 0.0 and fit.s_min > 0
    assert fit_hyperbola([4], [10.0]) is None
    assert fit_hyperbola([4, 4], [10.0, 12.0]) is None


def test_regimes_are_a_quarter_and_four_times_b_crit():
    assert regime(2.5, 10.0) == "perfect scaling"
    assert regime(2.6, 10.0) == "diminishing returns"
    assert regime(39.0, 10.0) == "diminishing returns"
    assert regime(40.0, 10.0) == "maximal data parallelism"


def test_batch_sizes_lr_rules_and_hardware():
    assert default_batch_sizes(200) == [1, 2, 4, 8, 16, 32, 64, 128, 200]
    assert default_batch_sizes(64) == [1, 2, 4, 8, 16, 32, 64]
    assert default_batch_sizes(1) == [1]
    assert lr_for("constant", 0.1, 5, 40) == 0.1
    assert lr_for("linear", 0.1, 5, 40) == pytest.approx(0.8)           # Goyal et al.: × 40/5
    assert lr_for("sqrt", 0.1, 5, 20) == pytest.approx(0.2)             # × √(20/5)
    hw = Hardware(parallel=16, memory=128)
    assert [hw.step_time(b) for b in (1, 16, 17, 32, 128)] == [1, 1, 2, 2, 8]
    assert hw.step_time(129) is None and hw.time_to_target(129, 5.0) is None
    assert hw.time_to_target(40, 7.5) == 22.5                           # 7.5 steps × ceil(40/16)


# --- the sweep against independent computations ---------------------------------------------


def _gd_steps_to(X: np.ndarray, y: np.ndarray, theta: np.ndarray, lr: float, target: float,
                 max_steps: int) -> int | None:
    """Full-batch GD on L = mean((x·w + b − y)²), written out: steps until L ≤ target."""
    w, b = theta[:-1].copy(), float(theta[-1])
    for step in range(1, max_steps + 1):
        r = X @ w + b - y
        w = w - lr * (2.0 / len(y)) * (X.T @ r)
        b = b - lr * 2.0 * float(np.mean(r))
        if float(np.mean((X @ w + b - y) ** 2)) <= target:
            return step
    return None


@pytest.mark.parametrize("runs", [1, 3])
def test_batch_size_n_takes_exactly_the_steps_of_full_batch_gd(runs):
    sc = Scenario(samples=60, val_samples=10, epochs=300, lr=0.05)
    lab = Lab(sc, batch_sizes=[60], runs=runs, lr_rule="constant", target_loss=0.12)
    lab.run()
    (point,) = lab.result().points
    sim = Simulation(sc)
    expected = _gd_steps_to(sim.X, sim.y, sim.initial_params, 0.05, 0.12, 300)
    assert expected is not None and expected > 20
    assert point.reached == runs and point.steps == expected
    assert point.examples == expected * 60 and point.epochs == expected
    # and the lone Simulation at B = N, run to the same target, agrees
    lone = Simulation(sc.replace(batch_size=60, target_loss=0.12, eval_every="1"))
    lone.run_to_end()
    assert lone.status == "target reached" and lone.step == expected


def test_medians_are_those_of_the_lone_runs():
    sc = Scenario(samples=50, val_samples=0, epochs=50, lr=0.05)
    lab = Lab(sc, batch_sizes=[3, 10], runs=4, lr_rule="constant", target_loss=0.15)
    lab.run()
    for point in lab.result().points:
        steps, samples = [], []
        for k in range(4):
            sim = Simulation(sc.replace(batch_size=point.batch_size, eval_every="1", target_loss=0.15),
                             sampling_stream=k)
            sim.run_to_end()
            if sim.status == "target reached":
                steps.append(sim.step)
                samples.append(sim.samples_seen)
        assert point.reached == len(steps) > 0
        assert point.steps == np.median(steps) and point.examples == np.median(samples)
        assert point.epochs == np.median(samples) / 50


def test_identical_samples_steps_never_increase_and_examples_never_decrease(tmp_path):
    """Where it must hold: every sample is the same row, so every batch gradient is the full
    gradient at every θ and each run, whatever B, is full-batch GD. Steps are then equal for
    all B (non-increasing) and the samples per step, N/ceil(N/B), do not decrease with B."""
    path = tmp_path / "same.csv"
    path.write_text("x,y\n" + "1.5,2.0\n" * 48)
    sc = DEFAULT.replace(dataset=f"csv:{path}", val_samples=0, epochs=400, lr=0.02)
    lab = Lab(sc, runs=3, lr_rule="constant", target_loss=1e-3)
    lab.run()
    points = lab.result().points
    assert [p.batch_size for p in points] == [1, 2, 4, 8, 16, 32, 48]
    assert all(p.reached == 3 for p in points)
    steps = [p.steps for p in points]
    examples = [p.examples for p in points]
    assert all(a >= b for a, b in zip(steps, steps[1:])), steps
    assert all(a <= b for a, b in zip(examples, examples[1:])), examples
    assert examples[0] < examples[-1]


def test_fitted_b_crit_is_within_a_factor_2_of_b_simple():
    """The plane data without noise (targets exactly linear): every residual is 0 at the minimum,
    so Σ and |G|² are both quadratic in θ − θ*, and B_simple = tr Σ/|G|² depends only on the
    direction of θ − θ*: it stays between its values at the start (3.1) and at the target (1.6)."""
    sc = DEFAULT.replace(dataset="plane", noise=0.0, samples=200, val_samples=0, epochs=200)
    target = Simulation(sc).initial_train_loss * 1e-2
    lab = Lab(sc, runs=8, lr_rule="tuned", target_loss=target)
    lab.run()
    r = lab.result()
    assert all(p.reached == 8 for p in r.points)
    assert r.fit is not None and r.fit.points == len(r.points)
    for b_simple in (r.b_simple_start, r.b_simple_target):
        assert 0.5 <= r.fit.b_crit / b_simple <= 2.0, (r.fit.b_crit, r.b_simple_start, r.b_simple_target)
    assert 1.0 < r.b_simple_target < r.b_simple_start < 4.0


def test_tuned_rule_keeps_the_best_lr_of_the_grid():
    sc = Scenario(samples=40, val_samples=0, epochs=40, lr=0.05)
    lab = Lab(sc, batch_sizes=[2, 40], runs=3, lr_rule="tuned", target_loss=0.2)
    lab.run()
    for p in lab.result().points:
        assert [t["lr"] for t in p.tried] == pytest.approx([0.05 * f for f in TUNED_FACTORS])
        best = min(p.tried, key=lambda t: (-t["reached"], t["steps"] if t["steps"] is not None else math.inf, t["lr"]))
        assert p.lr == best["lr"] and p.steps == best["steps"] and p.reached == best["reached"]


def test_cannot_win_by_hand():
    best = (-8, 5.0, 0.8)                     # 8 of 8 reached, median 5 steps, lr 0.8
    # at step 6 nobody of this lr has reached: its median would be at least 7
    assert cannot_win([], 8, 7, 0.0125, best)
    # 3 reached at 3, 4, 4 by step 4; if the other 5 all reach it at step 5 the median is 5:
    # a tie on steps, and the smaller lr wins a tie, so 0.4 may still win, 1.6 may not
    assert not cannot_win([3.0, 4.0, 4.0], 5, 5, 0.4, best)
    assert cannot_win([3.0, 4.0, 4.0], 5, 5, 1.6, best)
    # one run diverged (7 at most can reach it): fewer than 8, whatever the steps
    assert cannot_win([1.0, 1.0], 5, 2, 0.1, best)
    # the winner reached with 5 of 8 only: a lr that may still get 6 is never stopped
    assert not cannot_win([], 6, 900, 0.1, (-5, 40.0, 0.8))
    # nobody reached it with the best lr: any lr that still may is kept
    assert not cannot_win([], 1, 10_000, 3.2, (0, math.inf, 0.1))


def _lone_entry(sc: Scenario, batch_size: int, lr: float, runs: int, target: float) -> dict:
    steps, samples, diverged = [], [], 0
    for k in range(runs):
        sim = Simulation(sc.replace(batch_size=batch_size, lr=lr, eval_every="1", target_loss=target),
                         sampling_stream=k)
        with np.errstate(all="ignore"):
            sim.run_to_end()
        if sim.status == "target reached":
            steps.append(sim.step)
            samples.append(sim.samples_seen)
        diverged += sim.status == "diverged"
    return {"reached": len(steps), "steps": float(np.median(steps)) if steps else None,
            "examples": float(np.median(samples)) if samples else None, "diverged": diverged}


@pytest.mark.parametrize("chunk_samples", [1, 4096])
def test_tuned_rule_stops_only_lrs_that_cannot_win(chunk_samples, monkeypatch):
    """(The lrs compared after every step, and as the lab does by default.) Every lr of the grid recomputed from lone runs (eval_every = 1): the lrs the lab ran to the
    end have the lone runs' figures; the ones it stopped have a worse (reached, median steps, lr)
    than the one it kept, and had reached it with no more runs than the lone runs do; the point is
    the best of the lone runs' grid, and the same as the lab's without stopping."""
    monkeypatch.setattr("mbsim.engine.lab.PRUNE_CHUNK_SAMPLES", chunk_samples)
    sc = Scenario(samples=40, val_samples=0, epochs=40, lr=0.05)
    target, runs = 0.2, 3
    pruned = Lab(sc, batch_sizes=[2, 40], runs=runs, lr_rule="tuned", target_loss=target)
    pruned.run()
    full = Lab(sc, batch_sizes=[2, 40], runs=runs, lr_rule="tuned", target_loss=target, prune=False)
    full.run()
    stopped_any = False
    for p, q in zip(pruned.result().points, full.result().points):
        lone = [_lone_entry(sc, p.batch_size, t["lr"], runs, target) for t in p.tried]
        keys = [(-e["reached"], math.inf if e["steps"] is None else e["steps"], t["lr"]) for e, t in zip(lone, p.tried)]
        win = min(range(len(keys)), key=keys.__getitem__)
        assert p.lr == p.tried[win]["lr"] and p.steps == lone[win]["steps"] and p.reached == lone[win]["reached"]
        assert p.examples == lone[win]["examples"] and p.diverged == lone[win]["diverged"]
        for t, e, key in zip(p.tried, lone, keys):
            if t["stopped_at"] is None:
                assert (t["reached"], t["steps"], t["examples"], t["diverged"]) == (
                    e["reached"], e["steps"], e["examples"], e["diverged"])
            else:
                stopped_any = True
                assert key > keys[win] and t["reached"] <= e["reached"] and t["steps"] is None
        # without stopping: the same point, and every lr's figures are the lone runs'
        assert (q.lr, q.steps, q.examples, q.epochs, q.reached, q.diverged, q.b_simple_target) == (
            p.lr, p.steps, p.examples, p.epochs, p.reached, p.diverged, p.b_simple_target)
        assert all(t["stopped_at"] is None and t["reached"] == e["reached"] and t["steps"] == e["steps"]
                   for t, e in zip(q.tried, lone))
    assert stopped_any                       # the grid's losers were stopped somewhere
    a, b = pruned.result(), full.result()
    assert (a.fit, a.b_simple_start, a.b_simple_target, a.two_batch_target) == (
        b.fit, b.b_simple_start, b.b_simple_target, b.two_batch_target)


def test_default_target_follows_the_stated_rule():
    """Recomputed from lone runs (stream 0) per batch size, one epoch at a time."""
    sc = Scenario(samples=40, val_samples=0, epochs=30, lr=0.05)
    lab = Lab(sc, runs=2, lr_rule="constant")
    lab.run()
    assert lab.result().target_rule.startswith("the highest level")
    levels = []
    for b in default_batch_sizes(40):
        sim = Simulation(sc.replace(batch_size=b, eval_every="epoch", epochs=min(30, PILOT_EPOCHS)))
        losses = []
        while sim.run_epoch():
            losses.append(sim.train_loss)
        levels.append(float(np.median(losses[len(losses) // 2:])))
    hi, lo = max(levels), min(levels)
    assert lab.target_loss == pytest.approx(hi + 0.5 * (hi - lo), rel=1e-12)
    assert all(p.reached >= 1 for p in lab.result().points)


def test_a_stop_keeps_the_batch_sizes_done():
    sc = Scenario(samples=40, val_samples=0, epochs=30, lr=0.05)
    lab = Lab(sc, batch_sizes=[1, 4, 40], runs=2, lr_rule="constant", target_loss=0.2)
    seen = []

    def cancelled() -> bool:
        return len(lab.points) >= 2

    with pytest.raises(KeyboardInterrupt):
        lab.run(progress=seen.append, cancelled=cancelled)
    r = lab.result()
    assert [p.batch_size for p in r.points] == [1, 4] and not r.complete
    assert seen and all(p.runs_total == 6 for p in seen)
    assert seen[-1].runs_done == 4 and seen[-1].eta is not None


# --- the command line --------------------------------------------------------------------------


def _table(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["B", "lr"])
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or not line.split()[0].isdigit():
            break
        rows.append(line.split())
    return rows


def _close(text: str, value) -> bool:  # noqa: ANN001
    if text == "-":
        return value is None or value == ""
    return float(text) == pytest.approx(float(value), rel=1e-5)


def test_json_and_csv_hold_what_the_table_shows(capsys, tmp_path):
    j, c = tmp_path / "lab.json", tmp_path / "lab.csv"
    code = main(["lab", "--samples", "40", "--val-samples", "0", "--epochs", "30", "--runs", "3",
                 "--batch-sizes", "1,4,16,40", "--lr-rule", "constant", "--memory", "20",
                 "--json", str(j), "--csv", str(c)])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(j.read_text())
    rows = list(csv.DictReader(c.open()))
    table = _table(out)
    assert [int(t[0]) for t in table] == [p["batch_size"] for p in doc["points"]] == [1, 4, 16, 40]
    assert len(rows) == 4
    for t, p, r in zip(table, doc["points"], rows):
        b, lr, steps, examples, epochs, reached = t[:6]
        assert reached == f"{p['reached']}/{p['runs']}" == f"{r['reached']}/{r['runs']}"
        for text, key in ((lr, "lr"), (steps, "steps"), (examples, "examples"), (epochs, "epochs")):
            assert _close(text, p[key]) and _close(text, r[key]), (key, text, p[key], r[key])
        assert int(b) == p["batch_size"] == int(r["batch_size"])
    assert rows[-1]["time_per_step"] == "" and doc["points"][-1]["time_per_step"] is None  # 40 > M = 20
    assert doc["points"][1]["time_per_step"] == 1 and rows[1]["time_per_step"] == "1"
    fit = doc["fit"]
    assert f"S_min = {fit['s_min']:.6g} steps, E_min = {fit['e_min']:.6g} examples" in out
    assert f"B_crit = E_min/S_min = {fit['b_crit']:.6g}" in out
    assert f"{doc['b_simple']['start']:.6g} at the start" in out
    assert f"Target loss {doc['target_loss']:.6g} (chosen" in out
    for key in ("points", "target_loss", "fit", "b_simple", "two_batch", "hardware"):
        assert key in doc


def test_interrupted_lab_writes_what_is_done(capsys, tmp_path, monkeypatch):
    from mbsim.engine import lab as lab_mod
    from mbsim.tui.cli.common import Interrupted

    original = lab_mod.Lab._run_point

    def run_point(self, index, *args):  # noqa: ANN001
        if index == 2:
            raise Interrupted()
        return original(self, index, *args)

    monkeypatch.setattr(lab_mod.Lab, "_run_point", run_point)
    j = tmp_path / "lab.json"
    code = main(["lab", "--samples", "40", "--epochs", "20", "--runs", "2", "--batch-sizes", "1,4,16,40",
                 "--target-loss", "0.2", "--json", str(j)])
    out, err = capsys.readouterr()
    assert code == 130
    assert "interrupted after 2 of 4 batch sizes" in err
    doc = json.loads(j.read_text())
    assert [p["batch_size"] for p in doc["points"]] == [1, 4] and doc["complete"] is False
    assert [int(t[0]) for t in _table(out)] == [1, 4]
    assert not list(tmp_path.glob("*.tmp*"))


def test_lr_alone_means_constant_and_no_lr_means_tuned(capsys):
    assert main(["lab", "--samples", "20", "--epochs", "5", "--runs", "1", "--batch-sizes", "20",
                 "--target-loss", "0.5", "--lr", "0.03"]) == 0
    assert "lr rule constant (lr 0.03" in capsys.readouterr().out
    assert main(["lab", "--samples", "20", "--epochs", "5", "--runs", "1", "--batch-sizes", "20",
                 "--target-loss", "0.5"]) == 0
    assert "lr rule tuned" in capsys.readouterr().out


def test_lab_never_imports_the_tui_libraries():
    code = textwrap.dedent("""
        import sys
        from mbsim.tui.cli import main
        assert main(["lab", "--samples", "20", "--epochs", "5", "--runs", "1", "--batch-sizes", "4,20",
                     "--target-loss", "0.5"]) == 0
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich", "plotext", "textual_plotext"))
        assert not bad, bad
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
