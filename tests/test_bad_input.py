"""Every kind of bad input: exit code 2, exactly one line on stderr that names the option (or
key) and the value, nothing on stdout, never a traceback (issue 3, point 7)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mbsim.tui.cli import main


def _files(tmp: Path) -> dict[str, str]:
    """The bad files of the matrix, made in a temporary folder."""
    made = {
        "empty.csv": "",
        "header_only.csv": "x,y\n",
        "text_cell.csv": "x,y\n1,2\n3,abc\n5,6\n",
        "good.csv": "x,y\n" + "".join(f"{i},{2 * i}\n" for i in range(80)),
        "malformed.toml": "batch_size = \n",
        "unknown_key.toml": "batch_size = 5\nbatchsize = 3\n",
        "too_big.toml": "batch_size = 500\n",
        "wrong_type.toml": 'epochs = "many"\n',
    }
    for name, text in made.items():
        (tmp / name).write_text(text)
    return {name: str(tmp / name) for name in made} | {"missing": str(tmp / "missing.csv"),
                                                       "missing_toml": str(tmp / "nope.toml")}


# (id, argv with {file} placeholders, words the line must contain)
CASES = [
    ("batch-zero", ["run", "--batch-size", "0"], ["--batch-size", "0"]),
    ("batch-negative", ["run", "--batch-size", "-3"], ["--batch-size", "-3"]),
    ("batch-fraction", ["run", "--batch-size", "2.5"], ["--batch-size", "2.5", "whole number"]),
    ("batch-text", ["run", "--batch-size", "ten"], ["--batch-size", "ten", "whole number"]),
    ("batch-above-n", ["run", "--batch-size", "300"], ["--batch-size", "300", "200"]),
    ("batch-above-n-plan", ["plan", "--samples", "100", "--batch-size", "101"], ["--batch-size", "101", "100"]),
    ("batch-missing-value", ["run", "--batch-size"], ["--batch-size", "needs a value"]),
    ("samples-zero", ["run", "--samples", "0"], ["--samples", "0"]),
    ("epochs-zero", ["plan", "--epochs", "0"], ["--epochs", "0"]),
    ("lr-zero", ["run", "--lr", "0"], ["--lr", "0", "above 0"]),
    ("lr-negative", ["run", "--lr", "-1"], ["--lr", "-1"]),
    ("lr-nan", ["run", "--lr", "nan"], ["--lr", "nan", "finite"]),
    ("lr-inf", ["run", "--lr", "inf"], ["--lr", "inf", "finite"]),
    ("lr-minus-inf", ["run", "--lr", "-inf"], ["--lr", "-inf"]),
    ("lr-text", ["run", "--lr", "fast"], ["--lr", "fast", "number"]),
    ("optimizer", ["run", "--optimizer", "adamm"], ["--optimizer", "adamm", "did you mean 'adam'"]),
    ("sampling", ["run", "--sampling", "shuffle"], ["--sampling", "shuffle", "did you mean 'reshuffle'"]),
    ("dataset", ["run", "--dataset", "moon"], ["--dataset", "moon", "did you mean 'moons'"]),
    ("preset", ["run", "--preset", "sgdd"], ["--preset", "sgdd", "did you mean 'sgd'"]),
    ("preset-tui", ["--preset", "ful-batch"], ["--preset", "ful-batch", "did you mean 'full-batch'"]),
    ("schedule", ["run", "--schedule", "cosin"], ["--schedule", "cosin", "did you mean 'cosine'"]),
    ("momentum-one", ["run", "--momentum", "1.0"], ["--momentum", "1", "[0, 1)"]),
    ("momentum-negative", ["run", "--momentum", "-0.1"], ["--momentum", "-0.1", "[0, 1)"]),
    ("accumulate-zero", ["run", "--accumulate", "0"], ["--accumulate", "0"]),
    ("bool-value", ["run", "--drop-last=maybe"], ["--drop-last", "maybe", "true or false"]),
    ("unknown-option", ["run", "--batchsize", "5"], ["--batchsize", "did you mean --batch-size"]),
    ("unknown-option-plan", ["plan", "--epoch", "5"], ["--epoch", "did you mean --epochs"]),
    ("unknown-command", ["rnu"], ["rnu", "did you mean run"]),
    ("unknown-option-tui", ["--lrr", "3"], ["--lrr", "did you mean --lr"]),
    ("tui-speed", ["--speed", "fast"], ["--speed", "fast", "max"]),
    ("stray-argument", ["run", "fast"], ["fast"]),
    ("option-of-another-command", ["plan", "--trace", "t.jsonl"], ["--trace", "an option of 'mbsim run'", "not of 'mbsim plan'"]),
    ("run-option-on-the-tui", ["--quiet"], ["--quiet", "an option of 'mbsim run'"]),
    ("scenario-missing", ["run", "--scenario", "{missing_toml}"], ["scenario file", "nope.toml", "does not exist"]),
    ("scenario-malformed", ["run", "--scenario", "{malformed.toml}"], ["scenario file", "malformed.toml", "TOML"]),
    ("scenario-unknown-key", ["run", "--scenario", "{unknown_key.toml}"],
     ["batchsize", "unknown_key.toml", "did you mean 'batch_size'"]),
    ("scenario-bad-value", ["run", "--scenario", "{too_big.toml}"], ["batch_size", "500", "too_big.toml"]),
    ("scenario-wrong-type", ["plan", "--scenario", "{wrong_type.toml}"], ["epochs", "many", "whole number"]),
    ("csv-missing", ["run", "--dataset", "csv:{missing}"], ["--dataset", "missing.csv", "not found"]),
    ("csv-empty", ["run", "--dataset", "csv:{empty.csv}"], ["--dataset", "empty.csv", "empty"]),
    ("csv-header-only", ["plan", "--dataset", "csv:{header_only.csv}"], ["--dataset", "header_only.csv", "no data"]),
    ("csv-text-cell", ["run", "--dataset", "csv:{text_cell.csv}"], ["text_cell.csv", "line 3", "'abc'"]),
    ("csv-no-target", ["run", "--dataset", "csv:{good.csv}", "--target", "z"], ["good.csv", "'z'", "'y'"]),
    ("csv-batch-above-rows", ["run", "--dataset", "csv:{good.csv}", "--batch-size", "40"],
     ["--batch-size", "40", "30"]),
    ("output-folder-missing", ["run", "--trace", "{missing}/x/t.jsonl"], ["--trace", "does not exist"]),
    ("output-is-folder", ["run", "--history", "{tmp}"], ["--history", "directory"]),
    ("lab-batch-sizes-zero", ["lab", "--batch-sizes", "0,4"], ["--batch-sizes", "0,4", "whole number"]),
    ("lab-batch-sizes-text", ["lab", "--batch-sizes", "1,x"], ["--batch-sizes", "1,x", "'x'", "pow2"]),
    ("lab-batch-sizes-empty", ["lab", "--batch-sizes", "1,,4"], ["--batch-sizes", "an empty item"]),
    ("lab-batch-sizes-above-n", ["lab", "--batch-sizes", "4,300"], ["--batch-sizes", "300", "N = 200"]),
    ("lab-lr-rule", ["lab", "--lr-rule", "linar"], ["--lr-rule", "linar", "did you mean 'linear'"]),
    ("lab-runs-zero", ["lab", "--runs", "0"], ["--runs", "0", "from 1 to"]),
    ("lab-runs-tuned-too-many", ["lab", "--runs", "200"], ["--runs", "200", "from 1 to 142", "tuned"]),
    ("lab-parallel-zero", ["lab", "--parallel", "0"], ["--parallel", "0", "whole number"]),
    ("lab-memory-text", ["lab", "--memory", "ten"], ["--memory", "ten", "whole number"]),
    ("lab-target-negative", ["lab", "--target-loss", "-1"], ["--target-loss", "-1"]),
    ("lab-json-folder", ["lab", "--json", "{tmp}"], ["--json", "directory"]),
    ("lab-option-of-run", ["lab", "--trace", "t.jsonl"], ["--trace", "an option of 'mbsim run'"]),
]


@pytest.mark.parametrize("argv, words", [pytest.param(a, w, id=i) for i, a, w in CASES])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, words):
    files = _files(tmp_path) | {"tmp": str(tmp_path)}
    for name, path in files.items():
        argv = [a.replace("{" + name + "}", path) for a in argv]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("mbsim: ")
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def test_good_values_right_beside_the_bad_ones_pass(capsys):
    """The matrix is not vacuous: the boundary values are accepted."""
    for argv in (["plan", "--batch-size", "200"], ["plan", "--batch-size", "1"],
                 ["plan", "--momentum", "0.99"], ["plan", "--momentum", "0"], ["plan", "--lr", "1e-6"],
                 ["plan", "--accumulate", "1"], ["plan", "--epochs", "1"], ["plan", "--samples", "1",
                                                                            "--batch-size", "1"]):
        assert main(argv) == 0, capsys.readouterr().err
    capsys.readouterr()


def _console_script() -> str | None:
    here = Path(sys.executable).parent / "mbsim"
    return str(here) if here.exists() else shutil.which("mbsim")


@pytest.mark.skipif(_console_script() is None, reason="the mbsim console script is not installed here")
def test_installed_console_script_bad_input(tmp_path):
    result = subprocess.run([_console_script(), "run", "--batch-size", "300"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=60, stdin=subprocess.DEVNULL,
                            env={k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == ("mbsim: --batch-size 300: exceeds the 200 training samples; "
                             "200 is full-batch gradient descent\n")
