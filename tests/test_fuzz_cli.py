"""Fuzzing the command line (issue 15, Evidence): random argument vectors and random scenario
files end with a documented exit code, and any failure is ONE line on stderr without "internal
error" (under pytest, :func:`tui.cli.main` re-raises an internal error, so a bug fails the test
with its traceback). And ``plan`` and ``run`` accept and refuse the same scenarios.

Sizes are kept small (at most 60 samples, 60 epochs) so each example runs in milliseconds.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from hypothesis import HealthCheck, given, settings, strategies as st

from mbsim.engine.scenario import FIELD_NAMES, field_kind
from mbsim.tui.cli import build_parser, main
from mbsim.tui.cli.options import all_options, subcommands

DOCUMENTED = {0, 1, 2, 3, 74, 129, 130, 143} - {1}  # 1 is a bug: never expected

_PARSER = build_parser()
OPTIONS = sorted({o for p in [_PARSER, *subcommands(_PARSER).values()] for o in all_options(p)} - {"-h", "--help", "--version"})
VALUES = ["0", "1", "-1", "2", "5", "7", "30", "60", "2.5", "-0.5", "1e-3", "0.05", "1e300", "1e309", "nan",
          "inf", "-inf", "", " ", "--", "-", "=", "abc", "true", "false", "auto", "max", "é", "\x1b[31m", "\x00",
          "csv:", "csv:{dir}/good.csv", "csv:{dir}/bad.csv", "csv:{dir}/missing.csv", "csv:{dir}",
          "{dir}/out.csv", "{dir}/", "{dir}/no/x", "{dir}/good.csv", "{dir}/s.toml", "{dir}/fifo",
          "line", "blobs", "moons", "three-losses", "mlp", "linear", "logistic", "adam", "nesterov",
          "stratified", "replacement", "cosine", "warmup", "y", "x", "sgd"]
WORDS = ["run", "plan", "presets", "--", "-", "--lrr", "-q", "--x=1", "=", "lesson"]


def _text() -> st.SearchStrategy[str]:
    return st.text(st.sampled_from("ab1-=.,:/ \x1b\x07\t\u202e"), max_size=5)


value = st.one_of(st.sampled_from(VALUES), _text())
token = st.one_of(
    st.tuples(st.sampled_from(OPTIONS), value).map(lambda t: [t[0], t[1]]),
    st.tuples(st.sampled_from(OPTIONS), value).map(lambda t: [f"{t[0]}={t[1]}"]),
    st.sampled_from(OPTIONS).map(lambda o: [o]),
    st.one_of(st.sampled_from(WORDS), _text()).map(lambda w: [w]),
)


@contextlib.contextmanager
def playground() -> Iterator[str]:
    """A temporary working folder with good and bad input files (no fixture: hypothesis
    runs many examples in one test call)."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        d = Path(folder)
        (d / "good.csv").write_text("x,y\n" + "".join(f"{i / 10},{i % 2}\n" for i in range(40)))
        (d / "bad.csv").write_text("x,y\n1,2\n3,\n")
        (d / "s.toml").write_text("batch_size = 4\nsamples = 20\n")
        os.mkfifo(d / "fifo")
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(here)


def check_outcome(code: int, out: str, err: str) -> None:
    assert code in DOCUMENTED, (code, err)
    if code != 0:
        assert err.startswith("mbsim: ") and err.endswith("\n") and err.count("\n") == 1, err
        assert "internal error" not in err and "Traceback" not in err
        assert "\x1b" not in err and "\x07" not in err


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from([[], ["run"], ["plan"], ["presets"]]), tokens=st.lists(token, max_size=5))
def test_random_argument_vectors_end_with_a_documented_code_and_one_line(capsys, command, tokens):
    with playground() as folder:
        argv = command + [t.replace("{dir}", folder) for group in tokens for t in group]
        if command == ["run"]:  # keep every run tiny, whatever the fuzz asked for
            argv += ["--samples", "30", "--epochs", "1", "--steps-per-epoch", "0", "-q"]
        code = main(argv)
        out, err = capsys.readouterr()
        check_outcome(code, out, err)


# ---------------------------------------------------------------------------------------------
# scenario files
INTS = [-1, 0, 1, 2, 3, 5, 7, 30, 60, 2**70]
FLOATS = [-1.0, 0.0, 1e-3, 0.05, 0.5, 0.99, 1.0, 2.0, 1e6, 1e300, math.inf, math.nan]
STRINGS = ["line", "plane", "three-losses", "blobs", "moons", "circles", "xor", "spiral", "csv:good.csv",
           "csv:bad.csv", "csv:", "auto", "linear", "logistic", "mlp", "tanh", "relu", "reshuffle", "once",
           "sequential", "replacement", "stratified", "sgd", "momentum", "nesterov", "adam", "adamw",
           "constant", "step", "cosine", "warmup", "y", "x", "", "evil\x1b]0;x\x07", "nope"]


def _field_value(key: str) -> st.SearchStrategy[Any]:
    kind = field_kind(key)
    if kind == "int":
        base = st.sampled_from(INTS)
    elif kind in ("float", "optional float"):
        base = st.sampled_from(FLOATS)
    elif kind == "bool":
        base = st.booleans()
    else:
        base = st.sampled_from(STRINGS)
    odd = st.one_of(st.sampled_from(STRINGS), st.sampled_from(INTS), st.booleans(), st.just([1, 2]),
                    st.just({"a": 1}))
    return st.one_of(base, base, base, odd)  # mostly well-typed, sometimes not


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value == math.inf else repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"


SAFE = {"samples": st.sampled_from([1, 2, 3, 7, 30, 60, 0]),
        "val_samples": st.sampled_from([0, 1, 5, 30, -1]),
        "epochs": st.sampled_from([1, 2, 5, 0, -1]),
        "steps_per_epoch": st.sampled_from([0, 1, 3, 60, -1]),
        "hidden": st.sampled_from([1, 2, 8, 0, 300])}
scenario_table = st.fixed_dictionaries({}, optional={
    **{k: SAFE.get(k, _field_value(k)) for k in FIELD_NAMES},
    "batchsize": st.just(3), "scenario": st.just({"lr": 0.1}),
})
raw_text = st.one_of(st.text(max_size=40), st.just("x = " + "[" * 300 + "]" * 300), st.just("\ufeffepochs = 1"),
                     st.binary(max_size=20).map(lambda b: b.decode("latin-1")))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=scenario_table, raw=st.one_of(st.none(), raw_text))
def test_plan_and_run_accept_and_refuse_the_same_scenario_files(capsys, table, raw):
    with playground() as folder:
        path = Path(folder) / "fuzz.toml"
        text = raw if raw is not None else "".join(f"{k} = {_toml(v)}\n" for k, v in table.items())
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        plan_code = main(["plan", "--scenario", str(path)])
        plan_out, plan_err = capsys.readouterr()
        check_outcome(plan_code, plan_out, plan_err)
        run_code = main(["run", "-q", "--scenario", str(path)])
        run_out, run_err = capsys.readouterr()
        check_outcome(run_code, run_out, run_err)
        assert plan_code in (0, 2) and run_code in (0, 2, 3), (plan_code, run_code, text)
        assert (plan_code == 0) == (run_code in (0, 3)), (text, plan_err, run_err)
        if plan_code == 2:
            assert run_err == plan_err  # the same first problem, in the same words
