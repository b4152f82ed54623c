"""The key bar: every key of the main screen with a word or two, wrapped over as many rows as
the width needs (a one-row footer cannot hold them all at 80 columns).

Keys bound in a group (``+``/``-`` speed, ``[``/``]`` batch size, ``<``/``>`` lr) share one
entry, as in Textual's footer.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget

from ._cells import readable_style, widget_bg


def key_entries(bindings: list[Binding]) -> list[tuple[str, str]]:
    """(keys, description) for each shown binding, grouped bindings merged into one entry."""
    entries: list[tuple[str, str]] = []
    groups: dict[str, int] = {}
    for b in bindings:
        if not b.show:
            continue
        key = b.key_display or b.key.split(",")[0]
        if b.group is not None:
            name = b.group.description
            if name in groups:
                i = groups[name]
                keys, desc = entries[i]
                entries[i] = (f"{keys}{key}", desc)
                continue
            groups[name] = len(entries)
            entries.append((key, name))
        else:
            entries.append((key, b.description))
    return entries


class KeyBar(Widget):
    """All the keys, packed into rows that fit the width (an entry is never split); keys bold,
    words muted (styles in app.tcss)."""

    COMPONENT_CLASSES = {"keybar--key", "keybar--description"}
    DEFAULT_CSS = "KeyBar { height: auto; }"

    def get_component_rich_style(self, *names: str, partial: bool = False):  # noqa: ANN201
        """The style of app.tcss, its colour readable (4.5:1) on the bar's background."""
        return readable_style(super().get_component_rich_style(*names, partial=partial), widget_bg(self))

    def on_mount(self) -> None:
        bindings = [b for b in self.app.BINDINGS if isinstance(b, Binding)]
        self.entries = key_entries(bindings) + [("^p", "palette")]

    def render(self) -> Text:
        width = max(10, self.content_size.width or self.size.width or 80)
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        desc_style = self.get_component_rich_style("keybar--description", partial=True)
        text = Text(no_wrap=True, overflow="crop")
        used = 0
        for keys, desc in getattr(self, "entries", []):
            size = len(keys) + 1 + len(desc)
            if used and used + 2 + size > width:
                text.append("\n")
                used = 0
            elif used:
                text.append("  ")
                used += 2
            text.append(keys, key_style)
            text.append(" " + desc, desc_style)
            used += size
        return text

    def on_resize(self) -> None:
        self.refresh(layout=True)
