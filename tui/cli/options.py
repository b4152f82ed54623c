"""The scenario options, generated from the Scenario's fields, and argparse with one-line errors.

Every scenario option is made from :data:`engine.scenario.FIELD_NAMES` (the TOML keys, spelled
with ``-``) and described by :data:`engine.scenario.FIELD_HELP`, and every value is parsed and
checked by the engine, so the options and their messages never drift from the scenario.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Sequence

from mbsim.engine import scenario as sc_mod
from mbsim.engine.errors import ScenarioError
from mbsim.engine.scenario import DEFAULT, FIELD_GROUPS, FIELD_NAMES, field_help, field_kind

from .common import UsageError

_METAVAR = {"int": "N", "float": "X", "optional float": "X", "str": "NAME"}


def _choices(name: str) -> tuple[str, ...]:
    return tuple(getattr(sc_mod, name, ()))


def option_name(key: str) -> str:
    """The command-line spelling of a scenario key: ``batch_size`` → ``--batch-size``."""
    return "--" + key.replace("_", "-")


def option_help(key: str) -> str:
    """``--help``'s text for a scenario option: the field's meaning and its default."""
    text = field_help(key) or f"the scenario setting {key}"
    default = getattr(DEFAULT, key)
    if field_kind(key) == "bool":
        opt = option_name(key)
        text += f" ({opt} / --no-{opt[2:]} / {opt}=true|false; default: {'on' if default else 'off'})"
    elif key not in ("name", "description") and default is not None and default != "":
        text += f" (default: {default})"
    return text.replace("%", "%%")


def bool_keys() -> set[str]:
    """The scenario settings that are flags."""
    return {k for k in FIELD_NAMES if field_kind(k) == "bool"}


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """``--preset``, ``--scenario`` and one option per scenario field, grouped as in the TOML."""
    src = parser.add_argument_group("scenario source (defaults < --preset < --scenario < options)")
    src.add_argument("--preset", metavar="NAME", default=argparse.SUPPRESS,
                     help="start from a built-in scenario (see: mbsim presets)")
    src.add_argument("--scenario", metavar="FILE", dest="scenario_file", default=argparse.SUPPRESS,
                     help="read settings from a TOML file (keys as the options, with _ for -)")
    placed: set[str] = set()
    groups = list(FIELD_GROUPS.items())
    rest = tuple(k for k in FIELD_NAMES if not any(k in keys for _, keys in groups))
    if rest:
        groups.append(("other", rest))
    for title, keys in groups:
        group = parser.add_argument_group(f"{title} settings")
        for key in keys:
            if key not in FIELD_NAMES or key in placed:
                continue
            placed.add(key)
            opt = option_name(key)
            if field_kind(key) == "bool":
                group.add_argument(opt, dest=key, action="store_const", const=True,
                                   default=argparse.SUPPRESS, help=option_help(key))
                group.add_argument("--no-" + opt[2:], dest=key, action="store_const", const=False,
                                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            else:
                metavar = "DATA" if key == "dataset" else _METAVAR.get(field_kind(key), "VALUE")
                if _choices(key.upper() + "S") and key != "dataset":
                    metavar = "NAME"
                if key in ("name", "description"):
                    metavar = "TEXT"
                if key == "eval_every":
                    metavar = "K|epoch"
                group.add_argument(opt, dest=key, metavar=metavar, default=argparse.SUPPRESS,
                                   help=option_help(key))


# ---------------------------------------------------------------------------------------------
# argparse with one-line errors
class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (raised as :class:`UsageError`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(rewrite_argparse_error(self, message))


def all_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of one parser (not of its subcommands)."""
    return [s for action in parser._actions for s in action.option_strings]


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers of ``parser``, by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def suggest(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean X?)`` for a close match, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


#: What the options that are not scenario settings take (for "needs a value (...)").
_OTHER_VALUES = {
    "scenario_file": "a file path, e.g. --scenario my.toml",
    "preset": "a preset name; see mbsim presets",
    "trace": "a file path", "history": "a file path", "data_out": "a file path",
    "speed": "batches per second, or max",
    "host": "an address, e.g. 127.0.0.1", "port": "a port number, e.g. 8000",
    "max_sessions": "a whole number", "token": "a text", "lesson": "a lesson name or file",
    "batch_sizes": "batch sizes, e.g. 1,2,4,8 or pow2", "lr_rule": "a rule, e.g. tuned",
    "runs": "a whole number", "parallel": "a whole number", "memory": "a whole number",
    "json_out": "a file path", "csv_out": "a file path",
}
#: Options besides the scenario's whose value is a number or a list of numbers: a value such as
#: ``-1`` or ``-1,2`` after them is taken as their (bad) value, not as an option.
NUMERIC_OPTIONS = frozenset({"--speed", "--runs", "--batch-sizes", "--parallel", "--memory",
                             "--port", "--max-sessions"})


def _value_hint(parser: argparse.ArgumentParser, option: str) -> str:
    for action in parser._actions:
        if option in action.option_strings and action.dest in _OTHER_VALUES:
            return _OTHER_VALUES[action.dest]
    for action in parser._actions:
        if option in action.option_strings and action.dest in FIELD_NAMES:
            key = action.dest
            kind = field_kind(key)
            choices = _choices(key.upper() + "S")
            if choices:
                return f"one of {', '.join(choices)}"
            return {"int": "a whole number", "float": "a number",
                    "optional float": "a number"}.get(kind, "a value")
    return "a value"


def _example(parser: argparse.ArgumentParser, option: str) -> str:
    for action in parser._actions:
        if option in action.option_strings and action.dest in FIELD_NAMES:
            default = getattr(DEFAULT, action.dest)
            if default not in (None, ""):
                return f", e.g. {option} {default}"
    return ""


def rewrite_argparse_error(parser: argparse.ArgumentParser, message: str) -> str:
    """argparse's message, in mbsim's words (what is wrong and what is allowed)."""
    if message.startswith("argument ") and ": expected one argument" in message:
        option = message[len("argument "):].split(":", 1)[0].split("/")[0]
        return f"{option}: needs a value ({_value_hint(parser, option)}){_example(parser, option)}"
    if message.startswith(("argument command: invalid choice:", "argument COMMAND: invalid choice:")):
        word = message.split("'")[1] if "'" in message else message
        names = list(subcommands(parser))
        return (f"unknown command {word!r}{suggest(word, names)}; commands: {', '.join(names)} "
                "(or none for the TUI)")
    if message.startswith("argument ") and ": ignored explicit argument" in message:
        option, rest = message[len("argument "):].split(":", 1)
        value = rest.split("ignored explicit argument", 1)[1].strip()
        return f"{option.split('/')[0]} takes no value (got {value}); leave the value out"
    return message


def unknown_arguments(root: argparse.ArgumentParser, parser: argparse.ArgumentParser,
                      extras: list[str], command: str | None) -> str:
    """One line for arguments argparse did not take; names the command an option belongs to."""
    where = f"mbsim {command}" if command else "mbsim"
    for token in extras:
        if token == "--":
            rest = extras[extras.index("--") + 1:]
            after = f" (got {' '.join(repr(t) for t in rest[:3])})" if rest else ""
            return f"'--' ends the options, but {where} takes no arguments after it{after}"
        if token.startswith("-") and len(token) > 1:
            word = token.split("=", 1)[0]
            if command and word in all_options(parser) and word not in ("-h", "--help"):
                # parsed by the main parser, so it came before the command's name
                return (f"{word} is an option of 'mbsim {command}': put it after the command "
                        f"(mbsim {command} {token})")
            owners = [name for name, sub in subcommands(root).items()
                      if name != command and word in all_options(sub)]
            if owners:
                return f"{word} is an option of 'mbsim {owners[0]}', not of '{where}'"
            hint = suggest(word, [o for o in all_options(parser) if o not in ("-h", "--help")])
            return f"unknown option {word} for {where}{hint}; see {where} --help"
    token = extras[0]
    if command is None:
        names = list(subcommands(root))
        return f"unknown command {token!r}{suggest(token, names)}; commands: {', '.join(names)}"
    return f"unexpected argument {token!r} for {where}; options start with --, see {where} --help"


# ---------------------------------------------------------------------------------------------
# argv clean-up before argparse: --flag=value for booleans, negative numbers as values
def looks_like_number(token: str) -> bool:
    """True for ``-1e-3`` and the like (a value, not an option)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def looks_like_numbers(token: str) -> bool:
    """True for ``-1`` or ``-1,2``: numbers separated by commas (a value, not an option)."""
    return all(looks_like_number(part) for part in token.split(","))


def normalize_argv(argv: Sequence[str]) -> list[str]:
    """``--drop-last=false`` → ``--no-drop-last``; ``--lr -1e-3`` → ``--lr=-1e-3`` (and
    ``--batch-sizes -1,2`` → ``--batch-sizes=-1,2``: a bad value, refused as such).

    argparse would refuse both (a flag with a value; a value that looks like an option).
    """
    bools = {option_name(k): k for k in bool_keys()}
    valued = {option_name(k) for k in FIELD_NAMES if field_kind(k) != "bool"}
    out: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            out.extend(tokens[i:])
            break
        head, sep, value = token.partition("=")
        if sep and head.startswith("--") and value == "--":
            raise UsageError(f"{head}: '--' is not a value; give {head}=VALUE (see mbsim --help)")
        if sep and head in bools:
            try:
                flag = sc_mod.parse_value(bools[head], value)
            except ScenarioError as err:
                raise UsageError(err.as_option()) from None
            out.append(head if flag else "--no-" + head[2:])
        elif (token in valued or token in NUMERIC_OPTIONS) and i + 1 < len(tokens) \
                and tokens[i + 1].startswith("-") and looks_like_numbers(tokens[i + 1]):
            out.append(f"{token}={tokens[i + 1]}")
            i += 1
        else:
            out.append(token)
        i += 1
    return out


def options_markdown() -> str:
    """The README's table of scenario options, from :data:`engine.scenario.FIELD_HELP`
    (a test checks the README holds exactly this, and shows the expected table when not)."""
    lines = ["| option | TOML key | what it sets |", "| --- | --- | --- |"]
    for title, keys in FIELD_GROUPS.items():
        for key in keys:
            opt = option_name(key)
            if field_kind(key) == "bool":
                opt += f"` / `--no-{opt[2:]}"
            text = option_help(key).replace("%%", "%").replace("|", "/")
            lines.append(f"| `{opt}` | `{key}` | {text} |")
    return "\n".join(lines)
