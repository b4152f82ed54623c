"""The cloud's reference path (full-batch GD at the ensemble's learning rate in force) follows a
change of the learning rate made while the old rate's path is still being computed in a thread:
the old path is not taken for the new rate's, and the new one is computed (before, the request
for the new path had the same key as the one in flight and was dropped, and the old path arrived
and stayed)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from mbsim.engine import landscape as engine_landscape
from mbsim.engine import load_preset
from mbsim.tui.app import MbsimApp
from pilot_helpers import wait_for


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
            while not release.is_set():
                time.sleep(0.01)
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

    async def main() -> None:
        try:
            await script()
        finally:
            release.set()

    asyncio.run(main())
