"""Text panels that break between items, never inside one (a counter keeps its number).

They are cheap on the wire: when the text changes, only the cells that changed are marked for
repainting, so Textual sends a few digits rather than whole lines (DESIGN.md budget: ≤ 20 KB/s
over SSH at the default speed; with ``_cells.enable_partial_line_updates`` Textual writes just
those cells).
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text
from textual.geometry import Region
from textual.widget import Widget

from ._cells import readable_style, widget_bg
from ._linecache import CachedLines

MERGE_GAP = 6   # unchanged cells between two changes below which they are repainted as one


def fit_items(items: list[Text | None], width: int, sep: str = "  ") -> list[Text]:
    """Lay out ``items`` on as few lines as fit in ``width`` cells, breaking only between items.

    A ``None`` item forces a new line.
    """
    lines: list[Text] = []
    line = Text()
    for item in items:
        if item is None:
            lines.append(line)
            line = Text()
            continue
        if line.cell_len and line.cell_len + len(sep) + item.cell_len > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append(sep)
        line.append_text(item)
    if line.cell_len or not lines:
        lines.append(line)
    return lines


def item_breaks(items: list[Text | None], width: int, sep: str = "  ") -> list[list[int]]:
    """The indices of the items on each line :func:`fit_items` makes (the same rule)."""
    lines: list[list[int]] = []
    line: list[int] = []
    used = 0
    for k, item in enumerate(items):
        if item is None:
            lines.append(line)
            line, used = [], 0
            continue
        n = item.cell_len
        if used and used + len(sep) + n > width:
            lines.append(line)
            line, used = [], 0
        used += (len(sep) if used else 0) + n
        line.append(k)
    if used or not lines:
        lines.append(line)
    return lines


def _char_runs(old: str, new: str, gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """:func:`changed_runs` for two lines of one-cell characters under the same styles: the
    ranges [x0, x1) where their characters differ, close ranges merged."""
    runs: list[list[int]] = []
    for x in [x for x, (a, b) in enumerate(zip(old, new)) if a != b]:
        if runs and x - runs[-1][1] <= gap:
            runs[-1][1] = x + 1
        else:
            runs.append([x, x + 1])
    return [(x0, x1) for x0, x1 in runs]


def _cells(line: Text, console: Console) -> list[tuple[str, object]]:
    """(character, style) per cell of a rendered line."""
    cells: list[tuple[str, object]] = []
    for segment in line.render(console, end=""):
        style = segment.style
        for ch in segment.text:
            cells.append((ch, style))
            for _ in range(cell_len(ch) - 1):
                cells.append(("", style))
    return cells


def _line_cells(line: Text, console: Console) -> list[tuple[str, object]]:
    """The cells of a line for comparing two versions of it: (character, the styles over it) per
    cell, read from the spans (no rendering) when every character is one cell wide; else
    :func:`_cells`. Equal lists mean the same picture."""
    plain = line.plain
    if cell_len(plain) != len(plain):
        return _cells(line, console)
    n = len(plain)
    styles: list = [None] * n
    if line.style:
        styles = [(line.style,)] * n
    for start, end, style in line.spans:
        start, end = max(0, start), min(end, n)
        if end <= start:
            continue
        if styles[start:end] == [None] * (end - start):     # (the usual case: nothing under it)
            styles[start:end] = [(style,)] * (end - start)
            continue
        for k in range(start, end):
            styles[k] = (style,) if styles[k] is None else styles[k] + (style,)
    return list(zip(plain, styles))


def changed_runs(old: list[tuple[str, object]], new: list[tuple[str, object]],
                 gap: int = MERGE_GAP) -> list[tuple[int, int]]:
    """Cell ranges [x0, x1) where two rendered lines differ, close ranges merged."""
    blank = (" ", None)
    n = max(len(old), len(new))
    if len(old) < n:
        old = old + [blank] * (n - len(old))
    if len(new) < n:
        new = new + [blank] * (n - len(new))
    runs: list[list[int]] = []
    for x in [x for x, a, b in zip(range(n), old, new) if a != b]:
        if runs and x - runs[-1][1] <= gap:
            runs[-1][1] = x + 1
        else:
            runs.append([x, x + 1])
    return [(x0, x1) for x0, x1 in runs]


class ItemLine(CachedLines, Widget):
    """A panel of text items on one line, wrapping to more lines between items when narrow.

    Subclasses call :meth:`set_items`; the widget repaints only the cells that changed (each
    line rendered again only when it changed: :class:`~._linecache.CachedLines`), and asks for
    a new layout only when its number of lines changes.
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._items: list[Text | None] = []
        self._sep = "  "
        self._plain = ""
        self._rows: list[Text] | None = None    # the lines shown, at width _rows_width
        self._rows_width = -1
        self._styles: dict = {}                 # component styles made readable (see below)

    def get_component_rich_style(self, *names: str, partial: bool = False):  # noqa: ANN201
        """The component style of app.tcss, its colour made readable (WCAG AA, 4.5:1) on this
        panel's background whatever the theme. Kept until the styles change (a theme, a class):
        the panels ask for them on every frame."""
        key = (names, partial, self.app.theme)
        style = self._styles.get(key)
        if style is None:
            style = super().get_component_rich_style(*names, partial=partial)
            style = self._styles[key] = readable_style(style, widget_bg(self))
        return style

    def notify_style_update(self) -> None:
        self._styles = {}
        self._rows = None
        self.style_generation = getattr(self, "style_generation", 0) + 1   # items built before are stale
        super().notify_style_update()

    @property
    def text(self) -> str:
        """The plain text shown, items separated by two spaces, lines by newlines (for tests)."""
        return self._plain

    def lines(self, width: int) -> list[Text]:
        """The lines to show at ``width`` cells."""
        return fit_items(self._items, max(1, width), self._sep)

    def content_lines(self) -> list[Text]:
        width = self.content_size.width
        if self._rows is None or width != self._rows_width:
            self._lay_out(self.lines(width), width)
        return self._rows

    def _lay_out(self, rows: list[Text], width: int) -> None:
        """Take ``rows`` (:meth:`lines` at ``width``) as the lines shown."""
        self._rows, self._rows_width = rows, width
        self._shown_lines = (len(rows), width)
        breaks = item_breaks(self._items, max(1, width), self._sep) if self.lines_are_items() else None
        self._row_items = breaks if breaks is not None and len(breaks) == len(rows) else None

    def lines_are_items(self) -> bool:
        """True when :meth:`lines` is :func:`fit_items` of the items (a subclass that lays its
        lines out otherwise says False): then items that change only their characters are
        redrawn without laying them out again (:meth:`_same_shape_rows`)."""
        return type(self).lines is ItemLine.lines

    def set_items(self, items: list[Text | None], sep: str = "  ") -> None:
        """Show ``items``; repaint only what differs from what is on screen."""
        plains = [None if t is None else t.plain for t in items]
        plain = "\n".join(sep.join(group) for group in _groups(plains))
        if plain == self._plain and [_spans(i) for i in items] == [_spans(i) for i in self._items]:
            return
        same_shape = self._same_shape(items, plains, sep)
        self._items, self._sep, self._plain, self._item_plains = items, sep, plain, plains
        width = self.content_size.width
        old = self._rows
        if old is None and self.is_mounted and width > 0 and width == self._rows_width:
            # the lines were dropped (a style update: a theme, a focus or hover anywhere) but the
            # widget is laid out at this width: repaint it whole, and lay the screen out again
            # only if its height changes (a layout repaints the whole screen: ~40 KB at 120×40)
            new = self.lines(width)
            relayout = getattr(self, "_shown_lines", None) != (len(new), width)
            self._lay_out(new, width)
            self.refresh(layout=relayout)
            return
        if not self.is_mounted or width <= 0 or old is None or width != self._rows_width:
            self._rows = None
            self.refresh(layout=True)
            return
        if same_shape and self._row_items is not None and self.lines_are_items():
            self._rows = self._same_shape_rows(old, plains, sep, width)
            return
        new = self.lines(width)
        if len(new) != len(old):
            self._lay_out(new, width)
            self.refresh(layout=True)
            return
        console = self.app.console
        rows = []
        marked = []
        for y, (a, b) in enumerate(zip(old, new)):
            if a.plain == b.plain and a.spans == b.spans and a.style == b.style:
                rows.append(a)                # the same line: its strips stay cached
                continue
            rows.append(b)
            for x0, x1 in changed_runs(_line_cells(a, console), _line_cells(b, console)):
                marked.append(Region(x0, y, min(x1, width) - x0, 1))
        if marked:
            self.refresh(*marked)
        self._lay_out(rows, width)

    # --- items that changed only their characters (a counter's digits): no new layout ----------
    _row_items: list[list[int]] | None = None     # the items on each line shown (fit_items' breaks)
    _item_plains: list[str | None] = []           # the plain text of each item shown

    def _same_shape(self, items: list[Text | None], plains: list[str | None], sep: str) -> bool:
        """True when ``items`` differ from those shown only in characters: as many items, each as
        long, with the same styles over the same spans, every character one cell wide. Then
        :func:`fit_items` breaks them into the same lines with the same spans, and a cell differs
        exactly where its character does (what :func:`changed_runs` finds from the cells)."""
        old_items, old_plains = self._items, self._item_plains
        if sep != self._sep or len(items) != len(old_items) or len(old_plains) != len(items):
            return False
        for new, old, pn, po in zip(items, old_items, plains, old_plains):
            if new is None or old is None or pn is None or po is None:
                if new is not None or old is not None:
                    return False
                continue
            if len(pn) != len(po) or cell_len(pn) != len(pn) or cell_len(po) != len(po):
                return False
            if new.style != old.style or new.spans != old.spans:
                return False
        return True

    def _same_shape_rows(self, old: list[Text], plains: list[str | None], sep: str, width: int) -> list[Text]:
        """The lines of items of the same shape as those shown (:meth:`_same_shape`): each line's
        text with the old line's spans, its changed cells marked for repainting."""
        rows = []
        marked = []
        for y, (line, members) in enumerate(zip(old, self._row_items)):
            text = sep.join([plains[k] for k in members])
            before = line.plain
            if text == before:
                rows.append(line)             # the same line: its strips stay cached
                continue
            rows.append(Text(text, style=line.style, spans=list(line.spans)))
            for x0, x1 in _char_runs(before, text):
                marked.append(Region(x0, y, min(x1, width) - x0, 1))
        if marked:
            self.refresh(*marked)             # (one refresh: one message to the screen)
        return rows

    def render(self) -> Text:
        return Text("\n").join(self.content_lines())

    def get_content_height(self, container, viewport, width: int) -> int:  # noqa: ANN001
        return len(self.lines(width))


def _groups(items: list) -> list[list]:
    """The items between the ``None`` breaks."""
    groups: list[list] = [[]]
    for item in items:
        if item is None:
            groups.append([])
        else:
            groups[-1].append(item)
    return groups


def _spans(item: Text | None) -> tuple | None:
    # the item's own style too: a theme change restyles a text whose words stay the same
    return None if item is None else (item.style, item.spans)
