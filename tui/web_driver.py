"""Textual's web driver, ending the app when its server is gone (a browser session's process).

Under ``mbsim serve`` each tab's app reads its keys from stdin, a pipe from the server. Textual's
:class:`~textual.drivers.web_driver.WebDriver` stops reading at end of file but leaves the app
running: when the server is killed (``kill -9``: it cannot end its sessions), every session
would live on, reparented, with nobody to see it. :class:`SessionDriver` treats the end of
stdin as the end of the session: it asks the app to exit, and if the app has not ended within
:data:`EXIT_GRACE` seconds (it may be blocked writing to a pipe nobody reads), ends the process.
:meth:`tui.app.MbsimApp.get_driver_class` uses it wherever Textual's web driver was asked for.

It also writes each packet to the server whole. Textual's driver writes with a bare ``os.write``
from two threads: the app's (the screen) and its input thread (a download's chunks, answering
the server's requests). A write to a pipe larger than ``PIPE_BUF`` (4 KB) is not atomic: when the
pipe is full (a loaded server reading slowly) the two threads' bytes interleave, and a write may
also return having written part of the packet. Either way the server reads a bad length, and the
tab shows nothing more and offers no download (seen in the browser tests about one full run in
five). :meth:`SessionDriver._write_packet` takes a lock and writes until every byte is out.
"""

from __future__ import annotations

import os
import threading

from textual import messages
from textual.drivers.web_driver import WebDriver

#: Seconds the app gets to exit after its stdin closed, before the process is ended.
EXIT_GRACE = 5.0
#: The exit status of a session whose server went away (128 + SIGHUP, as a lost terminal).
EXIT_SERVER_GONE = 129


class SessionDriver(WebDriver):
    """:class:`WebDriver`, and the end of stdin ends the app; packets written whole (see the
    module docstring)."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - WebDriver's
        super().__init__(*args, **kwargs)
        self._write_lock = threading.Lock()
        self._write = self._write_packet

    def _write_packet(self, data: bytes) -> int:
        """Write ``data`` (one packet) to stdout whole, one thread at a time."""
        view = memoryview(data)
        with self._write_lock:
            while view:
                view = view[os.write(self.fileno, view):]
        return len(data)

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if self.exit_event.is_set():  # the app is stopping on its own (quit, q, ctrl+c)
            return
        self._app.post_message(messages.ExitApp())  # thread-safe in Textual
        timer = threading.Timer(EXIT_GRACE, os._exit, (EXIT_SERVER_GONE,))
        timer.daemon = True  # a process that exits in time is not held by the timer
        timer.start()
