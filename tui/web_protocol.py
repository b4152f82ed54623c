"""What the server (:mod:`tui.web_spawn`) and its fork server (:mod:`tui.web_zygote`, started as its
own process) agree on, in a module both import: the fork server imports the app and the command
line, the server must not import the fork server (tests/test_imports.py: no import circles)."""

from __future__ import annotations

#: Largest request (arguments and environment) accepted from the server.
MAX_REQUEST = 256 * 1024
