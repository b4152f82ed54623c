"""Textual's web driver, ending the app when its server is gone (a browser session's process).

Under ``mbsim serve`` each tab's app reads its keys from stdin, a pipe from the server. Textual's
:class:`~textual.drivers.web_driver.WebDriver` stops reading at end of file but leaves the app
running: when the server is killed (``kill -9``: it cannot end its sessions), every session
would live on, reparented, with nobody to see it. :class:`SessionDriver` treats the end of
stdin as the end of the session: it asks the app to exit, and if the app has not ended within
:data:`EXIT_GRACE` seconds (it may be blocked writing to a pipe nobody reads), ends the process.
:meth:`tui.app.MbsimApp.get_driver_class` uses it wherever Textual's web driver was asked for.
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
    """:class:`WebDriver`, and the end of stdin ends the app (see the module docstring)."""

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if self.exit_event.is_set():  # the app is stopping on its own (quit, q, ctrl+c)
            return
        self._app.post_message(messages.ExitApp())  # thread-safe in Textual
        timer = threading.Timer(EXIT_GRACE, os._exit, (EXIT_SERVER_GONE,))
        timer.daemon = True  # a process that exits in time is not held by the timer
        timer.start()
