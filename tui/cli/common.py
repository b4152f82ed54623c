"""What every command shares: the program name, the exit codes and the one-line usage error."""

from __future__ import annotations

import signal

PROG = "mbsim"
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: A file could not be written or read by the OS (full disk, file-size limit, name too long):
#: sysexits.h's EX_IOERR.
EXIT_IOERR = 74
#: Ended by a signal: 128 + its number, as a shell reports it (SIGHUP 129, SIGINT 130, SIGTERM 143).
EXIT_SIGNAL = {signal.SIGHUP: 129, signal.SIGINT: 130, signal.SIGTERM: 143}
#: Every exit code mbsim uses, as ``--help`` and the README list them.
EXIT_CODES_TEXT = ("Exit codes: 0 done, 1 internal error (a bug), 2 bad input, 3 diverged (run),\n"
                   "74 a file could not be written (disk full, file-size limit...), 129/130/143\n"
                   "ended by SIGHUP/SIGINT (Ctrl+C)/SIGTERM (run: the files keep every step done).")

class UsageError(Exception):
    """Bad input: the one-line message is printed as ``mbsim: <message>`` with exit code 2."""


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) asked mbsim to stop; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return EXIT_SIGNAL.get(self.signum, 128 + int(self.signum))

    @property
    def what(self) -> str:
        return {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)",
                signal.SIGHUP: "hung up (SIGHUP)"}.get(self.signum, f"stopped by signal {int(self.signum)}")
