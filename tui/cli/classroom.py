"""``mbsim class LESSON|FILE.md``: the teacher plays a lesson and the same process serves the class.

Everything is decided before anything is bound or drawn, so every mistake is one line and exit 2:
the lesson is read and checked (and, for a file, the scenario files it names, which are sent to
the students); ``--code`` (4–12 of A–Z 0–9, else one is made), ``--max-students`` (1 to
:data:`MAX_STUDENTS`), ``--results`` (a file that can be written: checked, then written with
its header at once) and ``--host``/``--port`` (bound here, as ``mbsim serve`` binds: a port in
use is one line). On an address other than loopback a warning says that anyone who can reach it
and knows the code can follow (the code is the credential).

Then the teacher's app (:class:`tui.classroom.teacher.ClassApp`) and the server
(:class:`tui.classroom.server.ClassServer`) run in one event loop; Ctrl+C (or q) ends the class:
every follower is told, every connection closed, and the results file is whole.
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_INTERNAL, PROG, UsageError

NAME = "class"
SUMMARY = "teach a lesson to a class: students follow with mbsim join"
DESCRIPTION = ("Play a lesson on this screen (the one the projector shows) and serve it to the class: "
               "each student runs 'mbsim join http://HOST:PORT/CODE' (or opens that address in a "
               "browser) and sees this lesson, this slide and this run, recomputed exactly on their own "
               "screen, and answers the questions on it. Ctrl+C ends the class.")
EPILOG = """\
examples:
  mbsim class epochs-and-batches                 students on this machine (an SSH server):
                                                 mbsim join http://127.0.0.1:8000/CODE
  mbsim class my-lesson.md --host 0.0.0.0 --code K7QX2M --results answers.csv
                                                 a room on a LAN: students join the printed address

Keys besides the lesson's: u unlocks the class (each student plays freely from the state shown)
and locks it again (every screen snaps back to this one); enter reveals the next answer on every
screen. Students send only their name and their answers.
"""

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8000
DEFAULT_STUDENTS = 200
MAX_STUDENTS = 1000


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lesson", nargs="?", metavar="NAME|FILE.md", help="a built-in lesson's name or a lesson file")
    parser.add_argument("--host", default=DEFAULT_HOST, metavar="ADDRESS",
                        help="address to listen on (default: 127.0.0.1, this machine only, e.g. students on "
                             "an SSH server; 0.0.0.0 for a room on a LAN)")
    parser.add_argument("--port", default=str(DEFAULT_PORT), metavar="N", help=f"port, 1-65535 (default: {DEFAULT_PORT})")
    parser.add_argument("--code", default=None, metavar="CODE",
                        help="the room code in the address (4-12 of A-Z 0-9; default: a random one)")
    parser.add_argument("--max-students", default=str(DEFAULT_STUDENTS), metavar="N",
                        help=f"most students at once, 1-{MAX_STUDENTS} (default: {DEFAULT_STUDENTS})")
    parser.add_argument("--results", default=None, metavar="FILE.csv",
                        help="keep the answers: one row per student and question, rewritten as they arrive")
    parser.add_argument("--speed", metavar="N", default=None,
                        help="the speed of the keys' runs (batches per second, or max)")


def parse_students(text: str) -> int:
    try:
        n = int(text, 10)
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= MAX_STUDENTS:
        raise UsageError(f"--max-students {text!r}: a whole number from 1 to {MAX_STUDENTS} is allowed")
    return n


def join_address(sock, host: str, code: str) -> str:  # noqa: ANN001 - socket.socket
    """``http://HOST:PORT/CODE``: the host as given (this machine's name for a wildcard)."""
    from .serve import public_url

    return public_url(sock, host, None).rstrip("/") + "/" + code


def execute(ns: argparse.Namespace) -> int:
    from mbsim.engine.errors import OutputError, visible
    from mbsim.engine.lessons import LessonError, load_lesson

    from mbsim.tui.classroom.protocol import ProtocolError, check_code, make_code
    from .lesson import printable
    from .serve import bind, parse_port, shown

    if not ns.lesson:
        raise UsageError("class: give a built-in lesson's name or a FILE.md (mbsim lessons lists them)")
    if not ns.lesson.isprintable():
        raise UsageError(f"class {ns.lesson!r}: a lesson name or file is needed (see: mbsim lessons)")
    port = parse_port(ns.port)
    students = parse_students(ns.max_students)
    try:
        code = check_code(ns.code) if ns.code is not None else make_code()
    except ProtocolError as err:
        raise UsageError(str(err)) from None
    try:
        lesson = load_lesson(ns.lesson)
        from mbsim.tui.classroom.state import lesson_bundle

        bundle = lesson_bundle(ns.lesson)
    except LessonError as err:
        raise UsageError(printable(str(err))) from None
    csv_slide = next((i for i, sl in enumerate(lesson.slides, 1) if sl.scenario.is_csv), None)
    if lesson.start.is_csv or csv_slide is not None:
        where = f"slide {csv_slide}" if csv_slide is not None and not lesson.start.is_csv else "its start"
        raise UsageError(f"class {printable(ns.lesson)}: the lesson reads a CSV file ({where}), which followers "
                         "cannot receive; a class needs built-in data sets")
    if ns.speed is not None:
        from mbsim.tui.app import parse_speed

        try:
            parse_speed(ns.speed)
        except ValueError as err:
            raise UsageError(f"--speed {ns.speed!r}: {str(err).removeprefix('speed ')}") from None
    from mbsim.engine.errors import ScenarioError
    from mbsim.engine.simulation import Simulation

    try:
        sim = Simulation(lesson.start)
    except ScenarioError as err:
        raise UsageError(printable(f"{lesson.source}:1: {err}")) from None
    from mbsim.tui.classroom.room import Room

    room = Room(lesson.title or lesson.source, max_students=students, results=ns.results)
    if ns.results is not None:
        from mbsim.engine.atomic import output_problem

        problem = output_problem(ns.results)
        if problem:
            raise UsageError(f"--results {visible(ns.results)}: {problem}")
    from .interactive import under_web_driver

    if not (sys.stdin.isatty() and sys.stdout.isatty()) and not (
            os.environ.get("MBSIM_FORCE_TUI") or under_web_driver()):
        raise UsageError("class: the teacher's screen needs a terminal")
    if ns.results is not None:
        try:
            room.write_results()        # the header at once: the file exists, whole, from the start
        except OutputError as err:
            raise UsageError(f"--results: {err}") from None
    try:
        from mbsim.tui.classroom.server import ClassServer
        from mbsim.tui.classroom.teacher import ClassApp
    except ModuleNotFoundError as err:
        print(f"{PROG}: class mode is not available ({err})", file=sys.stderr)
        return EXIT_INTERNAL
    sock, loopback = bind(ns.host, port)
    if not loopback:
        print(f"{PROG}: warning: listening on {shown(ns.host)}, not only this machine: anyone who can reach "
              "this address and knows the room code can follow the class", file=sys.stderr, flush=True)
    address = join_address(sock, ns.host, code)
    return _serve(lesson, sim, room, bundle, sock, loopback, ns, address, code)


def browser_tabs(server, sock, code: str, sim, max_students: int, title: str):  # noqa: ANN001, ANN201
    """Browser followers: each tab its own ``mbsim join`` process (tui/classroom/web.py), at most
    what this machine's memory and cores hold (tui/serve_sizing.py) and the class's cap."""
    from mbsim.tui.classroom.web import BrowserTabs, local_url
    from mbsim.tui.serve_sizing import Sizing, estimate_session_mb, mem_available_mb

    sizing = Sizing(estimate_session_mb(sim), mem_available_mb())
    return BrowserTabs(server, local_url(sock, code), sizing=sizing,
                       max_tabs=min(max_students, sizing.initial_cap()), title=f"mbsim class · {title}")


def _serve(lesson, sim, room, bundle, sock, loopback: bool, ns: argparse.Namespace, address: str,  # noqa: ANN001
           code: str) -> int:
    import asyncio
    import socket

    from mbsim.tui.classroom.server import ClassServer
    from mbsim.tui.classroom.teacher import ClassApp
    from mbsim.tui.web_requests import allowed_host_names

    names = allowed_host_names(ns.host, loopback, machine=socket.gethostname())
    ended = {"students": 0}

    async def main() -> int:
        server = ClassServer(room, code, host_names=names, hello=bundle)
        app = ClassApp(lesson, sim, room=room, address=address, publish=server.publish, speed=ns.speed)
        server.judge = app.judge_answer
        server.changed = app.class_changed

        def log(line: str) -> None:
            if "refused" in line or "dropped" in line:
                app.notify(line, severity="warning", timeout=4, markup=False)

        server.log_line.log = log
        tabs = browser_tabs(server, sock, code, sim, room.max_students, lesson.title)
        server.page, server.extra_routes = tabs.page, tabs.routes()
        await tabs.start()
        await server.start(sock)
        app.handle_signals = True
        try:
            result = await app.run_async()
        finally:
            ended["students"] = len(room.students)
            await server.close("the teacher ended the class")
            await tabs.close()
            sock.close()
            await asyncio.sleep(0)
        return int(app.return_code or result or 0)

    code_ = asyncio.run(main())
    where = f"; answers in {ns.results}" if ns.results else ""
    print(f"{PROG} class: ended ({ended['students']} student{'s' if ended['students'] != 1 else ''} joined{where})",
          flush=True)
    return code_
