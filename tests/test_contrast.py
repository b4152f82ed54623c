"""Projector-ready: every built-in theme reaches WCAG AA (issue 10, item 8).

Read from the app's own output: each panel renders its lines (Textual's ``render_lines``, the
strips it would send to the terminal), and for every visible character the foreground and the
background colour of its segment are compared with the WCAG 2 relative-luminance ratio, computed
here from the sRGB formula: 4.5:1 for letters and digits, 3:1 for lines and markers (braille dots,
box-drawing, blocks, arrows). The heat map of the landscape (cells with their own background) is
the picture itself, not text on a background, and the panels' rounded borders are decoration.
The ``ansi-*`` themes use the terminal's own 16 colours, which the app cannot know.
"""

from __future__ import annotations

import asyncio

import pytest
from textual.geometry import Region
from textual.theme import BUILTIN_THEMES

from mbsim.engine.scenario import load_preset
from mbsim.tui.app import MbsimApp

from pilot_helpers import wait_idle

THEMES = [name for name in BUILTIN_THEMES if not name.startswith("ansi")]


def srgb_luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.x: L = 0.2126 R + 0.7152 G + 0.0722 B, channels linearised from sRGB."""
    out = []
    for v in rgb:
        c = v / 255
        out.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * out[0] + 0.7152 * out[1] + 0.0722 * out[2]


def ratio(a, b) -> float:
    la, lb = srgb_luminance(a), srgb_luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def triplet(color) -> tuple[int, int, int]:
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


def is_text(ch: str) -> bool:
    return ch.isalnum() or ch in "%.,:;!?()'\"/+-=×…"


def failures(widget) -> list[str]:
    """Every (character, colour, background, ratio) in ``widget``'s content below AA."""
    bg_widget = widget.background_colors[1]
    bg0 = (bg_widget.r, bg_widget.g, bg_widget.b)
    g = widget.styles.gutter
    w, h = widget.content_size
    out = []
    for strip in widget.render_lines(Region(g.left, g.top, w, h)):
        for seg in strip:
            style = seg.style
            if style is None or style.color is None or not seg.text.strip(" \u2800"):
                continue
            fg = triplet(style.color)
            if style.bgcolor is not None and not style.bgcolor.is_default:
                bg = triplet(style.bgcolor)
                if widget.id in ("landscape", "cmp-landscape", "cloud-landscape") and bg != bg0:
                    continue               # on the heat map: the picture itself
            else:
                bg = bg0
            for ch in set(seg.text) - {" ", "\u2800"}:
                need = 4.5 if is_text(ch) else 3.0
                r = ratio(fg, bg)
                if r < need - 1e-6:
                    out.append(f"{widget.id}: {ch!r} {fg} on {bg} = {r:.2f} < {need}")
    return sorted(set(out))


PANELS = ("header", "counters", "strip", "landscape", "lossplot", "detail", "keys")
SCREEN_PANELS = {
    "c": ("cmp-header", "cmp-rows", "cmp-landscape", "cmp-plot"),                  # compare mode
    "k": ("cloud-header", "cloud-readout", "cloud-counters", "cloud-landscape", "cloud-plot"),  # the noise cloud
}

# One app per view goes through every theme (switched mid-run, as from the palette) and keeps
# each theme's failures; each parametrised test then asserts on its own theme's. Starting an app
# per theme cost ~1 s a case (76 cases); a theme switch costs a redraw. The sweeps are cached per
# process (under pytest-xdist, the tests of one view run on one worker: xdist_group below).
_SWEEPS: dict[tuple, dict[str, list[str]]] = {}


async def _main_screen_sweep(preset: str, size: tuple[int, int]) -> dict[str, list[str]]:
    app = MbsimApp(load_preset(preset), animate=False, throttle=False)
    out: dict[str, list[str]] = {}
    async with app.run_test(size=size) as pilot:
        await pilot.press("n", "n", "n", "greater_than_sign", "n", "n")
        for theme in THEMES:
            app.theme = theme                   # switched mid-run, as from the palette
            await pilot.pause()
            await pilot.press("n")              # a step that leaves the header's words as they were
            app.settle()
            await wait_idle(pilot)
            app.settle()
            await pilot.pause()
            out[theme] = [bad for name in PANELS for bad in failures(app.query_one(f"#{name}"))]
    return out


async def _screen_sweep(key: str) -> dict[str, list[str]]:
    app = MbsimApp(load_preset("worked-example"), animate=False, throttle=False, runs=20)
    out: dict[str, list[str]] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(key)
        await pilot.pause()
        screen = app.screen
        for k, theme in enumerate(THEMES):
            await pilot.press(*(("n", "n", "n") if k == 0 else ("n",)))
            app.theme = theme
            await pilot.pause()
            await wait_idle(pilot, screen)
            screen.settle()
            await pilot.pause()
            out[theme] = [bad for name in SCREEN_PANELS[key] for bad in failures(screen.query_one(f"#{name}"))]
    return out


def _sweep(*key) -> dict[str, list[str]]:  # noqa: ANN002
    if key not in _SWEEPS:
        _SWEEPS[key] = asyncio.run(_main_screen_sweep(*key[1:]) if key[0] == "main" else _screen_sweep(key[1]))
    return _SWEEPS[key]


@pytest.mark.parametrize("preset,size", [
    pytest.param("worked-example", (80, 24), marks=pytest.mark.xdist_group("contrast-main-80x24")),
    pytest.param("adam", (120, 40), marks=pytest.mark.xdist_group("contrast-main-120x40")),
])
@pytest.mark.parametrize("theme", THEMES)
def test_every_theme_reaches_wcag_aa(theme, preset, size):
    bad = _sweep("main", preset, size)[theme]
    assert not bad, "\n".join(bad[:30])


@pytest.mark.parametrize("key", [
    pytest.param("c", marks=pytest.mark.xdist_group("contrast-compare"), id="compare"),
    pytest.param("k", marks=pytest.mark.xdist_group("contrast-cloud"), id="cloud"),
])
@pytest.mark.parametrize("theme", THEMES)
def test_compare_mode_and_the_noise_cloud_reach_wcag_aa(theme, key):
    bad = _sweep("screen", key)[theme]
    assert not bad, "\n".join(bad[:30])
