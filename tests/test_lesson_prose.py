"""The built-in lessons' prose gives no answer away (issue 21, item 1).

The mask (tui/mask.py) hides an open question's answer on every panel the engine draws, but not
in the slide's prose: the prose is the teacher's own words, and masking it by value hid premises
("the gradients of ? of them", "x = 1, ?, 2"). So the prose itself must not state an answer. This
test plays every built-in lesson headless (the same slide steps as the app) and looks for every
form of each question's answer (and, for a prediction, of the numbers it compares) in its own
slide's prose, as a whole token. What it finds must be one of the premises listed below, each
read by hand: the number is what the question starts from, not its result.
"""

from __future__ import annotations

from mbsim.engine import Simulation
from mbsim.engine.lessons import apply_slide, builtin_names, check_lesson, load_lesson, parse_lesson
from test_lesson_mask import hidden_forms, holds_token

#: (lesson, slide, question) → why its answer is in the prose: a premise of the question.
PREMISES: dict[tuple[str, int, int], str] = {
    ("iteration-vs-step", 3, 1): "K = 4 is the setting ('the gradients of 4 of them'); the "
                                 "question is what K means for the iteration counter",
    ("iteration-vs-step", 4, 1): "N = 256 is the data; the question is whether accumulation "
                                 "changes what an epoch puts through the model",
    ("iteration-vs-step", 4, 3): "the 8 is B ('micro-batches of 8'); 8 steps per epoch is "
                                 "32 / 4, the same number by coincidence",
    ("iteration-vs-step", 6, 2): "S = 20 is the setting; the question is that an epoch is S steps",
    ("iteration-vs-step", 8, 1): "'a pass of 100 batches' is the premise; that the four epochs "
                                 "make exactly one pass is the point",
    ("gd-sgd-minibatch", 1, 1): "the slide defines the three names; the question is which one "
                                "the header's B and N make this run",
    ("three-losses", 1, 1): "x = 2 and y = −2 are data; the minima −2 and 2 are yᵢ / xᵢ, "
                            "which the question asks to work out",
    ("three-losses", 1, 2): "x = 0.5 is one of the three samples; the minimum −0.5 is another "
                            "0.5 with a sign",
    ("three-losses", 2, 1): "'sample 2 is x = 2' names the samples; which one the step used "
                            "is read from the lens",
}


def stated_answers(lesson) -> dict[tuple[str, int, int], list[str]]:
    """(lesson, slide, question) → the forms of the question's answer its slide's prose holds."""
    found: dict[tuple[str, int, int], list[str]] = {}
    name = lesson.source.rsplit("/", 1)[-1].removesuffix(".md")
    sim = Simulation(lesson.start)
    for slide in lesson.slides:
        sim = apply_slide(slide, sim)
        for i, q in enumerate(slide.questions, start=1):
            hits = [f for f in hidden_forms(q, sim, lesson) if holds_token(slide.text, f)]
            if hits:
                found[(name, slide.number, i)] = hits
    return found


def test_no_built_in_slide_states_an_answer_in_its_prose():
    found: dict[tuple[str, int, int], list[str]] = {}
    for name in builtin_names():
        found.update({(name, k, i): hits for (_, k, i), hits in stated_answers(load_lesson(name)).items()})
    stated = {key: hits for key, hits in found.items() if key not in PREMISES}
    assert not stated, f"answers stated in the prose before they are asked: {stated}"
    # the list holds no stale entry: each premise is still there
    assert set(PREMISES) <= set(found), set(PREMISES) - set(found)


def test_the_prose_check_sees_an_answer_stated():
    """The check itself: the old wording of epochs-and-batches slide 3 ("the counters read
    Batch 40/40") holds the answer of "How many steps does one epoch make?"; the new one not."""
    def lesson(prose: str):
        return check_lesson(parse_lesson(
            '+++\npreset = "worked-example"\n+++\n# One epoch\n' + prose + '\n```mbsim\nrun = "epoch"\n'
            '[[question]]\nask = "How many steps does one epoch make?"\nanswer = "plan.steps_per_epoch"\n```\n',
            "stated.md"))

    assert stated_answers(lesson("At the end the counters read `Batch 40/40`.")) == \
        {("stated", 1, 1): ["40"]}
    assert stated_answers(lesson("At the end the batch counter stands at the epoch's last batch.")) == {}
