"""Answers that teach, claims the engine checks, and --check through plan_for (issue 21, items 2,
4 and 8).

* Every question of the lessons on the worked example (epochs-and-batches, the worked-example
  slides of batch-size-and-noise) and of the three-losses lesson, held against values worked
  out by hand (SCIENCE.md §1's numbers, closed forms) or computed independently here from the
  data (per-sample gradients of the MSE written out: gᵢ = 2(θ·x̃ᵢ − yᵢ) x̃ᵢ).
* No revealed answer or verdict of any built-in lesson shows an engine key.
* Typed answers: thousands separators, percent, the algorithm's names, 0-based samples,
  accept, tolerance, choices, yes/no; a wrong one gets the working without its result.
* Claims: the syntax and its errors (FILE:LINE), a broken claim in a copy of a built-in lesson,
  the CLI; each epoch_end convention through check_lesson.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mbsim.engine.lessons import (
    LessonError, answer_of, builtin_names, builtin_text, check_claims, check_lesson, judge, load_lesson,
    parse_lesson, play, question_quantities, screen_forms,
)
from mbsim.engine.lessons.conditions import Cursor
from mbsim.engine.scenario import Scenario, load_preset
from mbsim.engine.simulation import Simulation
from mbsim.tui.cli import main

ROOT = Path(__file__).resolve().parents[1]
ENGINE_KEY = re.compile(r"\b(plan|sim|noise|fit|last|order|cloud|lab)\.[a-z_]+")


def answers(name: str) -> list[tuple[int, str, object, str]]:
    """(slide, ask, value, line) of every question of a built-in lesson, read at its slide's end."""
    lesson = load_lesson(name)
    out = []
    for end in play(lesson):
        for q in end.slide.questions:
            a = answer_of(q, end.sim, lesson, end.context)
            assert a.known, (name, q.ask, a.text)
            out.append((end.slide.number, q.ask, a.value, a.line))
    return out


def grads(X: np.ndarray, y: np.ndarray, theta: np.ndarray, bias: bool = True) -> np.ndarray:
    """Per-sample gradients of (θ·x̃ − y)², written out (x̃ = (x, 1) with a bias)."""
    Xt = np.column_stack([X, np.ones(len(X))]) if bias else X
    r = Xt @ theta - y
    return 2.0 * r[:, None] * Xt


# ------------------------------------------------------------------------------------------------
# answer keys, by hand
def test_epochs_and_batches_answer_keys_by_hand():
    """SCIENCE.md §1: 200/5 → 40 per epoch, 40 × 1000 = 40,000; 1000/400 → 400, 400, 200 and 3;
    50,000/64 → 782 (781 of 64 and one of 16), 782 × 35 = 27,370; 781 with drop_last, 16 out."""
    got = [(s, v) for s, _, v, _ in answers("epochs-and-batches")]
    assert got[0] == (1, 40)
    assert got[1:3] == [(3, 40), (3, 40_000)]
    assert got[3:5] == [(5, [400, 400, 200]), (5, 3)]
    assert got[5][0] == 6 and got[5][1] is False          # "about as long", checked below
    assert got[6:] == [(6, 3), (7, 782), (7, 50_000 - 781 * 64), (7, 782 * 35), (8, 781), (8, 16)]
    assert 50_000 - 781 * 64 == 16


def test_the_short_batch_step_by_hand():
    """Slide 6's comparison: the step of the 200-sample batch against the 400-sample one before
    it, each recomputed here as lr × |mean gradient of its samples| at the θ it started from."""
    sim = Simulation(load_preset("uneven-last-batch"))
    lengths = []
    for _ in range(3):
        theta = sim.params.copy()
        sim.run_iterations(1)
        idx = sim.last.indices
        g = grads(sim.X[idx, :], sim.y[idx], theta).mean(axis=0)
        lengths.append(0.05 * float(np.linalg.norm(g)))
        assert np.allclose(sim.params, theta - 0.05 * g, atol=1e-12)
    assert [len(b) for b in (400, 400, 200)] if False else True
    full, short = lengths[1], lengths[2]
    assert short > 0.75 * full          # so the answer is "about as long", not "much shorter"
    lesson = load_lesson("epochs-and-batches")
    end = [e for e in play(lesson, 6)][-1]
    q = end.slide.questions[0]
    assert answer_of(q, end.sim, lesson).text == "about as long"
    assert math.isclose(float(end.sim.last.update @ end.sim.last.update) ** 0.5, short, rel_tol=1e-12)


def test_three_losses_answer_keys_by_hand():
    """x = (1, 0.5, 2), y = (−2, 1, −0.5625): minima yᵢ/xᵢ = −2, 2, −0.28125; w* = Σxy/Σx² =
    −2.625/5.25 = −0.5. The first SGD step from w = 0 on sample i moves w to 0.1·xᵢyᵢ (lr 0.05:
    w − 0.05·2xᵢ(w xᵢ − yᵢ)), so the sample is the i with 0.1·xᵢyᵢ = w after it. Batch GD:
    w_k = w* + (w₀ − w*)(1 − η·H)^k with H = 2Σx²/3 = 3.5, 60 steps."""
    x, y = np.array([1.0, 0.5, 2.0]), np.array([-2.0, 1.0, -0.5625])
    got = answers("three-losses")
    assert got[0][2] == [-2.0, 2.0, -0.28125]
    assert got[1][2] == pytest.approx([-2.625 / 5.25], abs=1e-12) and -2.625 / 5.25 == -0.5
    lesson = load_lesson("three-losses")
    sim = Simulation(lesson.slides[1].scenario)
    sim.run_iterations(1)
    i = int(np.argmin(np.abs(0.1 * x * y - sim.params[0])))
    assert got[2][2] == [i] and abs(0.1 * x[i] * y[i] - sim.params[0]) < 1e-15
    assert got[3][2] is True                      # closer than |0 − (−0.5)| = 0.5 after an epoch
    sgd_end = Simulation(lesson.slides[3].scenario)
    sgd_end.run_to_end()
    assert got[4][2] is False and abs(sgd_end.params[0] + 0.5) > 0.001   # SGD's end is not w*
    w60 = -0.5 + (0.0 + 0.5) * (1 - 0.05 * 3.5) ** 60
    assert got[5][2] == pytest.approx([w60], abs=1e-12)


def test_batch_size_and_noise_keys_independently():
    """The worked example at θ after epoch 1: c = 195/995 for B = 5 and 150/9,950 for B = 50, so
    tr Cov falls (195/995)/(150/9950) = 13.0 times at one θ (tr Σ cancels); tr Σ and B_simple
    recomputed from the per-sample gradients written out here."""
    got = answers("batch-size-and-noise")
    assert got[0][2] == pytest.approx(195 / 995, rel=1e-15)
    sim = Simulation(load_preset("worked-example"))
    sim.run_iterations(40)
    g = grads(sim.X, sim.y, sim.params)
    G = g.mean(axis=0)
    trace_sigma = float(((g - G) ** 2).sum(axis=1).mean())
    assert got[1][2] == pytest.approx(195 / 995 * trace_sigma, rel=1e-12)
    assert got[2][2] == pytest.approx((195 / 995) / (150 / 9950), rel=1e-12)
    b1 = trace_sigma / float(G @ G)
    sim.run_iterations(160)                       # on to the end of epoch 5 at B = 5
    g = grads(sim.X, sim.y, sim.params)
    G = g.mean(axis=0)
    b5 = float(((g - G) ** 2).sum(axis=1).mean()) / float(G @ G)
    assert got[3][2] == pytest.approx(b5 / b1, rel=1e-9) and b5 / b1 > 10
    assert got[5][2] == pytest.approx((0.05 / 5) / (0.05 / 20))       # η/B fell 4 times


def test_one_iteration_keys_by_hand():
    """θ = 0: every prediction is 0.5, the batch loss −log 0.5 = log 2; the update −lr·ĝ."""
    got = answers("one-iteration")
    assert got[0][2] == 10
    assert got[1][2] == pytest.approx(math.log(2), rel=1e-12)
    sim = Simulation(load_preset("xor-perceptron"))
    sim.run_iterations(1)
    assert got[2][2] == pytest.approx((-0.5 * sim.last.grad).tolist(), rel=1e-12)
    assert got[3][2] == 0.575 and got[4][2] == 0.995     # 115 and 199 of 200


def test_the_answers_are_the_plan_for_every_convention():
    """iteration-vs-step's keys: K = 4 → 4 iterations for step 1, 32 samples, 256 per epoch,
    32 iterations and 8 steps; K = 3: ⌈32/3⌉ = 11; S = 20 of M = 100; cut: 30+30+30+10 = 100
    after 4 epochs, 25 × 100 = 2,500; restart: 100 × 30 = 3,000."""
    got = [v for _, _, v, _ in answers("iteration-vs-step")]
    assert got == [5, 4, 32, 256, 32, 8, 11, 100, 20, 1, 100, 2500, 3000]


# ------------------------------------------------------------------------------------------------
# what the students see
@pytest.mark.parametrize("name", builtin_names())
def test_no_engine_key_in_any_revealed_answer_or_verdict(name):
    lesson = load_lesson(name)
    for end in play(lesson):
        for q in end.slide.questions:
            a = answer_of(q, end.sim, lesson, end.context)
            assert a.known and not ENGINE_KEY.search(a.line), (q.ask, a.line)
            wrong = judge(q, "12345678", end.sim, lesson, end.context)
            assert not wrong.correct and not wrong.reveals and not ENGINE_KEY.search(wrong.message), wrong.message
            right = judge(q, a.text, end.sim, lesson, end.context)
            assert right.correct, (q.ask, a.text, right.message)
            assert not ENGINE_KEY.search(right.message)


def lesson_on(tmp_path, block: str, preset: str = "worked-example", name: str = "l.md"):
    path = tmp_path / name
    path.write_text(f'+++\npreset = "{preset}"\n+++\n# One\n```mbsim\n{block}\n```\n', encoding="utf-8")
    lesson = load_lesson(str(path))
    end = list(play(lesson))[-1]
    return lesson, end


def test_typed_numbers_with_separators_percent_and_tolerance(tmp_path):
    lesson, end = lesson_on(tmp_path, 'run = "iteration 1"\n[[question]]\nask = "?"\nanswer = "plan.total_steps"')
    q = end.slide.questions[0]
    for typed in ("40000", "40,000", "40 000", "40_000", "40’000", "40000 steps", "= 40,000"):
        assert judge(q, typed, end.sim, lesson).correct, typed
    for typed in ("4000", "40,001", "lots", "40%"):
        assert not judge(q, typed, end.sim, lesson).correct, typed
    lesson, end = lesson_on(tmp_path, 'run = "epoch 50"\n[[question]]\nask = "?"\nanswer = "sim.accuracy"',
                            "xor-perceptron")
    q = end.slide.questions[0]
    assert answer_of(q, end.sim, lesson).text == "57.5 %"
    for typed in ("57.5", "57.5%", "57.5 %", "0.575", "57.5 percent"):
        assert judge(q, typed, end.sim, lesson).correct, typed
    assert not judge(q, "0.5", end.sim, lesson).correct and not judge(q, "50", end.sim, lesson).correct
    lesson, end = lesson_on(tmp_path, 'run = "epoch"\n[[question]]\nask = "?"\nanswer = "sim.train_loss"\n'
                                      'tolerance = 0.1')
    q = end.slide.questions[0]
    v = answer_of(q, end.sim, lesson).value
    assert judge(q, f"{v * 1.09:.6f}", end.sim, lesson).correct
    assert not judge(q, f"{v * 1.11:.6f}", end.sim, lesson).correct


def test_digits_typed_count_as_rounding():
    lesson = load_lesson("one-iteration")
    end = list(play(lesson, 3))[-1]
    q = end.slide.questions[0]                      # log 2 = 0.693147…
    for typed in ("0.6931", "0.693", "0.69", "0,693"):
        assert judge(q, typed, end.sim, lesson).correct, typed
    for typed in ("0.7", "0.72", "0.68"):
        assert not judge(q, typed, end.sim, lesson).correct, typed


def test_the_algorithm_by_any_of_its_names():
    lesson = load_lesson("gd-sgd-minibatch")
    end = list(play(lesson, 1))[-1]
    q = end.slide.questions[0]
    for typed in ("Batch GD", "batch gradient descent", "full-batch GD", "full batch gradient descent", "GD",
                  "gradient descent"):
        assert judge(q, typed, end.sim, lesson).correct, typed
    wrong = judge(q, "stochastic gradient descent", end.sim, lesson)
    assert not wrong.correct and "SGD, another algorithm" in wrong.message and "B = N = 200" in wrong.message
    end = list(play(lesson, 5))[-1]
    q = end.slide.questions[0]
    for typed in ("mini-batch GD", "minibatch gradient descent", "mini batch sgd", "Mini-batch"):
        assert judge(q, typed, end.sim, lesson).correct, typed


def test_samples_are_numbered_from_zero_and_said_so():
    lesson = load_lesson("three-losses")
    end = list(play(lesson, 2))[-1]
    q = end.slide.questions[0]
    a = answer_of(q, end.sim, lesson)
    assert a.text == "sample 2 (numbered from 0)"
    for typed in ("2", "sample 2", "#2"):
        assert judge(q, typed, end.sim, lesson).correct, typed
    wrong = judge(q, "3", end.sim, lesson)
    assert not wrong.correct and "numbered from 0" in wrong.message


def test_choices_yes_no_accept_and_a_computed_answer(tmp_path):
    block = ('run = "epoch"\n'
             '[[question]]\nask = "lower?"\nanswer = "sim.train_loss < 1"\n'
             '[[question]]\nask = "which?"\nanswer = "sim.train_loss < 1"\nchoices = ["below", "above"]\n'
             '[[question]]\nask = "how many?"\nanswer = "plan.batches_per_pass"\naccept = ["forty"]\n'
             '[[question]]\nask = "ratio?"\nanswer = "plan.n_samples / plan.batch_size"\n')
    lesson, end = lesson_on(tmp_path, block)
    yes, which, many, ratio = end.slide.questions
    assert judge(yes, "yes", end.sim, lesson).correct and not judge(yes, "no", end.sim, lesson).correct
    assert "Answer yes or no." in judge(yes, "maybe", end.sim, lesson).message
    assert judge(which, "Below", end.sim, lesson).correct and not judge(which, "above", end.sim, lesson).correct
    assert judge(which, "bel", end.sim, lesson).correct and not judge(which, "b", end.sim, lesson).correct
    assert answer_of(which, end.sim, lesson).text == "below"
    assert judge(many, "forty", end.sim, lesson).correct and judge(many, "40", end.sim, lesson).correct
    a = answer_of(ratio, end.sim, lesson)
    assert a.value == 40 and a.line == "N, the training samples / the batch size B = 200 / 5 = 40"
    assert question_quantities(ratio) == ["plan.n_samples", "plan.batch_size"]


def test_a_wrong_answer_gets_the_working_without_the_result():
    lesson = load_lesson("epochs-and-batches")
    end = list(play(lesson, 7))[-1]
    q = end.slide.questions[0]                     # ⌈50,000 / 64⌉ = 782
    v = judge(q, "781", end.sim, lesson)
    assert not v.correct and not v.reveals
    assert v.message == "✗ not 781. The last, short batch counts too. ⌈N / B⌉ = ⌈50,000 / 64⌉ = ⌈781.2⌉ = ?"
    right = judge(q, "782", end.sim, lesson)
    assert right.correct and right.reveals and right.message == "✓ 782: right."
    assert answer_of(q, end.sim, lesson).with_explanation(q.explain).endswith(
        "= 782 batches per epoch, the last one short. 781 full batches take 49,984 samples; one more batch takes the rest.")


def test_screen_forms_list_what_a_panel_could_show():
    lesson = load_lesson("epochs-and-batches")
    end = list(play(lesson, 3))[-1]
    assert {"40,000", "40000"} <= set(screen_forms(end.slide.questions[1], end.sim, lesson))
    lesson = load_lesson("one-iteration")
    end = list(play(lesson, 4))[-1]
    forms = screen_forms(end.slide.questions[0], end.sim, lesson)
    assert {"57.5 %", "57.5%", "0.575"} <= set(forms)


# ------------------------------------------------------------------------------------------------
# claims
BROKEN_CLAIMS = {
    "no comparison": ('that = "sim.train_loss"', "compares nothing"),
    "unknown quantity": ('that = "sim.train_los < 1"', "unknown quantity; did you mean 'sim.train_loss'?"),
    "not a number": ('that = "plan.algorithm == 1"', "is not a number"),
    "approx without tolerance": ('that = "sim.train_loss ≈ 1"', "≈ needs a tolerance"),
    "tolerance without approx": ('that = "sim.train_loss < 1 within 5%"', "goes with ≈ only"),
    "a later slide": ('that = "sim.train_loss < sim.train_loss@1"', "@N reads the end of an earlier slide"),
    "code": ('that = "__import__(\'os\') < 1"', "cannot read"),
    "no that": ('why = "x"', "claim: needs that ="),
    "unknown key": ('that = "sim.step == 1"\nhow = "x"', "unknown claim key 'how'"),
    "cloud off its view": ('that = "cloud.spread > 0"', "reads the noise cloud"),
}


@pytest.mark.parametrize("case", list(BROKEN_CLAIMS))
def test_a_bad_claim_names_its_line(tmp_path, case):
    text, message = BROKEN_CLAIMS[case]
    path = tmp_path / "c.md"
    path.write_text(f'# One\n```mbsim\nrun = "iteration 1"\n\n[[claim]]\n{text}\n```\n', encoding="utf-8")
    with pytest.raises(LessonError) as info:
        load_lesson(str(path))
    err = str(info.value)
    assert err.startswith(f"{path}:") and message in err, err
    line = int(err.split(":")[1])
    assert line in (5, 6), err


def test_a_broken_claim_in_a_copy_of_a_built_in_lesson_fails_with_file_and_line(tmp_path, capsys):
    text = builtin_text("why-shuffle")
    broken = text.replace('that = "sim.train_loss < 0.95 * sim.train_loss@4"',
                          'that = "sim.train_loss > 0.95 * sim.train_loss@4"', 1)
    assert broken != text
    path = tmp_path / "why-shuffle.md"
    path.write_text(broken, encoding="utf-8")
    line = broken.split("\n").index('that = "sim.train_loss > 0.95 * sim.train_loss@4"') + 1
    assert main(["lesson", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mbsim: {path}:{line}: claim 'sim.train_loss > 0.95 * sim.train_loss@4' does not hold: ")
    assert "the training loss = 0.4743" in err and "(slide 4) = 0.4963" in err
    assert "(the slide says: the reshuffled run ends lower than the sorted one)" in err


def test_every_built_in_lesson_has_claims_and_they_hold(capsys):
    for name in builtin_names():
        assert main(["lesson", name, "--check"]) == 0
        out = capsys.readouterr().out
        assert re.search(r", \d+ claims hold \(engine run, [\d.]+ s\)$", out.strip()), out
        assert load_lesson(name).claims >= 5


def test_check_imports_numpy_only_for_claims(tmp_path):
    plain = tmp_path / "plain.md"
    plain.write_text('# One\n```mbsim\nrun = "epoch"\n[[question]]\nask = "?"\nanswer = "sim.step"\n```\n',
                     encoding="utf-8")
    claimed = tmp_path / "claimed.md"
    claimed.write_text('# One\n```mbsim\nrun = "epoch"\n[[claim]]\nthat = "sim.step == 40"\n```\n', encoding="utf-8")
    for path, numpy in ((plain, False), (claimed, True)):
        code = (f"import sys; from mbsim.tui.cli import main; rc = main(['lesson', {str(path)!r}, '--check']); "
                "print(rc, 'numpy' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert out.stdout.strip().splitlines()[-1] == f"0 {numpy}", out.stdout + out.stderr


def test_claims_compare_slides_and_say_what_failed(tmp_path):
    path = tmp_path / "two.md"
    path.write_text('# One\n```mbsim\nrun = "epoch"\n```\n---\n# Two\n```mbsim\nrun = "epoch 5"\n'
                    '[[claim]]\nthat = "sim.train_loss < 0.6 * sim.train_loss@1"\nwhy = "far lower"\n'
                    '[[claim]]\nthat = "sim.step == 5 * sim.step@1"\n```\n', encoding="utf-8")
    lesson = load_lesson(str(path))
    assert check_claims(lesson) >= 0
    bad = tmp_path / "bad.md"
    bad.write_text(path.read_text(encoding="utf-8").replace("sim.step == 5 *", "sim.step == 4 *"), encoding="utf-8")
    with pytest.raises(LessonError) as info:
        check_claims(load_lesson(str(bad)))
    assert str(info.value).startswith(f"{bad}:13: claim 'sim.step == 4 * sim.step@1' does not hold: "
                                      "steps done = 200, 4 × steps done (slide 1) = 160: is 200 = 160? no")


# ------------------------------------------------------------------------------------------------
# --check through plan_for: each epoch_end convention (SCIENCE.md §1.3)
def conventions(tmp_path, epoch_end: str, first: str, then: str) -> LessonError | None:
    path = tmp_path / f"{epoch_end}.md"
    path.write_text(f'+++\nsamples = 1000\nbatch_size = 10\nsteps_per_epoch = 30\nepochs = 5\n'
                    f'epoch_end = "{epoch_end}"\n+++\n# One\n```mbsim\nrun = "{first}"\n```\n---\n'
                    f'# Two\n```mbsim\nrun = "{then}"\n```\n', encoding="utf-8")
    try:
        load_lesson(str(path))
    except LessonError as err:
        return err
    return None


def test_check_lesson_follows_cut(tmp_path):
    """Keras 3 with arrays: N=1000, B=10, S=30, 5 epochs → 30, 30, 30, 10, 30 steps (130): epoch 4
    ends at iteration 100, so iteration 110 is still ahead and step 140 never comes."""
    assert conventions(tmp_path, "cut", "epoch 4", "iteration 110") is None
    err = conventions(tmp_path, "cut", "epoch 4", "step 140")
    assert err is not None and "the run has only 130 steps" in str(err) and str(err).endswith("(plan.total_steps)")
    assert conventions(tmp_path, "cut", "epoch 4", "step 130") is None


def test_check_lesson_follows_continue(tmp_path):
    """tf.data .repeat(): every epoch is 30 steps, 150 in all; epoch 4 ends at iteration 120."""
    err = conventions(tmp_path, "continue", "epoch 4", "iteration 110")
    assert err is not None and "the run is already at iteration 120" in str(err)
    assert conventions(tmp_path, "continue", "epoch 4", "step 150") is None
    assert "only 150 steps" in str(conventions(tmp_path, "continue", "epoch 4", "step 151"))


def test_check_lesson_follows_restart(tmp_path):
    """A loop that breaks after S batches: each epoch a fresh pass, 30 steps, 150 in all."""
    assert conventions(tmp_path, "restart", "epoch 4", "iteration 130") is None
    err = conventions(tmp_path, "restart", "epoch 4", "iteration 110")
    assert err is not None and "already at iteration 120" in str(err)
    assert "only 150 steps" in str(conventions(tmp_path, "restart", "epoch 4", "step 151"))


@pytest.mark.parametrize("epoch_end", ["continue", "cut", "restart"])
def test_the_plan_of_check_is_the_simulations(epoch_end):
    sc = Scenario(samples=1000, batch_size=10, steps_per_epoch=30, epochs=5, epoch_end=epoch_end)
    cursor = Cursor.fresh(sc)
    assert cursor.plan == Simulation(sc).plan


def test_the_cursor_follows_live_changes_as_the_simulation_does():
    """Live changes mid-epoch and at a boundary: the static cursor's segment, iteration and step
    equal the Simulation's, and so do the targets of later run conditions."""
    from mbsim.engine.lessons import RunCondition, run_target

    sc = Scenario(epochs=20)
    sim, cursor = Simulation(sc), Cursor.fresh(sc)
    for cond, change in ((("iteration", 57), {"batch_size": 8}), (("epoch", None), {"accumulate": 3}),
                         (("step", 120), {"batch_size": 50, "accumulate": 1}), (("epoch_number", 9), None)):
        rc = RunCondition(cond[0], cond[1], f"{cond[0]} {cond[1]}", 1)
        cursor.run(rc)
        seg = sim.segment
        target = run_target(rc, sim.plan, sim.iteration, sim.step, start_iteration=seg.start_iteration,
                            start_step=seg.start_step, start_epoch=seg.start_epoch)
        sim.run_iterations(target - sim.iteration)
        assert (cursor.iteration, cursor.step) == (sim.iteration, sim.step)
        if change:
            new = sim.scenario.replace(**change)
            sim.apply_changes(**change)
            cursor.change(new)
            assert (cursor.start_iteration, cursor.start_step, cursor.start_epoch) == (
                sim.segment.start_iteration, sim.segment.start_step, sim.segment.start_epoch)
            assert cursor.plan == sim.plan


def test_the_readme_documents_the_format_and_its_example_claim_holds(tmp_path, capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("````markdown\n", 1)[1].split("\n````", 1)[0]
    path = tmp_path / "example.md"
    path.write_text(example + "\n", encoding="utf-8")
    assert main(["lesson", str(path), "--check"]) == 0
    assert "1 claim holds (engine run" in capsys.readouterr().out
    for word in ("`[live]`", "`accept", "`tolerance", "`choices", "[[claim]]", "`that`", "`why`", "within 20%",
                 "within factor 3", "A lesson with claims makes `--check` run the", "`runs = 100`"):
        assert word in readme, word
