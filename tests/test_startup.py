"""Start fast (issue 14): the commands that need no NumPy do not import it, and the engine's
NumPy-free name lists agree with the modules that implement them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
sys.argv = ["mbsim", *sys.argv[1:]]
from mbsim.tui.cli import main
try:
    code = main()
except SystemExit as exc:
    code = exc.code
print("NUMPY" if "numpy" in sys.modules else "NO-NUMPY", code, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["plan"], ["plan", "--batch-size", "7", "--accumulate", "3"],
                                  ["presets"], ["run", "--help"], ["lab", "--help"], ["--version"]])
def test_command_imports_no_numpy(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("NO-NUMPY"), result.stderr
    assert last.split()[1] in ("0", "None"), result.stderr


def test_run_does_import_numpy_and_limits_blas_to_one_thread() -> None:
    code = ("import sys\nfrom mbsim.tui.cli import main\nmain(['run', '--quiet', '--epochs', '1'])\n"
            "from mbsim.engine.threads import blas_threads\nprint('numpy' in sys.modules, blas_threads())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    has_numpy, threads = result.stdout.strip().split(" ", 1)
    assert has_numpy == "True"
    assert all(t == 1 for t in eval(threads)), threads   # every BLAS pool limited to 1 thread


def test_importing_the_engine_for_a_scenario_needs_no_numpy() -> None:
    code = ("import sys\nfrom mbsim.engine import scenario, Scenario\nScenario().validate()\n"
            "print('numpy' in sys.modules)\nfrom mbsim.engine import Simulation\nprint('numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_name_lists_agree_with_their_modules() -> None:
    from mbsim.engine import datasets, models, names, optimizers, sampling, schedules

    assert names.DATASETS == datasets.DATASETS
    assert names.REGRESSION_DATASETS == datasets.REGRESSION_DATASETS
    assert names.CLASSIFICATION_DATASETS == datasets.CLASSIFICATION_DATASETS
    assert names.MODELS == models.MODELS and names.ACTIVATIONS == models.ACTIVATIONS
    assert names.OPTIMIZERS == optimizers.OPTIMIZERS
    assert names.SAMPLINGS == sampling.SAMPLINGS
    assert names.SCHEDULES == schedules.SCHEDULES


def test_blas_limited_with_threadpoolctl_when_numpy_is_already_loaded() -> None:
    code = ("import numpy\nfrom mbsim.engine.threads import use_one_blas_thread, blas_threads\n"
            "assert use_one_blas_thread()\nprint(blas_threads())")
    env_free = {k: v for k, v in __import__("os").environ.items()
                if k not in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "OMP_NUM_THREADS")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=120, env=env_free)
    threads = eval(result.stdout.strip() or "None")
    assert threads is not None and all(t == 1 for t in threads), result.stderr
