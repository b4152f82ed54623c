"""The screens a lesson slide opens (compare mode, the noise cloud, the batch-size lab), each
with the lesson panel under it, so the slide's text, its questions and its keys stay on screen
for as long as the slide is shown (not as a popup that fades).

:func:`lesson_screen` makes, once per screen class, a subclass whose ``compose`` adds a
:class:`~tui.widgets.lesson_panel.LessonPanel` under the screen's own widgets and whose mount asks
the app to fill it (``LessonApp.fill_panel``). Each such screen remembers what it was opened for
(:attr:`LessonView.shown`: the view, the scenario and K), so the lesson reopens it when the next
slide asks for the same view on other settings.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen

from .widgets.lesson_panel import LessonPanel

_MADE: dict[type, type] = {}


class LessonView:
    """Mixed into a view screen opened by a lesson slide (see the module docstring)."""

    shown: tuple[Any, ...] = ()

    def __init__(self, scenario: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(scenario, *args, **kwargs)  # type: ignore[call-arg]
        self.shown = (scenario, kwargs.get("runs"))

    def compose(self) -> ComposeResult:
        yield from super().compose()  # type: ignore[misc]
        yield LessonPanel(id="lesson", classes="-view")

    def on_mount(self) -> None:
        fill = getattr(self.app, "fill_panel", None)  # type: ignore[attr-defined]
        if callable(fill):
            self.call_later(fill, self.query_one(LessonPanel))  # type: ignore[attr-defined]


def lesson_screen(cls: type[Screen]) -> type[Screen]:
    """``cls`` with the lesson panel under it (one subclass per class, made once)."""
    made = _MADE.get(cls)
    if made is None:
        # the class's own module: a CSS_PATH is found next to the file that defines the screen
        made = type(f"Lesson{cls.__name__}", (LessonView, cls), {"__module__": cls.__module__})
        _MADE[cls] = made
    return made
