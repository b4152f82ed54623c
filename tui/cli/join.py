"""``mbsim join http://HOST:PORT/CODE [--name NAME]``: follow a class on this screen.

The address is checked here (one line and exit 2 when it is not ``http://HOST:PORT/CODE``);
then the follower connects and joins before any screen is drawn, so a wrong room code, a full
class or a server that is not there is one line and exit 2 too. The app is
:class:`tui.classroom.follower.FollowerApp`; when the teacher ends the class it closes and says so.
"""

from __future__ import annotations

import argparse
import os
import sys

from .common import EXIT_OK, EXIT_USAGE, PROG, UsageError

NAME = "join"
SUMMARY = "follow a class: the teacher's lesson on this screen (mbsim class)"
DESCRIPTION = ("Join the class at the address the teacher's screen shows: this screen follows the "
               "teacher's lesson, slide and run (recomputed here, exactly), and t answers the questions.")
EPILOG = """\
examples:
  mbsim join http://127.0.0.1:8000/K7QX2M                  on the teacher's machine (e.g. an SSH server)
  mbsim join http://192.168.1.20:8000/K7QX2M --name Ada    in a room, from your own machine

While the class is locked the keys that drive the run say "following the teacher"; t answers,
q leaves (you may join again: you catch up at once).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", metavar="http://HOST:PORT/CODE", help="the address the teacher shows")
    parser.add_argument("--name", default=None, metavar="NAME",
                        help="your name as the teacher sees it (default: your login name)")
    # the class's screen for browser pages: started by mbsim class itself, with its key in the
    # environment (MBSIM_CLASS_SCREEN), headless
    parser.add_argument("--screen", action="store_true", default=False, help=argparse.SUPPRESS)


def default_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name: the server numbers the student
        return ""


def execute(ns: argparse.Namespace) -> int:
    from mbsim.tui.classroom.protocol import MAX_NAME, ProtocolError, clean_name, parse_join_address

    if not ns.url:
        raise UsageError("join: give the address the teacher's screen shows, e.g. mbsim join http://127.0.0.1:8000/K7QX2M")
    try:
        address = parse_join_address(ns.url)
    except ProtocolError as err:
        raise UsageError(f"join {err}") from None
    if ns.name is not None:
        name = clean_name(ns.name)
        if not name:
            raise UsageError(f"--name {ns.name!r}: a name of 1 to {MAX_NAME} printable characters is needed")
    else:
        name = clean_name(default_name())
    if ns.screen:
        from mbsim.tui.classroom.protocol import SCREEN_KEY_ENV

        key = os.environ.get(SCREEN_KEY_ENV, "")
        if not key:
            raise UsageError(f"join --screen: started by mbsim class only ({SCREEN_KEY_ENV} is not set)")
        return screen(address, key)
    return follow(address, name)


#: The size of the class's screen (browser pages scale its pictures to their window).
SCREEN_SIZE = (120, 40)


def screen(address, key: str) -> int:  # noqa: ANN001 - JoinAddress
    """The class's screen: a headless follower sending a picture of itself when it changes."""
    import asyncio

    from mbsim.tui.classroom.follower import Connection, FollowerApp, JoinRefused

    async def main() -> int:
        conn = Connection(address, "", screen_key=key)
        try:
            hello = await conn.open()
        except JoinRefused as err:
            print(f"{PROG}: {err}", file=sys.stderr, flush=True)
            await conn.close()
            return EXIT_USAGE
        app = FollowerApp(hello.lesson, name="", first=hello.first_state, connection=conn, animate=False)
        app.screen_sink = conn.send
        try:
            await app.run_async(headless=True, size=SCREEN_SIZE)
        finally:
            await conn.close()
        return EXIT_OK

    return asyncio.run(main())


def has_terminal() -> bool:
    from .interactive import under_web_driver

    return (sys.stdin.isatty() and sys.stdout.isatty()) or bool(os.environ.get("MBSIM_FORCE_TUI")) \
        or under_web_driver()


def follow(address, name: str) -> int:  # noqa: ANN001 - JoinAddress
    import asyncio

    from mbsim.tui.classroom.follower import Connection, FollowerApp, JoinRefused

    outcome: dict[str, str] = {}

    async def main() -> int:
        conn = Connection(address, name)
        try:
            hello = await conn.open()
        except JoinRefused as err:
            outcome["refused"] = str(err)
            await conn.close()
            return EXIT_USAGE
        except Exception as err:  # noqa: BLE001 - a lesson this mbsim cannot read, say
            outcome["refused"] = f"{address.page}: {err}"
            await conn.close()
            return EXIT_USAGE
        if not has_terminal():       # checked after joining: a wrong code says so first
            outcome["refused"] = "join: following a class needs a terminal"
            await conn.close()
            return EXIT_USAGE
        app = FollowerApp(hello.lesson, name=hello.name, send=conn.send, first=hello.first_state, connection=conn)
        app.handle_signals = True
        try:
            result = await app.run_async()
        finally:
            await conn.close()
        if app.ended:
            outcome["ended"] = app.ended
        return int(app.return_code or result or 0)

    code = asyncio.run(main())
    if "refused" in outcome:
        from mbsim.engine.errors import visible

        print(f"{PROG}: {visible(outcome['refused'])}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    if "ended" in outcome:
        print(f"{PROG} join: {outcome['ended']}", flush=True)
        return EXIT_OK
    return code
