"""mbsim's command line: the TUI, ``run`` (headless training), ``plan`` and ``presets``.

One module per command (see :mod:`tui.cli.parser`); the scenario options are generated from the
Scenario's fields (:mod:`tui.cli.options`), and :mod:`tui.cli.scenario_args` turns them into a
validated Scenario. Bad input of any kind (unknown option, missing value, impossible setting,
unreadable file) ends with ONE line ``mbsim: ...`` on stderr and exit code 2, never a traceback.
Exit codes: 0 done, 1 an unexpected internal error, 2 bad input, 3 diverged, 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

from engine.errors import ScenarioError

from .common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, PROG, UsageError
from .options import all_options, looks_like_number, normalize_argv, subcommands, unknown_arguments
from .parser import build_parser, handler_for

__all__ = ["main", "build_parser", "UsageError"]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mbsim`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        argv_clean = normalize_argv(args)
        try:
            ns, extras = parser.parse_known_args(argv_clean)
        except UsageError as err:
            # "mbsim --lrr 3": argparse takes the 3 for a command; the real mistake is --lrr
            known = set(all_options(parser))
            stray = [t for t in argv_clean if t.startswith("-") and t.split("=", 1)[0] not in known]
            if str(err).startswith("unknown command") and stray and not looks_like_number(stray[0]):
                raise UsageError(unknown_arguments(parser, parser, stray, None)) from None
            raise
        command = getattr(ns, "command", None)
        if extras:
            target = subcommands(parser)[command] if command else parser
            raise UsageError(unknown_arguments(parser, target, extras, command))
        return handler_for(command)(ns)
    except UsageError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except ScenarioError as err:  # a bad value the engine found late
        print(f"{PROG}: {err.as_option()}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. mbsim run | head
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
    except Exception as exc:  # an mbsim bug: one line for users, the traceback for developers
        if os.environ.get("MBSIM_DEBUG") or os.environ.get("PYTEST_CURRENT_TEST"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"{PROG}: internal error: {type(exc).__name__}: {first} "
              "(set MBSIM_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
