"""TOML text, read with one clear error whatever is wrong, and the values a scenario writes.

Python's ``tomllib`` refuses malformed TOML with :class:`tomllib.TOMLDecodeError`, but valid TOML
beyond one of Python's own limits (arrays nested some hundreds deep, an integer of more than
``sys.get_int_max_str_digits()`` digits) with :class:`RecursionError` or :class:`ValueError`:
:func:`toml_limit_problem` says where and why, for scenario files and a lesson's front matter alike.
"""

from __future__ import annotations

from typing import Any

from .errors import ScenarioError, format_value


def toml_limit_problem(lines: list[str], exc: BaseException) -> tuple[int, str]:
    """Where and why TOML that is valid but beyond a limit of Python's failed to load.

    ``tomllib`` raises :class:`RecursionError` for arrays or inline tables nested some hundreds
    deep, and :class:`ValueError` for an integer longer than ``sys.get_int_max_str_digits()``
    (4300) digits. Returns the index in ``lines`` of the line at fault (the most deeply bracketed
    line; the line with the long number) and what is wrong, in words for the author.
    """
    import sys

    if isinstance(exc, RecursionError):
        depth = [t.count("[") + t.count("{") for t in lines]
        at = max(range(len(lines)), key=depth.__getitem__) if lines else 0
        return at, "nests arrays or tables too deeply (some hundreds of levels)"
    limit = sys.get_int_max_str_digits() or 4300
    for i, text in enumerate(lines):
        run = max((len(m.replace("_", "")) for m in _digit_runs(text)), default=0)
        if run > limit:
            return i, f"holds a number with {run:,} digits; at most {limit:,} are allowed"
    return 0, f"holds a value beyond Python's limits ({str(exc).splitlines()[0][:80]})"


def _digit_runs(text: str) -> list[str]:
    import re

    return re.findall(r"[0-9][0-9_]*", text)


def parse_toml(text: str, source: str = "scenario file") -> dict[str, Any]:
    """TOML text as a table; malformed TOML, TOML nested absurdly deep or a number beyond
    Python's digit limit is one :class:`ScenarioError`."""
    import tomllib  # only when a TOML text is read (startup imports no more than it needs)

    text = text.removeprefix("\ufeff")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(source, None, f"is not valid TOML ({exc})") from None
    except RecursionError:
        raise ScenarioError(source, None, "nests arrays or tables too deeply; a scenario file "
                                          "is a flat list of key = value lines") from None
    except ValueError as exc:  # an integer longer than Python's digit limit
        lines = text.split("\n")
        at, reason = toml_limit_problem(lines, exc)
        raise ScenarioError(source, None, f"line {at + 1}: {reason}") from None


def toml_value(value: Any) -> str:
    """One value as TOML writes it (a scenario's settings: bools, numbers, text; a float by its
    ``repr``, so it reads back to the same float)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    raise TypeError(f"cannot write {format_value(value)} to TOML")
