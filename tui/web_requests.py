"""What an HTTP request must carry before ``mbsim serve`` answers it, and the one-line log.

* :func:`host_allowed`: the request's ``Host`` names this server. A page on another site can
  reach a loopback server by *DNS rebinding* (its name is made to resolve to 127.0.0.1, so the
  browser sends ``Host: attacker.example:PORT`` and calls that page "same origin"); so only the
  names the server was bound to are accepted (:func:`allowed_host_names`), and IP addresses,
  which no rebinding can forge (the browser's ``Host`` is the address the user typed);
* :func:`origin_allowed`: a websocket or download asked for by a page must come from this
  server's own page: an ``http``/``https`` origin whose host and port are the request's
  (``chrome-extension://…``, ``null`` and other schemes are refused);
* :func:`token_ok`: the access token, from ``?token=`` or the cookie;
* :class:`LimitedLog`: every refusal is one line in the server's log — at most
  :data:`LimitedLog.BURST` at once and one a second after that, so a flood of bad requests cannot
  flood the teacher's terminal (the lines held back are counted in the next one) — with the
  client's text made visible (:func:`engine.errors.visible`: no escape sequence reaches the
  terminal). :class:`OneLineLogHandler` routes aiohttp's own logger (malformed HTTP: header
  lines too long, too many headers, bad request lines) there, without tracebacks.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from typing import Callable, Iterable
from urllib.parse import urlsplit

from mbsim.engine.errors import visible

#: The cookie that remembers the token for /ws and /download (textual.js drops the query).
TOKEN_COOKIE = "mbsim_token"
#: Names every browser resolves to this machine itself (never through DNS; RFC 6761).
LOCALHOST = "localhost"
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def split_host(value: str | None) -> tuple[str, int | None] | None:
    """``(name, port)`` of a ``Host`` header value (lower case, no trailing dot, IPv6 without
    brackets); None when it is not one."""
    if not value or len(value) > 300 or any(c.isspace() or ord(c) < 33 for c in value):
        return None
    try:
        parts = urlsplit("//" + value)
        name, port = parts.hostname, parts.port
    except ValueError:  # a bad port, a bracket without its pair
        return None
    if not name or parts.path or parts.query or parts.fragment or parts.username is not None:
        return None
    return name.lower().rstrip("."), port


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return True


def allowed_host_names(host: str, loopback: bool, *, machine: str | None = None) -> frozenset[str]:
    """The names a request's ``Host`` may carry for a server bound with ``--host host``, as
    patterns for :func:`host_allowed`.

    Always the ``--host`` name itself (when it is a name); on a loopback address ``localhost``
    and ``*.localhost`` (browsers resolve those themselves, never through DNS); on the wildcard
    address also ``localhost`` and this machine's name (``machine``, e.g.
    ``socket.gethostname()``), alone or with its domain (``machine.*``). IP addresses are always
    accepted (see :func:`host_allowed`).
    """
    names = set()
    given = host.strip().lower().rstrip(".").strip("[]")
    literal = is_ip_address(given)
    if given and not literal:
        names.add(given)
    wildcard = literal and ipaddress.ip_address(given.split("%", 1)[0]).is_unspecified
    if loopback or wildcard:
        names.update((LOCALHOST, "*." + LOCALHOST))
    if wildcard and machine:
        short = machine.lower().rstrip(".")
        names.update((short, short + ".*"))
    return frozenset(names)


def host_allowed(value: str | None, names: Iterable[str]) -> bool:
    """True when the ``Host`` header ``value`` is an IP address or matches one of ``names``:
    a name, ``*.name`` (any name under it) or ``name.*`` (the name with any domain)."""
    parsed = split_host(value)
    if parsed is None:
        return False
    name = parsed[0]
    if is_ip_address(name):
        return True
    for pattern in names:
        if pattern.startswith("*."):
            if name.endswith(pattern[1:]):
                return True
        elif pattern.endswith(".*"):
            if name == pattern[:-2] or name.startswith(pattern[:-1]):
                return True
        elif name == pattern:
            return True
    return False


def origin_allowed(origin: str | None, host: str | None) -> bool:
    """False when a browser says a request comes from anything but this server's own page.

    No ``Origin`` header: not a browser page (curl, scripts), allowed — the token still applies.
    Otherwise the origin must be ``http`` or ``https`` and name the same host and port as the
    request's ``Host``. Browsers send ``Origin`` with every websocket handshake, and a websocket
    is not bound by the same-origin policy: without this check any page a student visits could
    open sessions on a loopback server.
    """
    if origin is None:
        return True
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    target = split_host(host)
    if target is None:
        return False
    name, host_port = target
    default = DEFAULT_PORTS[parts.scheme]
    return (parts.hostname.lower().rstrip("."), port or default) == (name, host_port or default)


def token_ok(given: str | None, token: str | None) -> bool:
    """True when no token is needed, or ``given`` is it (compared in constant time)."""
    if token is None:
        return True
    return secrets.compare_digest((given or "").encode("utf-8", "replace"), token.encode("utf-8"))


class LimitedLog:
    """One line per refused request or ignored message, rate-limited (module docstring)."""

    BURST = 20
    PER_SECOND = 1.0

    def __init__(self, log: Callable[[str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.clock = clock
        self.allowance = float(self.BURST)
        self.last = clock()
        self.held_back = 0

    def __call__(self, line: str) -> None:
        now = self.clock()
        self.allowance = min(float(self.BURST), self.allowance + (now - self.last) * self.PER_SECOND)
        self.last = now
        if self.allowance < 1.0:
            self.held_back += 1
            return
        self.allowance -= 1.0
        if self.held_back:
            line += f" (and {self.held_back} more not shown)"
            self.held_back = 0
        self.log(visible(line))


class OneLineLogHandler(logging.Handler):
    """aiohttp's server logger as one line per event in the :class:`LimitedLog`, no traceback."""

    def __init__(self, log_line: LimitedLog) -> None:
        super().__init__(logging.DEBUG)
        self.log_line = log_line

    def emit(self, record: logging.LogRecord) -> None:
        try:
            exc = record.exc_info[1] if record.exc_info else None
            if record.levelno < logging.WARNING and exc is None:
                return  # aiohttp's debug chatter (premature disconnections)
            text = record.getMessage()
            if text.startswith("Error handling request"):  # aiohttp's words for a bad request
                text = "refused a malformed request" + text[len("Error handling request"):]
            if exc is not None:
                code = getattr(exc, "code", None) or getattr(exc, "status", None)
                detail = " ".join(str(getattr(exc, "message", None) or exc).split())
                text += f": {code or type(exc).__name__} {detail[:120]}".rstrip()
            self.log_line(text)
        except Exception:  # a log line must never take the server down
            pass


def one_line_logger(log_line: LimitedLog, name: str = "mbsim.serve.http") -> logging.Logger:
    """A logger of its own (not propagated to the root logger) writing to ``log_line``."""
    logger = logging.getLogger(name)
    logger.handlers[:] = [OneLineLogHandler(log_line)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger
