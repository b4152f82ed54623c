"""The class protocol: JSON text messages over one websocket per follower, every one checked.

A follower (``mbsim join``) opens ``ws://HOST:PORT/CODE/follow`` and sends, first, ``join``::

    {"t": "join", "protocol": 1, "name": "Ada"}

then only answers::

    {"t": "answer", "slide": 3, "question": 0, "text": "40"}

The teacher's server sends ``hello`` (the lesson and the name it was given), ``state`` (what to
show: :mod:`tui.classroom.state`), ``verdict`` (the teacher's judgement of one of its answers)
and ``end`` (the class is over). Nothing else is read from a follower: there is no remote
control path. What a follower sends is capped (:data:`MAX_CLIENT_MESSAGE` bytes a message,
:data:`MAX_NAME` / :data:`MAX_ANSWER` characters) and cleaned of control and formatting
characters (:func:`clean_text`) before anything shows it or writes it to a file.

The room code (4–12 of A–Z 0–9) is the class's credential on a network; it is the path of the
address, ``http://HOST:PORT/CODE``, compared in constant time.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROTOCOL = 1
CODE_RE = re.compile(r"[A-Z0-9]{4,12}")
#: Room codes are made of these (no 0/O, 1/I: read aloud and typed from a projector).
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
MAX_NAME = 32
MAX_ANSWER = 200
#: Largest message a follower may send (a join or an answer is well under a kilobyte).
MAX_CLIENT_MESSAGE = 4096
#: Largest message the server sends (the hello carries the lesson: 512 KB of text at most).
MAX_SERVER_MESSAGE = 2 * 1024 * 1024
#: Questions a slide may have, as far as the protocol goes.
MAX_QUESTIONS = 100
FOLLOW_PATH = "follow"
#: The environment variable that gives the class's screen process its key (never in argv).
SCREEN_KEY_ENV = "MBSIM_CLASS_SCREEN"
#: Lesson mode's style sheets, by absolute path (a subclass elsewhere looks next to its own file).
LESSON_CSS = [str(Path(__file__).resolve().parent.parent / name) for name in ("app.tcss", "lesson.tcss")]


class ProtocolError(ValueError):
    """A message or an address that cannot be used: one sentence saying why."""


# ------------------------------------------------------------------------------------------------
# text from the other side
def clean_text(text: Any, limit: int) -> str:
    """``text`` as it may be shown and stored: control and formatting characters (escape
    sequences, bidirectional overrides, zero-width characters) removed, runs of white space one
    space, trimmed, at most ``limit`` characters."""
    if not isinstance(text, str):
        return ""
    text = text[: limit * 4]                      # bounded work whatever was sent
    kept = []
    for c in text:
        if c.isspace():
            kept.append(" ")
        elif unicodedata.category(c)[0] != "C":   # Cc, Cf, Cs, Co, Cn
            kept.append(c)
    return " ".join("".join(kept).split())[:limit].strip()


def clean_name(text: Any) -> str:
    """A student's name as shown and stored (:data:`MAX_NAME` characters, no control
    characters; a CSV cell never starts a formula: see :func:`tui.classroom.room.csv_cell`)."""
    return clean_text(text, MAX_NAME)


def make_code() -> str:
    """A random room code of :data:`CODE_LENGTH` characters from :data:`CODE_ALPHABET`."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def check_code(text: str) -> str:
    """``--code``: 4 to 12 of A–Z 0–9 (lower case is taken as upper)."""
    code = text.strip().upper()
    if not CODE_RE.fullmatch(code):
        raise ProtocolError(f"--code {text!r}: 4 to 12 characters from A-Z and 0-9 are allowed")
    return code


def code_matches(given: str, code: str) -> bool:
    """True when ``given`` is the room code (case-insensitive, constant time)."""
    return secrets.compare_digest(given.upper().encode("utf-8", "replace"), code.encode())


@dataclass(frozen=True)
class JoinAddress:
    """``http://HOST:PORT/CODE`` taken apart."""

    scheme: str
    host: str
    port: int
    code: str

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def page(self) -> str:
        return f"{self.scheme}://{self.netloc}/{self.code}"

    @property
    def websocket(self) -> str:
        ws = "wss" if self.scheme == "https" else "ws"
        return f"{ws}://{self.netloc}/{self.code}/{FOLLOW_PATH}"


def parse_join_address(url: str) -> JoinAddress:
    """The address a teacher shows, ``http://HOST:PORT/CODE``; :class:`ProtocolError` naming
    what is wrong and what is allowed."""
    text = url.strip()
    example = "e.g. http://127.0.0.1:8000/K7QX2M"
    if not text.isprintable() or len(text) > 300:
        raise ProtocolError(f"{text[:60]!r}: not an address ({example})")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ProtocolError(f"{url!r}: not an address with a valid port ({example})") from None
    if parts.scheme not in ("http", "https"):
        raise ProtocolError(f"{url!r}: the address starts with http:// ({example})")
    if not parts.hostname:
        raise ProtocolError(f"{url!r}: no host in the address ({example})")
    if parts.query or parts.fragment or parts.username is not None:
        raise ProtocolError(f"{url!r}: the address is http://HOST:PORT/CODE, nothing after the code ({example})")
    code = parts.path.strip("/")
    if not code:
        raise ProtocolError(f"{url!r}: the room code is missing: the teacher's screen shows the whole address ({example})")
    if not CODE_RE.fullmatch(code.upper()):
        raise ProtocolError(f"{url!r}: {code[:20]!r} is not a room code (4 to 12 of A-Z 0-9; {example})")
    return JoinAddress(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), code.upper())


# ------------------------------------------------------------------------------------------------
# messages
def dump(message: dict[str, Any]) -> str:
    """Compact JSON text of a message (no NaN: the other side would refuse it)."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False, ensure_ascii=False)


def _load(text: Any, limit: int) -> dict[str, Any]:
    if isinstance(text, (bytes, bytearray)):
        raise ProtocolError("messages are JSON text, not binary")
    if not isinstance(text, str):
        raise ProtocolError("messages are JSON text")
    if len(text) > limit:
        raise ProtocolError(f"a message of {len(text):,} characters: at most {limit:,} allowed")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("a message that is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        raise ProtocolError("a message must be a JSON object with a type \"t\"")
    return data


def _int(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ProtocolError(f"{key} must be a whole number from {low} to {high}")
    return value


@dataclass(frozen=True)
class Join:
    name: str
    page: bool = False      # a browser page: it is told when the class's screen changes


@dataclass(frozen=True)
class AnswerMessage:
    slide: int
    question: int
    text: str


def read_client(text: Any) -> Join | AnswerMessage:
    """A follower's message, checked: ``join`` or ``answer``; anything else is refused."""
    data = _load(text, MAX_CLIENT_MESSAGE)
    kind = data["t"]
    if kind == "join":
        if data.get("protocol") != PROTOCOL:
            raise ProtocolError(f"protocol {str(data.get('protocol'))[:10]!r}: this class speaks protocol {PROTOCOL}")
        return Join(clean_name(data.get("name")), data.get("page") is True)
    if kind == "answer":
        slide = _int(data, "slide", 0, 10_000)
        question = _int(data, "question", 0, MAX_QUESTIONS)
        answer = clean_text(data.get("text"), MAX_ANSWER)
        if not answer:
            raise ProtocolError("an empty answer")
        return AnswerMessage(slide, question, answer)
    raise ProtocolError(f"a message of type {clean_text(kind, 20)!r}: a follower sends only join and answer")


def join_message(name: str, page: bool = False) -> str:
    return dump({"t": "join", "protocol": PROTOCOL, "name": name, "page": page})


def answer_message(slide: int, question: int, text: str) -> str:
    return dump({"t": "answer", "slide": slide, "question": question, "text": text})


def read_server(text: Any) -> dict[str, Any]:
    """A message from the teacher's server: its type checked here, its fields where it is
    used (:func:`tui.classroom.state.read_state`, :func:`read_verdict`, ...)."""
    data = _load(text, MAX_SERVER_MESSAGE)
    if data["t"] not in ("hello", "state", "verdict", "end", "screen"):
        raise ProtocolError(f"an unknown message type {clean_text(data['t'], 20)!r}")
    return data


@dataclass(frozen=True)
class Verdict:
    slide: int
    question: int
    correct: bool
    message: str


def verdict_message(v: Verdict) -> str:
    return dump({"t": "verdict", "slide": v.slide, "question": v.question, "correct": v.correct,
                 "message": v.message})


def read_verdict(data: dict[str, Any]) -> Verdict:
    correct = data.get("correct")
    if not isinstance(correct, bool):
        raise ProtocolError("a verdict's correct must be true or false")
    return Verdict(_int(data, "slide", 0, 10_000), _int(data, "question", 0, MAX_QUESTIONS), correct,
                   clean_text(data.get("message"), 400))


def end_message(why: str) -> str:
    return dump({"t": "end", "why": why})


def finite(x: float) -> float | None:
    """A float for JSON: None when not finite."""
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None
