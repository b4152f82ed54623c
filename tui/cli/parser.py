"""The whole command line, assembled from the command modules.

A command is a module with ``NAME``, ``SUMMARY``, ``DESCRIPTION``, ``EPILOG``, an optional
``SCENARIO_OPTIONS = True`` (it takes every scenario option), ``configure(parser)`` for its own
options and ``execute(namespace) -> exit code``. Adding a command is one module and one entry in
:data:`COMMAND_MODULES`.
"""

from __future__ import annotations

import argparse
from types import ModuleType

from . import classroom, interactive, join, lab, lesson, lessons, plan, presets, run, serve
from .common import EXIT_CODES_TEXT, PROG
from .options import Parser, add_scenario_options

#: The commands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[ModuleType, ...] = (run, plan, lab, presets, lessons, lesson, serve, classroom, join)

EPILOG_MAIN = """\
examples:
  mbsim                                   the TUI on the worked example (N=200, B=5, 1000 epochs)
  mbsim --preset xor-mlp --run            open a preset and start running at once
  mbsim --batch-size 1 --lr 0.01          SGD: one sample per update
  mbsim run --epochs 20                   headless: one Keras-style line per epoch
  mbsim run --quiet --trace t.jsonl --data-out d.csv    every step, replayable outside mbsim
  mbsim plan --samples 1000 --batch-size 400            3 batches per epoch: 400, 400, 200
  mbsim presets                           the built-in scenarios
  mbsim lab                               the batch-size lab: steps vs examples over batch sizes
  mbsim lessons                           the built-in lessons
  mbsim lesson epochs-and-batches         play one (--check validates, --export prints it)
  mbsim serve                             the TUI in web browsers: http://127.0.0.1:8000/
  mbsim class epochs-and-batches          teach a class; students: mbsim join http://HOST:PORT/CODE

Boolean settings are flags: --drop-last / --no-drop-last (or --drop-last=true|false).
""" + EXIT_CODES_TEXT + "\n"


def command_names() -> tuple[str, ...]:
    """The names of the commands (``mbsim NAME``)."""
    return tuple(m.NAME for m in COMMAND_MODULES)


def handler_for(command: str | None):  # -> Callable[[argparse.Namespace], int]
    """The ``execute`` of a command; the TUI's without one."""
    for module in COMMAND_MODULES:
        if module.NAME == command:
            return module.execute
    return interactive.execute


def version() -> str:
    """mbsim's version (installed metadata, or the source tree's)."""
    try:
        from importlib.metadata import version as _version

        return _version("mbsim")
    except Exception:  # not installed (running from a source tree)
        return "0.1.0"


class _VersionAction(argparse.Action):
    """``--version``, looking the version up only when asked (importlib.metadata costs ~50 ms
    of every start otherwise: issue 14, "Start fast")."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        print(f"{parser.prog} {version()}")
        parser.exit()


def build_parser() -> Parser:
    """The whole command line (also used by the tests to list every option)."""
    fmt = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog=PROG, formatter_class=fmt, allow_abbrev=False, epilog=EPILOG_MAIN,
        description="mbsim: watch mini-batch training step by step, in the terminal. "
                    "Without a command it opens the TUI.",
    )
    parser.add_argument("--version", action=_VersionAction, nargs=0, default=argparse.SUPPRESS,
                        help="show program's version number and exit")
    interactive.configure(parser)
    add_scenario_options(parser)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in COMMAND_MODULES:
        sub = subs.add_parser(module.NAME, help=module.SUMMARY, formatter_class=fmt,
                              allow_abbrev=False, epilog=module.EPILOG,
                              description=module.DESCRIPTION)
        module.configure(sub)
        if getattr(module, "SCENARIO_OPTIONS", False):
            add_scenario_options(sub)
    return parser
