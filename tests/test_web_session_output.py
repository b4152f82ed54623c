"""What a web session's process writes reaches its tab packet by packet: one packet that could not
be passed on (while the tab is still there) is said in the log and the next ones go on. It used
to stop every later packet for good: a tab that showed nothing more and offered no download."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from mbsim.tui.web_downloads import AppDownloads
from mbsim.tui.webserve import SessionProcess


def _packet(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "big") + payload


def _run(closed: bool) -> tuple[list[bytes], list[str], list[str]]:
    """Feed a session four screen packets and an offer; the first and third screen writes fail."""
    sent: list[bytes] = []
    texts: list[str] = []
    logged: list[str] = []

    async def main() -> None:
        out, err = asyncio.StreamReader(), asyncio.StreamReader()
        offer = b'{"type": "deliver_file_start", "key": "k1", "path": "/x/shot.svg", ' \
                b'"open_method": "download", "mime_type": "image/svg+xml", "encoding": "utf-8"}'
        out.feed_data(b"__GANGLION__\n" + _packet(b"D", b"one") + _packet(b"D", b"two")
                      + _packet(b"M", offer) + _packet(b"D", b"three") + _packet(b"D", b"four"))
        out.feed_eof()
        err.feed_eof()

        async def write_bytes(data: bytes) -> None:
            if data in (b"one", b"three"):
                raise ConnectionResetError("a hiccup on the way")
            sent.append(data)

        async def write_str(text: str) -> None:
            texts.append(text)

        async def close() -> None:
            pass

        session = SessionProcess(["mbsim"], log=logged.append, write_bytes=write_bytes,
                                 write_str=write_str, close=close, download_manager=AppDownloads(),
                                 closed=lambda: closed)
        session._process = SimpleNamespace(stdout=out, stderr=err)
        await asyncio.wait_for(session.run(), 10)

    asyncio.run(main())
    return sent, texts, logged


def test_a_packet_that_fails_is_said_and_the_next_ones_go_on() -> None:
    sent, texts, logged = _run(closed=False)
    assert sent == [b"two", b"four"]
    assert texts == ['["deliver_file_start", "k1"]']          # the offer still reaches the tab
    # said once (a tab dropping without a close frame would fail every packet until it is closed)
    assert len(logged) == 1 and "ConnectionResetError" in logged[0] and "a hiccup" in logged[0]


def test_once_the_tab_has_closed_the_packets_are_read_and_dropped() -> None:
    sent, texts, logged = _run(closed=True)
    assert sent == [] and texts == [] and logged == []
