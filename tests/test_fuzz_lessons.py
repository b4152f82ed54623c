"""Fuzzing lesson files (issue 23, as tests/test_fuzz_cli.py does for scenario files): random
lessons made of front matter, slides and ``mbsim`` blocks (well-typed directives mostly, any
value sometimes, and hostile lines: TOML nested hundreds deep, 5000-digit integers, a NUL in a
``csv:`` path, stray fences and separators), and the built-in lessons with one line replaced,
deleted or cut short. ``mbsim lesson FILE --check`` must end with 0 and one line on stdout, or 2
and ONE line ``mbsim: FILE:LINE: …`` on stderr — never an internal error (under pytest
:func:`tui.cli.main` re-raises one, so a bug fails the test with its traceback).

Scenario sizes are kept small (at most 60 samples, 5 epochs) so each example takes milliseconds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mbsim.engine.lessons import (DIRECTIVES, PANELS, PAUSES, QUANTITIES, VIEWS, builtin_names,
                            builtin_text)
from test_fuzz_cli import SAFE, _field_value, _toml, playground
from mbsim.tui.cli import main

SETTINGS = ["batch_size", "lr", "optimizer", "sampling", "dataset", "seed", "momentum", "drop_last",
            "model", "accumulate", "target_loss", "eval_every", "schedule"]
HOSTILE_LINES = [
    "x = " + "[" * 900 + "]" * 900,
    "x = " + "{a = " * 900 + "1" + "}" * 900,
    "x = " + "[" * 60 + "]" * 60,
    "epochs = " + "1" * 5000,
    "seed = " + "9" * 4301,
    'dataset = "csv:a\\u0000b.csv"',
    'dataset = "csv:good.csv"',
    'dataset = "csv:missing.csv"',
    'dataset = "csv:/dev/zero"',
    'title = "\\u001b]0;pwned\\u0007"',
    "[[question]]",
    "[[question]]\nask = 1",
    "[[claim]]\nthat = \"sim.step < 3\"",
    "[[claim]]\nthat = \"" + "(" * 500 + "1" + ")" * 500 + " < 2\"",
    "[[claim]]\nthat = \"sim.step@" + "9" * 30 + " > 0\"",
    "[live]\nbatch_size = 4",
    "[live]\nlr = " + "[" * 900 + "]" * 900,
    "key =",
    "batch_size = 4\nbatch_size = 5",
    "```", "~~~", "---", "+++", "```mbsim", "```mbsim\nrun = \"end\"\n```",
    "# a title", "   ", "\t", "é ü ∑ 😀", "\u202e reversed",
]
RUNS = ["epoch", "pass", "end", "step 3", "iteration 2", "epoch 2", "loss 0.1", "loss -1", "step 0",
        "epoch x", "warp", "", 5, "iteration 99999999"]
directive_values: dict[str, st.SearchStrategy[Any]] = {
    "preset": st.sampled_from(["worked-example", "adam", "xor-mlp", "three-losses", "nope", 3]),
    "run": st.sampled_from(RUNS),
    "speed": st.sampled_from([1, 10, "max", 0, -1, 10**9, "fast"]),
    "pause": st.sampled_from([*PAUSES, "x", True]),
    "view": st.sampled_from([*VIEWS, "nope", ["main"]]),
    "runs": st.sampled_from([1, 3, 0, 2000, "many"]),
    "highlight": st.sampled_from([*PANELS, "x", ["strip"]]),
    "keys": st.sampled_from([["n"], ["n", "space", "q"], "n", [1], ["nope"], []]),
    "scenario": st.sampled_from(["missing.toml", "s.toml", 7]),
    "question": st.lists(st.fixed_dictionaries({}, optional={
        "ask": st.sampled_from(["How many?", "", 5]),
        "answer": st.sampled_from([*list(QUANTITIES)[:12], "nope", 3]),
        "explain": st.just("because"),
    }), max_size=2),
}
setting_values = {k: SAFE.get(k, _field_value(k)) for k in SETTINGS}
block_table = st.dictionaries(st.sampled_from([*DIRECTIVES, *SETTINGS, "nope", "sample"]),
                              st.none(), max_size=4)
front_table = st.dictionaries(st.sampled_from(["title", "audience", "minutes", "preset", "scenario",
                                               "samples", "epochs", "batch_size", "nope"]),
                              st.none(), max_size=4)


@st.composite
def toml_lines(draw, table: st.SearchStrategy[dict[str, None]]) -> list[str]:  # noqa: ANN001
    """``key = value`` lines for the keys drawn, a hostile line now and then."""
    lines = []
    for key in draw(table):
        if key in directive_values:
            value = draw(directive_values[key])
        elif key in setting_values:
            value = draw(setting_values[key])
        elif key in ("title", "audience"):
            value = draw(st.sampled_from(["A lesson", "", "x" * 300, 3]))
        elif key == "minutes":
            value = draw(st.sampled_from([10, 0, -5, 10**6, "ten"]))
        elif key in ("samples", "epochs"):
            value = draw(SAFE[key])
        else:
            value = draw(st.sampled_from([1, "x"]))
        if key == "question" and isinstance(value, list):
            for q in value:
                lines.append("[[question]]")
                lines.extend(f"{k} = {_toml(v)}" for k, v in q.items())
        else:
            lines.insert(0, f"{key} = {_toml(value)}")  # keys before any [[question]] table
    if draw(st.integers(0, 4)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(HOSTILE_LINES)))
    return lines


@st.composite
def lessons(draw) -> str:  # noqa: ANN001
    parts = []
    if draw(st.booleans()):
        parts += ["+++", *draw(toml_lines(front_table)), "+++", ""]
    for n in range(draw(st.integers(1, 3))):
        if n:
            parts.append("---")
        parts += [f"# Slide {n + 1}", "", draw(st.sampled_from(["Words.", "", "- a list", "`n`"]))]
        if draw(st.booleans()):
            parts += ["", "```mbsim", *draw(toml_lines(block_table)), "```"]
        if draw(st.integers(0, 5)) == 0:
            parts.append(draw(st.sampled_from(HOSTILE_LINES)))
    return "\n".join(parts) + "\n"


@st.composite
def mutated_builtins(draw) -> str:  # noqa: ANN001
    lines = builtin_text(draw(st.sampled_from(builtin_names()))).split("\n")
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["replace", "delete", "cut", "insert"]))
        if how == "replace":
            lines[i] = draw(st.one_of(st.sampled_from(HOSTILE_LINES), st.text(max_size=20)))
        elif how == "delete":
            del lines[i]
        elif how == "cut":
            lines = lines[:i] + [lines[i][: draw(st.integers(0, len(lines[i])))]]
        else:
            lines.insert(i, draw(st.sampled_from(HOSTILE_LINES)))
        if not lines:
            lines = [""]
    return "\n".join(lines)


def check_lesson_outcome(code: int, out: str, err: str, path: Path) -> None:
    assert code in (0, 2), (code, err)
    if code == 0:
        assert err == "" and out.count("\n") == 1, (out, err)
        assert "\x1b" not in out and "\x07" not in out  # a hostile title is shown escaped
        return
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert re.match(rf"mbsim: {re.escape(str(path))}:\d+: \S", err), err
    assert "internal error" not in err and "Traceback" not in err
    assert "\x1b" not in err and "\x07" not in err and "\x00" not in err


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.one_of(lessons(), mutated_builtins()))
def test_random_lessons_are_checked_or_refused_in_one_file_line_message(capsys, text):
    with playground() as folder:
        path = Path(folder) / "fuzz.md"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        code = main(["lesson", str(path), "--check"])
        out, err = capsys.readouterr()
        check_lesson_outcome(code, out, err, path)
