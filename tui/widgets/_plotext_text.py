"""A plotext figure as a Rich ``Text``, read from its cell matrix rather than from its ANSI output.

``Text.from_ansi(plt.build())`` has plotext write every cell of the figure as ANSI escape codes
and Rich parse them back: a third of the cost of drawing the loss plot (issue 24: a light running
app). :func:`figure_text` builds the matrix the same way (``_set_sizes``, ``_build_matrix``) and
makes the same ``Text`` from it directly: for each row, each run of cells of equal colours (as
plotext's ``matrix_class.set_canvas`` groups them) is one span whose style is what Rich decodes
from that run's escape codes (decoded once per colour triple). ``tests/test_lossplot_text.py``
compares the two.
"""

from __future__ import annotations

from rich.ansi import AnsiDecoder
from rich.style import Style
from rich.text import Text

_STYLES: dict[tuple, Style | None] = {}


def _style_of(colors: tuple) -> Style | None:
    """The style Rich decodes from plotext's escape codes for (foreground, style, background)."""
    style = _STYLES.get(colors, False)
    if style is not False:
        return style
    import plotext._utility as ut

    line = AnsiDecoder().decode_line(ut.colors_to_ansi(*colors) + "x" + ut.ansi_end)
    spans = line.spans
    style = spans[0].style if spans else None
    if isinstance(style, str):             # (Rich decodes to Style objects; be safe)
        style = Style.parse(style)
    if len(_STYLES) < 4096:
        _STYLES[colors] = style
    return style


def figure_text(plt) -> Text:  # noqa: ANN001
    """``Text.from_ansi(plt.build())`` for a single (not subplotted) plotext figure ``plt``."""
    monitor = getattr(plt, "monitor", None)
    if not getattr(plt, "_no_plots", False) or monitor is None or monitor.fast_plot:
        return Text.from_ansi(plt.build())   # subplots, or a canvas plotext keeps: its own way
    plt._set_sizes()
    plt._build_matrix()
    m = plt.monitor.matrix
    rows: list[Text] = []
    marker, fg, st, bg = m.marker, m.fullground, m.style, m.background
    for r in reversed(range(m.rows)):
        chars, fgr, str_, bgr = marker[r], fg[r], st[r], bg[r]
        line = Text()
        n = len(chars)
        start = 0
        while start < n:
            colors = (fgr[start], str_[start], bgr[start])
            end = start + 1
            while end < n and (fgr[end], str_[end], bgr[end]) == colors:
                end += 1
            line.append("".join(chars[start:end]), _style_of(colors))
            start = end
        rows.append(line)
    rows.append(Text())                      # the canvas ends with a newline: an empty last line
    return Text("\n").join(rows)
