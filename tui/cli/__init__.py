"""mbsim's command line: the TUI, ``run`` (headless training), ``plan`` and ``presets``.

One module per command (see :mod:`tui.cli.parser`); the scenario options are generated from the
Scenario's fields (:mod:`tui.cli.options`), and :mod:`tui.cli.scenario_args` turns them into a
validated Scenario. Bad input of any kind (unknown option, missing value, impossible setting,
unreadable file) ends with ONE line ``mbsim: ...`` on stderr and exit code 2, never a traceback.
Exit codes: 0 done, 1 an unexpected internal error (a bug), 2 bad input, 3 diverged, 74 a file
could not be written (the OS's reason is named), 129/130/143 ended by SIGHUP/SIGINT/SIGTERM.
Every line printed from user-supplied text goes through :func:`engine.errors.visible`, so a
scenario name or a path cannot send control sequences to the terminal.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Sequence

from mbsim.engine.errors import OutputError, ScenarioError, visible

from .common import EXIT_INTERNAL, EXIT_IOERR, EXIT_SIGNAL, EXIT_USAGE, PROG, UsageError
from .options import all_options, looks_like_number, normalize_argv, subcommands, unknown_arguments
from .parser import build_parser, handler_for

__all__ = ["main", "build_parser", "prebuild_parser", "UsageError"]

#: The parser built ahead by :func:`prebuild_parser` (``mbsim serve``'s fork server), taken by
#: the next :func:`main`; None otherwise (each call builds its own).
_prebuilt = None


def prebuild_parser() -> None:
    """Build the command line's parser now, for the next :func:`main` in this process or in a
    process forked from it (``mbsim serve``'s fork server: each session starts ~5 ms sooner)."""
    global _prebuilt
    _prebuilt = build_parser()


def _parser():
    """The prebuilt parser, once; else a new one."""
    global _prebuilt
    parser, _prebuilt = _prebuilt, None
    return parser if parser is not None else build_parser()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mbsim`` console script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's: the engine reports non-finite values itself
    from mbsim.tui.memory_views import tune_malloc

    tune_malloc()                # one malloc arena for every thread (DESIGN.md: the session budget)
    try:
        parser = _parser()
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
        _say(str(err))
        return EXIT_USAGE
    except ScenarioError as err:  # a bad value the engine found late
        _say(err.as_option())
        return EXIT_USAGE
    except OutputError as err:  # the environment's error (disk full, size limit), not a bug
        _say(str(err))
        return EXIT_IOERR
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_USAGE)
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", 2)
        what = getattr(exc, "what", "interrupted")
        _say(what)
        return EXIT_SIGNAL.get(signum, 128 + int(signum))
    except BrokenPipeError:  # e.g. mbsim run | head
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 141
    except OSError as exc:  # the environment's (a file or terminal the OS cannot serve), not a bug
        where = f"{exc.filename!r}: " if getattr(exc, "filename", None) else ""
        _say(f"{where}{exc.strerror or exc}")
        return EXIT_IOERR
    except Exception as exc:  # an mbsim bug: one line for users, the traceback for developers
        if os.environ.get("MBSIM_DEBUG") or os.environ.get("PYTEST_CURRENT_TEST"):
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        _say(f"internal error: {type(exc).__name__}: {first} (set MBSIM_DEBUG=1 for the traceback)")
        return EXIT_INTERNAL


def _say(message: str) -> None:
    """One line on stderr, ``mbsim: message``, control characters made visible."""
    try:
        print(f"{PROG}: {visible(message)}", file=sys.stderr, flush=True)
    except OSError:  # stderr closed or full: nothing more can be said
        pass
