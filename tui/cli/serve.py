"""``mbsim serve``: the same app in a browser, one mbsim process per tab (for a classroom).

The server itself is :mod:`tui.webserve` (an aiohttp front on textual-serve's process protocol;
its docstring says why it is not textual-serve's ``Server``). This module decides everything
before anything starts, so every mistake is one line and exit 2:

* what each tab runs: ``python -m mbsim`` with the scenario options given here, rebuilt as an argv
  list (:func:`session_argv`; no shell, so nothing needs quoting), or ``python -m mbsim lesson NAME``;
  the scenario is checked (and its data built once) here first;
* where it listens: ``--host`` (127.0.0.1 unless told) and ``--port`` resolved and bound here
  (:func:`bind`): a bad port, a port in use, a host that does not resolve is one line;
* who may start sessions: on a loopback address anyone on this machine; on any other address a
  warning and an access token in the URL (``--token``, or one made by ``secrets.token_urlsafe``);
  and under which names (:func:`tui.web_requests.allowed_host_names`: the ``--host`` name,
  ``localhost`` on loopback, this machine's name on the wildcard address; any IP address);
* for ``--lesson``: the lesson is read and checked here (:func:`check_lesson`), as ``mbsim lesson``
  does, so a missing or bad one is one line before anything is bound;
* how many at once: ``--max-sessions``, by default what this machine's memory and cores hold
  for the scenario served (:mod:`tui.serve_sizing`: estimated from the scenario, then measured
  as sessions run), at most :data:`~tui.serve_sizing.DEFAULT_CAP`.
"""

from __future__ import annotations

import argparse
import errno
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # socket, ipaddress and secrets are imported when serving (mbsim run starts fast)
    import socket

from mbsim.engine.scenario import FIELD_NAMES
from mbsim.tui.serve_sizing import DEFAULT_CAP, Sizing, estimate_session_mb, mem_available_mb

from .common import EXIT_INTERNAL, EXIT_OK, PROG, UsageError
from .options import bool_keys, option_name
from .scenario_args import build_scenario, make_simulation

NAME = "serve"
SUMMARY = "serve the app to web browsers: one mbsim per tab"
DESCRIPTION = ("Starts a web server; every browser tab that opens its address gets its own mbsim "
               "on the scenario (or lesson) given here. Ctrl+C stops the server and every session.")
EPILOG = """\
examples:
  mbsim serve                             http://127.0.0.1:8000/ on this machine only
  mbsim serve --preset xor-mlp --port 8080
  mbsim serve --host 0.0.0.0              a classroom: prints a URL with an access token
  mbsim serve --lesson NAME               every tab plays the lesson

Safe by default: it listens on 127.0.0.1 unless --host says otherwise. On any other address
anyone who can reach it could start sessions, so a token is required in the URL (printed; or
choose it with --token): a request without it gets 403 and starts nothing. Tabs beyond
--max-sessions get a page saying so (HTTP 503). A browser session never writes the server's
files: screenshots and the scenario are offered as downloads.
"""
SCENARIO_OPTIONS = True

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
#: Upper bound for an explicit --max-sessions.
MAX_CAP = 1000
TOKEN_RE = re.compile(r"[A-Za-z0-9_.~-]{8,200}")


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``mbsim serve`` (besides the scenario's)."""
    web = parser.add_argument_group("server")
    web.add_argument("--host", default=DEFAULT_HOST, metavar="ADDRESS",
                     help="address to listen on (default: 127.0.0.1, this machine only; "
                          "0.0.0.0 for every interface, which requires a token)")
    web.add_argument("--port", default=str(DEFAULT_PORT), metavar="N",
                     help=f"port to listen on, 1-65535 (default: {DEFAULT_PORT})")
    web.add_argument("--max-sessions", default=None, metavar="N",
                     help="most tabs served at once (default: what this machine's memory and "
                          "cores hold for the scenario served, measured as sessions run; at "
                          f"most {DEFAULT_CAP})")
    web.add_argument("--token", default=None, metavar="TEXT",
                     help="the access token the URL must carry (8-200 of A-Z a-z 0-9 _ . ~ -); "
                          "default: none on a loopback address, a generated one otherwise")
    web.add_argument("--lesson", default=None, metavar="NAME",
                     help="every tab plays this lesson (mbsim lesson NAME) instead of a scenario")


# -- deciding ------------------------------------------------------------------------------------
def shown(text: str) -> str:
    """A user's string as it may be printed: as is when printable, else its repr (no control
    character reaches the terminal)."""
    return text if text.isprintable() else repr(text)


def parse_port(text: str) -> int:
    """``--port``: a whole number from 1 to 65535."""
    try:
        port = int(text, 10)
    except (TypeError, ValueError):
        port = -1
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {str(text)!r}: a whole number from 1 to 65535 is allowed, "
                         f"e.g. --port {DEFAULT_PORT}")
    return port


def parse_max_sessions(text: str | None) -> int | None:
    """``--max-sessions``: a whole number from 1 to :data:`MAX_CAP`; absent: None (the cap is
    then sized by what is served: :mod:`tui.serve_sizing`)."""
    if text is None:
        return None
    try:
        n = int(text, 10)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= MAX_CAP:
        raise UsageError(f"--max-sessions {str(text)!r}: a whole number from 1 to {MAX_CAP} "
                         "is allowed")
    return n


def check_token(text: str | None) -> str | None:
    """``--token``: URL-safe characters, 8 to 200 of them."""
    if text is not None and not TOKEN_RE.fullmatch(text):
        raise UsageError("--token: 8 to 200 characters from A-Z a-z 0-9 _ . ~ - are allowed "
                         "(it goes in a URL)")
    return text


def scenario_arguments(ns: argparse.Namespace) -> list[str]:
    """The scenario options given on this command line, as options for ``mbsim`` again."""
    args: list[str] = []
    if hasattr(ns, "preset"):
        args.append(f"--preset={ns.preset}")
    if hasattr(ns, "scenario_file"):
        args.append(f"--scenario={Path(ns.scenario_file).absolute()}")
    flags = bool_keys()
    for key in FIELD_NAMES:
        if not hasattr(ns, key):
            continue
        value = getattr(ns, key)
        opt = option_name(key)
        if key in flags:
            args.append(opt if value else "--no-" + opt[2:])
        else:
            args.append(f"{opt}={value}")
    return args


def session_argv(ns: argparse.Namespace) -> list[str]:
    """What each tab runs: ``python -m mbsim [SCENARIO OPTIONS]`` or ``python -m mbsim lesson NAME``
    (a lesson file by its absolute path)."""
    base = [sys.executable, "-m", "mbsim"]
    if ns.lesson is not None:
        from mbsim.engine.lessons import builtin_names, looks_like_file

        lesson = ns.lesson
        if looks_like_file(lesson) or lesson not in builtin_names():
            lesson = str(Path(lesson).absolute())
        return base + ["lesson", lesson]
    return base + scenario_arguments(ns)


def check_lesson(ns: argparse.Namespace):  # noqa: ANN201 - engine.lessons.Lesson
    """``--lesson``: read, parse and check it as ``mbsim lesson NAME`` would (one line if bad)."""
    from mbsim.engine.errors import visible
    from mbsim.engine.lessons import LessonError, load_lesson

    try:
        return load_lesson(ns.lesson)
    except LessonError as err:
        raise UsageError(visible(str(err))) from None


def bind(host: str, port: int) -> tuple[socket.socket, bool]:
    """A listening socket on ``host:port`` and whether it is a loopback address.

    Every failure is one line: the host does not resolve, is not this machine's, the port is in
    use or needs privileges.
    """
    import ipaddress
    import socket
    try:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise UsageError(f"--host {host!r}: does not resolve ({reason}); give a name or "
                         "an address of this machine, e.g. --host 127.0.0.1") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        where = f"{shown(host)}:{port}"
        if err.errno == errno.EADDRINUSE:
            raise UsageError(f"--port {port}: already in use on {shown(host)}; choose another, "
                             f"e.g. --port {port + 1 if port < 65535 else 8000}") from None
        if err.errno in (errno.EACCES, errno.EPERM):
            raise UsageError(f"--port {port}: needs privileges here; use a port from 1024 "
                             "to 65535") from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host!r}: not an address of this machine") from None
        raise UsageError(f"cannot listen on {where}: {err.strerror or err}") from None
    loopback = all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos[:1])
    return sock, loopback


def public_url(sock: socket.socket, host: str, token: str | None) -> str:
    """The address to open: the host as given (this machine's name for a wildcard)."""
    import ipaddress
    import socket
    port = sock.getsockname()[1]
    name = host
    try:
        if ipaddress.ip_address(host).is_unspecified:
            name = socket.gethostname()
    except ValueError:
        pass
    if ":" in name:
        name = f"[{name}]"
    return f"http://{name}:{port}/" + (f"?token={token}" if token else "")


# -- the command ---------------------------------------------------------------------------------
def execute(ns: argparse.Namespace) -> int:
    """Check everything, bind, print the URL, serve until Ctrl+C."""
    import secrets
    port = parse_port(ns.port)
    max_sessions = parse_max_sessions(ns.max_sessions)
    token = check_token(ns.token)
    if ns.lesson is not None:
        given = scenario_arguments(ns)
        if given:
            raise UsageError(f"--lesson and {given[0].split('=', 1)[0]} cannot be combined: a "
                             "lesson sets its own scenario")
        if not ns.lesson or not ns.lesson.isprintable():
            raise UsageError(f"--lesson {ns.lesson!r}: a lesson name or file is needed "
                             "(see: mbsim lessons)")
        lesson = check_lesson(ns)  # as a scenario is: one line now, not a blank page per tab
        title = f"mbsim · lesson {ns.lesson}"
        from mbsim.engine.simulation import Simulation

        sim = Simulation(lesson.start)
    else:
        scenario, src = build_scenario(ns)
        sim = make_simulation(scenario, src)  # a data error now, as one line, not in every tab
        title = f"mbsim · {scenario.name}"
    sizing = None
    if max_sessions is None:  # sized by what is served (tui/serve_sizing.py)
        sizing = Sizing(estimate_session_mb(sim), mem_available_mb())
        max_sessions = sizing.initial_cap()
    del sim
    try:
        from mbsim.tui import webserve
    except ModuleNotFoundError as err:
        print(f"{PROG}: serving is not available ({err}); install mbsim with its dependencies "
              "(textual-serve)", file=sys.stderr)
        return EXIT_INTERNAL
    sock, loopback = bind(ns.host, port)
    if not loopback:
        token = token or secrets.token_urlsafe(16)
        print(f"{PROG}: warning: listening on {shown(ns.host)}, not only this machine: anyone who "
              "can reach this address can start sessions; the URL's token is required",
              file=sys.stderr, flush=True)
    url = public_url(sock, ns.host, token)
    argv = session_argv(ns)

    def ready() -> None:
        why = f", {sizing.describe()}" if sizing is not None else ""
        print(f"{PROG} serve: one mbsim per browser tab, at most {max_sessions} at once{why} "
              f"({shown(title)})", flush=True)
        print(f"open {url}", flush=True)
        print("Ctrl+C stops the server and every session.", flush=True)

    import socket
    from mbsim.tui.web_requests import allowed_host_names

    names = allowed_host_names(ns.host, loopback, machine=socket.gethostname())
    config = webserve.ServeConfig(argv=argv, max_sessions=max_sessions, token=token, title=title,
                                  host_names=names, sizing=sizing)
    try:
        webserve.serve(sock, config, ready)
    finally:
        sock.close()
    print(f"{PROG} serve: stopped; every session ended", flush=True)
    return EXIT_OK
