"""``mbsim`` with no command: the TUI on a scenario (imported only when it opens)."""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_INTERNAL, PROG, UsageError
from .scenario_args import build_scenario, make_simulation


def configure(parser: argparse.ArgumentParser) -> None:
    """The TUI's own options, on the top-level parser."""
    tui = parser.add_argument_group("TUI")
    tui.add_argument("--paused", dest="start_running", action="store_false", default=argparse.SUPPRESS,
                     help="open paused (the default): step with n, run with space")
    tui.add_argument("--run", dest="start_running", action="store_true", default=argparse.SUPPRESS,
                     help="start running at once")
    tui.add_argument("--speed", metavar="N", default=argparse.SUPPRESS,
                     help="starting speed of the TUI (steps per second)")
    tui.add_argument("--runs", metavar="K", default=argparse.SUPPRESS,
                     help="runs in the noise cloud (key k), 1 to 1000 (default 100)")


def under_web_driver() -> bool:
    """True when Textual will drive a browser, not a terminal.

    textual-serve (and textual-web) start the app with ``TEXTUAL_DRIVER`` set to
    ``textual.drivers.web_driver:WebDriver``; its stdin/stdout are then pipes by design.
    """
    return os.environ.get("TEXTUAL_DRIVER", "").startswith("textual.drivers.web_driver:")


def refuse_without_terminal() -> None:
    """UsageError unless stdin and stdout are a terminal (or the web driver, or MBSIM_FORCE_TUI).

    Checked after every option (a bad ``--speed`` is named first) but, when no ``--speed`` was
    given, before the TUI is imported: ``python -m mbsim`` without a terminal refuses in ~0.1 s
    of CPU instead of ~0.5 s (Textual, Rich, plotext and the screens are not loaded to say no).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not (
            os.environ.get("MBSIM_FORCE_TUI") or under_web_driver()):
        raise UsageError("the TUI needs a terminal; use 'mbsim run' for headless output "
                         "(or 'mbsim plan', 'mbsim presets')")


def execute(ns: argparse.Namespace) -> int:
    """Open the TUI on the scenario; data errors are reported before it opens."""
    scenario, src = build_scenario(ns)
    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()                 # before NumPy loads: free (engine/threads.py)
    from mbsim.engine.rules import TUI_POLICY

    from .memory_check import check_app

    held = check_app(scenario, src)       # past the memory budget: one line, before allocating
    # data errors now, as one line, not inside the TUI; the TUI's evaluation policy (engine.rules)
    sim = make_simulation(scenario, src, eval_policy=TUI_POLICY)
    del held
    speed = getattr(ns, "speed", None)
    if speed is None:  # nothing left to check but the terminal: refuse before importing the TUI
        refuse_without_terminal()
    try:
        import mbsim.tui.app as app
    except ModuleNotFoundError as err:
        if err.name in ("mbsim.tui.app", "textual", "textual_plotext", "plotext", "rich"):
            print(f"{PROG}: the TUI is not available ({err}); 'mbsim run' works without it",
                  file=sys.stderr)
            return EXIT_INTERNAL
        raise
    parse_speed = getattr(app, "parse_speed", None)
    if speed is not None and parse_speed is not None:  # its parser is the TUI's (tui.runloop)
        try:
            parse_speed(speed)
        except ValueError as err:
            raise UsageError(f"--speed {speed!r}: {str(err).removeprefix('speed ')}") from None
    refuse_without_terminal()
    from .run_ensemble import parse_runs

    runs = parse_runs(getattr(ns, "runs", None))
    extra = {"runs": runs} if runs is not None else {}     # the noise cloud's K (key k)
    return int(app.run_app(sim, paused=not getattr(ns, "start_running", False), speed=speed, **extra) or 0)
