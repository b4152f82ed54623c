"""``mbsim presets``: the built-in scenarios, one line each (or the README's Markdown table)."""

from __future__ import annotations

import argparse

from mbsim.engine import scenario as sc_mod

from .common import EXIT_OK

NAME = "presets"
SUMMARY = "list the built-in scenarios"
DESCRIPTION = "The built-in scenarios, by name, with what each shows."
EPILOG = """\
examples:
  mbsim presets
  mbsim --preset full-batch               open one in the TUI
  mbsim run --preset sgd --epochs 5       or run it headless
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``mbsim presets``."""
    parser.add_argument("--markdown", action="store_true", default=False,
                        help="print a Markdown table (the README's)")


def execute(ns: argparse.Namespace) -> int:
    """Print the presets."""
    if ns.markdown:
        print(presets_markdown())
        return EXIT_OK
    items = sc_mod.presets()
    width = max(len(name) for name, _ in items)
    for name, description in items:
        print(f"{name:<{width}}  {description}")
    return EXIT_OK


def presets_markdown() -> str:
    """The README's presets table (a test checks the README lists every preset)."""
    lines = ["| preset | what it shows |", "| --- | --- |"]
    for name, description in sc_mod.presets():
        lines.append(f"| `{name}` | {description.replace('|', '/')} |")
    return "\n".join(lines)
