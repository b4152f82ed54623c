"""A browser session's app writes each packet to the server whole, from any thread: the screen
from the app's thread and a download's chunks from the driver's input thread, into a pipe the
server reads slowly (a loaded machine). Textual's bare ``os.write`` let two large packets
interleave there, and the server, reading a bad length, never passed anything on again."""

from __future__ import annotations

import asyncio
import os
import select
import sys
import threading
import time

from textual._binary_encode import dump as binary_dump
from textual._binary_encode import load as binary_load

from mbsim.tui.web_driver import SessionDriver


class _App:
    """What the driver reads of its app before it starts (nothing here)."""


def test_packets_from_two_threads_reach_the_reader_whole(monkeypatch) -> None:  # noqa: ANN001
    import textual.drivers.web_driver as textual_web_driver

    monkeypatch.setattr(textual_web_driver, "InputReader", lambda: None)   # no stdin read here
    read_end, write_end = os.pipe()
    pipe = os.fdopen(write_end, "w", closefd=False)
    monkeypatch.setattr(sys, "__stdout__", pipe)   # the driver's stdout: the server's pipe

    async def make() -> SessionDriver:            # a driver is made in the app's event loop
        return SessionDriver(_App())

    driver = asyncio.run(make())
    assert driver.fileno == write_end
    screens, chunks = 20, 20
    screen = "x" * 150_000                          # one screen update, larger than the pipe
    chunk = b"y" * 120_000                          # one chunk of a download

    def draw() -> None:
        for _ in range(screens):
            driver.write(screen)

    def deliver() -> None:
        for k in range(chunks):
            driver.write_binary_encoded(("deliver_chunk", f"key{k}", chunk))

    writers = [threading.Thread(target=draw), threading.Thread(target=deliver)]
    for t in writers:
        t.start()
    data = bytearray()
    expected = screens * (5 + len(screen)) + sum(
        5 + len(binary_dump(("deliver_chunk", f"key{k}", chunk))) for k in range(chunks))
    deadline = time.monotonic() + 60
    while len(data) < expected and time.monotonic() < deadline:
        if not select.select([read_end], [], [], 5)[0]:
            break                                  # nothing more comes: bytes were lost
        data += os.read(read_end, 16384)          # a slow reader: the pipe stays full
        time.sleep(0.0002)
    for t in writers:
        t.join(10)
    os.close(read_end)
    os.close(write_end)
    assert len(data) == expected, f"{expected - len(data):,} bytes lost"
    kinds = {"D": 0, "P": 0}
    at = 0
    while at < len(data):                          # the server's reading (tui.webserve)
        kind = chr(data[at])
        size = int.from_bytes(data[at + 1:at + 5], "big")
        payload = bytes(data[at + 5:at + 5 + size])
        at += 5 + size
        assert kind in kinds, f"a packet of kind {kind!r} at byte {at}: the stream is corrupt"
        if kind == "D":
            assert payload == screen.encode()
        else:
            name, key, got = binary_load(payload)
            assert name == "deliver_chunk" and got == chunk
        kinds[kind] += 1
    assert kinds == {"D": screens, "P": chunks}
