"""Textual's line API for a widget whose picture is a list of Rich ``Text`` lines: each line is
rendered once, the way Textual renders a ``render()`` result, and kept until it changes.

Why: a widget that only implements ``render()`` is rendered whole again by Textual whenever any
part of it is marked for repainting (``Widget.render_line`` re-runs ``_render_content`` while
``_dirty_regions`` is not empty). The counters change a few digits ten times a second and the
loss plot a few columns twice a second, yet each time every line of them went through Textual's
Content machinery (measured: half of the running app's CPU at 120×40, issue 24). With
:class:`CachedLines` only the lines that changed are rendered again.

The strips are the same as Textual's: each line goes through ``Visual.to_strips`` with the
widget's visual style, and the text-selection offsets carry the line's row (``Strip.apply_offsets``)
as a whole render would give them. While some of the widget's text is selected, Textual's own
whole render is used (its selection highlight spans lines).
"""

from __future__ import annotations

from operator import itemgetter

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.strip import Strip
from textual.style import Style
from textual.visual import Visual, visualize

_CONTROL = frozenset("\x07\x08\x0b\x0c\x0d\t\n")   # what Content strips or expands: not here


class CachedLines:
    """Mixin (before the Widget class) for a widget whose content is :meth:`content_lines`.

    The host returns the same ``Text`` object for a line that did not change (the cache holds
    each line's strips by the object), and keeps ``render()`` returning the whole picture (the
    lines joined by newlines), which Textual still uses while text is selected.
    """

    def content_lines(self) -> list[Text]:
        """The lines of the picture at the current size (the same objects while unchanged)."""
        raise NotImplementedError

    def _line_cache_reset(self) -> None:
        self.__dict__["_line_strips"] = {}
        self.__dict__["_line_rows"] = None

    def _set_dirty(self, *regions):  # noqa: ANN001, ANN202 - Textual's hook for a repaint
        if not regions:
            self._line_cache_reset()      # a full repaint (resize, style change, refresh())
        return super()._set_dirty(*regions)

    def notify_style_update(self) -> None:
        self._line_cache_reset()
        super().notify_style_update()

    def _line_strips_of(self, text: Text, row: int, width: int, style) -> list[Strip]:  # noqa: ANN001
        """The strips of ``text`` shown as the ``row``-th line (more than one if it wraps)."""
        cache: dict = self.__dict__.setdefault("_line_strips", {})
        key = (width, style)
        if self.__dict__.get("_line_key") != key:
            cache.clear()
            self.__dict__["_line_key"] = key
        hit = cache.get((id(text), row))
        if hit is not None and hit[0] is text:
            return hit[1]
        strip = self._fast_strip(text, row, width, style)
        if strip is not None:
            strips = [strip]
        else:
            strips = Visual.to_strips(self, visualize(self, text), width, None, style)
            if row:
                # the text-selection offsets as a whole render gives them: (x in the line, line)
                strips = [s.apply_offsets(_offset_x(s), row) for s in strips]
        cache[(id(text), row)] = (text, strips)
        return strips

    def _fast_strip(self, text: Text, row: int, width: int, style: Style) -> Strip | None:
        """The strip Textual's ``Visual.to_strips`` makes of a one-line ``text`` that fits in
        ``width`` (left-aligned, no tabs or control codes, no links), at ``row``, made
        directly: the same segments, styles and text-selection offsets (``Content.render``'s
        span stack and ``_FormattedLine.to_strip``), without wrapping, dividing and
        re-parsing. None when the line needs Textual's general path."""
        plain = text.plain
        if not plain or not _FAST_OK.get(type(self), True) or _CONTROL.intersection(plain):
            return None
        if cell_len(plain) > width or not self._fast_layout():
            return None
        get = self.__dict__.get("_fast_styles")
        if get is None or self.__dict__.get("_fast_key") is not style:
            get = self.__dict__["_fast_styles"] = {}
            self.__dict__["_fast_key"] = style
            self.__dict__["_fast_rich"] = {}
            self.__dict__["_fast_combined"] = {}
        rich = self.__dict__["_fast_rich"]        # (style, x, row) → its Rich style with the offsets
        # the styles in force (in span order) → their combination over ``style``: kept from line
        # to line and frame to frame (a counter's new digits have the styles of the old ones)
        combined = self.__dict__["_fast_combined"]
        if len(rich) > 4096:
            rich.clear()
        if len(combined) > 1024:
            combined.clear()
        n = len(plain)
        rich_spans = list(text.spans)
        if text.style:
            rich_spans.insert(0, (0, n, text.style))
        if not rich_spans:
            final = style + style
            rs = rich.get((final, 0, row))
            if rs is None:
                rs = rich[(final, 0, row)] = final.rich_style_with_offset(0, row)
            return Strip([Segment(plain, rs)], cell_len(plain))
        spans = []
        for start, end, rstyle in rich_spans:
            if start < 0 or end > n or start > end:
                return None
            tstyle = get.get(rstyle)
            if tstyle is None:
                if isinstance(rstyle, str):
                    rstyle = self.app.console.get_style(rstyle)
                if not isinstance(rstyle, RichStyle) or rstyle.link or rstyle._meta:
                    return None
                tstyle = get[rstyle] = Style.from_rich_style(rstyle, self.app.ansi_theme)
            spans.append((start, end, tstyle))
        # Content.render: the styles in force between consecutive span edges, combined in span order
        style_map = {0: style}
        events = [(0, False, 0), (n, True, 0)]
        for index, (start, end, tstyle) in enumerate(spans, 1):
            style_map[index] = tstyle
            events.append((start, False, index))
            events.append((end, True, index))
        events.sort(key=itemgetter(0, 1))
        stack: list[int] = []
        segments = []
        x = 0
        for (offset, leaving, sid), (next_offset, _, _) in zip(events, events[1:]):
            if leaving:
                stack.remove(sid)
            else:
                stack.append(sid)
            if next_offset > offset:
                key = tuple([style_map[k] for k in sorted(stack)])
                final = combined.get(key)
                if final is None:
                    final = combined[key] = style + Style.combine(key)
                chunk = plain[offset:next_offset]
                rs = rich.get((final, x, row))
                if rs is None:
                    rs = rich[(final, x, row)] = final.rich_style_with_offset(x, row)
                segments.append(Segment(chunk, rs))
                x += len(chunk)
        return Strip(segments, cell_len(plain))

    def _fast_layout(self) -> bool:
        """True when Textual would lay a fitting line out as it is (left, no padding of lines,
        no links): the rules :meth:`_fast_strip` assumes."""
        rules = self.styles
        get_rule = rules.get
        return (get_rule("text_align", "left") in ("left", "start")
                and not get_rule("line_pad", 0)
                and rules.content_align == ("left", "top"))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._dirty_regions.clear()       # (Textual's whole render would clear them)
        if self.text_selection is not None:
            return super().render_line(y)
        style = self.visual_style
        lines = self.content_lines()
        cache = self.__dict__.get("_line_strips", {})
        if len(cache) > 2 * len(lines) + 16:
            keep = {(id(t), k) for k, t in enumerate(lines)}
            for k in [k for k in cache if k not in keep]:
                del cache[k]
        y0 = 0
        for row, text in enumerate(lines):
            strips = self._line_strips_of(text, row, width, style)
            if y < y0 + len(strips):
                return strips[y - y0]
            y0 += len(strips)
        return Strip.blank(width, style.rich_style)


#: set a widget class to False here to always use Textual's general path (tests compare both)
_FAST_OK: dict[type, bool] = {}


def _offset_x(strip: Strip) -> int:
    """The x of a strip's text-selection offset (where a wrapped line's piece starts)."""
    for segment in strip:
        style = segment.style
        if style is not None and style._meta is not None:
            offset = style.meta.get("offset")
            if offset is not None:
                return int(offset[0])
    return 0
