"""The one exception type every bad input in mbsim becomes.

A :class:`ScenarioError` names the setting, the offending value and what is allowed, so the
command line and the app can show it as one clear line (never a traceback).
"""

from __future__ import annotations

from typing import Any


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
