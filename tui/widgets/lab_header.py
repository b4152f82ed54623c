"""The lab's header: what is swept (scenario, N, K runs, lr rule, target loss and its rule) and
the state (choosing the target / running B = … / finished / stopped), from the screen's lab."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class LabHeader(Widget):
    """Two lines: the sweep's settings, then its target and state."""

    COMPONENT_CLASSES = {"labheader--title", "labheader--value", "labheader--muted",
                         "labheader--running", "labheader--done", "labheader--error"}
    DEFAULT_CSS = "LabHeader { height: auto; }"

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.settings = ""
        self.target = ""
        self.state = ""
        self.kind = "running"

    def show(self, settings: str, target: str, state: str, kind: str) -> None:
        """``kind``: running, done or error (the state's colour)."""
        self.settings, self.target, self.state, self.kind = settings, target, state, kind
        self.refresh(layout=True)

    def render(self) -> Text:
        style = lambda name: self.get_component_rich_style(f"labheader--{name}", partial=True)  # noqa: E731
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("Batch-size lab  ", style("title"))
        t.append(self.settings, style("value"))
        t.append("\n")
        t.append(self.state, style(self.kind))
        t.append("  ·  ")
        t.append(self.target, style("muted"))
        return t
