"""The app's memory (issue 24): views that take what fits their share and say so, refusals in
one line past the budget, and the runs' arrays given back when a view closes."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

import mbsim.tui.memory_views as memory_views
from mbsim.engine import Scenario
from mbsim.engine.ensemble import Group
from mbsim.engine.memory import estimate_view
from mbsim.tui.app import MbsimApp
from mbsim.tui.cli import main
from mbsim.tui.screens.cloud import CloudScreen
from mbsim.tui.screens.compare import CompareScreen
from mbsim.tui.screens.lab import LabScreen

SC = dict(samples=4_000, val_samples=50, batch_size=20, epochs=5)


def drive(app: MbsimApp, script) -> None:  # noqa: ANN001
    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(run())


def notes(app: MbsimApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def test_the_cloud_shows_the_runs_that_fit_its_share_and_says_so(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    sc = Scenario(**SC)
    # a share that holds some runs of these 4,000 samples, not 100 (the estimate grows with K)
    share = estimate_view("cloud", sc, runs=30).total
    monkeypatch.setattr(memory_views, "VIEW_BYTES", share)
    app = MbsimApp(sc, animate=False, throttle=False)

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("k")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, CloudScreen)
        assert screen.ens.runs == 30                 # the most that fit: 31 would not
        assert estimate_view("cloud", sc, runs=31).total > share
        assert any("shows 30 runs" in n and "100 would hold" in n for n in notes(pilot.app))

    drive(app, script)


def test_runs_asked_for_are_not_cut_to_the_share(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    monkeypatch.setattr(memory_views, "VIEW_BYTES", 1)    # no share at all
    app = MbsimApp(Scenario(**SC), animate=False, throttle=False, runs=12)

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(pilot.app.screen, CloudScreen) and pilot.app.screen.ens.runs == 12

    drive(app, script)


def test_views_past_the_budget_are_refused_in_one_line(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MBSIM_MEMORY_BUDGET", "1M")
    app = MbsimApp(Scenario(**SC), animate=False, throttle=False)

    async def script(pilot) -> None:  # noqa: ANN001
        for key in ("k", "c"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(pilot.app.screen, (CloudScreen, CompareScreen))
        said = notes(pilot.app)
        assert any(n.startswith("no noise cloud: the noise cloud's 100 runs of 4,000 samples would need")
                   and "MBSIM_MEMORY_BUDGET=1M" in n for n in said)
        assert any(n.startswith("no compare mode: compare mode's three runs") for n in said)
        assert all("\n" not in n for n in said)

    drive(app, script)


def test_the_lab_screen_runs_what_fits(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    sc = Scenario(samples=2_000, val_samples=0, epochs=3)
    monkeypatch.setattr(memory_views, "VIEW_BYTES", 1)
    app = MbsimApp(sc, animate=False, throttle=False)

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("b")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, LabScreen)
        assert screen.lab is None and screen._error.startswith("the lab's 56 runs a batch size")
        await pilot.press("escape")

    drive(app, script)


def test_closing_a_view_gives_its_runs_arrays_back(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    app = MbsimApp(Scenario(**SC), animate=False, throttle=False, runs=10)
    seen = {}

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("k")
        await pilot.pause()
        ens = pilot.app.screen.ens
        await pilot.press("n", "n")
        await pilot.pause()
        group = next(g for g in ens.groups if isinstance(g, Group))
        assert group.runs.state.orders is not None
        params = ens.params.copy()
        await pilot.press("escape")
        await pilot.pause()
        seen["orders"] = group.runs.state.orders
        seen["block"] = group.runs.orders_.block
        seen["last"] = group.runs._last
        assert np.array_equal(ens.params, params)        # still readable
        await pilot.press("c")
        await pilot.pause()
        comp = pilot.app.screen.comp
        await pilot.press("n")
        await pilot.press("escape")
        await pilot.pause()
        seen["compare"] = [r.sim._eras[-1].state.orders for r in comp.runs]

    drive(app, script)
    assert seen["orders"] is None and seen["block"] is None and seen["last"] is None
    assert seen["compare"] == [None, None, None]


def test_the_app_past_the_budget_does_not_start(capsys, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("MBSIM_MEMORY_BUDGET", "50M")
    assert main(["--samples", "1000000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the app on 1,000,000 samples would need" in err[0] and "--samples" in err[0]


@pytest.mark.parametrize("n", [200, 10_000, 50_000, 1_000_000])
def test_the_cloud_fits_its_share_at_every_size(n: int, monkeypatch) -> None:  # noqa: ANN001
    # the default cloud never plans more than the view's share, and shows at least one run up to 10⁶
    monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    sc = Scenario(samples=n, batch_size=min(32, n))
    k, note = memory_views.cloud_runs(sc, 100, False)
    assert 1 <= k <= 100
    assert estimate_view("cloud", sc, runs=k).total <= memory_views.VIEW_BYTES
    assert (k < 100) == bool(note)


def test_freed_arrays_go_back_to_the_system() -> None:
    # 40 arrays of 4 MB, each followed by a small block (50 kB) that stays: glibc's own rule (its
    # threshold raised past 8 MB at the first free of an 8 MB array) puts them in the heap,
    # where the small blocks pin them after they are freed (measured: 185 MB still resident);
    # give_back_freed_memory (malloc_trim) returns their pages
    import os
    import subprocess
    import sys
    from pathlib import Path

    if not Path("/proc/self/status").exists():
        return
    code = (
        "import re, sys, numpy as np\n"
        "from pathlib import Path\n"
        "def rss():\n"
        "    t = Path('/proc/self/status').read_text()\n"
        "    return int(re.search(r'VmRSS:\\s+(\\d+)', t).group(1)) // 1024\n"
        "a = np.ones(1 << 20); del a\n"
        "before = rss()\n"
        "arrays, small = [], []\n"
        "for _ in range(40):\n"
        "    arrays.append(np.ones(1 << 19)); small.append(bytearray(50_000))\n"
        "held = rss()\n"
        "del arrays\n"
        "if sys.argv[1] == '1':\n"
        "    from mbsim.tui.memory_views import give_back_freed_memory\n"
        "    print(give_back_freed_memory())\n"
        "else:\n"
        "    print('off')\n"
        "print(before, held, rss())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}

    def run(on: str) -> tuple[str, list[int]]:
        out = subprocess.run([sys.executable, "-c", code, on], capture_output=True, text=True,
                             check=True, env=env).stdout.split("\n")
        return out[0], [int(v) for v in out[1].split()]

    given, (before, held, after) = run("1")
    if given != "True":            # not glibc: nothing to check
        return
    assert held - before >= 150
    assert after - before < 20, (before, held, after)
    _, (before, held, after) = run("0")     # the check can fail: without it they stay
    assert after - before > 100, (before, held, after)


def test_views_closing_and_pauses_give_memory_back(monkeypatch) -> None:  # noqa: ANN001
    # the app calls give_back_freed_memory when a view closes, a panel is hidden, a run pauses
    import mbsim.tui.runloop as runloop

    calls: list[str] = []
    monkeypatch.setattr(memory_views, "give_back_freed_memory", lambda: calls.append("x") or True)
    monkeypatch.setattr(runloop, "give_back_freed_memory", lambda: calls.append("pause") or True)
    monkeypatch.delenv("MBSIM_MEMORY_BUDGET", raising=False)
    app = MbsimApp(Scenario(**SC), animate=False, throttle=False, runs=4)
    seen: dict[str, int] = {}

    async def script(pilot) -> None:  # noqa: ANN001
        await pilot.press("space")
        await pilot.pause()
        await pilot.press("space")
        await pilot.pause()
        seen["pause"] = calls.count("pause")
        for key, close in (("l", "l"), ("d", "d"), ("k", "escape"), ("c", "escape")):
            before = calls.count("x")
            await pilot.press(key)
            await pilot.pause()
            await pilot.press(close)
            await pilot.pause()
            seen[key] = calls.count("x") - before

    drive(app, script)
    assert seen["pause"] == 1 and all(seen[k] >= 1 for k in "ldkc"), seen
