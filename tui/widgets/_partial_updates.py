"""Two corrections to Textual's partial screen updates, so a frame that changes a few cells costs
a few cells, on the wire and in time (DESIGN.md budgets: ≤ 20 KB/s over SSH, ≤ 5 % of a core at
the default speed).

1. **Crop on the left too.** Textual repaints a dirty span [x1, x2) of a line by writing from
   the left edge of the widget up to x2 (``ChopsUpdate.render_segments`` crops only on the
   right; its source says "TODO: crop to x extents"). For panels whose changes sit in the middle
   or at the right (the current point of the landscape, the newest points of the loss plot) that
   sends most of every changed line again. This crops on the left too, so only the changed span
   goes out; measured at 120×40 and default speed it cuts the landscape from ~16 to ~2 KB/s and
   the loss plot from ~25 to ~10 KB/s. Lines holding wide characters keep Textual's behaviour
   (a cut through one would garble it).

2. **Render only the rows that are updated.** For a partial update Textual asks every widget
   that overlaps the bounding box of all dirty regions for *all* its lines
   (``Compositor._get_renders``), then keeps only the dirty rows. When the counters (row 1), the
   strip (row 2) and the detail line (row 35) change in one frame, that is every line of every
   widget on the screen, ten times a second. Here each widget is asked only for the dirty rows
   where it shows in an updated span and no widget in front of it covers that part already (a
   container behind its children is not asked at all): the same strips where they are written,
   the others never built (cached lines stay valid, dirty ones stay dirty for a later update).
"""

from __future__ import annotations

from itertools import groupby

_PATCHED = False


def enable_partial_line_updates() -> bool:
    """Make Textual write only the dirty span of each line, and render only the updated rows
    (idempotent). True if active."""
    global _PATCHED
    if _PATCHED:
        return True
    try:
        from rich.control import Control
        from textual._compositor import ChopsUpdate
    except ImportError:  # pragma: no cover - a Textual without this internal: leave it alone
        return False
    original = getattr(ChopsUpdate, "render_segments", None)
    if original is None:  # pragma: no cover
        return False

    def render_segments(self, console):  # noqa: ANN001, ANN202
        try:
            chops, chop_ends, spans = self.chops, self.chop_ends, self.spans
        except AttributeError:  # pragma: no cover - a different Textual: use its own code
            return original(self, console)
        sequences: list[str] = []
        append = sequences.append
        move_to = Control.move_to
        last_y = spans[-1][0]
        for y, x1, x2 in spans:
            line = chops[y]
            ends = chop_ends[y]
            for end, (x, strip) in zip(ends, line.items()):
                if strip is None or x > x2 or end <= x1:
                    continue
                if x2 > x >= x1 and end <= x2:
                    append(move_to(x, y).segment.text)
                    append(strip.render(console))
                    continue
                start = max(0, x1 - x)
                stop = min(end, x2) - x
                if strip.cell_length == len(strip.text):
                    # one cell per character: cut by characters (Textual measures every segment
                    # with cell_len, slow for braille and box drawing: a third of a running
                    # app's time went here)
                    strip = _crop_narrow(strip, start, stop)
                else:
                    strip = strip.crop(0, stop)       # a cut through a wide character would garble it
                    start = 0
                append(move_to(x + start, y).segment.text)
                append(strip.render(console))
            if y != last_y:
                append("\n")
        return "".join(sequences)

    ChopsUpdate.render_segments = render_segments
    _patch_partial_rows()
    _PATCHED = True
    return True


def _crop_narrow(strip, start: int, stop: int):  # noqa: ANN001, ANN202
    """``strip.crop(start, stop)`` for a strip whose characters are one cell each."""
    from rich.segment import Segment
    from textual.strip import Strip

    if start <= 0 and stop >= strip.cell_length:
        return strip
    if stop <= start:
        return Strip([], 0)
    out = []
    pos = 0
    for segment in strip:
        text, style, control = segment
        n = len(text)
        if control is not None:               # (none in screen lines; be exact if there is one)
            return strip.crop(start, stop)
        if pos + n <= start:
            pos += n
            continue
        if pos >= stop:
            break
        a, b = max(start - pos, 0), min(stop - pos, n)
        out.append(segment if (a == 0 and b == n) else Segment(text[a:b], style))
        pos += n
    return Strip(out, max(0, stop - max(start, 0)))


def _row_runs(rows: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs [y0, y1) of sorted row numbers."""
    return [(g[0][1], g[-1][1] + 1) for g in
            (list(v) for _, v in groupby(enumerate(rows), key=lambda t: t[1] - t[0]))]


def _render_rows(compositor, crop, spans: list[tuple[int, int, int]]):  # noqa: ANN001, ANN202
    """``Compositor._render_chops(crop, rows.__contains__)`` for the update ``spans`` (y, x1, x2),
    asking each widget only for rows where it shows in a span and no widget in front of it
    already covers that part (``render_segments`` writes only the chops that meet a span)."""
    from textual.geometry import Region

    cuts = compositor.cuts
    chops = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
    row_spans: dict[int, list[tuple[int, int]]] = {}
    for y, x1, x2 in spans:
        row_spans.setdefault(y, []).append((x1, x2))
    rows = sorted(row_spans)
    crop_overlaps = crop.overlaps
    intersection = Region.intersection
    for widget, (region, clip) in compositor.visible_widgets.items():   # front to back
        if not crop_overlaps(clip):
            continue
        render_region = intersection(region, clip)
        x, top, width, height = render_region
        if not (width and height):
            continue
        bottom = top + height
        first_cut, last_cut = render_region.column_span
        wanted = []
        for y in rows:
            if y < top or y >= bottom:
                continue
            line_cuts = cuts[y]
            chops_line = chops[y]
            for k, cut in enumerate(line_cuts[:-1]):
                if not first_cut <= cut <= last_cut or chops_line.get(cut) is not None:
                    continue
                end = line_cuts[k + 1]
                if any(cut <= x2 and end > x1 for x1, x2 in row_spans[y]):
                    wanted.append(y)          # a chop of this widget's that an update shows
                    break
        for y0, y1 in _row_runs(wanted):
            strips = widget.render_lines(Region(x - region.x, y0 - region.y, width, y1 - y0))
            for y, strip in zip(range(y0, y1), strips):
                chops_line = chops[y]
                final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                cut_strips = strip.divide([cut - x for cut in final_cuts[1:]])
                get = chops_line.get
                for cut, piece in zip(final_cuts, cut_strips):   # the first (frontmost) wins
                    if get(cut) is None:
                        chops_line[cut] = piece
    return chops


def _patch_partial_rows() -> bool:
    """Make ``Compositor.render_partial_update`` render only the updated rows (2. above)."""
    try:
        from textual._compositor import ChopsUpdate, Compositor
        from textual.geometry import Region
    except ImportError:  # pragma: no cover - a Textual without these internals: leave it alone
        return False
    if not all(hasattr(Compositor, n) for n in ("_regions_to_spans", "cuts", "visible_widgets")):
        return False  # pragma: no cover - a different Textual: use its own code

    def render_partial_update(self):  # noqa: ANN001, ANN202
        screen_region = self.size.region
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        crop = Region.from_union(update_regions).intersection(screen_region)
        spans = list(self._regions_to_spans(update_regions))
        chops = _render_rows(self, crop, spans)
        chop_ends = [cut_set[1:] for cut_set in self.cuts]
        return ChopsUpdate(chops, spans, chop_ends)

    Compositor.render_partial_update = render_partial_update
    return True
