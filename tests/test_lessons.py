"""Lesson files: parsing, the --check matrix of broken lessons, run conditions against the plan,
the named quantities, the hostile-file reader and the lesson commands.

Expected numbers come from SCIENCE.md §1's worked numbers or from the formulas written out here
(M = ⌈N/B⌉ and so on), never from the code's own output.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mbsim.engine.lessons import (
    KEYS, QUANTITIES, LessonError, RunCondition, Unreachable, builtin_names, builtin_text,
    check_answer, check_lesson, format_quantity, load_lesson, parse_lesson, quantity_value,
    read_text_limited, run_target,
)
from mbsim.engine.sampling import make_plan
from mbsim.engine.scenario import Scenario
from mbsim.engine.simulation import Simulation
from mbsim.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "l.md") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return str(path)


def check(path: str) -> LessonError:
    with pytest.raises(LessonError) as info:
        load_lesson(path)
    return info.value


# ------------------------------------------------------------------------------------------------
# the built-in lessons
def test_there_are_seven_built_in_lessons_in_teaching_order():
    assert builtin_names() == ["epochs-and-batches", "iteration-vs-step", "gd-sgd-minibatch",
                               "why-shuffle", "one-iteration", "three-losses", "batch-size-and-noise"]


@pytest.mark.parametrize("name", builtin_names())
def test_every_built_in_lesson_passes_check_with_5_to_12_slides_and_2_questions(name, capsys):
    assert main(["lesson", name, "--check"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith(f"{name}.md: ok — ")
    lesson = load_lesson(name)
    assert 5 <= len(lesson.slides) <= 12
    assert lesson.questions >= 2
    assert lesson.title and lesson.minutes > 0


def test_export_prints_the_built_in_markdown(capsys):
    assert main(["lesson", "why-shuffle", "--export"]) == 0
    assert capsys.readouterr().out == builtin_text("why-shuffle")


def test_lessons_lists_each_built_in_on_one_line(capsys):
    assert main(["lessons"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == builtin_names()
    assert "Epochs and batches — 9 slides" in lines[0]


def test_check_does_not_import_textual():
    code = ("import sys; from mbsim.tui.cli import main; rc = main(['lesson', 'three-losses', '--check']); "
            "print(rc, any(m.split('.')[0] in ('textual', 'rich', 'plotext') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "0 False"


def test_quantities_listing_names_every_quantity(capsys):
    assert main(["lesson", "--quantities"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.strip().splitlines()]
    assert listed == list(QUANTITIES)


# ------------------------------------------------------------------------------------------------
# the --check matrix: each broken lesson, its line and its message
GOOD_FRONT = '+++\ntitle = "t"\n+++\n'
BROKEN = {
    "front matter never closed": ('+++\ntitle = "t"\n\n# One\n', 1, "front matter opened with '+++' is never closed"),
    "front matter not TOML": ('+++\ntitle = "t"\nminutes = \n+++\n# One\n', 3, "front matter is not valid TOML"),
    "unknown front matter key": ('+++\ntitle = "t"\nauthor = "me"\n+++\n# One\n', 3,
                                 "unknown front matter key 'author'"),
    "bad minutes": ('+++\nminutes = "ten"\n+++\n# One\n', 2, "minutes = 'ten': must be a whole number"),
    "bad setting in front matter": ('+++\nbatch_size = 300\n+++\n# One\n', 2,
                                    "batch_size 300: exceeds the 200 training samples"),
    "unknown preset": (GOOD_FRONT + "# One\n```mbsim\npreset = \"worked-exampel\"\n```\n", 6,
                       "preset 'worked-exampel': allowed:"),
    "unknown directive": (GOOD_FRONT + "# One\n```mbsim\nrun = \"epoch\"\nrunn = \"end\"\n```\n", 7,
                          "unknown directive 'runn': did you mean 'run'?"),
    "bad setting type": (GOOD_FRONT + "# One\n```mbsim\nlr = \"fast\"\n```\n", 6, "lr 'fast': must be a number"),
    "bad setting value": (GOOD_FRONT + "# One\n\n```mbsim\nsampling = \"shufle\"\n```\n", 7,
                          "sampling 'shufle': allowed:"),
    "block not TOML": (GOOD_FRONT + "# One\n```mbsim\nview = \"lens\"\nrun = epoch\n```\n", 7,
                       "```mbsim block of slide 1 is not valid TOML"),
    "block never closed": (GOOD_FRONT + "# One\n```mbsim\nview = \"lens\"\n", 5, "block of slide 1 is never closed"),
    "two blocks": (GOOD_FRONT + "# One\n```mbsim\nview = \"lens\"\n```\n```mbsim\nrun = \"end\"\n```\n", 8,
                   "second ```mbsim block"),
    "bad run form": (GOOD_FRONT + "# One\n```mbsim\nrun = \"until the end\"\n```\n", 6, "run = 'until the end': allowed:"),
    "unreachable step": (GOOD_FRONT + "# One\n```mbsim\nrun = \"step 50000\"\n```\n", 6,
                         "can never be met: the run has only 40,000 steps (plan.total_steps)"),
    "unreachable epoch": (GOOD_FRONT + "# One\n```mbsim\nepochs = 3\nrun = \"epoch 4\"\n```\n", 7,
                          "the run has only 3 epochs"),
    "already past": (GOOD_FRONT + "# One\n```mbsim\nrun = \"step 80\"\n```\n---\n# Two\n```mbsim\nrun = \"step 40\"\n```\n", 11,
                     "the run is already at step 80"),
    "after the end": (GOOD_FRONT + "# One\n```mbsim\nepochs = 2\nrun = \"end\"\n```\n---\n# Two\n```mbsim\nrun = \"epoch\"\n```\n", 12,
                      "the run is already finished"),
    "unknown quantity": (GOOD_FRONT + "# One\n```mbsim\n[[question]]\nask = \"How many?\"\nanswer = \"plan.total_step\"\n```\n", 8,
                         "answer 'plan.total_step': unknown quantity; did you mean 'plan.total_steps'?"),
    "typed-in answer": (GOOD_FRONT + "# One\n```mbsim\n[[question]]\nask = \"How many?\"\nanswer = 40000\n```\n", 8,
                        "never a number typed in"),
    "question without ask": (GOOD_FRONT + "# One\n```mbsim\n[[question]]\nanswer = \"sim.step\"\n```\n", 6,
                             "needs ask ="),
    "bad view": (GOOD_FRONT + "# One\n```mbsim\nview = \"lense\"\n```\n", 6, "view = 'lense': allowed: main, compare, lens, phase, cloud"),
    "bad key": (GOOD_FRONT + "# One\n```mbsim\nkeys = [\"n\", \"x\"]\n```\n", 6, "keys: 'x' is not a key of the main screen"),
    "bad highlight": (GOOD_FRONT + "# One\n```mbsim\nhighlight = \"plot\"\n```\n", 6, "highlight 'plot': allowed:"),
    "bad speed": (GOOD_FRONT + "# One\n```mbsim\nrun = \"end\"\nspeed = 0\n```\n", 7, "speed = 0: must be batches per second"),
    "run in compare": (GOOD_FRONT + "# One\n```mbsim\nview = \"compare\"\nrun = \"epoch\"\n```\n", 7,
                       "cannot go with view = \"compare\""),
    "run in lab": (GOOD_FRONT + "# One\n```mbsim\nview = \"lab\"\nrun = \"epoch\"\n```\n", 7,
                   "cannot go with view = \"lab\""),
    "bad view near lab": (GOOD_FRONT + "# One\n```mbsim\nview = \"labs\"\n```\n", 6,
                          "view = 'labs': allowed: main, compare, lens, phase, cloud, lab"),
    "control character": (GOOD_FRONT + "# One\n\nred \x1b[31m text\n", 6,
                          "holds a control character (U+001B)"),
    "empty slide": (GOOD_FRONT + "# One\n---\n\n---\n# Three\n", 6, "slide 2 is empty"),
    "missing scenario file": (GOOD_FRONT + "# One\n```mbsim\nscenario = \"nowhere.toml\"\n```\n", 6,
                              "scenario file 'nowhere.toml' does not exist"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_check_matrix_names_the_file_and_line(tmp_path, capsys, case):
    text, line, message = BROKEN[case]
    path = write(tmp_path, text)
    err = check(path)
    assert str(err).startswith(f"{path}:{line}: "), str(err)
    assert message in str(err)
    # the command line: one line on stderr, exit 2
    assert main(["lesson", path, "--check"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert lines == [f"mbsim: {err}"]


def test_a_lab_slide_passes_check(tmp_path, capsys):
    path = write(tmp_path, GOOD_FRONT + "# One\n```mbsim\npreset = \"worked-example\"\nview = \"lab\"\n```\n")
    assert load_lesson(path).slides[0].view == "lab"
    assert main(["lesson", path, "--check"]) == 0


def test_there_are_at_least_15_broken_lessons():
    assert len(BROKEN) >= 15


def test_a_dash_line_in_fenced_code_does_not_split_slides(tmp_path):
    path = write(tmp_path, """
        # One
        ```
        ---
        ```
        ---
        # Two
        """)
    lesson = load_lesson(path)
    assert [s.title for s in lesson.slides] == ["One", "Two"]
    assert "---" in lesson.slides[0].text


def test_settings_build_on_the_lessons_scenario_and_a_preset_starts_afresh(tmp_path):
    path = write(tmp_path, """
        +++
        preset = "uneven-last-batch"
        epochs = 7
        +++
        # One
        ```mbsim
        batch_size = 250
        ```
        ---
        # Two
        ```mbsim
        drop_last = true
        ```
        ---
        # Three
        ```mbsim
        preset = "sgd"
        ```
        """)
    s1, s2, s3 = load_lesson(path).slides
    assert (s1.scenario.samples, s1.scenario.batch_size, s1.scenario.epochs) == (1000, 250, 7)
    assert s2.scenario.drop_last and s2.scenario.batch_size == 250
    assert s3.scenario.batch_size == 1 and s3.scenario.name == "sgd"
    assert all(s.fresh for s in (s1, s2, s3))


def test_a_scenario_file_next_to_the_lesson(tmp_path):
    (tmp_path / "mine.toml").write_text("samples = 120\nbatch_size = 7\n", encoding="utf-8")
    path = write(tmp_path, '# One\n```mbsim\nscenario = "mine.toml"\nrun = "epoch"\n```\n')
    slide = load_lesson(path).slides[0]
    assert (slide.scenario.samples, slide.scenario.batch_size) == (120, 7)


# ------------------------------------------------------------------------------------------------
# run conditions, by hand
def cond(kind, value=None):
    return RunCondition(kind, value, f"{kind} {value}", 1)


def test_run_targets_by_hand():
    plan = make_plan(200, 5, epochs=1000)          # M = 40
    assert run_target(cond("epoch"), plan, 0, 0) == 40
    assert run_target(cond("epoch"), plan, 40, 40) == 80      # at a boundary: the next whole epoch
    assert run_target(cond("epoch"), plan, 57, 57) == 80
    assert run_target(cond("epoch_number", 2), plan, 0, 0) == 80
    assert run_target(cond("step", 50), plan, 0, 0) == 50
    assert run_target(cond("end"), plan, 3, 3) == 40_000
    assert run_target(cond("loss", 0.1), plan, 0, 0) is None
    with pytest.raises(Unreachable):
        run_target(cond("step", 50_000), plan, 0, 0)
    with pytest.raises(Unreachable):
        run_target(cond("iteration", 10), plan, 10, 10)


def test_run_target_with_accumulation_and_steps_per_epoch():
    # N = 256, B = 8 → M = 32; K = 3 → steps of 3, 3, ..., 2: 11 per epoch
    plan = make_plan(256, 8, accumulate=3, epochs=4)
    assert run_target(cond("step", 1), plan, 0, 0) == 3
    assert run_target(cond("step", 11), plan, 0, 0) == 32
    assert run_target(cond("step", 12), plan, 0, 0) == 35
    # Keras steps_per_epoch: N = 1000, B = 10 → M = 100, S = 20: an epoch is 20, a pass 100
    plan = make_plan(1000, 10, steps_per_epoch=20, epochs=100)
    assert run_target(cond("epoch"), plan, 0, 0) == 20
    assert run_target(cond("pass"), plan, 0, 0) == 100
    assert run_target(cond("epoch_number", 5), plan, 0, 0) == 100


def test_run_target_after_a_live_change_counts_from_the_segment():
    sim = Simulation(Scenario(epochs=10))
    sim.run_iterations(50)                         # epoch 2, batch 10 of 40
    sim.apply_changes(batch_size=8)                # epoch 2 restarts: ⌈200/8⌉ = 25 batches
    seg = sim.segment
    target = run_target(cond("epoch"), sim.plan, sim.iteration, sim.step, start_iteration=seg.start_iteration,
                        start_step=seg.start_step, start_epoch=seg.start_epoch)
    assert target == 50 + 25
    sim.run_iterations(target - sim.iteration)
    c = sim.counters()
    assert (c.epoch, c.batch, c.batches) == (2, 25, 25)


# ------------------------------------------------------------------------------------------------
# quantities and answers
def test_every_quantity_has_a_description_and_reads_a_simulation():
    sims = [Simulation(Scenario()), Simulation(Scenario(dataset="three-losses", samples=3, val_samples=0,
                                                        model="linear", bias=False, batch_size=1))]
    for sim in sims:
        sim.run_iterations(3)
        for name, q in QUANTITIES.items():
            assert q.description
            if name.startswith("fit.sample_minima") and sim.scenario.bias:
                continue
            format_quantity(quantity_value(name, sim))


def test_quantities_against_hand_computations():
    sim = Simulation(Scenario(dataset="three-losses", samples=3, val_samples=0, model="linear", bias=False,
                              batch_size=1))
    # datasets.py: x = (1, 0.5, 2), y = (−2, 1, −0.5625): minima y/x, mean's minimum Σxy/Σx² = −0.5
    assert quantity_value("fit.sample_minima", sim) == [-2.0, 2.0, -0.28125]
    assert quantity_value("fit.minimum", sim) == pytest.approx([-0.5], abs=1e-12)
    assert format_quantity(quantity_value("fit.minimum", sim)) == "-0.5"
    assert quantity_value("noise.fpc", sim) == pytest.approx((3 - 1) / (1 * (3 - 1)))
    sim = Simulation(Scenario(samples=200, batch_size=50))
    assert quantity_value("noise.fpc", sim) == pytest.approx(150 / (50 * 199))
    assert quantity_value("noise.lr_over_batch", sim) == pytest.approx(0.05 / 50)


def test_format_and_check_answers():
    assert format_quantity(40000) == "40,000"
    assert format_quantity([400, 400, 200]) == "400, 400, 200"
    assert format_quantity(0.693147) == "0.6931"
    assert format_quantity(math.inf) == "∞"
    assert check_answer("40000", 40000) and check_answer("40,000", 40000)
    assert not check_answer("4000", 40000)
    assert check_answer("400, 400, 200", [400, 400, 200]) and check_answer("400 400 200", (400, 400, 200))
    assert not check_answer("300, 300, 200", [400, 400, 200])
    assert check_answer("0.693", 0.693147) and not check_answer("0.7", 0.693147)
    assert check_answer("-0.5", [-0.5]) and check_answer("−0.5", -0.5)
    assert check_answer("mini-batch gd", "Mini-batch GD")
    assert not check_answer("many", 12)


def test_every_lesson_key_is_a_key_of_the_main_screen():
    from mbsim.tui.lesson_mode import KEY_ACTIONS

    assert set(KEY_ACTIONS) == set(KEYS)


# ------------------------------------------------------------------------------------------------
# hostile files
def test_reader_refuses_a_fifo_without_hanging(tmp_path):
    fifo = tmp_path / "f.md"
    os.mkfifo(fifo)
    err = check(str(fifo))
    assert str(err) == f"{fifo}:1: is a FIFO (named pipe), not a regular file"


def test_reader_refuses_dev_zero_and_a_directory(tmp_path):
    assert "not a regular file" in str(check("/dev/zero"))
    assert "is a directory" in str(check(str(tmp_path) + "/"))


def test_reader_reads_at_most_limit_plus_one_bytes(tmp_path):
    big = tmp_path / "big.md"
    big.write_bytes(b"# x\n" * 200_000)
    assert "the limit is 524,288 bytes" in str(check(str(big)))
    small = tmp_path / "s.txt"
    small.write_text("abcdef", encoding="utf-8")
    with pytest.raises(ValueError, match="the limit is 5 bytes"):
        read_text_limited(small, 5)
    assert read_text_limited(small, 6) == "abcdef"


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "l.md"
    path.write_bytes(b"# One\n\nfine\n\xff\xfe broken\n")
    assert str(check(str(path))) == f"{path}:4: is not UTF-8 text; save the lesson as UTF-8"


def test_missing_file_and_unknown_name(tmp_path):
    missing = str(tmp_path / "nope.md")
    assert str(check(missing)) == f"{missing}:1: does not exist"
    err = check("epochs-and-batch")
    assert "did you mean 'epochs-and-batches'?" in str(err)


def test_a_link_to_a_lesson_is_read(tmp_path):
    real = Path(write(tmp_path, "# One\n", "real.md"))
    link = tmp_path / "link.md"
    link.symlink_to(real)
    assert load_lesson(str(link)).slides[0].title == "One"


def test_control_characters_in_a_file_name_are_escaped(tmp_path, capsys):
    name = str(tmp_path / "bad\x1b[2Jname.md")
    assert main(["lesson", name, "--check"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\\x1b" in err


def test_parse_errors_on_text_name_the_source():
    with pytest.raises(LessonError, match=r"^mine.md:3: unknown directive 'zoom'"):
        check_lesson(parse_lesson("# One\n```mbsim\nzoom = 2\n```\n", "mine.md"))


def test_the_readme_example_passes_check(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("````markdown\n", 1)[1].split("\n````", 1)[0]
    path = write(tmp_path, example + "\n")
    lesson = load_lesson(path)
    assert (len(lesson.slides), lesson.questions, lesson.runs) == (2, 2, 2)
    assert lesson.slides[1].scenario.batch_size == 400
    for directive in ("preset", "scenario", "view", "highlight", "keys", "pause", "run", "speed", "[[question]]"):
        assert f"`{directive}" in readme


def test_windows_line_endings_are_read(tmp_path):
    path = tmp_path / "crlf.md"
    path.write_bytes(b"# One\r\n```mbsim\r\nrun = \"epoch\"\r\n```\r\n---\r\n# Two\r\n")
    lesson = load_lesson(str(path))
    assert [s.title for s in lesson.slides] == ["One", "Two"] and lesson.slides[0].run.kind == "epoch"


def test_run_targets_follow_epoch_end_cut():
    """Keras 3.15 with arrays (issue 9): N=1000, B=10, S=30, cut → epochs of 30, 30, 30, 10, 30
    steps; N=47, B=5, S=4 → 4, 4, 2, 4, 4."""
    plan = make_plan(1000, 10, steps_per_epoch=30, epochs=5, epoch_end="cut")
    ends = [run_target(cond("epoch_number", e), plan, 0, 0) for e in range(1, 6)]
    assert ends == [30, 60, 90, 100, 130]
    assert run_target(cond("epoch"), plan, 95, 95) == 100
    assert run_target(cond("step", 100), plan, 0, 0) == 100
    plan = make_plan(47, 5, steps_per_epoch=4, epochs=5, epoch_end="cut")
    assert [run_target(cond("epoch_number", e), plan, 0, 0) for e in range(1, 6)] == [4, 8, 10, 14, 18]
