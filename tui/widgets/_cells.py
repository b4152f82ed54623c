"""A cell canvas for the graphical panels: draw a grid of (character, style), repaint only changes.

The sample strip and the landscape draw into two arrays, ``chars`` (one character per cell) and
``styles`` (an index into a table of Rich styles), and hand them to :meth:`CellCanvas.paint`.
The canvas compares them with what is on screen and asks Textual to repaint only the changed
span of each changed line (``Widget.refresh(Region)``), so a frame that moves the current batch
by five cells writes a few hundred bytes to the terminal instead of the whole panel: that keeps
the app within its SSH budget (DESIGN.md "Budgets").

Drawing uses Textual's line API (``render_line`` returns a :class:`~textual.strip.Strip` per
line), with runs of equal style merged into one segment.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import traceback
from typing import Callable, Iterator

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.strip import Strip
from textual.widget import Widget

from mbsim.engine import pieces

from ._partial_updates import enable_partial_line_updates  # noqa: F401 (its home was here)

RGB = tuple[int, int, int]

#: The panels' grids (a landscape's heat map, the computation of kind "grid") take turns,
#: whichever panel asked: a view opened over the main screen started its grid while the main
#: screen's was ending its piece, two pieces' arrays at once (~20 MB for an MLP at N = 10⁶;
#: issue 24). One that waited and is out of sight by then stops at its first piece. Other kinds
#: (a reference path) run beside them, as before.
TURNS = threading.Lock()


@contextlib.contextmanager
def _turn() -> Iterator[None]:
    """Hold :data:`TURNS`; while waiting for it, give up as a piece would (``engine.pieces.check``
    raises Cancelled once the computation is no longer wanted: a grid waiting behind one that
    may take minutes is not kept waiting when its panel closes)."""
    while not TURNS.acquire(timeout=0.05):
        pieces.check()
    try:
        yield
    finally:
        TURNS.release()


#: The app's logger: a failed background computation is logged here (with its traceback) and in
#: Textual's log. No handler of its own: nothing reaches the terminal the app draws on, unless
#: the host configures one (tests read it with caplog).
LOG = logging.getLogger("mbsim")
LOG.addHandler(logging.NullHandler())


def blend(a: RGB, b: RGB, t: float) -> RGB:
    """The colour a + t·(b − a), per channel (t = 0 gives a, t = 1 gives b)."""
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


TEXT_CONTRAST = 4.5   # WCAG AA for text
LINE_CONTRAST = 3.0   # WCAG AA for graphics: lines, markers, cells of the strip


def luminance(rgb: RGB) -> float:
    """WCAG 2 relative luminance: 0.2126 R + 0.7152 G + 0.0722 B of the linearised sRGB channels."""
    def lin(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio (L_lighter + 0.05) / (L_darker + 0.05), from 1 to 21."""
    la, lb = luminance(a), luminance(b)
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def readable(rgb: RGB, bg: RGB, ratio: float = TEXT_CONTRAST) -> RGB:
    """``rgb``, or the least change of it toward black or white (whichever contrasts more with
    ``bg``) that reaches ``ratio`` against ``bg`` — so a theme's muted greys and a palette's
    bright colours stay legible on a projector, in light and dark themes alike."""
    if contrast(rgb, bg) >= ratio:
        return rgb
    pole: RGB = (0, 0, 0) if contrast((0, 0, 0), bg) >= contrast((255, 255, 255), bg) else (255, 255, 255)
    lo, hi = 0.0, 1.0
    for _ in range(16):
        mid = (lo + hi) / 2
        if contrast(blend(rgb, pole, mid), bg) >= ratio:
            hi = mid
        else:
            lo = mid
    out = blend(rgb, pole, hi)
    while contrast(out, bg) < ratio and out != pole:   # rounding: one more notch
        hi = min(1.0, hi + 0.01)
        out = blend(rgb, pole, hi)
    return out


def readable_style(style: Style, bg: RGB, ratio: float = TEXT_CONTRAST) -> Style:
    """``style`` with its colour made :func:`readable` against its background (its own
    ``bgcolor`` if it has one, else ``bg``)."""
    if style.color is None or style.color.is_default:
        return style
    fg = style.color.get_truecolor()
    back = style.bgcolor.get_truecolor() if style.bgcolor is not None and not style.bgcolor.is_default else None
    under: RGB = (back.red, back.green, back.blue) if back is not None else bg
    new = readable((fg.red, fg.green, fg.blue), under, ratio)
    if new == (fg.red, fg.green, fg.blue):
        return style
    return style + Style(color=rich_color(new))


def widget_bg(widget: Widget) -> RGB:
    """The colour behind a widget's content (its own background over its ancestors')."""
    c = widget.background_colors[1]
    return (c.r, c.g, c.b)


def hex_rgb(value: str) -> RGB:
    """``"#rrggbb"`` (or any colour Textual parses) as an (r, g, b) tuple."""
    c = Color.parse(value)
    return (c.r, c.g, c.b)


def rich_color(rgb: RGB) -> str:
    """A Rich colour string for an (r, g, b) tuple."""
    return "#%02x%02x%02x" % rgb


class StyleTable:
    """Interned Rich styles: ``index(style)`` gives a small int the cell arrays can hold."""

    def __init__(self) -> None:
        self.styles: list[Style] = [Style()]
        self._ids: dict[Style, int] = {Style(): 0}

    def index(self, style: Style) -> int:
        sid = self._ids.get(style)
        if sid is None:
            sid = len(self.styles)
            self.styles.append(style)
            self._ids[style] = sid
        return sid

    def __len__(self) -> int:
        return len(self.styles)


class Throttle:
    """At most one call per ``interval`` seconds, with a trailing call so the last state shows.

    ``ready()`` answers whether a draw may happen now; when it may not, the owner schedules
    :meth:`CellCanvas.schedule_trailing` so the final frame (e.g. after pausing) is drawn.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last = -1e9

    def ready(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        return now - self.last >= self.interval

    def wait(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        return max(0.0, self.interval - (now - self.last))

    def mark(self, now: float | None = None) -> None:
        self.last = time.monotonic() if now is None else now


class CellCanvas(Widget):
    """A widget that shows a grid of cells and repaints only the cells that changed.

    With ``PARTIAL_LINE_UPDATES`` (default) mounting one turns on
    :func:`enable_partial_line_updates` for the app.

    Subclasses build ``chars`` (an ``(H, W)`` array of single characters, dtype ``'<U1'``) and
    ``sids`` (an ``(H, W)`` int array of indices into :attr:`table`) and call :meth:`paint`.
    """

    PARTIAL_LINE_UPDATES = True

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.table = StyleTable()
        self._chars = np.empty((0, 0), dtype="<U1")
        self._sids = np.empty((0, 0), dtype=np.int32)
        self._strips: dict[int, Strip] = {}
        self._trailing = None
        self.painted_cells = 0  # cells repainted by the last paint() (for tests and benchmarks)
        self.failures: list[str] = []   # background computations that failed (worker_failed)

    def on_mount(self) -> None:
        if self.PARTIAL_LINE_UPDATES:
            enable_partial_line_updates()

    # ------------------------------------------------------------------------------------
    def paint(self, chars: np.ndarray, sids: np.ndarray, *, full: bool = False) -> int:
        """Show these cells; repaint only the changed span of each changed line.

        Returns the number of cells asked to repaint (0 when nothing changed).
        """
        old_c, old_s = self._chars, self._sids
        if full or old_c.shape != chars.shape:
            self._chars, self._sids = chars, sids
            self._strips.clear()
            self.refresh()
            self.painted_cells = chars.size
            return chars.size
        changed = (old_c != chars) | (old_s != sids)
        rows = np.flatnonzero(changed.any(axis=1))
        self._chars, self._sids = chars, sids
        cells = 0
        marked = []
        for y in rows:
            cols = np.flatnonzero(changed[y])
            x0, x1 = int(cols[0]), int(cols[-1]) + 1
            self._strips.pop(int(y), None)
            marked.append(Region(x0, int(y), x1 - x0, 1))
            cells += x1 - x0
        if marked:
            self.refresh(*marked)
        self.painted_cells = cells
        return cells

    def restyle(self) -> None:
        """Forget cached strips (after the style table changed meaning, e.g. a theme change)."""
        self._strips.clear()
        self.refresh()

    @property
    def base_style(self) -> Style:
        """The widget's own style (background from CSS), to combine with cell styles."""
        return self.rich_style

    # ------------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.size.width
        strip = self._strips.get(y)
        if strip is not None and strip.cell_length == width:
            return strip
        chars, sids = self._chars, self._sids
        if y >= chars.shape[0] or chars.shape[1] == 0:
            strip = Strip.blank(width, self.base_style)
        else:
            strip = self._line_strip(chars[y], sids[y], width)
        self._strips[y] = strip
        return strip

    def _line_strip(self, chars: np.ndarray, sids: np.ndarray, width: int) -> Strip:
        styles = self.table.styles
        n = min(len(chars), width)
        segments: list[Segment] = []
        if n:
            cuts = np.flatnonzero(sids[1:n] != sids[: n - 1]) + 1
            starts = [0, *cuts.tolist()]
            ends = [*cuts.tolist(), n]
            row = chars[:n].tolist()
            text = "".join(row)
            if len(text) == n:                        # one character a cell: cut by index
                for a, b, sid in zip(starts, ends, sids[starts].tolist()):
                    segments.append(Segment(text[a:b], styles[sid]))
            else:                                     # (an empty cell somewhere)
                for a, b in zip(starts, ends):
                    segments.append(Segment("".join(row[a:b]), styles[int(sids[a])]))
        if n < width:
            segments.append(Segment(" " * (width - n), self.base_style))
        return Strip(segments, width)

    # ------------------------------------------------------------------------------------
    def schedule_trailing(self, delay: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` after ``delay`` seconds unless one is already scheduled."""
        if self._trailing is not None or not self.is_mounted:
            return

        def fire() -> None:
            self._trailing = None
            callback()

        self._trailing = self.set_timer(max(0.01, delay), fire)

    @staticmethod
    def put_text(chars: np.ndarray, sids: np.ndarray, y: int, text: str, sid: int, x: int = 0) -> int:
        """Write ``text`` into row ``y`` from column ``x`` (cut at the edge); return the next x."""
        w = chars.shape[1]
        for ch in text:
            if x >= w:
                break
            chars[y, x], sids[y, x] = ch, sid
            x += 1
        return x

    def _in_running_loop(self):  # noqa: ANN202
        """The run loop (tui.runloop: the app or a screen) that draws this panel as one of its
        plots, if it is running; else None. Running, the loop draws the panel at its rate: the
        panel then needs no timer of its own (one more screen refresh between two frames)."""
        for node in (self.screen, self.app) if self.is_attached else ():
            if self in getattr(node, "_plot_dirty", {}) and getattr(node, "running", False):
                return node
        return None

    def run_in_thread(self, key: tuple, fn, done, group: str) -> None:  # noqa: ANN001
        """``fn()`` in a worker thread, then ``done(key, result)`` on the app's thread.

        One computation of a kind (``key[0]``: a grid, a reference path) at a time: a request
        for the key in flight is dropped; another asked meanwhile waits, the latest replacing
        any earlier one, and starts when the one in flight ends (issue 24: an MLP's landscape
        at N = 10⁶ takes minutes, and a running θ asked for a new one every frame: six grids
        computed at once, each holding its pieces). ``pending_work`` is True meanwhile (tests
        wait for it). A widget that has closed, or whose screen another covers, stops its
        computation at the next piece (engine.pieces.stop_when; :meth:`work_cancelled`). A failed computation does not take the app down, and is not
        silent either (:meth:`worker_failed`: logged with its traceback, said on the screen,
        kept in :attr:`failures`), so a panel left as it was says why.
        """
        kind = key[0] if isinstance(key, tuple) and key else None
        if getattr(self, "_work_running", None) is None:
            self._work_running: dict = {}        # kind -> the key in flight
            self._work_queued: dict = {}         # kind -> the latest request asked meanwhile
        running, queued = self._work_running, self._work_queued
        if running.get(kind) == key:
            return
        self.pending_work = True
        if kind in running:
            queued[kind] = (key, fn, done, group)
            return
        running[kind] = key
        self._busy = key
        job = [fn]   # taken by the thread: a finished Worker (which Textual may keep a while, and
                     # contexts copied from its thread with it) holds no simulation through ``fn``

        def work() -> None:
            failure = None
            cancelled = False
            # a widget that has gone (its screen closed) or is out of sight (another screen over
            # its own) wants no more now: a reading in pieces stops at its next piece (an MLP's
            # landscape at N = 10⁶ takes minutes, and the main screen's went on under compare's
            # and the cloud's: two grids' pieces at once; issue 24); nor does one whose result
            # is of a picture no longer wanted (:meth:`work_stale`: a new simulation's grid would
            # wait behind it)
            pieces.stop_when(lambda: self.out_of_sight() or self.work_stale(key))
            try:
                with _turn() if kind == "grid" else contextlib.nullcontext():
                    result = job.pop()()
            except pieces.Cancelled:
                result, cancelled = None, True
            except Exception as err:  # noqa: BLE001 - a failed picture must not take the app down
                result, failure = None, (err, traceback.format_exc())
            finally:
                pieces.stop_when(None)

            def finish() -> None:
                if running.get(kind) == key:
                    del running[kind]
                if self._busy == key:
                    self._busy = None
                if failure is not None:
                    self.worker_failed(key, *failure)
                elif result is not None and self.is_mounted and not (self._closing or self._closed):
                    done(key, result)
                elif cancelled:
                    self.work_cancelled(key)
                later = queued.pop(kind, None)
                if later is not None and not self.out_of_sight():
                    self.run_in_thread(*later)
                elif later is not None:
                    self.work_cancelled(later[0])
                self.pending_work = bool(running or queued)

            self.app.call_from_thread(finish)

        self.run_worker(work, thread=True, group=group, exit_on_error=False)

    def on_unmount(self) -> None:
        """Closed: the computations asked meanwhile are dropped (each holds its simulation), and
        :meth:`forget_sources` lets the panel's data go while its last worker ends."""
        queued = getattr(self, "_work_queued", None)
        if queued:
            queued.clear()
        self.forget_sources()

    def forget_sources(self) -> None:
        """Drop what the panel was drawn from (subclasses: their simulations and arrays), so a
        closed view gives its memory back even while a worker thread or Textual keeps the
        widget itself a little longer (issue 24)."""

    def out_of_sight(self) -> bool:
        """True once this widget has closed, or while its screen is not shown (another screen
        over it; a modal one leaves it in sight). Read from worker threads too."""
        if self._closing or self._closed:
            return True
        try:
            stack = self.app.screen_stack
            above = stack[stack.index(self.screen) + 1:]
        except Exception:  # noqa: BLE001 - no screen, or not on the stack: nothing to compute for
            return True
        return not all(isinstance(screen, ModalScreen) for screen in above)

    def work_stale(self, key: tuple) -> bool:
        """True when the computation ``key`` in flight is of no use any more (subclasses: a
        landscape's grid of a simulation no longer shown). Read from the worker thread."""
        return False

    def work_cancelled(self, key: tuple) -> None:
        """A computation given up (:meth:`out_of_sight`) or never started; the widget asks
        again when it is in sight (subclasses: nothing to do here)."""

    def worker_failed(self, key: tuple, err: Exception, trace: str) -> None:
        """A background computation failed: logged (the ``mbsim`` logger and Textual's log, with
        the traceback), kept in :attr:`failures`, and said on the screen once per kind of
        failure (a panel that could not draw keeps its last picture; now the viewer knows why)."""
        what = f"{type(err).__name__}: {err}"
        LOG.error("%s: the background computation %r failed: %s\n%s", type(self).__name__, key[0], what, trace)
        self.log.error(f"{type(self).__name__} {key[0]!r} failed:\n{trace}")
        self.failures.append(what)
        if what not in self.failures[:-1] and self.is_mounted:
            name = (self.id or type(self).__name__).replace("_", " ")
            shown = "".join(ch if ch.isprintable() else "?" for ch in what)[:160]
            self.app.notify(f"the {name} panel could not be drawn ({shown}); it shows the last picture",
                            title="a panel failed", severity="error", timeout=10)
