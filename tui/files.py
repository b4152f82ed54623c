"""Creating files the user asked for (screenshots, saved scenarios) without trusting the folder.

A file is created exclusively: ``O_CREAT | O_EXCL | O_NOFOLLOW``, so a name that already exists —
a file, a folder, or a symbolic link, dangling or not — is never opened, followed or replaced;
:func:`create_numbered` then takes the next free name (``-2``, ``-3``, …).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

NEW_FILE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                  | getattr(os, "O_CLOEXEC", 0))
MAX_NUMBERED = 1000


def write_new(path: str | Path, text: str) -> Path:
    """Create ``path`` (it must not exist, not even as a link) and write ``text``; return it.

    Raises FileExistsError when the name is taken, OSError for any other failure (then nothing
    is left behind).
    """
    path = Path(path)
    try:
        fd = os.open(path, NEW_FILE_FLAGS, 0o666)
    except OSError as err:
        if err.errno == errno.ELOOP:     # a link, with O_NOFOLLOW on some systems
            raise FileExistsError(errno.EEXIST, "a link is in the way", str(path)) from None
        raise
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise
    return path


def create_numbered(folder: str | Path, stem: str, suffix: str, text: str) -> Path:
    """Write ``text`` to ``folder/stem+suffix``, or ``stem-2+suffix``, … the first free name."""
    folder = Path(folder)
    for k in range(1, MAX_NUMBERED + 1):
        name = f"{stem}{suffix}" if k == 1 else f"{stem}-{k}{suffix}"
        try:
            return write_new(folder / name, text)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{MAX_NUMBERED} names taken", str(folder / f"{stem}{suffix}"))
