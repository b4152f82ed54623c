"""Writing files without destroying what should not be destroyed.

* :func:`atomic_writer`: a regular file is written to a temporary file in the same folder and
  renamed over the target when the block ends normally, so a reader never sees a half-written
  export and an interrupted write leaves the old file. The rename only ever replaces a regular
  file (or a dangling link, or nothing): an existing character device or FIFO (``/dev/null``,
  ``/dev/stdout`` into a pipe, a named pipe) is written to directly, and a directory, socket,
  block device or read-only file is refused (:func:`output_problem` says why, before anything is
  written). A link to a regular file is kept: the file it points to is replaced.
* :func:`create_exclusive`: a new file that must not exist yet (never follows a link, never
  overwrites), for screenshots and "save as" files in a folder others may write to.

OS errors while writing (a full disk, a file-size limit, a name too long) become
:class:`~engine.errors.OutputError`, which names the file and the OS's reason.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from .errors import OutputError
from .files import file_kind

#: Seconds an output FIFO may wait for its reader before it is refused.
FIFO_WAIT = 10.0
#: Existing non-regular files that are written to directly rather than replaced.
_DIRECT = (stat.S_ISCHR, stat.S_ISFIFO)


def output_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be written as an output, or None if it can.

    Refused: an empty path, a path ending in ``/`` (or naming a folder), a missing or
    unwritable folder, a socket or block device, and an existing regular file without write
    permission (even for root: the permission bits say it should not change).
    """
    p = os.fspath(path)
    if p == "":
        return "no file name given"
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a loop of symbolic links (ELOOP)"
        if err.errno == errno.ENOTDIR:
            return "a part of the path is not a folder"
        return f"cannot be used ({err.strerror or err})"
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            return "is a directory; give a file name"
        if stat.S_ISREG(st.st_mode):
            if not st.st_mode & 0o222 or not os.access(p, os.W_OK):
                return "is a read-only file; mbsim does not replace it (make it writable or choose another name)"
        elif not any(test(st.st_mode) for test in _DIRECT):
            return (f"is {file_kind(st.st_mode)}; mbsim writes to regular files, "
                    "character devices and FIFOs only")
    if p.endswith(os.sep):
        return "ends with / but is not an existing folder; give a file name"
    if st is None or stat.S_ISREG(st.st_mode):
        folder = os.path.dirname(_replace_target(p)) or "."
        if not os.path.isdir(folder):
            return f"the folder {folder!r} does not exist"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"the folder {folder!r} is not writable"
    return None


def _replace_target(p: str) -> str:
    """The path the rename replaces: a link to a regular file is followed (the link is kept), a
    dangling link is not (the link itself is replaced, nothing is created where it points)."""
    if os.path.islink(p):
        try:
            if stat.S_ISREG(os.stat(p).st_mode):
                return os.path.realpath(p)
        except OSError:
            pass
    return p


def is_direct_output(path: str | os.PathLike[str]) -> bool:
    """True for an existing character device or FIFO (written to in place, never replaced)."""
    try:
        mode = os.stat(os.fspath(path)).st_mode
    except OSError:
        return False
    return any(test(mode) for test in _DIRECT)


class _Guarded:
    """A text stream whose OS errors become :class:`OutputError` naming the file."""

    __slots__ = ("_stream", "_path")

    def __init__(self, stream: TextIO, path: str) -> None:
        self._stream = stream
        self._path = path

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as err:
            raise _output_error(self._path, err) from None

    def writelines(self, lines) -> None:
        try:
            self._stream.writelines(lines)
        except OSError as err:
            raise _output_error(self._path, err) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as err:
            raise _output_error(self._path, err) from None

    def fileno(self) -> int:
        return self._stream.fileno()

    def isatty(self) -> bool:
        return self._stream.isatty()


def _output_error(path: str, err: OSError) -> OutputError:
    if isinstance(err, OutputError):
        return err
    return OutputError(path, f"cannot write: {err.strerror or err}", err.errno)


@contextmanager
def _closed_after(raw: TextIO, p: str, *, sync: bool) -> Iterator[_Guarded]:
    """``raw`` as a :class:`_Guarded` stream for the block, then flushed (``sync``: and fsynced)
    and closed, an OS error one :class:`OutputError`; when the block fails, closed quietly."""
    try:
        stream = _Guarded(raw, p)
        yield stream
        stream.flush()
        if sync:
            try:
                os.fsync(raw.fileno())
            except OSError as err:
                raise _output_error(p, err) from None
    except BaseException:
        try:  # closing flushes again; the error that matters is already on its way
            raw.close()
        except OSError:
            pass
        raise
    try:
        raw.close()
    except OSError as err:
        raise _output_error(p, err) from None


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[TextIO]:
    """Open a text stream for ``path``: a regular file is replaced when the block ends normally
    (temp file + rename); an existing character device or FIFO is written to directly.

    Raises :class:`OutputError` for a path :func:`output_problem` refuses and for OS errors.
    """
    p = os.fspath(path)
    problem = output_problem(p)
    if problem:
        raise OutputError(p, problem)
    if is_direct_output(p):
        with _direct_stream(p) as stream:
            yield stream  # type: ignore[misc]
        return
    target = _replace_target(p)
    folder = os.path.dirname(target) or "."
    name = os.path.basename(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name[:200]}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise _output_error(p, err) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        raw = os.fdopen(fd, "w", encoding="utf-8", newline="")
        with _closed_after(raw, p, sync=True) as stream:
            yield stream  # type: ignore[misc]
        try:
            os.replace(tmp, target)
        except OSError as err:
            raise _output_error(p, err) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def _direct_stream(p: str) -> Iterator[_Guarded]:
    """Write straight into an existing character device or FIFO (never replacing it).

    A FIFO waits up to :data:`FIFO_WAIT` seconds for a program to read it, then is refused
    (instead of hanging for ever)."""
    deadline = time.monotonic() + FIFO_WAIT
    while True:
        try:
            fd = os.open(p, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
            break
        except OSError as err:
            if err.errno != errno.ENXIO:
                raise _output_error(p, err) from None
            if time.monotonic() >= deadline:
                raise OutputError(p, f"is a FIFO that no program read within {FIFO_WAIT:g} s; "
                                     "start the reader first", err.errno) from None
            time.sleep(0.02)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    raw = os.fdopen(fd, "w", encoding="utf-8", newline="")
    with _closed_after(raw, p, sync=False) as stream:
        yield stream


def create_exclusive(path: str | Path, *, binary: bool = False) -> TextIO | BinaryIO:
    """A new file at ``path`` opened for writing, created with ``O_CREAT | O_EXCL | O_NOFOLLOW``.

    It fails (``FileExistsError``) if anything exists at ``path``, a dangling symbolic link
    included, so it never writes through a planted link and never overwrites. The file gets
    the usual permissions (0o666 less the umask). ``binary=True`` gives a byte stream.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(os.fspath(path), flags, 0o666)
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    with atomic_writer(path) as stream:
        stream.write(text)
    return Path(path)
