"""Starting ``mbsim serve``'s sessions cheaply: the server's side of the fork server.

:class:`ForkServer` starts :mod:`tui.web_zygote` once (with the sessions' environment, as
textual-serve builds it), waits until it has imported the app, then asks it for each session:
it makes the session's three pipes, sends their far ends with the arguments and the
environment (``SCM_RIGHTS`` over a private ``SOCK_SEQPACKET`` pair), and gets the pid back.
:class:`ForkedProcess` gives the server what :class:`asyncio.subprocess.Process` would: ``pid``,
``stdin`` (a StreamWriter), ``stdout`` and ``stderr`` (StreamReaders), ``returncode`` and
``wait()`` — the end is seen through a pidfd (the session is the fork server's child, not ours).

Only sessions of ``python -m mbsim …`` (this interpreter) are forked: anything else, or a fork
server that cannot start or has died, is started as before (``create_subprocess_exec``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from typing import Sequence

from .web_protocol import MAX_REQUEST

#: Seconds the fork server may take to import the app before the server gives up on it.
READY_TIMEOUT = 60.0


def forkable(argv: Sequence[str]) -> bool:
    """True for ``[sys.executable, "-m", "mbsim", ...]``: what the fork server can run."""
    return len(argv) >= 3 and list(argv[:3]) == [sys.executable, "-m", "mbsim"]


class ForkedProcess:
    """A session forked by the fork server, with :class:`asyncio.subprocess.Process`'s interface
    as far as the server uses it."""

    def __init__(self, pid: int, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader,
                 stderr: asyncio.StreamReader) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None
        self._exited = asyncio.Event()
        loop = asyncio.get_running_loop()
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # already gone (and reaped by the fork server)
            self._pidfd = None
            self._set_exited()
            return
        loop.add_reader(self._pidfd, self._set_exited)

    def _set_exited(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self.returncode is None:
            self.returncode = 0  # the code is the fork server's to reap; ended is what counts
        self._exited.set()

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode


class ForkServer:
    """The fork server process and the requests to it (see the module docstring)."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.sock: socket.socket | None = None
        self.ready_rss_mb = 0.0
        self._lock = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self.sock is not None and self.process is not None and self.process.returncode is None

    async def start(self, env: dict[str, str]) -> bool:
        """Start it and wait until it has imported the app; False (and nothing left running)
        if it cannot."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "mbsim.tui.web_zygote", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True)
        except OSError:
            ours.close()
            return False
        finally:
            theirs.close()
        self.sock = ours
        try:
            reply = await asyncio.wait_for(asyncio.to_thread(ours.recv, MAX_REQUEST), READY_TIMEOUT)
            ready = json.loads(reply) if reply else {}
        except (asyncio.TimeoutError, OSError, ValueError):
            ready = {}
        if not ready.get("ready"):
            await self.stop()
            return False
        self.ready_rss_mb = float(ready.get("rss_mb", 0.0))
        return True

    def _request(self, message: bytes, fds: list[int]) -> dict:
        assert self.sock is not None
        socket.send_fds(self.sock, [message], fds)
        reply = self.sock.recv(MAX_REQUEST)
        if not reply:
            raise ConnectionError("the fork server has ended")
        return json.loads(reply)

    async def spawn(self, argv: Sequence[str], env: dict[str, str]) -> ForkedProcess:
        """Fork a session running ``mbsim argv[3:]`` (``argv`` as for :func:`forkable`) with
        ``env``; raises OSError/ConnectionError if the fork server cannot."""
        pipes = [os.pipe() for _ in range(3)]  # (read, write) each
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [pipes[0][1], pipes[1][0], pipes[2][0]]
        message = json.dumps({"args": list(argv[3:]), "env": env}).encode()
        try:
            async with self._lock:  # one request at a time on the socket
                reply = await asyncio.to_thread(self._request, message, theirs)
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        if "pid" not in reply:
            for fd in ours:
                os.close(fd)
            raise OSError(f"the fork server could not start a session: {reply.get('error')}")
        loop = asyncio.get_running_loop()
        stdout, stderr = asyncio.StreamReader(limit=2**20), asyncio.StreamReader(limit=2**20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdout),
                                     os.fdopen(ours[1], "rb", buffering=0))
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stderr),
                                     os.fdopen(ours[2], "rb", buffering=0))
        transport, protocol = await loop.connect_write_pipe(
            lambda: asyncio.StreamReaderProtocol(asyncio.StreamReader()),
            os.fdopen(ours[0], "wb", buffering=0))
        stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        return ForkedProcess(int(reply["pid"]), stdin, stdout, stderr)

    async def stop(self) -> None:
        """Close our end (the fork server then exits) and wait for it; kill it if it does not."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        process = self.process
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), 2.0)
            except asyncio.TimeoutError:
                try:
                    os.killpg(process.pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
                await process.wait()
