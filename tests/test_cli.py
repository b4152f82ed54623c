"""The command line: run's epoch lines and files, plan's arithmetic, presets, help, precedence.

Numbers are checked against independent computations: the epoch lines against the history
file, the trace against a plain-NumPy replay from the --data-out CSV, the plan against the
formulas of SCIENCE.md §1.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mbsim.engine.scenario import FIELD_NAMES, field_kind, preset_names, presets
from mbsim.engine import scenario as sc_mod
from mbsim.tui.cli import build_parser
from mbsim.tui.cli.plan import summarize_sizes
from mbsim.tui.cli.run import epoch_line
from mbsim.tui.cli.writers import HISTORY_COLUMNS
from mbsim.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]
LINE_RE = re.compile(
    r"^Epoch (\d+)/(\d+)  +(\d+)/(\d+) ([━─]{20})  loss: (\S+)  train: (\S+)(?:  val: (\S+))?(?:  acc: (\S+))?$"
)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def read_trace(path: Path) -> tuple[dict, list[dict]]:
    lines = path.read_text().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def read_history(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_data(path: Path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], np.array([[float(v) for v in r] for r in rows[1:]])


# ---------------------------------------------------------------------------------------------
# the epoch line
def test_epoch_line_is_exactly_the_design_example():
    line = epoch_line(3, 1000, 40, 40, 0.0931, 0.0874, 0.0902)
    assert line == "Epoch 3/1000  40/40 ━━━━━━━━━━━━━━━━━━━━  loss: 0.0931  train: 0.0874  val: 0.0902"


def test_epoch_line_partial_bar_and_padding_and_optional_parts():
    line = epoch_line(2, 30, 10, 40, 0.5, 0.25)
    assert line == "Epoch 2/30  10/40 ━━━━━───────────────  loss: 0.5000  train: 0.2500"
    assert epoch_line(1, 5, 3, 120, 1, 1).startswith("Epoch 1/5    3/120 ")
    assert epoch_line(1, 1, 1, 1, 1e-5, 2e7, 0.5, 0.95).endswith(
        "loss: 1.0000e-05  train: 2.0000e+07  val: 0.5000  acc: 0.9500")
    assert "loss: nan" in epoch_line(1, 1, 1, 1, math.nan, 1.0)


def test_run_prints_one_keras_line_per_epoch_matching_the_history(capsys, tmp_path):
    hist = tmp_path / "h.csv"
    code, out, err = run_cli(capsys, "run", "--epochs", "4", "--history", str(hist))
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 4
    rows = read_history(hist)
    assert len(rows) == 4 * 40
    for e, line in enumerate(lines, start=1):
        m = LINE_RE.match(line)
        assert m, line
        assert (int(m[1]), int(m[2]), int(m[3]), int(m[4])) == (e, 4, 40, 40)
        assert m[5] == "━" * 20
        epoch_rows = [r for r in rows if int(r["epoch"]) == e]
        assert len(epoch_rows) == 40
        # loss: Keras' running mean of this epoch's batch losses (all batches hold 5 samples)
        mean = sum(float(r["batch_loss"]) for r in epoch_rows) / 40
        assert m[6] == f"{mean:.4f}"
        assert m[7] == f"{float(epoch_rows[-1]['train_loss']):.4f}"
        assert m[8] == f"{float(epoch_rows[-1]['val_loss']):.4f}"
        assert m[9] is None


def test_run_without_validation_omits_val_and_classifier_shows_acc(capsys):
    code, out, _ = run_cli(capsys, "run", "--epochs", "2", "--val-samples", "0")
    assert code == 0 and "val:" not in out and "acc:" not in out
    code, out, _ = run_cli(capsys, "run", "--preset", "xor-perceptron", "--epochs", "2")
    assert code == 0
    for line in out.splitlines():
        m = LINE_RE.match(line)
        assert m and m[8] is not None and 0.0 <= float(m[9]) <= 1.0


def test_quiet_prints_nothing(capsys, tmp_path):
    code, out, err = run_cli(capsys, "run", "--epochs", "3", "--quiet", "--trace", str(tmp_path / "t.jsonl"))
    assert (code, out, err) == (0, "", "")
    assert (tmp_path / "t.jsonl").exists()


def test_target_loss_stops_early(capsys, tmp_path):
    trace = tmp_path / "t.jsonl"
    code, out, err = run_cli(capsys, "run", "--target-loss", "0.1", "--trace", str(trace))
    assert code == 0 and err == ""
    _, steps = read_trace(trace)
    last = steps[-1]
    evaluated = [s for s in steps if s["train_loss"] is not None]
    # the target is checked where the full loss is evaluated (every eval_every steps): the run
    # stops at the first evaluated step at or below it
    assert evaluated[-1] is last
    assert last["train_loss"] <= 0.1 < evaluated[-2]["train_loss"]
    every = last["step"] - evaluated[-2]["step"]
    assert all(s["step"] % every == 0 for s in evaluated)
    assert out.splitlines()[-1].startswith(f"Target loss 0.1 reached at step {last['step']} ")
    assert len(steps) < 40 * 1000


def test_diverged_exit_3_one_line_suggesting_smaller_lr(capsys):
    code, out, err = run_cli(capsys, "run", "--lr", "1.2", "--epochs", "300", "--quiet")
    assert code == 3 and out == ""
    assert re.fullmatch(r"mbsim: diverged at step \d+ \(loss is not finite\); try a smaller --lr, e\.g\. 0\.12\n", err)


# ---------------------------------------------------------------------------------------------
# the trace, the history, the data
def test_trace_header_and_step_fields(capsys, tmp_path):
    trace = tmp_path / "t.jsonl"
    code, _, _ = run_cli(capsys, "run", "--epochs", "3", "-q", "--trace", str(trace), "--val-samples", "0")
    assert code == 0
    header, steps = read_trace(trace)
    assert header["step"] == 0 and header["format"] == "mbsim-trace/1"
    assert set(header["scenario"]) >= set(FIELD_NAMES) - {"momentum"}
    assert header["scenario"]["model"] == "linear" and header["scenario"]["momentum"] == 0.0  # resolved
    assert header["params"] == [0.0, 0.0] and header["param_names"] == ["w", "b"]
    assert len(steps) == 3 * 40
    assert set(steps[0]) == {"epoch", "batch", "iteration", "step", "samples", "indices", "lr",
                             "batch_loss", "train_loss", "val_loss", "params", "grad"}
    assert all(s["val_loss"] is None for s in steps)  # NaN written as null
    assert "NaN" not in trace.read_text()
    seen = 0
    for k, s in enumerate(steps, start=1):
        seen += len(s["indices"])
        assert (s["step"], s["iteration"], s["samples"]) == (k, k, seen)
        assert (s["epoch"], s["batch"]) == ((k - 1) // 40 + 1, (k - 1) % 40 + 1)
    for e in range(3):  # reshuffle: every sample exactly once per epoch, a new order each time
        order = [i for s in steps[e * 40:(e + 1) * 40] for i in s["indices"]]
        assert sorted(order) == list(range(200))
    assert [i for s in steps[:40] for i in s["indices"]] != [i for s in steps[40:80] for i in s["indices"]]


@pytest.mark.parametrize("extra", [
    [],
    ["--accumulate", "3"],                       # 40 batches, steps of 3+3+...+1 micro-batches
    ["--batch-size", "7", "--drop-last"],
    ["--steps-per-epoch", "7", "--batch-size", "9", "--sampling", "once"],
    ["--dataset", "plane", "--batch-size", "16", "--no-bias", "--sampling", "replacement"],
])
def test_trace_replays_with_plain_numpy_from_the_data_out_csv(capsys, tmp_path, extra):
    trace, data = tmp_path / "t.jsonl", tmp_path / "d.csv"
    code, _, _ = run_cli(capsys, "run", "--epochs", "4", "-q", "--trace", str(trace),
                         "--data-out", str(data), "--lr", "0.1", *extra)
    assert code == 0
    header, steps = read_trace(trace)
    names, table = read_data(data)
    X, y = table[:, :-1], table[:, -1]
    assert names[-1] == header["target_name"] and names[:-1] == header["feature_names"]
    bias = header["scenario"]["bias"]
    assert len(header["params"]) == X.shape[1] + bias

    def predict(theta, rows):
        w = theta[: X.shape[1]]
        return rows @ w + (theta[-1] if bias else 0.0)

    def grad_by_hand(theta, idx):  # d/dθ of mean (f − y)² = (2/n) Σ (f_i − y_i) ∂f_i/∂θ
        r = predict(theta, X[idx]) - y[idx]
        g = 2.0 * X[idx].T @ r / len(idx)
        return np.append(g, 2.0 * r.mean()) if bias else g

    theta = np.array(header["params"])
    assert header["train_loss"] == pytest.approx(np.mean((predict(theta, X) - y) ** 2), abs=1e-12)
    evaluated = []
    for s in steps:
        idx = np.array(s["indices"])
        g = grad_by_hand(theta, idx)
        np.testing.assert_allclose(s["grad"], g, rtol=0, atol=1e-12)
        assert s["batch_loss"] == pytest.approx(np.mean((predict(theta, X[idx]) - y[idx]) ** 2), abs=1e-12)
        assert s["lr"] == 0.1
        theta = theta - s["lr"] * g  # plain SGD
        np.testing.assert_allclose(s["params"], theta, rtol=0, atol=1e-12)
        theta = np.array(s["params"])
        if s["train_loss"] is not None:     # evaluated every eval_every steps and at the end
            evaluated.append(s["step"])
            assert s["train_loss"] == pytest.approx(np.mean((predict(theta, X) - y) ** 2), abs=1e-12)
    assert evaluated and evaluated[-1] == steps[-1]["step"]


def test_history_epoch_loss_is_the_weighted_running_mean(capsys, tmp_path):
    trace, hist = tmp_path / "t.jsonl", tmp_path / "h.csv"
    code, _, _ = run_cli(capsys, "run", "--samples", "50", "--batch-size", "8", "--accumulate", "2",
                         "--epochs", "3", "-q", "--trace", str(trace), "--history", str(hist))
    assert code == 0
    _, steps = read_trace(trace)
    rows = read_history(hist)
    assert list(rows[0]) == list(HISTORY_COLUMNS)
    assert len(rows) == len(steps) == 3 * 4  # 7 batches (6 × 8 + 2) in steps of 2, 2, 2, 1
    total = n = 0.0
    prev_epoch = 1
    for row, s in zip(rows, steps):
        if int(row["epoch"]) != prev_epoch:  # Keras resets the running mean each epoch
            total = n = 0.0
        prev_epoch = int(row["epoch"])
        for key in ("epoch", "batch", "iteration", "step", "samples"):
            assert int(row[key]) == s[key]
        for key in ("lr", "batch_loss", "train_loss", "val_loss"):
            # an empty cell where no evaluation ran, exactly where the trace has null
            assert (row[key] == "") == (s[key] is None)
            if s[key] is not None:
                assert float(row[key]) == s[key]
        total += len(s["indices"]) * s["batch_loss"]
        n += len(s["indices"])
        assert float(row["epoch_loss"]) == pytest.approx(total / n, rel=1e-12)
    assert [len(s["indices"]) for s in steps[:4]] == [16, 16, 16, 2]


def test_data_out_is_the_training_set_in_index_order(capsys, tmp_path):
    from mbsim.engine.simulation import Simulation
    from mbsim.engine.scenario import Scenario

    data = tmp_path / "d.csv"
    assert run_cli(capsys, "run", "--preset", "xor-mlp", "--epochs", "1", "-q", "--data-out", str(data))[0] == 0
    names, table = read_data(data)
    sim = Simulation(sc_mod.load_preset("xor-mlp").replace(epochs=1))
    assert names == ["x1", "x2", "label"]
    np.testing.assert_array_equal(table[:, :2], sim.dataset.X)
    np.testing.assert_array_equal(table[:, 2], sim.dataset.y)
    assert isinstance(sim.scenario, Scenario)


def test_files_are_written_atomically_with_usual_permissions(capsys, tmp_path):
    out = tmp_path / "t.jsonl"
    out.write_text("old\n")
    assert run_cli(capsys, "run", "--epochs", "1", "-q", "--trace", str(out))[0] == 0
    assert out.read_text().startswith('{"step": 0')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_ctrl_c_writes_what_was_done_and_exits_130(tmp_path):
    trace, hist = tmp_path / "t.jsonl", tmp_path / "h.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mbsim", "run", "--epochs", "100000", "--trace", str(trace),
         "--history", str(hist)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    first = proc.stdout.readline()  # training is under way
    assert first.startswith("Epoch 1/100000")
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert re.fullmatch(r"mbsim: interrupted at step \d+ \(epoch \d+/100000\); wrote .*\n", err)
    step = int(re.search(r"step (\d+)", err)[1])
    _, steps = read_trace(trace)
    rows = read_history(hist)
    assert len(steps) == len(rows) == step >= 40
    assert [s["step"] for s in steps] == list(range(1, step + 1))
    assert int(rows[-1]["step"]) == step


# ---------------------------------------------------------------------------------------------
# plan
@pytest.mark.parametrize("argv, expected", [
    ([], ["40 batches per epoch: 40 × 5", "Per epoch: 40 iterations, 40 steps",
          "40,000 iterations, 40,000 steps, 200,000 samples seen", "mini-batch gradient descent"]),
    (["--samples", "1000", "--batch-size", "400"], ["3 batches per epoch: 400, 400, 200", "only 200 samples"]),
    (["--samples", "50000", "--batch-size", "64"], ["782 batches per epoch: 781 × 64, 1 × 16"]),
    (["--samples", "50000", "--batch-size", "64", "--drop-last"],
     ["781 batches per epoch: 781 × 64", "16 leftover samples", "dropped"]),
    (["--samples", "10", "--batch-size", "3", "--sampling", "sequential"], ["4 batches per epoch: 3, 3, 3, 1"]),
    (["--batch-size", "1"], ["stochastic gradient descent (SGD)"]),
    (["--batch-size", "200"], ["batch gradient descent (Batch GD)", "1 batch per epoch: 200"]),
    (["--preset", "accumulate"], ["4 micro-batches of 8 per step, effective batch 32",
                                  "Per epoch: 32 iterations, 8 steps"]),
    (["--preset", "steps-per-epoch"], ["steps_per_epoch = 20", "100 epochs make 20 passes",
                                       "100 batches per pass"]),
])
def test_plan_text(capsys, argv, expected):
    code, out, err = run_cli(capsys, "plan", *argv)
    assert code == 0 and err == ""
    for text in expected:
        assert text in out, (text, out)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), data=st.data(), drop_last=st.booleans(), k=st.integers(1, 5),
       spe=st.integers(0, 30), epochs=st.integers(1, 50))
def test_plan_json_matches_the_formulas(n, data, drop_last, k, spe, epochs):
    b = data.draw(st.integers(1, n))
    argv = ["plan", "--json", "--samples", str(n), "--batch-size", str(b), "--accumulate", str(k),
            "--steps-per-epoch", str(spe), "--epochs", str(epochs), f"--drop-last={str(drop_last).lower()}"]
    import io
    from contextlib import redirect_stdout

    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(argv) == 0
    d = json.loads(buf.getvalue())
    m = n // b if drop_last else -(-n // b)
    sizes = [r["size"] for r in d["batch_sizes"] for _ in range(r["count"])]
    assert d["batches_per_pass"] == len(sizes) == m
    assert sum(sizes) == n - (n % b if drop_last else 0) == d["samples_per_pass"]
    assert d["leftover_per_pass"] == (n % b if drop_last else 0)
    assert d["effective_batch"] == k * b
    if spe:
        assert d["iterations_per_epoch"] == spe * k and d["steps_per_epoch"] == spe
        its = epochs * spe * k
        assert d["total_samples"] == sum(sizes[i % m] for i in range(its))
    else:
        assert d["iterations_per_epoch"] == m and d["steps_per_epoch"] == -(-m // k)
        assert d["total_samples"] == epochs * sum(sizes)
    assert d["total_steps"] == epochs * d["steps_per_epoch"]
    assert d["passes"] == pytest.approx(d["total_samples"] / d["samples_per_pass"])
    eff = k * b
    assert d["algorithm"] == ("Batch GD" if eff >= n else "SGD" if eff == 1 else "Mini-batch GD")


def test_plan_with_a_csv_counts_the_file_rows(capsys, tmp_path):
    f = tmp_path / "data.csv"
    f.write_text("a,b,t\n" + "".join(f"{i},{i % 3},{i * 0.5}\n" for i in range(30)))
    code, out, _ = run_cli(capsys, "plan", "--json", "--dataset", f"csv:{f}", "--val-samples", "5",
                           "--batch-size", "10")
    d = json.loads(out)
    assert code == 0 and (d["training_samples"], d["validation_samples"]) == (25, 5)
    assert d["batch_sizes"] == [{"count": 2, "size": 10}, {"count": 1, "size": 5}]


def test_summarize_sizes():
    assert summarize_sizes([400, 400, 200]) == "400, 400, 200"
    assert summarize_sizes([64] * 781 + [16]) == "781 × 64, 1 × 16"
    assert summarize_sizes([5] * 40) == "40 × 5"


# ---------------------------------------------------------------------------------------------
# presets, README, options, precedence, help
def test_presets_lists_every_preset_with_its_description(capsys):
    code, out, _ = run_cli(capsys, "presets")
    assert code == 0
    listed = out.splitlines()
    items = presets()
    assert len(listed) == len(items) >= 10
    for line, (name, description) in zip(listed, items):
        assert line.split()[0] == name and line.endswith(description)


def test_readme_presets_table_lists_every_preset():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, description in presets():
        assert f"| `{name}` | {description.replace('|', '/')} |" in readme, name


def test_readme_has_exactly_the_two_fresh_machine_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^python3 -m venv .*$", readme, flags=re.M)
    assert len(commands) == 2
    assert commands[0].endswith(".venv/bin/mbsim") and "pip install ." in commands[0]
    test_cmd = commands[1]
    assert "'.[test]'" in test_cmd
    pytest_call = test_cmd.split("&& ")[-1]
    assert pytest_call == ".venv/bin/python -m pytest"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert pytest_call in ci and "set -euo pipefail" in ci
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_every_scenario_field_has_its_option_in_every_scenario_command():
    parser = build_parser()
    subs = parser._subparsers._group_actions[0].choices
    for p in (parser, subs["run"], subs["plan"]):
        options = {s for a in p._actions for s in a.option_strings}
        for key in FIELD_NAMES:
            assert "--" + key.replace("_", "-") in options, key
            if field_kind(key) == "bool":
                assert "--no-" + key.replace("_", "-") in options


def test_precedence_defaults_preset_file_options(capsys, tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('batch_size = 50\nepochs = 7\noptimizer = "adam"\n')
    trace = tmp_path / "t.jsonl"
    code, _, _ = run_cli(capsys, "run", "-q", "--preset", "drop-last", "--scenario", str(f), "--epochs", "1",
                         "--trace", str(trace))
    assert code == 0
    s = read_trace(trace)[0]["scenario"]
    assert s["drop_last"] is True          # preset
    assert s["batch_size"] == 50           # file over preset (32)
    assert s["optimizer"] == "adam"        # file over default
    assert s["epochs"] == 1                # option over file
    assert s["noise"] == 0.3               # default
    assert s["name"] == "s"                # a file without a name is named after itself


@pytest.mark.parametrize("argv, key, value", [
    (["--drop-last"], "drop_last", True),
    (["--no-drop-last"], "drop_last", False),
    (["--drop-last=true"], "drop_last", True),
    (["--drop-last=no"], "drop_last", False),
    (["--no-bias", "--bias"], "bias", True),
    (["--momentum", "auto", "--optimizer", "momentum"], "momentum", 0.9),
    (["--target-loss", "1e-3"], "target_loss", 0.001),
])
def test_option_spellings(capsys, tmp_path, argv, key, value):
    trace = tmp_path / "t.jsonl"
    assert run_cli(capsys, "run", "-q", "--epochs", "1", "--trace", str(trace), *argv)[0] == 0
    assert read_trace(trace)[0]["scenario"][key] == value


@pytest.mark.parametrize("command", [[], ["run"], ["plan"], ["presets"]])
def test_help_shows_examples(capsys, command):
    code, out, err = run_cli(capsys, *command, "--help")
    assert code == 0 and err == ""
    assert "examples:" in out
    examples = out.split("examples:")[1]
    assert f"mbsim {command[0] if command else 'run'}" in examples


def test_bare_mbsim_opens_the_tui_with_the_scenario(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("mbsim.tui.app")
    fake.run_app = lambda sim, *, paused=True, speed=None: calls.append((sim, paused, speed)) or 0
    monkeypatch.setitem(sys.modules, "mbsim.tui.app", fake)
    import mbsim.tui as tui

    monkeypatch.setattr(tui, "app", fake, raising=False)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert main(["--preset", "sgd", "--lr", "0.01", "--run", "--speed", "50"]) == 0
    assert main([]) == 0
    (first, paused, speed), (second, paused2, speed2) = calls
    first, second = first.scenario, second.scenario  # the app gets the Simulation, built once
    assert (first.name, first.batch_size, first.lr, paused, speed) == ("sgd", 1, 0.01, False, "50")
    assert (second.name, second.batch_size, paused2, speed2) == ("worked-example", 5, True, None)


def test_bare_mbsim_without_a_terminal_says_so(capsys):
    code, out, err = run_cli(capsys)  # pytest's captured stdin/stdout are not terminals
    assert code == 2 and out == ""
    assert err.startswith("mbsim: the TUI needs a terminal") and err.count("\n") == 1


def test_run_never_imports_the_tui_libraries():
    code = textwrap.dedent("""
        import sys
        from mbsim.tui.cli import main
        assert main(["run", "--epochs", "2", "--quiet"]) == 0
        assert main(["plan"]) == 0 and main(["presets"]) == 0
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "rich", "plotext", "textual_plotext"))
        assert not bad, bad
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr


def test_python_dash_m_mbsim(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mbsim", "plan", "--batch-size", "8"], cwd=ROOT,
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            timeout=60)
    assert result.returncode == 0 and "25 batches per epoch: 25 × 8" in result.stdout


def test_readme_option_table_is_made_from_the_field_help_texts():
    """The README's option list and ``--help`` come from one source, engine.scenario.FIELD_HELP."""
    from mbsim.tui.cli.options import options_markdown

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = options_markdown()
    assert table in readme, "README's option table is out of date; it should be:\n" + table
    for key in FIELD_NAMES:
        assert f"| `{key}` |" in table


def test_presets_descriptions_are_those_of_the_loaded_scenarios():
    """``presets()`` reads each file's description line without loading the scenario: the
    same text as the loaded preset's."""
    from mbsim.engine.scenario import load_preset
    items = presets()
    assert [n for n, _ in items] == list(preset_names())
    for name, description in items:
        assert description and description == load_preset(name).description
