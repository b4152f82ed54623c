"""The key bar: every key of the main screen with a word or two, wrapped over as many rows as
the width needs (a one-row footer cannot hold them all at 80 columns).

Keys bound in a group (``+``/``-`` speed, ``[``/``]`` batch size, ``<``/``>`` lr) share one
entry, as in Textual's footer.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static


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


class KeyBar(Static):
    """All the keys, wrapped; keys bold, words muted (styles in app.tcss)."""

    COMPONENT_CLASSES = {"keybar--key", "keybar--description"}

    def on_mount(self) -> None:
        bindings = [b for b in self.app.BINDINGS if isinstance(b, Binding)]
        key_style = self.get_component_rich_style("keybar--key", partial=True)
        desc_style = self.get_component_rich_style("keybar--description", partial=True)
        text = Text(no_wrap=False, overflow="fold")
        for k, (keys, desc) in enumerate(key_entries(bindings) + [("^p", "palette")]):
            if k:
                text.append("  ")
            text.append(keys, key_style)
            text.append("\u00a0")
            text.append(desc.replace(" ", "\u00a0"), desc_style)
        self.update(text)
