"""The README's picture of a teacher's screen in class mode (docs/class.svg): ``mbsim class
epochs-and-batches`` on its first slide, two batches in, with a class of five students of whom
four have answered the question (made in-process: the room's tally is the real one).

    python docs/make_class_screenshot.py
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mbsim.engine.lessons import load_lesson  # noqa: E402
from mbsim.tui.classroom.room import Room  # noqa: E402
from mbsim.tui.classroom.teacher import ClassApp  # noqa: E402


def main() -> None:
    lesson = load_lesson("epochs-and-batches")
    room = Room(lesson.title)
    app = ClassApp(lesson, room=room, address="http://192.168.1.20:8000/K7QX2M", animate=False, throttle=False)

    async def run() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            students = [room.join(name) for name in ("Ada", "Grace", "Alan", "Edsger", "Barbara")]
            room.ask(0, 1)
            for s, text, ok in zip(students, ("40", "40", "8", "40"), (True, True, False, True)):
                room.answer(s, 0, 0, text, ok)
            await pilot.press("n", "n")
            await pilot.pause(0.5)
            app.show_lesson_state()
            app.settle()
            await pilot.pause(0.5)
            (ROOT / "docs" / "class.svg").write_text(app.export_screenshot(title="mbsim class"), encoding="utf-8")

    asyncio.run(run())


if __name__ == "__main__":
    main()
