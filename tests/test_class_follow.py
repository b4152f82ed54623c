"""Class mode in-process (issue 22): a teacher's app (``ClassApp``) and three followers
(``FollowerApp``) that see only the encoded state messages the teacher publishes. Through paging,
stepping, phases, running, a live setting change, a view with ticks and going back, each
follower's counters, parameters and losses equal the teacher's exactly (not approximately) at
every state it was given; a follower's keys never drive while the class is locked.

The teacher's numbers are read from the teacher's own engine when each state is published;
nothing is timed (runs are waited for until they stop)."""

from __future__ import annotations

import asyncio
import gzip
import math
import re
from pathlib import Path

import numpy as np

from mbsim.engine.lessons import load_lesson
from mbsim.tui.classroom.follower import FollowerApp
from mbsim.tui.classroom.protocol import read_server
from mbsim.tui.classroom.state import read_state
from mbsim.tui.classroom.teacher import ClassApp
from mbsim.tui.screens.compare import CompareScreen

LESSON = """\
+++
title = "Class test"
samples = 40
val_samples = 10
batch_size = 5
epochs = 30
+++
# One

Nothing runs yet.

---
# Two

```mbsim
run = "iteration 7"
```

---
# Three: a fresh run

```mbsim
batch_size = 4
lr = 0.1
run = "epoch"

[[question]]
ask = "How many batches per epoch?"
answer = "plan.batches_per_pass"
```

---
# Four: compare

```mbsim
view = "compare"
```

---
# Five: a live change

```mbsim
view = "main"
run = "iteration 30"

[live]
batch_size = 8
```
"""


def snapshot(sim) -> tuple:
    """What must be equal: the counters, the parameters, the losses (bit for bit)."""
    return (sim.counters().text(), sim.status, sim.params.tobytes(), repr(sim.train_loss), repr(sim.val_loss),
            repr(sim.epoch_loss), tuple((s.start_iteration, s.note) for s in sim.segments))


def view_snapshot(app) -> tuple | None:
    for screen in reversed(app.screen_stack):
        if isinstance(screen, CompareScreen):
            comp = screen.comp
            return (comp.target, tuple(r.sim.counters().text() for r in comp.runs),
                    tuple(r.sim.params.tobytes() for r in comp.runs))
    return None


async def settle(pilot, timeout: float = 60.0) -> None:
    app = pilot.app
    for _ in range(int(timeout / 0.02)):
        await pilot.pause()
        if not app.running and not app._lesson_run and not app.busy and app.index >= 0:
            return
        await pilot.pause(0.02)
    raise AssertionError("the run did not stop")


def lesson_file(tmp_path: Path) -> Path:
    path = tmp_path / "class-test.md"
    path.write_text(LESSON)
    return path


def teacher_session(lesson) -> list[tuple[str, tuple, tuple | None]]:
    """Drive a teacher through the lesson; return (state text, teacher's snapshot, view snapshot)
    for every state published."""
    app = ClassApp(lesson, animate=False, fast=True)
    out: list[tuple[str, tuple, tuple | None]] = []

    def keep() -> None:
        app.publish()
        if not out or out[-1][0] != app.published_text:
            out.append((app.published_text, snapshot(app.sim), view_snapshot(app)))

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            keep()
            for key in ("n", "n", "p", "p"):          # stepping, then two phases of the next
                await pilot.press(key)
                keep()
            await pilot.press("pagedown")            # slide 2: runs to iteration 7
            await settle(pilot)
            keep()
            await pilot.press("e")                   # to the end of the epoch
            await settle(pilot)
            keep()
            await pilot.press("less_than_sign")      # a live change: lr halved
            keep()
            await pilot.press("space")               # running, then paused
            await pilot.pause(0.3)
            await pilot.press("space")
            await settle(pilot)
            keep()
            await pilot.press("left", "left", "left")   # back
            keep()
            await pilot.press("pagedown")            # slide 3: a fresh run, one epoch
            await settle(pilot)
            keep()
            await pilot.press("right_square_bracket")   # B doubled live
            await pilot.press("n", "n")
            keep()
            await pilot.press("pagedown")            # slide 4: compare mode
            await settle(pilot)
            keep()
            await pilot.press("n", "n", "e", "left")  # ticks in compare mode
            await settle(pilot)
            keep()
            await pilot.press("pagedown")            # slide 5: main view, live change, run to 30
            await settle(pilot)
            keep()
            await pilot.press("pageup")              # back to slide 4, then 3: exact rewind
            await settle(pilot)
            keep()
            await pilot.press("pageup")
            await settle(pilot)
            keep()
            await pilot.press("u")                   # unlock, lock
            keep()
            await pilot.press("u")
            keep()

    asyncio.run(main())
    return out


def follow(lesson, states: list[tuple[str, tuple, tuple | None]], pick) -> int:  # noqa: ANN001
    """A follower given the states ``pick`` chooses; every state compared; the number compared."""
    app = FollowerApp(lesson, animate=False)
    checked = 0

    async def main() -> None:
        nonlocal checked
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            for i, (text, teacher, view) in enumerate(states):
                if not pick(i, len(states)):
                    continue
                state = read_state(read_server(text))
                await app.apply_state(state)
                await pilot.pause()
                if not state.locked:
                    continue
                assert app.index == state.slide
                assert snapshot(app.sim) == teacher, f"state {i}"
                assert view_snapshot(app) == view, f"view, state {i}"
                checked += 1

    asyncio.run(main())
    return checked


def test_a_teacher_and_three_followers_agree_exactly(tmp_path: Path) -> None:
    lesson = load_lesson(str(lesson_file(tmp_path)))
    states = teacher_session(lesson)
    assert len(states) >= 15
    assert len({s[1][0] for s in states}) >= 10          # the counters did move
    # every follower agrees at every state it was given: one given all, one every third, one
    # that joins for the second half
    assert follow(lesson, states, lambda i, n: True) >= 15
    assert follow(lesson, states, lambda i, n: i % 3 == 2) >= 5
    assert follow(lesson, states, lambda i, n: i >= n // 2) >= 7
    # and what crossed the wire is small: a few hundred bytes to a couple of kilobytes a state
    assert max(len(text) for text, _, _ in states) < 3000


def test_a_question_is_masked_on_a_follower_until_the_teacher_reveals_it() -> None:
    """epochs-and-batches, slide 1: "How many batches make one epoch?" (N = 200, B = 5: 40).
    While it is open the follower's panels hide 40 (the lesson's mask); the teacher's enter
    reveals it, with its working, on the follower too."""
    lesson = load_lesson("epochs-and-batches")
    teacher = ClassApp(lesson, animate=False, fast=True)
    texts: list[str] = []

    async def teach() -> None:
        async with teacher.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            teacher.publish()
            texts.append(teacher.published_text)
            await pilot.press("enter")
            teacher.publish()
            texts.append(teacher.published_text)

    asyncio.run(teach())
    follower = FollowerApp(lesson, animate=False)

    async def follow_it() -> None:
        async with follower.run_test(size=(120, 40)) as pilot:
            await follower.apply_state(read_state(read_server(texts[0])))
            await pilot.pause()
            assert follower.open_questions() == [0]
            assert follower.answer_mask.enabled and "40" in follower.answer_mask.forms
            await follower.apply_state(read_state(read_server(texts[1])))
            await pilot.pause()
            assert follower.open_questions() == []
            assert "200 / 5 = 40" in follower.revealed[0]
            assert not follower.answer_mask.enabled

    asyncio.run(follow_it())


def test_the_class_screen_picture_shows_the_slide_prose_once_it_is_drawn() -> None:
    """The class's screen (the picture every browser page shows) must show the slide's prose:
    Textual lays out the Markdown after the state is applied, so a picture taken then has an empty
    panel, and a later one must follow even though the lesson's state did not change. The slide's
    open question (N = 200, B = 5: 40 batches) stays hidden in the picture."""
    lesson = load_lesson("epochs-and-batches")
    teacher = ClassApp(lesson, animate=False, fast=True)
    texts: list[str] = []

    async def teach() -> None:
        async with teacher.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            teacher.publish()
            texts.append(teacher.published_text)

    asyncio.run(teach())
    follower = FollowerApp(lesson, animate=False, first=read_state(read_server(texts[0])))
    pictures: list[bytes] = []
    follower.screen_sink = pictures.append

    def words(picture: bytes) -> str:
        svg = gzip.decompress(picture).decode("utf-8")
        return re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ")

    async def follow_it() -> None:
        # headless, as `mbsim join --screen` runs it (run_test's pilot would draw it again)
        async def stop() -> None:
            for _ in range(100):
                await asyncio.sleep(0.05)
                if pictures and "A sample is one row of data" in words(pictures[-1]):
                    break
            follower.exit()

        waiter = asyncio.ensure_future(stop())
        await follower.run_async(headless=True, size=(120, 40))
        await waiter

    asyncio.run(follow_it())
    assert pictures
    shown = words(pictures[-1])
    assert "A sample is one row of data" in shown
    assert "How many batches make one epoch?" in shown
    assert "200 / 5 = 40" not in shown


def test_followers_follow_the_teachers_speed_and_landscape_parameters() -> None:
    """epochs-and-batches, slide 1 (a line: w and b). The teacher's + twice goes 10 → 20 → 50
    batches per second (tui.runloop.SPEEDS), five more reach "max"; the palette's landscape choice
    (b across, w up: parameters 1 and 0) shows on the follower as chosen. A state whose speed or
    pair is out of range is refused with a message, not shown."""
    import json

    import pytest

    from mbsim.tui.classroom.protocol import ProtocolError

    lesson = load_lesson("epochs-and-batches")
    teacher = ClassApp(lesson, animate=False, fast=True)
    texts: list[str] = []

    async def teach() -> None:
        async with teacher.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            teacher.action_faster()             # (the slide's keys list leaves + out: the action)
            teacher.action_faster()
            teacher.action_landscape_params(1, 0)
            await pilot.pause()
            teacher.publish()
            texts.append(teacher.published_text)
            for _ in range(5):
                teacher.action_faster()
            await pilot.pause()
            teacher.publish()
            texts.append(teacher.published_text)

    asyncio.run(teach())
    first, second = (read_state(read_server(t)) for t in texts)
    assert (first.speed, first.pair) == (50.0, (1, 0))
    assert (second.speed, second.pair) == (None, (1, 0))
    follower = FollowerApp(lesson, animate=False)

    async def follow_it() -> None:
        async with follower.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert follower.speed == 10 and follower.landscape.plane_mode != "axes"
            await follower.apply_state(first)
            await pilot.pause()
            assert follower.speed == 50.0
            assert follower.landscape.plane_mode == "axes" and tuple(follower.landscape.pair) == (1, 0)
            await follower.apply_state(second)
            await pilot.pause()
            assert follower.speed is None

    asyncio.run(follow_it())
    for field, bad in (("speed", 0), ("speed", "fast"), ("speed", True), ("pair", [0, 0]), ("pair", [0]),
                       ("pair", [-1, 1]), ("pair", "w,b")):
        data = read_server(texts[0])
        data[field] = bad
        with pytest.raises(ProtocolError):
            read_state(json.loads(json.dumps(data)))


def test_followers_count_the_loss_plot_x_axis_as_the_teacher_does() -> None:
    """epochs-and-batches, slide 1 (N = 200, B = 5: 40 steps an epoch). The teacher runs 80 steps
    and switches the loss plot's x axis (the palette's x_axis) to epochs, then to samples seen: a
    follower's loss plot counts the same, so its training curve ends at 80 / 40 = 2 epochs, then
    at 80 × 5 = 400 samples. A state whose x axis is not one of the three
    is refused with a message; a state without one is the plot's default, steps."""
    import json

    import pytest

    from mbsim.tui.classroom.protocol import ProtocolError

    lesson = load_lesson("epochs-and-batches")
    teacher = ClassApp(lesson, animate=False, fast=True)
    texts: list[str] = []

    async def teach() -> None:
        async with teacher.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            teacher.sim.run_iterations(80 - teacher.sim.iteration)
            for axis in ("epochs", "samples"):
                teacher.action_x_axis(axis)
                await pilot.pause()
                teacher.publish()
                texts.append(teacher.published_text)

    asyncio.run(teach())
    states = [read_state(read_server(t)) for t in texts]
    assert [s.x_axis for s in states] == ["epochs", "samples"]
    follower = FollowerApp(lesson, animate=False)

    async def follow_it() -> None:
        async with follower.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert follower.lossplot.x_axis == "steps"
            for state, last_x in zip(states, (2.0, 400.0)):
                await follower.apply_state(state)
                await pilot.pause()
                plot = follower.lossplot
                assert follower.sim.iteration == 80
                assert plot.x_axis == state.x_axis
                assert plot.series["train"][0].max() == pytest.approx(last_x)

    asyncio.run(follow_it())
    for bad in ("iterations", "", 1, None, ["epochs"]):
        data = read_server(texts[0])
        data["x_axis"] = bad
        with pytest.raises(ProtocolError, match="x axis"):
            read_state(json.loads(json.dumps(data)))
    data = read_server(texts[0])
    del data["x_axis"]
    assert read_state(data).x_axis == "steps"
    # the protocol's names are the plot's (state.py imports no Textual, so it keeps its own copy)
    from mbsim.tui.classroom.state import LOSS_X_AXES
    from mbsim.tui.widgets._lossplot_axes import X_AXES

    assert LOSS_X_AXES == X_AXES
