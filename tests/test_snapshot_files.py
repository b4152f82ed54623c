"""Every snapshot on disk belongs to a test that takes it.

Run in one process, syrupy fails the run on a snapshot no test uses; under pytest-xdist (the
README's command runs the suite in parallel) it cannot, each worker seeing only its own tests. So
this test collects the snapshot test modules in a child pytest (all of their tests, whatever this
run selected) and names each SVG under tests/__snapshots__ whose test is gone. Syrupy's file
name is the test's node name (its parameters included) with ``\\/?*:|"<>`` and control characters
left out, and ``.N`` added for a test's N-th snapshot after the first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SNAPSHOTS = TESTS / "__snapshots__"


def syrupy_name(node_name: str) -> str:
    """The file name (without .svg) syrupy gives a test's first snapshot."""
    return "".join(c for c in node_name if c not in '\\/?*:|"<>' and unicodedata.category(c)[0] != "C")


def collected(modules: list[str]) -> dict[str, set[str]]:
    """Module name → the node names of its tests, from ``pytest --collect-only`` in a child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-o", "addopts=", "-p", "no:xdist",
         "-p", "no:cacheprovider", *[str(TESTS / f"{m}.py") for m in modules]],
        cwd=TESTS.parent, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out: dict[str, set[str]] = {m: set() for m in modules}
    for line in proc.stdout.splitlines():
        path, sep, name = line.partition("::")
        if sep:
            out[Path(path).stem].add(syrupy_name(name))
    return out


def test_every_snapshot_file_belongs_to_a_test() -> None:
    folders = sorted(p for p in SNAPSHOTS.iterdir() if p.is_dir())
    assert folders, "no snapshots found"
    missing = [f.name for f in folders if not (TESTS / f"{f.name}.py").is_file()]
    assert not missing, f"snapshot folders of test modules that are gone: {missing}"
    names = collected([f.name for f in folders])
    unused = []
    for folder in folders:
        for svg in sorted(folder.glob("*.svg")):
            stem = re.sub(r"\.\d+$", "", svg.stem) if svg.stem not in names[folder.name] else svg.stem
            if stem not in names[folder.name]:
                unused.append(str(svg.relative_to(TESTS)))
    assert not unused, ("snapshots no test takes (delete them, or run this module's tests with "
                        f"-n 0 --snapshot-update): {unused}")
