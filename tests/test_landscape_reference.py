"""The cloud's reference path (full-batch GD at the ensemble's learning rate in force) follows a
change of the learning rate made while the old rate's path is still being computed in a thread:
the old path is not taken for the new rate's, and the new one is computed (before, the request
for the new path had the same key as the one in flight and was dropped, and the old path arrived
and stayed)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

from mbsim.engine import landscape as engine_landscape
from mbsim.engine import load_preset
from mbsim.tui.app import MbsimApp
from pilot_helpers import hold_until, run_then_release, wait_for


def test_a_new_rate_while_the_old_rates_path_computes_gets_its_own_path(monkeypatch):  # noqa: ANN001
    real = engine_landscape.gd_path
    release = threading.Event()
    rates: list[float] = []            # the cloud's calls (armed when it opens)
    armed = threading.Event()

    def slow_first(model, X, y, start, lr, steps):  # noqa: ANN001, ANN202
        if not armed.is_set():
            return real(model, X, y, start, lr, steps)   # the main screen's own path
        rates.append(lr)
        if len(rates) == 1:
            hold_until(release, cancellable=False)
        return real(model, X, y, start, lr, steps)

    monkeypatch.setattr(engine_landscape, "gd_path", slow_first)
    # 4000 samples of xor-mlp: the reference path costs enough to be computed in a thread
    app = MbsimApp(load_preset("xor-mlp").replace(samples=4000), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.landscape._ref is not None and not app.busy,
                           "the main screen's reference path")
            armed.set()
            await pilot.press("k")
            screen = app.screen
            land = screen.query_one("#cloud-landscape")
            await wait_for(pilot, lambda: rates, "the first rate's path computing")
            old_lr = rates[0]
            await pilot.press("greater_than_sign")               # lr doubled meanwhile
            new_lr = screen.ens.scenario.lr
            assert new_lr == 2 * old_lr
            release.set()
            await wait_for(pilot, lambda: land._ref is not None and not land.pending_work,
                           "a reference path drawn")
            want = real(screen.ens.model, screen.ens.X, screen.ens.y, screen.ens.initial_params, new_lr,
                        len(land._ref) - 1)
            assert np.array_equal(land._ref, want), f"the path shown is not the new rate's (rates computed: {rates})"

    run_then_release(script, release)


def test_back_to_the_start_the_cloud_shows_the_first_rates_path():
    """The cloud's GD path is at the learning rate in force: after a change of it, a reset (or
    going back before the change) puts the first rate in force again, and its path with it."""
    app = MbsimApp(load_preset("xor-mlp"), animate=False)

    async def script() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            await pilot.press("k")
            screen = app.screen
            land = screen.query_one("#cloud-landscape")
            ens = screen.ens
            first = ens.scenario.lr
            await wait_for(pilot, lambda: land._ref is not None and not land.pending_work, "GD's path")
            await pilot.press("n")
            await pilot.press("greater_than_sign")
            await wait_for(pilot, lambda: land._ref is not None and not land.pending_work
                           and np.array_equal(land._ref, ens.reference_path()), "the doubled rate's path")
            assert ens.scenario.lr == 2 * first
            await pilot.press("r")                               # every run back to the start
            assert ens.scenario.lr == first
            await wait_for(pilot, lambda: land._ref is not None and not land.pending_work
                           and np.array_equal(land._ref, ens.reference_path()),
                           "the first rate's path again", tries=250)

    asyncio.run(script())
