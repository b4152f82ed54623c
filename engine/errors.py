"""The one exception type every bad input in mbsim becomes.

A :class:`ScenarioError` names the setting, the offending value and what is allowed, so the
command line and the app can show it as one clear line (never a traceback).
"""

from __future__ import annotations

from typing import Any

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: object) -> str:
    """``text`` with every control or formatting character shown as an escape (``\\x1b``).

    Terminals act on control characters (ESC starts a sequence that can set the window title,
    move the cursor or rewrite the screen), so every string a user supplied (a scenario name, a
    path, a CSV column) goes through this before it is printed or drawn. Printable characters,
    including non-ASCII letters, are kept as they are.
    """
    s = str(text)
    if s.isprintable():
        return s
    out = []
    for c in s:
        if c.isprintable() or c == " ":
            out.append(c)
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


def format_value(value: Any) -> str:
    """Show a value the way a user typed it: strings quoted, floats short."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class ScenarioError(ValueError):
    """A setting with a value that cannot be used.

    ``str(err)`` reads ``"batch_size 300: exceeds the 200 training samples; ..."``;
    :meth:`as_option` gives the same sentence with the command-line spelling
    (``--batch-size 300: ...``).
    """

    def __init__(self, setting: str, value: Any, reason: str) -> None:
        self.setting = setting
        self.value = value
        self.reason = reason
        super().__init__(self._sentence(setting))

    def _sentence(self, name: str) -> str:
        if self.value is None:
            return f"{name}: {self.reason}"
        return f"{name} {format_value(self.value)}: {self.reason}"

    def as_option(self) -> str:
        """The message with the setting spelled as its command-line option."""
        if self.setting.startswith(("--", "scenario file", "csv")) or " " in self.setting:
            return str(self)
        return self._sentence("--" + self.setting.replace("_", "-"))


class DataError(ScenarioError):
    """A data file (CSV) that cannot be read: names the file, line and column."""


class OutputError(OSError):
    """A file mbsim was asked to write could not be written (full disk, file-size limit, a
    name too long...): the environment's error, not a bug. ``str(err)`` names the file and the
    OS's reason."""

    def __init__(self, path: object, reason: str, errno_: int | None = None) -> None:
        super().__init__(errno_, reason, str(path))
        self.path = str(path)
        self.reason = reason
        self.what: str | None = None  # e.g. "--trace 'out.jsonl'", set by the caller

    def __str__(self) -> str:
        return f"{self.what or repr(self.path)}: {self.reason}"
