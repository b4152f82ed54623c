"""Reading user files safely: check the kind and size first, never block, read at most the limit.

Every file mbsim reads on a user's behalf (scenario TOML, CSV data, lesson Markdown) goes through
:func:`read_text_limited`, so a FIFO cannot hang it, ``/dev/zero`` cannot fill the memory and a
1 GB file costs at most ``limit + 1`` bytes of reading.
"""

from __future__ import annotations

import errno
import os
import stat

from .errors import ScenarioError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """``"a regular file"``, ``"a directory"``, ``"a FIFO (named pipe)"``... for an ``st_mode``."""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def size_text(n: int) -> str:
    """``1,000,000 bytes (1 MB)``-style size for messages (decimal units, as file managers)."""
    if n >= 1_000_000:
        return f"{n:,} bytes ({n / 1e6:g} MB)" if n % 1_000_000 == 0 else f"{n:,} bytes ({n / 1e6:.1f} MB)"
    return f"{n:,} bytes"


def os_reason(err: OSError) -> str:
    """The OS's words for an error, with a plainer sentence for the common surprises."""
    if err.errno == errno.ELOOP:
        return "is a loop of symbolic links (ELOOP)"
    if err.errno in (errno.ENOENT,):
        return "does not exist"
    if err.errno == errno.ENOTDIR:
        return "does not exist (a part of the path is not a folder)"
    return f"cannot be read ({err.strerror or err})"


def read_text_limited(path: str | os.PathLike[str], limit: int, what: str) -> str:
    """The UTF-8 text of the regular file ``path`` (a leading BOM removed), at most ``limit`` bytes.

    ``what`` names the file in messages (e.g. ``"scenario file 'a.toml'"``). Raises
    :class:`~engine.errors.ScenarioError` as :func:`read_bytes_limited` does, and for text that
    is not UTF-8.
    """
    raw = read_bytes_limited(path, limit, what)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ScenarioError(what, None, f"is not UTF-8 text (byte {err.start + 1:,})") from None


def read_bytes_limited(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them, read without trusting it.

    Raises :class:`~engine.errors.ScenarioError` (setting ``what``, a ``reason`` saying what is
    wrong) for: a path that does not exist, a loop of links, a directory, FIFO, device or socket,
    a file larger than ``limit`` (checked with ``stat`` before reading and again while reading,
    so a growing file is caught too), or any other OS error. The file is opened with
    ``O_NONBLOCK`` so that even a FIFO swapped in after the check cannot make the open hang;
    ``fstat`` on the open file is checked again.
    """
    p = os.fspath(path)
    if p == "":
        raise ScenarioError(what, None, "no file given")
    if "\0" in p:  # the OS cannot take it (Python raises ValueError, not OSError)
        raise ScenarioError(what, None, "a file name cannot contain a NUL character")
    try:
        st = os.stat(p)
    except OSError as err:
        if err.errno == errno.ENOENT and os.path.islink(p):
            raise ScenarioError(what, None, "is a symbolic link to a file that does not exist") from None
        raise ScenarioError(what, None, os_reason(err)) from None
    _check_stat(st, limit, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(p, flags)
    except OSError as err:
        raise ScenarioError(what, None, os_reason(err)) from None
    try:
        _check_stat(os.fstat(fd), limit, what)
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - got))
            except BlockingIOError:  # cannot happen for a regular file; never wait
                break
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    except OSError as err:
        raise ScenarioError(what, None, os_reason(err)) from None
    finally:
        os.close(fd)
    if got > limit:
        raise ScenarioError(what, None, f"is larger than the limit of {size_text(limit)}")
    return b"".join(chunks)


def _check_stat(st: os.stat_result, limit: int, what: str) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = file_kind(st.st_mode)
        hint = "; give the path of a file" if kind == "a directory" else ", not a regular file"
        raise ScenarioError(what, None, f"is {kind}{hint}")
    if st.st_size > limit:
        raise ScenarioError(what, None, f"is {size_text(st.st_size)}; the limit is {size_text(limit)}")

