"""The fork server of ``mbsim serve``: one process that has imported the app once, forking a
session per browser tab (``python -m mbsim.tui.web_zygote FD``; started by :mod:`tui.web_spawn`).

Starting ``python -m mbsim`` costs ~0.5 s of CPU, ~90 % of it imports (Textual, Rich, NumPy,
plotext, the engine); 30 tabs opening at once on 2 cores waited ~10 s. This process imports all
of it once (:func:`prepare`), then waits on its end of a Unix socket pair (``FD``, private to the
server that started it) for requests: a JSON message (the session's arguments, its environment)
with three file descriptors (its stdin, stdout and stderr pipes). For each it forks; the child
makes the pipes its standard streams, starts a session of its own (``setsid``: its own process
group, which the server signals), takes the session's environment and runs ``mbsim`` with the
arguments, exactly as ``python -m mbsim ARGS`` would, then exits with its code. The fork costs
milliseconds and shares the imported modules' memory until it is written to.

It is single-threaded when it forks (NumPy is told to use one BLAS thread before it loads, so no
thread pool exists: engine/threads.py). It reaps its children. It ends when the server's end of
the socket closes (the server stopped or was killed); its children then live on until their own
stdin closes, which ends them (:mod:`tui.web_driver`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

# the largest request accepted from the server: the protocol's, shared with tui.web_spawn
from .web_protocol import MAX_REQUEST


#: Modules a session imports only once it runs (Textual's, Rich's, NumPy's, ours), imported here
#: too so that a forked session imports nothing (tests/test_serve_cost.py checks that it does not).
SESSION_MODULES = (
    "numpy.random", "textual.pilot", "textual.drivers.headless_driver", "textual.scrollbar",
    "textual.layouts.factory", "textual.layouts.horizontal", "textual.layouts.stream",
    "mbsim.tui.entry", "mbsim.tui.cli.memory_check", "mbsim.tui.cli.run_ensemble",
    "encodings.ascii",
)


def prepare() -> None:
    """Do once what every session does first, so each fork starts with it done.

    * import what a session imports (the app, the command line, :data:`SESSION_MODULES`) and
      load Rich's table of character widths;
    * build the command line's parser (:func:`tui.cli.prebuild_parser`), give the heap's freed
      pages back (:func:`tui.memory_views.give_back_freed_memory`, a ``malloc_trim``: the
      allocation thresholds are set by each session's own ``main``, ``tune_malloc``), and build
      the default scenario's simulation once, thrown away (NumPy's and the engine's first-call
      costs: ~9 ms a session);
    * ``gc.freeze()``: what exists now is never scanned by a session's collector again (its
      full collections would walk ~95,000 objects of imported modules, and writing their
      headers would copy the pages this process shares with every session).
    """
    import gc
    import importlib

    from mbsim.engine.threads import use_one_blas_thread

    use_one_blas_thread()  # before NumPy loads: no BLAS thread pool exists when we fork
    import textual.drivers.web_driver  # noqa: F401
    import mbsim.tui.app  # noqa: F401  (Textual, Rich, plotext, NumPy, the engine, the screens)
    import mbsim.tui.cli
    import mbsim.tui.cli.interactive  # noqa: F401
    import mbsim.tui.cli.lesson  # noqa: F401
    import mbsim.tui.lesson_mode  # noqa: F401
    import mbsim.tui.web_driver  # noqa: F401

    for name in SESSION_MODULES:
        importlib.import_module(name)
    import rich.cells

    rich.cells.cell_len("\u00e9\u4e00")  # loads the width table (the environment's Unicode version)
    from mbsim.tui.memory_views import give_back_freed_memory

    give_back_freed_memory()
    warm_engine()
    mbsim.tui.cli.prebuild_parser()  # after warm_engine, which uses a parser of its own
    gc.freeze()  # (no gc.collect first: 60 ms at each server start, for a little garbage kept)


def warm_engine() -> None:
    """Build the default scenario's simulation as a session would, and drop it (the code paths'
    first calls are paid here, once). Any error is ignored: a session reports its own."""
    try:
        from mbsim.engine.rules import TUI_POLICY
        from mbsim.tui.cli.parser import build_parser
        from mbsim.tui.cli.scenario_args import build_scenario, make_simulation

        scenario, src = build_scenario(build_parser().parse_args([]))
        make_simulation(scenario, src, eval_policy=TUI_POLICY)
    except Exception:  # noqa: BLE001 - warming is optional; the session itself says what is wrong
        pass


def rss_mb() -> float:
    """This process's resident memory in MB (VmRSS), 0 where /proc has none."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reap(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _session(request: dict, fds: list[int], server: socket.socket, led: int) -> None:
    """In the forked child: become the session (see the module docstring); never returns.
    ``led``: the pipe end closed once this process leads its own group (see :func:`serve`)."""
    code = 1
    try:
        server.close()
        try:
            os.setsid()
        finally:
            os.close(led)  # the fork server may now give our pid to the server
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):  # as a fresh Python has them
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        from mbsim.tui.web_priority import PRIORITY

        PRIORITY.enable()  # a leader of its own session: a running session yields to keys
        sys.argv = ["mbsim", *[str(a) for a in request["args"]]]
        from mbsim.tui.entry import main

        code = int(main() or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a child must never return into the server loop
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)


def serve(server: socket.socket) -> None:
    """Answer fork requests until the server's end closes."""
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(server, MAX_REQUEST, 3)
        except InterruptedError:
            continue
        except OSError:
            return
        if not message:
            return
        led: tuple[int, ...] = ()
        try:
            request = json.loads(message)
            if len(fds) != 3:
                raise ValueError("three file descriptors expected")
            led = led_r, led_w = os.pipe()
            pid = os.fork()
        except (ValueError, OSError) as err:
            for fd in (*fds, *led):
                os.close(fd)
            server.sendall(json.dumps({"error": str(err)}).encode())
            continue
        if pid == 0:
            os.close(led_r)
            _session(request, fds, server, led_w)
        os.close(led_w)
        # the pid goes to the server only once the child leads its own process group (setsid
        # done; or it died): the server ends a session by signalling its group, and a group
        # that does not exist yet would leave the session running and the server waiting
        os.read(led_r, 1)  # b"" when the child closed its end (retried by Python on EINTR)
        os.close(led_r)
        for fd in fds:
            os.close(fd)
        server.sendall(json.dumps({"pid": pid}).encode())


def main() -> int:
    server = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is for the server, which ends us
    prepare()
    server.sendall(json.dumps({"ready": True, "rss_mb": rss_mb()}).encode())
    serve(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
