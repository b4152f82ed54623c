"""Questions safe to ask (issue 21, item 1): while a question is open its answer shows nowhere.

Every question of every built-in lesson is played with Pilot at 80×24 and 120×40. Before its
reveal, the text every widget on the screen renders (what the terminal receives: Textual's line
filters applied) must not hold any form of the answer as a whole token — "40" is found in
"Batch 0/40" but not in "1040" — except the question's own words and the hint line (the
slide's premise: "ran until iteration 5"). After the reveal, the answer is on the question's
line, and once no question is open the panels show exactly what they show unmasked.

The token matcher here is written independently of tui.mask's regular expression.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from mbsim.engine.lessons.expressions import Comparison
from mbsim.engine.lessons import answer_of, builtin_names, load_lesson, question_quantities, screen_forms
from textual.geometry import Region
from mbsim.tui.lesson_mode import LessonApp
from mbsim.tui.mask import NO_MASK

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}
_NUMBERISH = set("0123456789.,")


def holds_token(text: str, form: str) -> bool:
    """Does ``form`` occur in ``text`` as a whole token? Around a number there must be no letter,
    digit, '_' , and no '.' or ',' joined to a digit (so 40 is not inside 1040, 40.5, 40,000);
    around a name no letter, digit or hyphen."""
    text, form = text.replace("−", "-"), form.replace("−", "-")      # one minus sign
    form = form.lstrip("+-") if form[1:2].isdigit() else form            # a sign is around it
    numeric = form[:1].isdigit()
    start = 0
    while True:
        k = text.find(form, start)
        if k < 0:
            return False
        start = k + 1
        before = text[k - 1] if k else " "
        after = text[k + len(form)] if k + len(form) < len(text) else " "
        after2 = text[k + len(form) + 1] if k + len(form) + 1 < len(text) else " "
        if numeric:
            if before.isalnum() or before in "_.," or after.isalnum() or after == "_":
                continue
            if after in ".," and after2.isdigit():
                continue
        elif before.isalnum() or before in "_-" or after.isalnum() or after in "_-":
            continue
        return True


def test_the_token_matcher():
    assert holds_token("Epoch 1/1000  Batch 0/40  Iteration 0", "40")
    assert not holds_token("1040 40.5 40,000 x40 40k", "40")
    assert holds_token("(40, 41)", "40") and holds_token("B=40.", "40")
    assert holds_token("worked  Mini-batch GD", "Mini-batch GD")
    assert not holds_token("Mini-batch GD", "batch GD")


def screen_texts(app, *, masked: bool = True) -> dict[str, str]:
    """The rendered text of every visible widget of the screen shown, by widget (its id or
    class and position), with the lines as the terminal gets them. ``masked=False`` renders the
    same widgets without the answer mask (what the screen would show without it)."""
    saved = app.answer_mask
    if not masked:
        app.answer_mask = NO_MASK
    try:
        out: dict[str, str] = {}
        visible = app.screen._compositor.visible_widgets
        for widget in visible:
            region = widget.region
            if region.area == 0:
                continue
            strips = widget.render_lines(Region(0, 0, region.width, region.height))
            prose = any(node.id == "lesson-text" for node in widget.ancestors_with_self)
            name = ("prose/" if prose else "") + f"{widget.id or type(widget).__name__}@{region.x},{region.y}"
            out[name] = "\n".join(strip.text for strip in strips)
        return out
    finally:
        app.answer_mask = saved


def checked(app, texts: dict[str, str]) -> str:
    """What must not show an open answer: every widget but the questions' lines (the questions'
    own words, and the answers the teacher chose to reveal), the hint line (the slide's premise:
    "ran until iteration 5"), the panel's border (slide numbers) and the slide's prose (the
    teacher's words, never masked: tests/test_lesson_prose.py keeps the built-in prose free of
    answers)."""
    skip = {"lesson-hint", "LessonPanel", "lesson", "lesson-questions"}
    return "\n".join(text for name, text in texts.items()
                     if name.split("@")[0] not in skip and not name.startswith("prose/"))


def hidden_forms(q, sim, lesson) -> list[str]:
    """The forms that must not show while ``q`` is open: its answer's, and for a comparison (a
    prediction) the forms of each quantity it compares, read now."""
    if not isinstance(q.expr, Comparison):
        forms = screen_forms(q, sim, lesson)
        value = answer_of(q, sim, lesson).value
        if isinstance(value, (list, tuple)) and any(v != int(v) for v in value):
            # a vector of reals (an update): a panel writes its entries one by one, at 3 or
            # 4 significant digits (the phase view's θ_new = (-0.0424, -0.00198, -0.05))
            forms = forms + [f"{abs(v):.{d}g}" for v in value for d in (3, 4)]
        return forms
    out: list[str] = []
    for name in question_quantities(q):
        out += screen_forms(replace(q, answer=name, expr=None, choices=None), sim, lesson)
    return out


def revealed_hold(app, forms) -> bool:
    """Does an answer revealed earlier on this slide hold one of ``forms``? (A lesson's content:
    reported, not failed.)"""
    return any(holds_token(app.revealed.get(i, ""), f) for i in app.revealed for f in forms)


async def settle(pilot, timeout: float = 90.0) -> None:
    app = pilot.app
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if not app.running and not app._lesson_run and not app.busy and app.index >= 0 \
                and not getattr(app.screen, "running", False):
            await pilot.pause()
            return
        await pilot.pause(0.02)
    raise AssertionError("the slide did not settle")


def question_cases() -> list[tuple[str, str]]:
    return [(name, size) for name in builtin_names() for size in SIZES]


@pytest.mark.usefixtures("long_frames")         # the screen is read once each slide has stopped
@pytest.mark.parametrize("name,size", question_cases())
def test_no_answer_shows_before_its_reveal(name, size):
    lesson = load_lesson(name)
    app = LessonApp(lesson, animate=False, throttle=False, fast=True)
    report: list[str] = []
    notes: list[str] = []
    asked: list[str] = []

    async def main():
        async with app.run_test(size=SIZES[size]) as pilot:
            await settle(pilot)
            for k, slide in enumerate(lesson.slides):
                if k:
                    await pilot.press("pagedown")
                    await settle(pilot)
                assert app.index == k
                for i, q in enumerate(slide.questions):
                    answer = answer_of(q, app.sim, lesson)
                    forms = hidden_forms(q, app.sim, lesson)
                    asked.append(q.ask)
                    if not forms:
                        assert not answer.known, (name, k, q.ask)
                    shown = checked(app, screen_texts(app))
                    leaks = [f for f in forms if holds_token(shown, f)]
                    assert not leaks, (f"{name} {size} slide {k + 1} Q{i + 1} ({q.ask!r}): "
                                       f"{leaks} on screen before the reveal:\n{shown}")
                    raw = checked(app, screen_texts(app, masked=False))
                    if any(holds_token(raw, f) for f in forms):
                        report.append(f"slide {k + 1} Q{i + 1}")
                    if revealed_hold(app, forms):
                        notes.append(f"slide {k + 1} Q{i + 1}")
                    await pilot.press("enter")
                    await pilot.pause()
                    line = app.panel.questions[i]
                    assert line.revealed
                    assert answer.text in line.answer or any(holds_token(line.answer, f) for f in forms), \
                        (line.answer, answer.text)
                    if not app.open_questions():
                        # restored at once: the panels as they are unmasked
                        after = screen_texts(app)
                        assert {n: t for n, t in after.items() if "lesson-questions" not in n} == \
                            {n: t for n, t in screen_texts(app, masked=False).items()
                             if "lesson-questions" not in n}
                        assert app.answer_mask is NO_MASK or not app.answer_mask.enabled

    asyncio.run(main())
    assert len(asked) == lesson.questions
    print(f"{name} {size}: {len(asked)} questions; answers the mask hid: {', '.join(report) or 'none'}; "
          f"answered by an earlier reveal: {', '.join(notes) or 'none'}")


def test_the_arithmetic_does_not_work_out_a_later_slides_question():
    """epochs-and-batches: slide 1 asks for the batches per epoch (200 / 5 = 40), slide 3 for the
    steps of the whole run (40 × 1000 = 40,000). Once slide 1's question is revealed its working
    shows, but not the run's total until slide 3 asks for it and it is revealed there."""
    lesson = load_lesson("epochs-and-batches")
    app = LessonApp(lesson, animate=False, throttle=False, fast=True)
    seen: dict[str, str] = {}

    async def main():
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await pilot.pause()
            seen["slide 1"] = app.lesson_arithmetic()
            await pilot.press("pagedown")
            await settle(pilot)
            seen["slide 2"] = app.lesson_arithmetic()
            await pilot.press("pagedown")
            await settle(pilot)
            for _ in app.slide.questions:
                await pilot.press("enter")
                await pilot.pause()
            seen["slide 3 revealed"] = app.lesson_arithmetic()

    asyncio.run(main())
    assert holds_token(seen["slide 1"], "40") and "batches per epoch" in seen["slide 1"], seen
    for where in ("slide 1", "slide 2"):
        assert not holds_token(seen[where], "40,000") and not holds_token(seen[where], "40000"), seen
    assert holds_token(seen["slide 3 revealed"], "40,000"), seen
