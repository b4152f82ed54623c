"""The distribution owns its names (issue 25, item 8): the repository's folders ``engine/`` and
``tui/`` install as ``mbsim.engine`` and ``mbsim.tui``, nothing else lands at the top of
site-packages, and ``python -m mbsim`` is the ``mbsim`` command."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def folders_with_code() -> set[str]:
    """The dotted names the repository's folders must install as: every folder under engine/ and
    tui/ holding a .py file (a folder left out of pyproject.toml would be missing when installed)."""
    names = {"mbsim"}
    for top in ("engine", "tui"):
        for d in [ROOT / top, *(p for p in (ROOT / top).rglob("*") if p.is_dir())]:
            if "__pycache__" not in d.parts and any(d.glob("*.py")):
                names.add("mbsim." + ".".join(d.relative_to(ROOT).parts))
    return names


def test_every_folder_with_code_is_a_listed_package():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"mbsim": "."}
    assert set(setuptools["packages"]) == folders_with_code()
    assert "mbsim.tui.classroom" in setuptools["packages"]  # the walk finds nested folders


def test_the_installed_names_are_the_mbsim_ones():
    import mbsim
    import mbsim.engine
    import mbsim.tui

    assert Path(mbsim.engine.__file__).resolve().parent.name == "engine"
    assert Path(mbsim.tui.__file__).resolve().parent.name == "tui"
    from mbsim.engine import Scenario, Simulation  # the notebook use README documents

    sim = Simulation(Scenario(epochs=1))
    sim.run_to_end()
    assert sim.step == 200 // 5  # the worked example: N = 200, B = 5, one epoch
    for generic in ("engine", "tui"):
        found = subprocess.run([sys.executable, "-c", f"import {generic}"], cwd="/", capture_output=True,
                               text=True, timeout=60)
        assert found.returncode == 1 and f"No module named '{generic}'" in found.stderr


def test_python_dash_m_mbsim_is_the_command(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mbsim", "plan", "--batch-size", "8"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "25 batches per epoch: 25 × 8" in result.stdout  # ceil(200 / 8) = 25, 25 × 8 = 200


def test_the_readme_notebook_example_prints_what_it_says(tmp_path):
    """README "The engine in Python", run as written, outside the repository."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("## The engine in Python")[1].split("```python\n")[1].split("```")[0]
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    counters, loss = result.stdout.splitlines()
    assert counters == "2 50 400"  # ceil(200 / 8) = 25 steps an epoch, 2 epochs, 2 × 200 samples
    assert 0 < float(loss) < 1


@pytest.mark.xdist_group("wheel")
def test_the_wheel_holds_only_mbsim_and_its_data(tmp_path):
    """Built as pip builds it for ``pip install .``: every file under mbsim/ (or the wheel's own
    metadata), the presets, lessons and styles included, and the script pointing into mbsim.tui."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                            str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("mbsim-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"mbsim", next(t for t in tops if t.endswith(".dist-info"))}
    for expected in ("mbsim/__init__.py", "mbsim/__main__.py", "mbsim/engine/simulation.py",
                     "mbsim/engine/presets/worked-example.toml", "mbsim/engine/lesson_files/why-shuffle.md",
                     "mbsim/tui/app.tcss", "mbsim/tui/classroom/__init__.py"):
        assert expected in names, expected
    assert not any(n.startswith("mbsim/tests/") or n.startswith("mbsim/bench/") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "mbsim = mbsim.tui.entry:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


#: Python code in the tests' and benchmarks' strings (``python -c``, ``-m``) naming the folders as
#: top-level packages: run from the repository's root they import a second copy of the code
#: (``tui.cli`` beside ``mbsim.tui``), which the installed mbsim never has.
TOP_LEVEL_NAME = re.compile(r"(?:(?<![A-Za-z_])|(?<=\\n))(?:from (?:tui|engine)[. ]|import (?:tui|engine)\b)"
                            r"|-m (?:tui|engine)\b")


def test_no_test_or_benchmark_runs_the_folders_as_top_level_packages():
    found = []
    for path in sorted([*ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py")]):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0] if line.lstrip().startswith("#") else line
            if TOP_LEVEL_NAME.search(code) and "TOP_LEVEL_NAME" not in line:
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
