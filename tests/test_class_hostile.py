"""Class mode against bad followers (issue 22): the teacher's server (``ClassServer``) on
loopback, driven at the protocol level. A wrong code, a name with escape sequences, a 1 MB
answer, 1,000 messages a second from one follower, a follower that never reads, a crowd beyond
the cap, another site's page, a forged Host: each is refused or let go in its own way, the other
followers keep receiving the newest state, and the results file stays whole.

Nothing is timed: each check waits (with a generous limit) for what it expects."""

from __future__ import annotations

import asyncio
import csv
import json
import socket

import aiohttp
import pytest

from mbsim.engine import Scenario, Simulation
from mbsim.engine.journal import journal_of
from mbsim.tui.classroom import server as server_module
from mbsim.tui.classroom.protocol import Verdict, answer_message, join_message
from mbsim.tui.classroom.room import FLOOD_LIMIT, RATE_BURST, Room
from mbsim.tui.classroom.server import ClassServer
from mbsim.tui.classroom.state import FollowState
from mbsim.tui.web_requests import allowed_host_names

CODE = "HOST1LE"


def state_text(seq: int, pad: int = 0) -> str:
    sim = Simulation(Scenario(samples=40, batch_size=5, epochs=3))
    sim.run_iterations(seq % 20)
    return FollowState(seq, 0, journal_of(sim), status="x" * pad).encode()


class Harness:
    def __init__(self, tmp_path, max_students: int = 50) -> None:
        self.room = Room("test", max_students=max_students, results=str(tmp_path / "results.csv"))
        self.judged: list[tuple[str, str]] = []
        self.server = ClassServer(self.room, CODE, host_names=allowed_host_names("127.0.0.1", True),
                                  hello={"builtin": "why-shuffle"}, judge=self.judge)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.session: aiohttp.ClientSession | None = None

    def judge(self, student, msg) -> Verdict:  # noqa: ANN001
        self.judged.append((student.name, msg.text))
        correct = msg.text == "42"
        self.room.answer(student, msg.slide, msg.question, msg.text, correct)
        return Verdict(msg.slide, msg.question, correct, "✓" if correct else "✗")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/{CODE}/follow"

    async def __aenter__(self) -> Harness:
        await self.server.start(self.sock)
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc) -> None:  # noqa: ANN002
        await self.session.close()
        await self.server.close()
        self.sock.close()

    async def join(self, name: str = "Ada", **kw) -> aiohttp.ClientWebSocketResponse:  # noqa: ANN003
        ws = await self.session.ws_connect(self.url, **kw)
        await ws.send_str(join_message(name))
        hello = json.loads((await ws.receive(timeout=30)).data)
        assert hello["t"] == "hello"
        return ws


async def until(check, limit: float = 30.0) -> None:  # noqa: ANN001
    for _ in range(int(limit / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("never happened")


async def next_state(ws, limit: float = 30.0) -> dict:  # noqa: ANN001
    while True:
        msg = await ws.receive(timeout=limit)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        data = json.loads(msg.data)
        if data["t"] == "state":
            return data


async def test_a_wrong_code_a_forged_host_and_another_sites_page(tmp_path) -> None:
    async with Harness(tmp_path) as h:
        for url, headers, status in (
            (f"ws://127.0.0.1:{h.port}/WRONG1/follow", {}, 403),
            (h.url, {"Host": "evil.example"}, 421),
            (h.url, {"Origin": "http://evil.example"}, 403),
        ):
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await h.session.ws_connect(url, headers=headers)
            assert err.value.status == status
        async with h.session.get(f"http://127.0.0.1:{h.port}/WRONG1") as r:
            assert r.status == 403 and "Wrong room code" in await r.text()
        async with h.session.get(f"http://127.0.0.1:{h.port}/{CODE.lower()}") as r:
            assert r.status == 200      # the code is case-insensitive
        assert h.room.students == {}


async def test_a_name_with_escape_sequences_is_shown_without_them(tmp_path) -> None:
    async with Harness(tmp_path) as h:
        ws = await h.join("\x1b]0;owned\x07Eve\x1b[2J\u202e\u200bX" + "y" * 100)
        name = next(iter(h.room.students.values())).name
        assert name == "]0;ownedEve[2JX" + "y" * 17      # control and format characters gone, 32 at most
        assert name.isprintable() and len(name) == 32
        await ws.send_str(answer_message(0, 0, "=cmd|' /C calc'!A0\x1b[31m"))
        await until(lambda: h.judged)
        rows = list(csv.reader(open(h.room.results)))
        assert rows[1][0] == name and rows[1][4] == "'=cmd|' /C calc'!A0[31m"   # no formula, no escape
        await ws.close()


async def test_a_1mb_answer_closes_that_follower_only(tmp_path) -> None:
    async with Harness(tmp_path) as h:
        good = await h.join("Good")
        bad = await h.join("Bad")
        await bad.send_str(answer_message(0, 0, "4" * 1_000_000))
        msg = await bad.receive(timeout=30)
        while msg.type == aiohttp.WSMsgType.TEXT:        # a state may come first
            msg = await bad.receive(timeout=30)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert h.judged == []
        h.server.publish(state_text(3))
        assert (await next_state(good))["seq"] == 3
        await good.send_str(answer_message(0, 0, "42"))
        await until(lambda: h.judged == [("Good", "42")])
        rows = list(csv.DictReader(open(h.room.results)))
        assert [(r["name"], r["answer"], r["correct"]) for r in rows] == [("Good", "42", "yes")]


async def test_a_thousand_messages_a_second_are_dropped_then_the_follower(tmp_path) -> None:
    async with Harness(tmp_path) as h:
        good = await h.join("Good")
        flood = await h.join("Flood")
        for i in range(1000):
            await flood.send_str(answer_message(0, 0, str(i)))
            if i % 100 == 0:
                await asyncio.sleep(0.1)          # about 1,000 a second
        await until(lambda: all(s.student.name != "Flood" for s in h.server.seats))
        judged = [t for n, t in h.judged if n == "Flood"]
        # a burst, then a few a second: far fewer than were sent
        assert RATE_BURST <= len(judged) <= RATE_BURST + 10
        assert FLOOD_LIMIT < 1000
        h.server.publish(state_text(5))
        assert (await next_state(good))["seq"] == 5   # the others go on
        rows = list(csv.DictReader(open(h.room.results)))
        assert len(rows) == 1 and rows[0]["name"] == "Flood"    # one row per student and question


async def test_a_follower_that_never_reads_never_holds_the_others_up(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(server_module, "SEND_TIMEOUT", 1.0)
    async with Harness(tmp_path) as h:
        good = await h.join("Good")
        # a raw socket that does the handshake and joins, then never reads again
        reader, writer = await asyncio.open_connection("127.0.0.1", h.port)
        writer.transport.set_write_buffer_limits(0)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        writer.write((f"GET /{CODE}/follow HTTP/1.1\r\nHost: 127.0.0.1:{h.port}\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        payload = join_message("Stalled").encode()
        writer.write(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)   # masked with zeros
        await writer.drain()
        await until(lambda: any(s.student.name == "Stalled" for s in h.server.seats))
        big = 200_000
        for seq in range(1, 80):
            h.server.publish(state_text(seq, pad=big))   # returns at once, whoever is slow
            got = await next_state(good)
            assert got["seq"] == seq                     # the reader keeps up, state by state
        await until(lambda: all(s.student.name != "Stalled" for s in h.server.seats))
        writer.close()


async def test_the_class_is_capped_and_a_follower_that_says_nothing_is_let_go(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(server_module, "JOIN_TIMEOUT", 0.5)
    async with Harness(tmp_path, max_students=2) as h:
        a = await h.join("A")
        b = await h.join("B")
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await h.session.ws_connect(h.url)
        assert err.value.status == 503
        await b.close()
        await until(lambda: h.room.connected == 1)
        silent = await h.session.ws_connect(h.url)      # a seat again; but it never joins
        msg = await silent.receive(timeout=30)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        back = await h.join("B")                          # B comes back to its seat
        assert sorted(s.name for s in h.room.students.values()) == ["A", "B"]
        await back.close()
        await a.close()


async def test_only_join_and_answers_are_read(tmp_path) -> None:
    async with Harness(tmp_path) as h:
        ws = await h.session.ws_connect(h.url)
        await ws.send_str(json.dumps({"t": "answer", "slide": 0, "question": 0, "text": "42"}))
        end = json.loads((await ws.receive(timeout=30)).data)
        assert end["t"] == "end" and "join" in end["why"]
        ws = await h.join("C")
        for junk in ("not json", json.dumps({"t": "next_slide"}), json.dumps({"t": "state", "seq": 1}),
                     json.dumps({"t": "answer", "slide": -1, "question": 0, "text": "1"}), "[" * 3000):
            await ws.send_str(junk)
        await ws.send_bytes(b"\x00\x01")
        await ws.send_str(answer_message(0, 0, "42"))
        await until(lambda: h.judged == [("C", "42")])     # only the well-formed answer was judged
        verdict = json.loads((await ws.receive(timeout=30)).data)
        while verdict["t"] != "verdict":
            verdict = json.loads((await ws.receive(timeout=30)).data)
        assert verdict["correct"] is True


async def test_the_end_of_the_class_reaches_every_follower(tmp_path) -> None:
    h = Harness(tmp_path)
    await h.server.start(h.sock)
    session = aiohttp.ClientSession()
    try:
        socks = []
        for name in ("A", "B", "C"):
            ws = await session.ws_connect(h.url)
            await ws.send_str(join_message(name))
            socks.append(ws)
        await until(lambda: h.room.connected == 3)
        await h.server.close("the teacher ended the class")
        for ws in socks:
            kinds = []
            while True:
                msg = await ws.receive(timeout=30)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                kinds.append(json.loads(msg.data)["t"])
            assert kinds[-1] == "end"
    finally:
        await session.close()
        h.sock.close()
