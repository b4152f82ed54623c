"""``mbsim serve``: the command line, the web driver, the token, the cap, Ctrl+C, offline page.

The browser itself is in tests/test_serve_browser.py. Servers here are real child processes on
free loopback ports (tests/serve_helpers.py); websocket sessions are opened with aiohttp (a
dependency of textual-serve) speaking textual.js's protocol: ``/ws?width=&height=``, then JSON
envelopes ``["stdin", keys]``, ``["resize", {...}]``; the server answers with terminal bytes.
"""

from __future__ import annotations

import argparse
import html
import os
import re
import socket
import subprocess
import sys

import aiohttp
import pytest

from mbsim.engine.lessons import builtin_text
from serve_helpers import (ROOT, SHARED, alive, descendants, download_screenshot, free_port,
                           parent_of, quit_packet, start_server, wait_until)
from mbsim.tui.cli import main
from mbsim.tui.cli import serve as serve_cmd
from mbsim.tui.cli.options import normalize_argv
from mbsim.tui.cli.parser import build_parser
from mbsim.tui.cli.scenario_args import build_scenario

WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def counters_in_svg(svg: str) -> dict[str, str]:
    """The counters line of an SVG screenshot (Rich's export: one <text> per run of cells)."""
    text = html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")
    found = re.search(r"Epoch\s*(\d+/\d+)\s*Batch\s*(\d+/\d+)\s*Iteration\s*(\d+)\s*"
                      r"Step\s*(\d+)\s*Samples\s*([\d,]+)", text)
    assert found, "no counters line in the screenshot"
    return dict(zip(("Epoch", "Batch", "Iteration", "Step", "Samples"), found.groups()))


def parse(*argv: str) -> argparse.Namespace:
    """As ``mbsim`` parses its command line (``--lr -0.1`` is a value, not an option)."""
    return build_parser().parse_args(normalize_argv(argv))


# -- what each tab runs ------------------------------------------------------------------------
def test_session_command_carries_the_scenario_options():
    ns = parse("serve", "--preset", "xor-mlp", "--batch-size", "1", "--lr", "-0.5e-1",
               "--drop-last", "--port", "8123")
    argv = serve_cmd.session_argv(ns)
    assert argv[:3] == [sys.executable, "-m", "mbsim"]
    # each option once, with its value attached (a negative number stays a value)
    assert sorted(argv[3:]) == sorted(["--preset=xor-mlp", "--batch-size=1", "--lr=-0.5e-1",
                                       "--drop-last"])
    # the server's own options are not passed on
    assert not any(a.startswith(("--port", "--host", "--max-sessions", "--token")) for a in argv)


def test_session_command_gives_the_same_scenario_as_the_serve_command_line(tmp_path):
    toml = tmp_path / "my scenario; rm -rf ~.toml"  # a name a shell would mangle
    toml.write_text('name = "from-file"\nbatch_size = 8\nepochs = 3\n')
    ns = parse("serve", "--scenario", str(toml), "--lr", "0.2", "--no-drop-last", "--seed", "7")
    tab_ns = parse(*serve_cmd.session_argv(ns)[3:])
    served, _ = build_scenario(ns)
    in_tab, _ = build_scenario(tab_ns)
    assert in_tab == served
    assert (in_tab.name, in_tab.batch_size, in_tab.epochs, in_tab.lr, in_tab.seed) == (
        "from-file", 8, 3, 0.2, 7)


def test_lesson_is_passed_through_as_mbsim_lesson_name(tmp_path, monkeypatch):
    ns = parse("serve", "--lesson", "why-shuffle")  # a built-in lesson: by its name
    assert serve_cmd.session_argv(ns) == [sys.executable, "-m", "mbsim", "lesson", "why-shuffle"]
    monkeypatch.chdir(tmp_path)  # a lesson file: by its absolute path (a session's folder may differ)
    ns = parse("serve", "--lesson", "my lesson.md")
    assert serve_cmd.session_argv(ns) == [sys.executable, "-m", "mbsim", "lesson",
                                          str(tmp_path / "my lesson.md")]


def test_lesson_and_scenario_options_are_refused_together(capsys):
    assert main(["serve", "--lesson", "intro", "--batch-size", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mbsim: --lesson and --batch-size cannot be combined: a lesson sets its own "
                   "scenario"]


# -- defaults (the cap itself: tests/test_serve_sizing.py) --------------------------------------
def test_without_max_sessions_the_cap_is_sized_and_with_it_fixed():
    assert serve_cmd.parse_max_sessions(None) is None  # sized by what is served
    assert serve_cmd.parse_max_sessions("7") == 7


def test_mem_available_is_read_from_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  16000000 kB\nMemFree:  100 kB\nMemAvailable:   2048000 kB\n")
    assert serve_cmd.mem_available_mb(meminfo) == 2000.0
    assert serve_cmd.mem_available_mb(tmp_path / "missing") is None


# -- bad input: one line, exit 2 ----------------------------------------------------------------
@pytest.mark.parametrize("argv, expected", [
    (["--port", "abc"], "mbsim: --port 'abc': a whole number from 1 to 65535 is allowed, "
                        "e.g. --port 8000"),
    (["--port", "0"], "mbsim: --port '0': a whole number from 1 to 65535 is allowed, "
                      "e.g. --port 8000"),
    (["--port", "65536"], "mbsim: --port '65536': a whole number from 1 to 65535 is allowed, "
                          "e.g. --port 8000"),
    (["--max-sessions", "0"], "mbsim: --max-sessions '0': a whole number from 1 to 1000 is "
                              "allowed"),
    (["--max-sessions", "many"], "mbsim: --max-sessions 'many': a whole number from 1 to 1000 "
                                 "is allowed"),
    (["--token", "short"], "mbsim: --token: 8 to 200 characters from A-Z a-z 0-9 _ . ~ - are "
                           "allowed (it goes in a URL)"),
    (["--batch-size", "0"], None),  # the scenario's own message, checked before serving
])
def test_bad_options_are_one_line_and_exit_2(capsys, argv, expected):
    assert main(["serve", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mbsim: ")
    if expected is not None:
        assert lines[0] == expected
    assert captured.out == ""  # nothing was served


def test_a_port_in_use_is_one_line_and_exit_2(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mbsim: --port {port}: already in use on 127.0.0.1; choose another, "
                   f"e.g. --port {port + 1}"]


def test_a_host_that_does_not_resolve_is_one_line_and_exit_2(capsys):
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "8000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("mbsim: --host 'no-such-host.invalid': does not resolve (")
    assert err[0].endswith("give a name or an address of this machine, e.g. --host 127.0.0.1")


def test_a_host_that_is_not_this_machine_is_one_line_and_exit_2(capsys):
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine
    assert main(["serve", "--host", "192.0.2.1", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mbsim: --host '192.0.2.1': not an address of this machine"]


def test_loopback_addresses_are_told_apart_from_the_others():
    sock, loopback = serve_cmd.bind("127.0.0.1", free_port())
    sock.close()
    assert loopback
    sock, loopback = serve_cmd.bind("localhost", free_port())
    sock.close()
    assert loopback


# -- the TUI under the web driver ----------------------------------------------------------------
def test_without_a_terminal_the_tui_still_refuses_in_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("TEXTUAL_DRIVER", "MBSIM_FORCE_TUI")}
    done = subprocess.run([sys.executable, "-m", "mbsim"], cwd=ROOT, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mbsim: the TUI needs a terminal; use 'mbsim run' for headless output "
        "(or 'mbsim plan', 'mbsim presets')"]


def test_under_textuals_web_driver_the_tui_starts_and_quits_when_asked():
    env = dict(os.environ, TEXTUAL_DRIVER=WEB_DRIVER, COLUMNS="100", ROWS="30")
    env.pop("MBSIM_FORCE_TUI", None)
    proc = subprocess.Popen([sys.executable, "-m", "mbsim"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # the web driver's first line says "a Textual app speaks the protocol here"
        assert proc.stdout.readline() == b"__GANGLION__\n"
        proc.stdin.write(quit_packet())
        proc.stdin.flush()
        assert proc.wait(120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"needs a terminal" not in proc.stderr.read()


# -- a running server ----------------------------------------------------------------------------
async def open_session(url: str, client: aiohttp.ClientSession, cols: int = 100, rows: int = 30,
                       **kwargs) -> aiohttp.ClientWebSocketResponse:
    """Connect as textual.js does and wait for the first screen bytes."""
    ws_url = re.sub(r"^http", "ws", url.split("?")[0].rstrip("/")) + f"/ws?width={cols}&height={rows}"
    ws = await client.ws_connect(ws_url, **kwargs)
    while True:
        msg = await ws.receive(timeout=120)
        assert msg.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), msg
        if msg.type == aiohttp.WSMsgType.BINARY and len(msg.data) > 100:
            return ws


@pytest.mark.xdist_group(SHARED)
def test_the_page_names_no_other_host_and_no_web_font(served):
    server = served  # shared: the server's exit code is checked when it stops (tests/conftest.py)
    import urllib.request

    with urllib.request.urlopen(server.url) as response:
        page = response.read().decode()
        assert response.status == 200
    with urllib.request.urlopen(server.url.rstrip("/") + "/static/css/xterm.css") as response:
        css = response.read().decode()
    assert 'class="textual-terminal"' in page and "/static/js/textual.js" in page
    # every address in it is this server's (the websocket's); no http(s):// at all
    assert set(re.findall(r"//([\w.:-]+)", page)) == {f"127.0.0.1:{server.port}"}
    assert re.findall(r"https?://", page) == []
    assert re.findall(r"wss?://([\w.:-]+)", page) == [f"127.0.0.1:{server.port}"]
    assert "googleapis" not in page and "url(" not in css
    # the font is this server's own file (textual-serve ships it), then local monospace
    assert 'url("/static/fonts/RobotoMono-VariableFont_wght.ttf")' in page
    with urllib.request.urlopen(server.url.rstrip("/") +
                                "/static/fonts/RobotoMono-VariableFont_wght.ttf") as response:
        assert response.status == 200 and len(response.read()) > 10_000


@pytest.mark.xdist_group(SHARED)
async def test_a_token_is_required_off_loopback_403_without_200_with(served_everywhere):
    server = served_everywhere  # shared, as served (tests/conftest.py)
    warning = server.err_lines or (server.pump(1.0) or server.err_lines)
    assert warning == ["mbsim: warning: listening on 0.0.0.0, not only this machine: anyone "
                       "who can reach this address can start sessions; the URL's token is "
                       "required"]
    token = re.search(r"\?token=([\w-]+)$", server.url).group(1)
    assert len(token) >= 16
    base = f"http://127.0.0.1:{server.port}"
    # unsafe=True: aiohttp's jar keeps cookies of IP-address hosts only when told (browsers do)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        for path in ("/", "/?token=wrong-token", "/ws?width=80&height=24",
                     "/static/js/textual.js", "/download/abc"):
            async with client.get(base + path) as response:
                assert response.status == 403, path
                assert "access token" in await response.text()
        assert server.sessions() == []  # nothing was started
        async with client.get(f"{base}/?token={token}") as response:
            assert response.status == 200
            assert 'class="textual-terminal"' in await response.text()
            cookie = response.headers["Set-Cookie"]
            assert cookie.startswith(f"mbsim_token={token};")
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        # the cookie set with the page lets textual.js load its files and open /ws
        async with client.get(base + "/static/js/textual.js") as response:
            assert response.status == 200
        ws = await open_session(base + "/", client)
        assert len(server.sessions()) == 1
        await ws.close()
    wait_until(lambda: server.sessions() == [], "the session ends with its websocket")


async def test_an_explicit_token_is_required_on_loopback_too():
    server = start_server("--token", "class-2b-token")
    try:
        assert server.url.endswith("/?token=class-2b-token")
        async with aiohttp.ClientSession() as client:
            async with client.get(f"http://127.0.0.1:{server.port}/") as response:
                assert response.status == 403
            async with client.get(server.url) as response:
                assert response.status == 200
    finally:
        assert server.stop() == 0


@pytest.mark.xdist_group(SHARED)
async def test_another_sites_page_cannot_open_sessions(served):
    server = served  # shared: the server's exit code is checked when it stops (tests/conftest.py)
    async with aiohttp.ClientSession() as client:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await open_session(server.url, client, headers={"Origin": "http://evil.example"})
        assert refused.value.status == 403
        assert server.sessions() == []
        own = f"http://127.0.0.1:{server.port}"  # what Chromium sends from the page itself
        ws = await open_session(server.url, client, headers={"Origin": own})
        assert len(server.sessions()) == 1
        await ws.close()


async def test_tabs_beyond_the_cap_get_a_clear_503_page_and_a_closed_tab_frees_its_place():
    server = start_server("--max-sessions", "1")
    try:
        async with aiohttp.ClientSession() as client:
            ws = await open_session(server.url, client)
            (pid,) = server.sessions()
            async with client.get(server.url) as response:
                assert response.status == 503
                text = await response.text()
                assert "All 1 session of this mbsim server are in use" in text
                assert "--max-sessions" in text
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await open_session(server.url, client)
            assert refused.value.status == 503
            assert server.sessions() == [pid]  # the refused tab started nothing
            await ws.close()  # closing the tab ends its process
            wait_until(lambda: not alive(pid), "the closed tab's process ends")
            server.wait_line(r"^session 1 closed")  # and the server has counted it out
            async with client.get(server.url) as response:
                assert response.status == 200
    finally:
        assert server.stop() == 0
    assert any(re.fullmatch(r"session 1 opened \(pid \d+; 1 of 1 in use\)", line)
               for line in server.lines)
    assert "session 1 closed (0 of 1 in use)" in server.lines


@pytest.mark.xdist_group(SHARED)
async def test_keys_sent_over_the_websocket_reach_the_app_and_S_offers_the_svg(served):
    """``n n n`` then ``S``: the app offers its screenshot; the SVG shows the counters."""
    server = served  # shared: the server's exit code is checked when it stops (tests/conftest.py)
    async with aiohttp.ClientSession() as client:
        ws = await open_session(server.url, client, cols=120, rows=40)
        for _ in range(3):  # one key at a time, as typed: each answered by screen bytes
            await ws.send_json(["stdin", "n"])
            msg = await ws.receive(timeout=120)
            assert msg.type == aiohttp.WSMsgType.BINARY, msg
        # S: screen bytes, then the offer (a JSON text message), then the download
        offered = await download_screenshot(ws, client, server.url)
        assert offered.status == 200
        assert offered.headers["content-type"] == "image/svg+xml; charset=utf-8"
        disposition = offered.headers["content-disposition"]
        assert re.fullmatch(r'attachment; filename="mbsim-[\d-]+\.svg"', disposition)
        svg = offered.text
        await ws.close()
    wait_until(lambda: server.sessions() == [], "the session ends with its websocket")
    # 3 batches of B=5 in the worked example (N=200): batch 3 of 40, 15 samples
    assert counters_in_svg(svg) == {"Epoch": "1/1000", "Batch": "3/40", "Iteration": "3",
                                    "Step": "3", "Samples": "15"}
    # nothing written on the server's side: in its working folder, nor in the repository
    assert not list(server.cwd.iterdir()) and not list(ROOT.glob("mbsim-*.svg"))


async def test_a_tab_whose_session_cannot_start_is_closed_not_left_waiting(tmp_path):
    # the lesson file is checked when the server starts, then removed: each session process
    # ends at once with its one-line error; the tab is closed, the server goes on
    lesson = tmp_path / "gone.md"
    lesson.write_text(builtin_text("why-shuffle"))
    server = start_server("--lesson", str(lesson))
    lesson.unlink()
    try:
        async with aiohttp.ClientSession() as client:
            ws = await client.ws_connect(
                re.sub(r"^http", "ws", server.url.rstrip("/")) + "/ws?width=80&height=24")
            while True:
                msg = await ws.receive(timeout=120)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                aiohttp.WSMsgType.CLOSING):
                    break
            wait_until(lambda: "session 1 closed (0 of" in " ".join(server.lines) or
                       server.pump(0.2), "the failed session is counted out")
            assert server.sessions() == []
            async with client.get(server.url) as response:
                assert response.status == 200  # still serving
    finally:
        assert server.stop() == 0
    # the session's one-line error reaches the server's log (made visible, one line)
    said = [line for line in server.lines if line.startswith("session 1 said: ")]
    assert len(said) == 1 and "gone.md" in said[0] and "does not exist" in said[0], server.lines


async def test_ctrl_c_stops_the_server_and_every_session_process():
    server = start_server()
    async with aiohttp.ClientSession() as client:
        sockets = [await open_session(server.url, client) for _ in range(2)]
        pids = wait_until(lambda: len(server.sessions()) == 2 and server.sessions(),
                          "two session processes")
        fork_server = server.fork_server()
        assert fork_server is not None  # python -m mbsim sessions are forked from it
        for pid in pids:  # each session is forked from the fork server, in a group of its own
            assert parent_of(pid) == fork_server
            assert os.getpgid(pid) == pid != os.getpgid(server.proc.pid)
        assert server.stop() == 0  # SIGINT, as Ctrl+C in its terminal
        for ws in sockets:
            await ws.close()
    assert [pid for pid in pids if alive(pid)] == [] and not alive(fork_server)
    assert server.lines[-1] == "mbsim serve: stopped; every session ended"
