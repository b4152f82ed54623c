"""What a browser tab may say on its websocket, checked before anything reaches a session.

textual.js (textual-serve's page script) sends JSON text messages, each a list whose first item
is the kind: ``["stdin", keys]``, ``["resize", {"width": W, "height": H}]``, ``["ping", text]``,
``["focus"]`` and ``["blur"]``. Anything can arrive instead — a hostile client writes its own
frames — so :func:`read_message` turns one frame into a :class:`BrowserMessage` or raises
:class:`MalformedMessage` with a short reason; the server ignores that message with one log line
and the session goes on. Never raised out of here: ``RecursionError`` (JSON nested a thousand
deep), ``ValueError`` (an integer over Python's digit limit), ``UnicodeEncodeError`` (a lone
surrogate in the keys), ``OverflowError`` (``Infinity`` as a size).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

#: A browser's terminal size is clamped to this (a huge size would be a huge screen to render).
MIN_COLS, MAX_COLS, MIN_ROWS, MAX_ROWS = 20, 400, 8, 200
#: The longest ``ping`` text echoed back (textual.js sends a timestamp, 13 digits).
MAX_PING = 64
#: The kinds of message a tab may send.
KINDS = ("stdin", "resize", "ping", "focus", "blur")


class MalformedMessage(ValueError):
    """A websocket message that is not textual.js's protocol; ``str()`` says what is wrong."""


@dataclass(frozen=True)
class BrowserMessage:
    """One checked message: ``kind`` and its payload (``keys`` for stdin, ``size`` for resize,
    ``text`` for ping)."""

    kind: str
    keys: bytes = b""
    size: tuple[int, int] = (0, 0)
    text: str = ""


def clamp_size(cols: int, rows: int) -> tuple[int, int]:
    """A terminal size within :data:`MIN_COLS`…:data:`MAX_COLS` × :data:`MIN_ROWS`…:data:`MAX_ROWS`."""
    return max(MIN_COLS, min(MAX_COLS, cols)), max(MIN_ROWS, min(MAX_ROWS, rows))


def _dimension(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedMessage(f"resize: {name} is not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedMessage(f"resize: {name} is not finite")
        value = int(value)
    return value


def read_message(data: str) -> BrowserMessage:
    """The message in one websocket text frame; :class:`MalformedMessage` if it is none."""
    try:
        envelope = json.loads(data)
    except RecursionError:
        raise MalformedMessage("JSON nested too deeply") from None
    except json.JSONDecodeError as err:
        raise MalformedMessage(f"not JSON ({err.msg} at character {err.pos})") from None
    except ValueError:  # an integer longer than Python's digit limit (4300 digits)
        raise MalformedMessage("a number with too many digits") from None
    if not isinstance(envelope, list) or not envelope:
        raise MalformedMessage("not a list [kind, data]")
    kind = envelope[0]
    if not isinstance(kind, str):
        raise MalformedMessage("the kind is not a string")
    data_item = envelope[1] if len(envelope) > 1 else None
    if kind == "stdin":
        if not isinstance(data_item, str):
            raise MalformedMessage("stdin: the keys are not a string")
        try:
            return BrowserMessage("stdin", keys=data_item.encode("utf-8"))
        except UnicodeEncodeError:
            raise MalformedMessage("stdin: the keys are not valid Unicode (a lone surrogate)") from None
    if kind == "resize":
        if not isinstance(data_item, dict):
            raise MalformedMessage("resize: the size is not an object {width, height}")
        size = clamp_size(_dimension(data_item.get("width"), "width"),
                          _dimension(data_item.get("height"), "height"))
        return BrowserMessage("resize", size=size)
    if kind == "ping":
        if not isinstance(data_item, str) or len(data_item) > MAX_PING:
            raise MalformedMessage(f"ping: the text is not a string of at most {MAX_PING} characters")
        return BrowserMessage("ping", text=data_item)
    if kind in ("focus", "blur"):
        return BrowserMessage(kind)
    raise MalformedMessage(f"unknown kind (allowed: {', '.join(KINDS)})")
