"""Hostile files, signals and terminals (issue 15): nothing lost, nothing overwritten, no
internal errors.

Device nodes and FIFOs are made in a temporary folder (never the real /dev): a private
character device (1, 3) behaves as /dev/null, (1, 5) as /dev/zero and (1, 7) as /dev/full.
Signals are sent to child processes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

from mbsim.engine.atomic import atomic_writer, create_exclusive, output_problem
from mbsim.engine.datasets import MAX_FEATURES, load_csv, make_dataset
from mbsim.engine.errors import OutputError, ScenarioError, visible
from mbsim.engine.files import read_text_limited
from mbsim.engine.history import MAX_PARAMS, PARAM_BUDGET, History
from mbsim.engine.scenario import Scenario
from mbsim.engine.simulation import CHECKPOINT_BUDGET, Simulation
from mbsim.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENV = {**{k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}, "PYTHONPATH": str(ROOT)}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="making a device node needs root")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    assert err.startswith("mbsim: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "internal error" not in err and "Traceback" not in err
    return err


def device(path: Path, minor: int) -> Path:
    """A private character device in ``path``'s folder: 3 null, 5 zero, 7 full."""
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, minor))
    return path


def child(*argv: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mbsim", *argv], cwd=kw.pop("cwd", ROOT), env=ENV,
                          capture_output=True, text=True, timeout=kw.pop("timeout", 120),
                          stdin=subprocess.DEVNULL, **kw)


# ---------------------------------------------------------------------------------------------
# 1. outputs never destroy what they should not
@needs_root
def test_trace_to_a_device_writes_into_it_and_keeps_the_node(capsys, tmp_path):
    null = device(tmp_path / "null", 3)
    code, _, err = run_cli(capsys, "run", "--epochs", "2", "-q", "--trace", str(null),
                           "--history", str(tmp_path / "h.csv"))
    assert code == 0, err
    assert stat.S_ISCHR(os.lstat(null).st_mode)  # still the device, not a regular file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "null"]


@needs_root
def test_a_full_disk_is_one_line_naming_the_file_exit_74(capsys, tmp_path):
    full = device(tmp_path / "full", 7)
    code, _, err = run_cli(capsys, "run", "--epochs", "3", "-q", "--trace", str(full))
    assert code == 74
    assert one_line(err) == f"mbsim: --trace {str(full)!r}: cannot write: No space left on device\n"


def test_trace_into_a_fifo_reaches_the_reader(capsys, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(open(fifo).read().splitlines()), daemon=True)
    reader.start()
    code, _, err = run_cli(capsys, "run", "--epochs", "2", "-q", "--trace", str(fifo))
    reader.join(30)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["step"] == 0 and [json.loads(g)["step"] for g in got[1:]] == list(range(1, 81))


def test_a_fifo_nobody_reads_is_refused_not_waited_for_forever(capsys, tmp_path, monkeypatch):
    import mbsim.engine.atomic as atomic

    monkeypatch.setattr(atomic, "FIFO_WAIT", 0.1)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--history", str(fifo))
    assert code == 74 and "no program read within 0.1 s" in one_line(err)


def test_a_read_only_file_is_refused_and_kept(capsys, tmp_path):
    ro = tmp_path / "old.jsonl"
    ro.write_text("keep me\n")
    ro.chmod(0o444)  # root may write it, but its bits say it should not change
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--trace", str(ro))
    assert code == 2 and "read-only" in one_line(err) and str(ro) in err
    assert ro.read_text() == "keep me\n"


@pytest.mark.parametrize("second", ["same", "dot", "link"])
def test_two_outputs_on_one_file_is_exit_2(capsys, tmp_path, second):
    first = tmp_path / "out.csv"
    other = {"same": str(first), "dot": str(tmp_path / "." / "out.csv"), "link": str(tmp_path / "ln")}[second]
    os.symlink(first, tmp_path / "ln")
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--history", str(first), "--data-out", other)
    assert code == 2 and "name the same file" in one_line(err)
    assert not first.exists()


def test_a_path_ending_in_slash_that_is_no_folder_is_exit_2(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--trace", str(tmp_path / "new") + "/")
    assert code == 2 and "ends with /" in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_link_to_a_file_is_kept_and_a_dangling_link_is_not_followed(capsys, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    os.symlink(real, tmp_path / "link.csv")
    os.symlink(tmp_path / "elsewhere" / "planted.csv", tmp_path / "dangling.csv")
    (tmp_path / "elsewhere").mkdir()
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--history", str(tmp_path / "link.csv"),
                           "--trace", str(tmp_path / "dangling.csv"))
    assert code == 0, err
    assert os.path.islink(tmp_path / "link.csv") and real.read_text().startswith("epoch,batch")
    assert not os.path.islink(tmp_path / "dangling.csv")  # the link itself was replaced
    assert list((tmp_path / "elsewhere").iterdir()) == []  # nothing created where it pointed


def test_a_file_size_limit_is_exit_74_and_leaves_the_old_file_and_no_temp_file(tmp_path):
    old = tmp_path / "t.jsonl"
    old.write_text("old\n")
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
            "from mbsim.tui.entry import main; sys.exit(main())")
    result = subprocess.run([sys.executable, "-c", code, "run", "--epochs", "50", "-q", "--trace", str(old)],
                            cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 74, result.stderr
    assert result.stderr == f"mbsim: --trace {str(old)!r}: cannot write: File too large\n"
    assert old.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


def test_names_too_long_are_one_line(capsys, tmp_path):
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--trace", str(tmp_path / ("x" * 300)))
    assert code == 2 and "File name too long" in one_line(err)
    long_ok = tmp_path / ("y" * 250)  # fine itself; the temporary name must not be too long
    code, _, err = run_cli(capsys, "run", "--epochs", "1", "-q", "--trace", str(long_ok))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [long_ok.name]


def test_output_problem_names_each_kind(tmp_path):
    (tmp_path / "d").mkdir()
    assert "directory" in output_problem(tmp_path / "d")
    assert output_problem(tmp_path / "new.txt") is None
    assert "does not exist" in output_problem(tmp_path / "no" / "x.txt")
    os.symlink("loop", tmp_path / "loop")
    assert "loop" in output_problem(tmp_path / "loop")
    with pytest.raises(OutputError, match="directory"):
        with atomic_writer(tmp_path / "d"):
            pass


def test_create_exclusive_never_follows_a_link_nor_overwrites(tmp_path):
    target = tmp_path / "victim.txt"
    os.symlink(target, tmp_path / "shot.svg")  # planted, dangling
    with pytest.raises(FileExistsError):
        create_exclusive(tmp_path / "shot.svg")
    assert not target.exists()
    (tmp_path / "exists.svg").write_text("keep")
    with pytest.raises(FileExistsError):
        create_exclusive(tmp_path / "exists.svg")
    assert (tmp_path / "exists.svg").read_text() == "keep"
    with create_exclusive(tmp_path / "new.svg") as f:
        f.write("<svg/>")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "new.svg").read_text() == "<svg/>"
    assert (tmp_path / "new.svg").stat().st_mode & 0o777 == 0o666 & ~umask
    with create_exclusive(tmp_path / "new.png", binary=True) as f:
        f.write(b"\x89PNG")
    assert (tmp_path / "new.png").read_bytes() == b"\x89PNG"


# ---------------------------------------------------------------------------------------------
# 2. inputs are checked before they are read
def test_reader_refuses_fifos_devices_folders_loops_and_big_files_without_reading(tmp_path):
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block: it must not be opened
    os.symlink("loop", tmp_path / "loop")
    os.symlink(tmp_path / "gone", tmp_path / "dangling")
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # a sparse 1 GB file: refused from its size, not by reading it
    cases = {"fifo": "FIFO", "loop": "loop of symbolic links", "dangling": "link to a file that does not exist",
             "big.toml": "limit is 1,000,000 bytes (1 MB)", "missing": "does not exist", ".": "directory"}
    if IS_ROOT:
        device(tmp_path / "zero", 5)
        cases["zero"] = "character device"
    for name, words in cases.items():
        with pytest.raises(ScenarioError) as info:
            read_text_limited(tmp_path / name, 1_000_000, f"file {name}")
        assert words in str(info.value), (name, str(info.value))


def test_reader_reads_at_most_the_limit_and_accepts_a_bom(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"\xef\xbb\xbfhello")
    assert read_text_limited(f, 8, "a") == "hello"
    with pytest.raises(ScenarioError, match="limit is 7 bytes"):
        read_text_limited(f, 7, "a")
    f.write_bytes(b"\xff\xfe")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        read_text_limited(f, 8, "a")


@pytest.mark.parametrize("kind", ["fifo", "loop", "big"])
def test_scenario_and_csv_files_of_the_wrong_kind_are_one_line(capsys, tmp_path, kind):
    p = tmp_path / "x"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "loop":
        os.symlink("x", p)
    else:
        with open(p, "wb") as f:
            f.truncate(30 * 2**20)
    for argv in (["plan", "--scenario", str(p)], ["plan", "--dataset", f"csv:{p}"]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2, err
        one_line(err)
        assert {"fifo": "FIFO", "loop": "loop", "big": "limit"}[kind] in err


@pytest.mark.parametrize("text", ["x = " + "[" * 500 + "]" * 500, "x = " + "{a=" * 500 + "1" + "}" * 500])
def test_toml_nested_500_deep_is_exit_2(capsys, tmp_path, text):
    f = tmp_path / "deep.toml"
    f.write_text(text + "\n")
    code, _, err = run_cli(capsys, "plan", "--scenario", str(f))
    assert code == 2 and "too deeply" in one_line(err) and "deep.toml" in err


def test_a_utf8_bom_in_toml_is_accepted_as_in_csv(capsys, tmp_path):
    f = tmp_path / "bom.toml"
    f.write_bytes(b"\xef\xbb\xbfbatch_size = 8\n")
    code, out, err = run_cli(capsys, "plan", "--scenario", str(f))
    assert code == 0, err
    assert "25 batches per epoch: 25 × 8" in out


# ---------------------------------------------------------------------------------------------
# 3. CSV limits cover every dimension
def test_csv_columns_are_capped_with_the_limit_named(tmp_path):
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"c{k}" for k in range(20_000)) + "\n" + ",".join("0" for _ in range(20_000)) + "\n")
    with pytest.raises(ScenarioError) as info:
        load_csv(str(f))
    assert "20,000 columns" in info.value.reason and f"{MAX_FEATURES + 1:,}" in info.value.reason


def test_duplicate_columns_are_still_found_at_the_end_of_a_wide_header(tmp_path):
    names = [f"c{k}" for k in range(MAX_FEATURES)] + ["c7"]
    f = tmp_path / "dup.csv"
    f.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    with pytest.raises(ScenarioError, match="repeats column 'c7'"):
        load_csv(str(f))


def test_csv_rows_are_capped_at_max_samples(tmp_path, monkeypatch):
    import mbsim.engine.scenario as sc

    monkeypatch.setattr(sc, "MAX_SAMPLES", 50)
    f = tmp_path / "rows.csv"
    f.write_text("x,y\n" + "1,0\n" * 50)
    assert load_csv(str(f))[0].shape == (50, 1)
    f.write_text("x,y\n" + "1,0\n" * 51)
    with pytest.raises(ScenarioError) as info:
        load_csv(str(f))
    assert "more than 50 data rows; the limit is 50" in info.value.reason


def test_a_model_wider_than_the_parameter_cap_is_refused_before_any_array(capsys, tmp_path):
    d = MAX_FEATURES
    f = tmp_path / "wide.csv"
    f.write_text(",".join(f"f{k}" for k in range(d)) + ",y\n" + ("," .join("0.5" for _ in range(d)) + ",1\n") * 3)
    code, _, err = run_cli(capsys, "run", "-q", "--dataset", f"csv:{f}", "--model", "mlp", "--hidden", "256",
                           "--val-samples", "0", "--batch-size", "1")
    assert code == 2
    assert f"{256 * d + 2 * 256 + 1:,} parameters; the limit is {MAX_PARAMS:,}" in one_line(err)


def test_history_and_checkpoints_stay_within_budget_whatever_the_width(tmp_path):
    h = History(np.zeros(MAX_PARAMS))
    assert h._params.nbytes <= PARAM_BUDGET * 8
    d = MAX_FEATURES
    f = tmp_path / "w.csv"
    rng = np.random.default_rng(0)
    rows = "\n".join(",".join(f"{v:.3f}" for v in r) for r in rng.normal(size=(40, d + 1)))
    f.write_text(",".join(f"f{k}" for k in range(d)) + ",y\n" + rows + "\n")
    sim = Simulation(Scenario(dataset=f"csv:{f}", model="linear", optimizer="adam", batch_size=1,
                              val_samples=0, epochs=200))
    sim.run_iterations(3000)  # enough checkpoints to reach the cap
    assert sim.checkpoint_limit * 4 * (d + 1) <= CHECKPOINT_BUDGET or sim.checkpoint_limit == 16
    assert sim.checkpoint_count <= sim.checkpoint_limit + 1
    assert sim.history._params.nbytes <= PARAM_BUDGET * 8


def test_standardize_refuses_values_that_overflow_without_a_warning(capsys, tmp_path):
    f = tmp_path / "huge.csv"
    f.write_text("a,b,y\n" + "".join(f"{i},{'1e300' if i % 2 else '-1e300'},{i % 3}\n" for i in range(20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning would fail here
        with pytest.raises(ScenarioError) as info:
            make_dataset(f"csv:{f}", 1, 0, 0.0, np.random.default_rng(0), standardize=True)
    assert info.value.setting == "standardize" and "'b'" in info.value.reason
    code, _, err = run_cli(capsys, "run", "-q", "--dataset", f"csv:{f}", "--standardize", "--val-samples", "0")
    assert code == 2 and "'b'" in one_line(err) and "standardise" in err


def test_an_initial_loss_already_infinite_is_said_so_by_plan_and_run(capsys, tmp_path):
    f = tmp_path / "big.csv"
    f.write_text("x,y\n" + "".join(f"{i},1e200\n" for i in range(10)))
    for command in ("plan", "run"):
        code, _, err = run_cli(capsys, command, "--dataset", f"csv:{f}", "--val-samples", "0")
        assert code == 2 and "initial training loss is already inf" in one_line(err)
        assert "diverged" not in err


# ---------------------------------------------------------------------------------------------
# 4. nothing from a file or a flag reaches the terminal as a control sequence
EVIL = "evil\x1b]0;PWNED\x1b\\"


def test_visible_escapes_controls_and_keeps_letters():
    assert visible(EVIL) == "evil\\x1b]0;PWNED\\x1b\\"
    assert visible("naïve – ok") == "naïve – ok"
    assert visible("a\tb\nc\x9bd\u202ee") == "a\\tb\\nc\\x9bd\\u202ee"


def test_plan_shows_an_evil_scenario_name_harmlessly(capsys, tmp_path):
    f = tmp_path / "evil.toml"
    f.write_text('name = "evil\\u001b]0;PWNED\\u001b\\\\"\n')
    code, out, err = run_cli(capsys, "plan", "--scenario", str(f))
    assert code == 0, err
    assert "\x1b" not in out and "Scenario: evil\\x1b]0;PWNED\\x1b\\" in out
    code, out, _ = run_cli(capsys, "plan", "--scenario", str(f), "--json")
    assert "\x1b" not in out and json.loads(out)["scenario"] == EVIL


def test_error_lines_never_carry_control_characters(capsys, tmp_path):
    for argv in (["run", "--dataset", f"csv:{tmp_path}/x\x1b]0;PWNED\x07.csv"],
                 ["run", "--optimizer", "\x1b[2J"], ["run", "--name=\x1b[2J", "--batch-size", "0"],
                 ["run", "--trace", f"{tmp_path}/no\x1b[31m/t.jsonl"], ["\x1b[31m"]):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and "\x1b" not in err and "\x07" not in err, err
        one_line(err)


def test_csv_column_names_with_control_characters_are_refused(capsys, tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("x\x1b[31m,y\n1,2\n3,4\n")
    code, _, err = run_cli(capsys, "plan", "--dataset", f"csv:{f}")
    assert code == 2 and "control character" in one_line(err) and "\x1b" not in err


async def test_the_tui_header_and_settings_title_show_an_evil_name_harmlessly():
    from mbsim.tui.app import MbsimApp
    from mbsim.tui.widgets.header import StatusHeader

    app = MbsimApp(Scenario(name=EVIL), animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = app.query_one(StatusHeader)
        text = "".join(line.plain for line in header.lines(120))
        assert "\x1b" not in text and "evil\\x1b]0;PWNED\\x1b\\" in text
        await pilot.press("s")
        await pilot.pause()
        box = app.screen.query_one("#settings-box")
        assert "\x1b" not in str(box.border_title) and "evil\\x1b" in str(box.border_title)


# ---------------------------------------------------------------------------------------------
# 6. signals keep the work
@pytest.mark.parametrize("signum, code, what", [(signal.SIGTERM, 143, "terminated \\(SIGTERM\\)"),
                                                (signal.SIGHUP, 129, "hung up \\(SIGHUP\\)")])
def test_sigterm_and_sighup_keep_every_step_and_leave_no_temp_file(tmp_path, signum, code, what):
    trace, hist = tmp_path / "t.jsonl", tmp_path / "h.csv"
    proc = subprocess.Popen([sys.executable, "-m", "mbsim", "run", "--epochs", "100000", "--trace", str(trace),
                             "--history", str(hist)], cwd=ROOT, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("Epoch 1/100000")  # training is under way
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert re.fullmatch(rf"mbsim: {what} at step \d+ \(epoch \d+/100000\); wrote .*\n", err), err
    step = int(re.search(r"step (\d+)", err)[1])
    lines = trace.read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(0, step + 1))
    assert len(hist.read_text().splitlines()) == step + 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.csv", "t.jsonl"]


_RAISE_ON_IMPORT = """
import sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "mbsim.engine.scenario":
            raise KeyboardInterrupt
sys.meta_path.insert(0, Interrupt())
"""


@pytest.mark.parametrize("start", ["from mbsim.tui.entry import main; sys.exit(main())",
                                   "import runpy; runpy.run_module('mbsim', run_name='__main__')"])
def test_ctrl_c_while_importing_is_one_line_exit_130(start):
    result = subprocess.run([sys.executable, "-c", _RAISE_ON_IMPORT + start, "plan"], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 130
    assert result.stderr == "mbsim: interrupted\n"


async def test_ctrl_c_in_the_tui_quits_with_130():
    from mbsim.tui.app import MbsimApp

    app = MbsimApp(Scenario(), animate=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 130


def _tui_in_a_pty(signum: int | None) -> tuple[int, bytes]:
    """Start ``mbsim`` (the TUI) on a pseudo-terminal, wait for its first frame, then send
    ``signum`` (None: type ctrl+c); return the exit code and what it wrote."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "mbsim"], cwd=ROOT, stdin=slave, stdout=slave, stderr=slave,
                            env={**ENV, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(slave)
    out, sent, start = b"", False, time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - start < 90:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    out += os.read(master, 1 << 16)
                except OSError:
                    break
            if not sent and b"space to run" in out:
                if signum is None:
                    os.write(master, b"\x03")
                else:
                    proc.send_signal(signum)
                sent = True
        return proc.wait(timeout=30), out
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                          (None, 130)])
def test_the_tui_ends_with_128_plus_the_signal(signum, code):
    returncode, out = _tui_in_a_pty(signum)
    assert b"space to run" in out  # it was drawn before the signal
    assert returncode == code


# ---------------------------------------------------------------------------------------------
# 7. every error is one line with the right code
def _valued_options() -> list[tuple[str, str]]:
    from mbsim.tui.cli import build_parser
    from mbsim.tui.cli.options import subcommands

    parser = build_parser()
    found = []
    for name, p in [("", parser)] + list(subcommands(parser).items()):
        for action in p._actions:
            if action.nargs is None and action.option_strings and action.const is None \
                    and not action.option_strings[0].startswith("-h") and action.dest != "version":
                found.append((name, action.option_strings[0]))
    return found


def test_every_option_given_dash_dash_as_its_value_is_one_line(capsys):
    options = _valued_options()
    assert len(options) > 30
    for command, option in options:
        code, _, err = run_cli(capsys, *([command] if command else []), f"{option}=--")
        assert code == 2, (option, err)
        assert option in one_line(err)


@pytest.mark.parametrize("argv, words", [
    (["--json", "plan"], "--json is an option of 'mbsim plan': put it after the command"),
    (["--quiet", "run"], "--quiet is an option of 'mbsim run': put it after the command"),
    (["--"], "'--' ends the options"),
    (["run", "--scenario"], "--scenario: needs a value (a file path"),
    (["run", "--trace"], "--trace: needs a value (a file path)"),
    (["plan", "--target", "y"], "only applies to csv:PATH"),
    (["plan", "--dataset", "blobs", "--positive-fraction", "0.01", "--samples", "10"], "at least one of each"),
    (["plan", "--model", "mlp", "--no-bias"], "the mlp always has biases"),
])
def test_one_line_for_each_of_the_odd_cases(capsys, argv, words):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and words in one_line(err)
    assert "did you mean --lr" not in err and "did you mean --json" not in err
    if argv[0] == "plan":  # run refuses the same
        code, _, err2 = run_cli(capsys, "run", *argv[1:])
        assert code == 2 and err2 == err


def test_a_symlink_loop_is_said_to_be_a_loop(capsys, tmp_path):
    os.symlink("s.toml", tmp_path / "s.toml")
    code, _, err = run_cli(capsys, "run", "--scenario", str(tmp_path / "s.toml"))
    assert code == 2 and "loop of symbolic links" in one_line(err) and "does not exist" not in err


def test_help_lists_every_exit_code(capsys):
    _, out, _ = run_cli(capsys, "--help")
    for code in ("0 done", "2 bad input", "3 diverged", "74 a file", "129/130/143"):
        assert code in out
    _, out, _ = run_cli(capsys, "run", "--help")
    assert "74 a file" in out and "129/130/143" in out
