"""What every command shares: the program name, the exit codes and the one-line usage error."""

from __future__ import annotations

PROG = "mbsim"
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    """Bad input: the one-line message is printed as ``mbsim: <message>`` with exit code 2."""
