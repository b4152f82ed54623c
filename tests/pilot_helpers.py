"""Waiting in Pilot tests: bounded, and failing with a clear message when the app stays busy.

A wait that runs out of tries and lets the test go on checks a half-drawn screen (or passes on
the previous picture), so every wait here raises ``AssertionError`` naming what never happened.
The bounds are counts of pauses, generous, only there so that a broken app fails instead of
hanging; nothing asserts on how long anything took.
"""

from __future__ import annotations

from collections.abc import Callable

TRIES = 1500          # pauses of ``DELAY`` seconds: ~30 s of an idle loop before a wait fails
DELAY = 0.02


async def wait_for(pilot, condition: Callable[[], object], what: str | Callable[[], str], *,  # noqa: ANN001
                   tries: int = TRIES, delay: float = DELAY) -> None:
    """Pause until ``condition()`` is true; fail with ``what`` (or ``what()``, the state
    then) after ``tries`` pauses."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(delay)
    if condition():
        return
    raise AssertionError(f"never happened after {tries} pauses: {what() if callable(what) else what}")


def idle(node) -> bool:  # noqa: ANN001
    """Neither running nor computing a panel in the background (an app or a screen)."""
    return not getattr(node, "running", False) and not getattr(node, "busy", False)


async def wait_idle(pilot, node=None, *, tries: int = TRIES) -> None:  # noqa: ANN001
    """Wait until ``node`` (by default the app) has stopped running and no panel computes."""
    node = pilot.app if node is None else node
    await wait_for(pilot, lambda: idle(node), f"{type(node).__name__} still running or busy",
                   tries=tries)


def shown_notifications(app) -> list[tuple[str, str]]:  # noqa: ANN001
    """(severity, text) of every notification the screen shows: the ``Toast`` widgets on it
    (Textual's documented CSS type, severity as its ``-information``/``-warning``/``-error``
    class), read from what each toast renders."""
    out = []
    for toast in app.screen.query("Toast"):
        severity = next((c[1:] for c in toast.classes if c in ("-information", "-warning", "-error")), "")
        out.append((severity, str(toast.render())))
    return out


async def wait_for_notification(pilot, text: str, severity: str | None = None) -> str:  # noqa: ANN001
    """Wait until a notification showing ``text`` (of ``severity``, if given) is on the screen;
    return its whole text."""
    found: list[str] = []

    def seen() -> bool:
        found[:] = [t for s, t in shown_notifications(pilot.app)
                    if text in t and (severity is None or s == severity)]
        return bool(found)

    await wait_for(pilot, seen, lambda: f"a notification showing {text!r} (shown: {shown_notifications(pilot.app)})",
                   tries=200)
    return found[0]


def hold_until(release, *, cancellable: bool = True) -> None:  # noqa: ANN001
    """In a computation's thread: wait until ``release`` (a threading.Event) is set, as a long
    reading would; ``cancellable``: give up at each "piece" as a reading in pieces does
    (``engine.pieces.check`` raises when the widget no longer wants it)."""
    import time

    from mbsim.engine import pieces

    while not release.is_set():
        if cancellable:
            pieces.check()
        time.sleep(0.01)


def run_then_release(script, release) -> None:  # noqa: ANN001
    """``asyncio.run(script())``, setting ``release`` at the end whatever happens: a thread left
    in :func:`hold_until` would keep the test run from ending."""
    import asyncio

    async def main() -> None:
        try:
            await script()
        finally:
            release.set()

    asyncio.run(main())
