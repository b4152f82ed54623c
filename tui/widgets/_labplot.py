"""What the lab's two plots share (tui/widgets/lab_tradeoff.py, lab_hardware.py): the palette,
readable on the widget's background in every theme, log-axis ticks, and plotext's build.

Both plots draw in log coordinates themselves (log10 of the numbers, or log2 of B), so text
labels and lines sit exactly where the numbers say; the ticks carry the real values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text

from ._cells import LINE_CONTRAST, RGB, blend, hex_rgb, readable
from .lossplot import decade_label

# Okabe–Ito colours (colour-blind safe): dark themes, light themes
DARK = {"point": "#f0a030", "curve": "#56b4e9", "ray": "#e07ab8", "limit": "#d0d060"}
LIGHT = {"point": "#d55e00", "curve": "#0072b2", "ray": "#aa3377", "limit": "#887700"}


@dataclass(frozen=True)
class Palette:
    point: RGB
    curve: RGB
    ray: RGB
    limit: RGB
    ticks: RGB
    muted: RGB


def palette(widget) -> Palette:  # noqa: ANN001
    """Lines 3:1 and words 4.5:1 against the widget's background (WCAG AA), as compare mode."""
    app = widget.app
    dark = app.current_theme.dark
    fg = hex_rgb(app.theme_variables.get("foreground", "#e0e0e0"))
    bg = widget.background_colors[1]
    bg_rgb: RGB = (bg.r, bg.g, bg.b)
    src = DARK if dark else LIGHT
    c = {k: readable(hex_rgb(v), bg_rgb, LINE_CONTRAST) for k, v in src.items()}
    return Palette(c["point"], c["curve"], c["ray"], c["limit"],
                   readable(blend(fg, bg_rgb, 0.3), bg_rgb), readable(blend(fg, bg_rgb, 0.45), bg_rgb))


def log_ticks(lo: float, hi: float, most: int) -> tuple[list[float], list[str]]:
    """Ticks of a log10 axis over [lo, hi] (log10 positions, labels): 1–2–5 × 10^k when the
    range is narrow, decades (every second or third when wide); at most ``most`` of them."""
    most = max(2, most)
    fine = [math.log10(m) + k for k in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)]
    fine = [t for t in fine if lo - 1e-9 <= t <= hi + 1e-9]
    if 2 <= len(fine) <= most:
        return fine, [_label(10 ** t) for t in fine]
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if not decades:
        mid = (lo + hi) / 2
        return [mid], [_label(10 ** mid)]
    step = max(1, math.ceil(len(decades) / most))
    chosen = decades[::step]
    return [float(d) for d in chosen], [decade_label(d) for d in chosen]


def _label(v: float) -> str:
    """A tick's value as a person writes it: 0.5, 20, 1000, 10k, 2.5M (never 1e+03)."""
    if v >= 1e6:
        return f"{v / 1e6:.3g}M"
    if v >= 1e4:
        return f"{v / 1e3:.3g}k"
    if v >= 1:
        r = round(v, 1 if v < 10 else 0)
        return f"{r:g}" if r < 10 else str(int(round(v)))
    return f"{v:.2g}"


def build(plt, w: int, h: int, pal: Palette) -> Text:  # noqa: ANN001
    """The plot as rich Text at w × h; a plotting corner case gives a line, never a crash."""
    plt.plotsize(w, h)
    plt._set_size(w, h)
    plt.ticks_color(pal.ticks)
    plt.frame(True)
    try:
        body = Text.from_ansi(plt.build())
    except Exception as exc:  # noqa: BLE001
        body = Text(f"(plot unavailable: {type(exc).__name__})")
    body.no_wrap = True
    return body
