"""Peak resident memory of one app session with every view opened in turn (issue 24).

Each case runs in a fresh subprocess: the app headless under ``App.run_test(size=(120, 40))``,
the main screen running at the default speed, then each view opened, run for a while and closed
in turn: the lens (l), the phase view (d), compare (c), the noise cloud (k) and the lab (b).
The figure is the process's peak resident memory (VmHWM of /proc/self/status), with the data
arrays of the scenario stated apart (DESIGN.md's budget: ≤ 150 MB a session, the data aside).

    python bench/session.py [--seconds 2] [--cases worked,xor,10k,50k,1m,xor-mlp/1000000/32] [--no-lab]

Prints a table; asserts nothing (the memory bound is asserted by tests/test_memory*.py with
tracemalloc, which does not depend on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZE = (120, 40)

#: name -> (label, scenario changes, preset)
CASES: dict[str, tuple[str, dict, str | None]] = {
    "worked": ("worked example, N = 200", {}, None),
    "xor": ("xor-mlp / adam (MLP)", {"optimizer": "adam"}, "xor-mlp"),
    "10k": ("N = 10,000, B = 32", {"samples": 10_000, "batch_size": 32}, None),
    "50k": ("N = 50,000, B = 64", {"samples": 50_000, "batch_size": 64}, None),
    "1m": ("N = 1,000,000, B = 32", {"samples": 1_000_000, "batch_size": 32}, None),
}



def case_of(name: str) -> tuple[str, dict, str | None]:
    """A case by name, or written PRESET/N/B (e.g. ``xor-mlp/1000000/32``)."""
    if name in CASES:
        return CASES[name]
    preset, n, b = name.split("/")
    return (f"{preset}, N = {int(n):,}, B = {int(b)}", {"samples": int(n), "batch_size": int(b)}, preset)


#: (key to open, key to close, what) for each view, in the order opened
VIEWS = [("l", "l", "lens"), ("d", "d", "phase"), ("c", "escape", "compare"),
         ("k", "escape", "cloud"), ("b", "escape", "lab")]


def reset_peak() -> None:
    """Start VmHWM afresh (Linux: "5" to /proc/self/clear_refs), so each view's own peak shows."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def status_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM), MB."""
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


async def session(case: str, seconds: float, lab: bool) -> dict:
    """One session of ``case``: every view in turn; the RSS after each, the peak at the end."""
    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()
    from mbsim.engine import Simulation
    from mbsim.engine.rules import TUI_POLICY
    from mbsim.engine.scenario import DEFAULT, load_preset
    from mbsim.tui.app import MbsimApp

    label, changes, preset = case_of(case)
    base = load_preset(preset) if preset else DEFAULT
    scenario = base.replace(**changes).validate() if changes else base
    sim = Simulation(scenario, eval_policy=TUI_POLICY)
    d = sim.dataset
    data_mb = sum(getattr(getattr(d, n, None), "nbytes", 0) for n in ("X", "y", "X_val", "y_val")) / 2**20
    after: dict[str, float] = {"start": status_mb("VmRSS")}
    peaks: dict[str, float] = {"start": status_mb("VmHWM")}
    overall = peaks["start"]
    t0 = time.perf_counter()
    app = MbsimApp(sim, paused=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("space")                    # main screen, running at the default speed
        await asyncio.sleep(seconds)
        await pilot.press("space")
        await pilot.pause()
        after["main"] = status_mb("VmRSS")
        peaks["main"] = status_mb("VmHWM")
        overall = max(overall, peaks["main"])
        for key, close, what in VIEWS:
            if what == "lab" and not lab:
                continue
            reset_peak()
            await pilot.press(key)
            await pilot.pause()
            if what in ("compare", "cloud"):
                await pilot.press("space")           # run the view at its default speed
            await asyncio.sleep(seconds)
            if what in ("compare", "cloud"):
                await pilot.press("space")
            await pilot.pause()
            after[what] = status_mb("VmRSS")
            await pilot.press(close)
            await pilot.pause()
            after[what + " closed"] = status_mb("VmRSS")
            peaks[what] = status_mb("VmHWM")
            overall = max(overall, peaks[what])
    return {"case": case, "label": label, "data_mb": data_mb, "after": after,
            "peaks": peaks,
            "peak_mb": max(overall, status_mb("VmHWM")), "seconds": time.perf_counter() - t0}


def child(case: str, seconds: float, lab: bool) -> None:
    print(json.dumps(asyncio.run(session(case, seconds, lab))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time in each view (default 2)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES) + " or PRESET/N/B")
    parser.add_argument("--no-lab", dest="lab", action="store_false", help="do not open the lab")
    parser.add_argument("--views", default=",".join(v[2] for v in VIEWS),
                        help="comma-separated views to open after the main screen (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a case may take")
    ns = parser.parse_args()
    if ns.child:
        chosen = ns.views.split(",")
        VIEWS[:] = [v for v in VIEWS if v[2] in chosen]
        child(ns.child, ns.seconds, ns.lab)
        return 0
    rows = []
    for case in ns.cases.split(","):
        cmd = [sys.executable, __file__, "--child", case, "--seconds", str(ns.seconds), "--views", ns.views]
        if not ns.lab:
            cmd.append("--no-lab")
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=ns.timeout, cwd=ROOT)
        except subprocess.TimeoutExpired:
            print(f"{case}: timed out after {ns.timeout:.0f} s", flush=True)
            continue
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode or not lines:
            print(f"{case}: failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        row = json.loads(lines[-1])
        rows.append(row)
        views = ", ".join(f"{k} {v:.0f}" for k, v in row["after"].items())
        peaks = ", ".join(f"{k} {v:.0f}" for k, v in row["peaks"].items())
        print(f"{row['label']}: peak {row['peak_mb']:.0f} MB (data {row['data_mb']:.1f} MB) "
              f"in {row['seconds']:.0f} s; RSS after: {views}; peak in: {peaks}", flush=True)
    print()
    print(f"| scenario | peak RSS of the app | data arrays | peak minus data |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['label']} | {row['peak_mb']:.0f} MB | {row['data_mb']:.1f} MB | "
              f"{row['peak_mb'] - row['data_mb']:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
