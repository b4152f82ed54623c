"""The ``mbsim`` console script and ``python -m mbsim``: Ctrl+C while mbsim is still starting
(importing NumPy and the engine, ~0.1 s) ends with one line and exit 130, not a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    """Import the command line, then run it; an interrupt during the import is one line."""
    try:
        from mbsim.tui.cli import main as cli_main
    except KeyboardInterrupt:
        try:
            print("mbsim: interrupted", file=sys.stderr, flush=True)
        except OSError:
            pass
        return 130
    return cli_main()
