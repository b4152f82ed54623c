"""Fuzzing what a browser tab can say to ``mbsim serve`` (issue 23, as tests/test_fuzz_cli.py does
for arguments and scenario files).

* :func:`tui.web_messages.read_message` on any text: a checked message within its bounds, or
  :class:`MalformedMessage` — never another exception (JSON nested deep, huge integers, lone
  surrogates, Infinity, wrong types, any Unicode);
* a real server on loopback, one session, random frames (malformed ones, and the protocol's
  resize, ping, focus and blur with random values): after each batch the session answers a
  ping and its process is alive. Keys (``stdin``) that are valid are left out there: what keys
  do is the app's business (``q`` quits, as it should).

The number of examples is bounded so the file runs in seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serve_helpers import HANG_GUARD, alive, start_server
from test_serve import open_session
from test_serve_hostile import pong
from mbsim.tui.web_messages import (KINDS, MAX_COLS, MAX_PING, MAX_ROWS, MIN_COLS, MIN_ROWS,
                              BrowserMessage, MalformedMessage, read_message)

# -- frames ----------------------------------------------------------------------------------------
numbers = st.one_of(st.integers(), st.integers(min_value=-10**400, max_value=10**400),
                    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none())
texts = st.one_of(st.text(max_size=30), st.sampled_from(["\ud800", "a\udfffb", "\x1b[31m", "\x00",
                                                         "\u202e", "é", "x" * 200]))
json_values = st.recursive(st.one_of(numbers, texts),
                           lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                   st.dictionaries(st.text(max_size=8), inner,
                                                                   max_size=4)),
                           max_leaves=12)
sizes = st.fixed_dictionaries({}, optional={"width": st.one_of(numbers, texts),
                                            "height": st.one_of(numbers, texts)})
envelopes = st.one_of(
    st.tuples(st.sampled_from([*KINDS, "quit", "", "STDIN", "exit"]), json_values).map(list),
    st.tuples(st.just("resize"), sizes).map(list),
    st.tuples(st.sampled_from(KINDS)).map(list),
    json_values,
)


def dumps(value: Any) -> str:
    """JSON as a browser (or a hostile client) could write it: Infinity and NaN included, lone
    surrogates escaped."""
    return json.dumps(value, allow_nan=True)


frames = st.one_of(
    envelopes.map(dumps),
    st.text(max_size=60),
    st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n),
    st.integers(min_value=4300, max_value=6000).map(lambda n: '["resize", {"width": ' + "9" * n + "}]"),
    st.sampled_from(['["stdin", "\\ud800"]', '["resize", {"width": Infinity, "height": -Infinity}]',
                     '["ping"]', '["resize"]', '["stdin"]', "[", "null", '"stdin"']),
)


@settings(max_examples=600, deadline=None)
@given(frame=frames)
def test_read_message_gives_a_bounded_message_or_says_what_is_malformed(frame):
    try:
        message = read_message(frame)
    except MalformedMessage as err:
        assert str(err) and "\n" not in str(err) and len(str(err)) < 120
        return
    assert isinstance(message, BrowserMessage) and message.kind in KINDS
    if message.kind == "stdin":
        message.keys.decode("utf-8")  # valid UTF-8, whatever arrived
    elif message.kind == "resize":
        cols, rows = message.size
        assert type(cols) is int and type(rows) is int
        assert MIN_COLS <= cols <= MAX_COLS and MIN_ROWS <= rows <= MAX_ROWS
    elif message.kind == "ping":
        assert isinstance(message.text, str) and len(message.text) <= MAX_PING


def test_read_message_accepts_what_textual_js_sends():
    assert read_message('["stdin", "n"]') == BrowserMessage("stdin", keys=b"n")
    assert read_message('["stdin", "\\u00e9\\ud83d\\ude00"]').keys == "é😀".encode()
    assert read_message('["resize", {"width": 132, "height": 43}]').size == (132, 43)
    assert read_message('["resize", {"width": 100000, "height": 1}]').size == (MAX_COLS, MIN_ROWS)
    assert read_message('["ping", "1733500000000"]') == BrowserMessage("ping", text="1733500000000")
    assert read_message('["focus"]').kind == "focus" and read_message('["blur"]').kind == "blur"


# -- a real session ----------------------------------------------------------------------------------
class Session:
    """One server and one open session for the whole module (a session starts in ~1 s), driven
    from the synchronous hypothesis test through its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = start_server()
        self.client: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.pings = 0

    def run(self, coro):  # noqa: ANN001, ANN201
        return self.loop.run_until_complete(asyncio.wait_for(coro, HANG_GUARD))

    async def open(self) -> None:
        self.client = aiohttp.ClientSession()
        self.ws = await open_session(self.server.url, self.client)

    async def send(self, batch: list[str | bytes]) -> str:
        assert self.ws is not None
        for frame in batch:
            if isinstance(frame, bytes):
                await self.ws.send_bytes(frame)
            else:
                await self.ws.send_str(frame)
        self.pings += 1
        ours = f"p{self.pings}"
        await self.ws.send_str(json.dumps(["ping", ours]))
        # the batch's own pings (hypothesis makes some) are answered first, in order, each with
        # its own text; anything else before ours is a pong the server made up
        theirs = [m.text for m in map(checked, batch) if m is not None and m.kind == "ping"]
        while (text := await pong(self.ws)) != ours:
            assert theirs and text == theirs.pop(0), f"a pong {text!r} for no ping sent (ours: {ours!r})"
        return text

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.client is not None:
            await self.client.close()


@pytest.fixture(scope="module")
def session():
    s = Session()
    pids: list[int] = []
    try:
        s.run(s.open())
        pids = s.server.sessions()
        yield s
        s.run(s.close())
    finally:
        code = s.server.stop()
        s.loop.close()
        for pid in pids:
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
    assert code == 0


def checked(frame: str | bytes) -> BrowserMessage | None:
    """The message ``frame`` is, or None where it is malformed (or binary)."""
    if isinstance(frame, bytes):
        return None
    try:
        return read_message(frame)
    except MalformedMessage:
        return None


def not_keys(frame: str) -> bool:
    """Valid stdin is left out (keys are the app's: ``q`` would quit it, as it should)."""
    try:
        return read_message(frame).kind != "stdin"
    except MalformedMessage:
        return True


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.one_of(frames.filter(not_keys), st.binary(max_size=20)), min_size=1,
                      max_size=6))
def test_a_real_session_lives_through_random_frames(session, batch):
    (pid,) = session.server.sessions()
    assert session.run(session.send(batch)) == f"p{session.pings}"
    assert alive(pid) and session.server.sessions() == [pid]
    session.server.pump(0)
    assert not any("Traceback" in line for line in session.server.lines + session.server.err_lines)
