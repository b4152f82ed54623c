"""The files a browser session offers (``App.deliver_text``: the ``S`` screenshot, the scenario),
handed to the browser whole or not at all.

textual-serve's :class:`~textual_serve.download_manager.DownloadManager` asks the app for the file
a chunk at a time over the session's pipe and waits 4 s for each. Read from its source
(textual-serve 1.1), three things go wrong on a loaded classroom server, all seen in tests:

* when no chunk comes within the wait it calls ``Queue.task_done()`` for a chunk it never got,
  which raises ``ValueError`` in the middle of the response: the browser's download hangs and the
  server logs a traceback;
* a download cut short (that wait, or the session's pipe closing) and one that ended are told
  apart by nothing, and the response has already been sent with status 200: the browser saves
  a truncated file as if it were whole;
* a session that ends meanwhile is "cancelled" with the same empty chunk as a file's end.

So :class:`AppDownloads` waits :data:`CHUNK_WAIT` seconds a chunk (a starved session process
catches up well within it), raises :class:`DownloadCut` for a cut download, and
:func:`download_response` gathers the file before answering: 200 with the whole file, or one
short page saying what happened (503, "press S again"); never a traceback, never a hang. The
files are a few hundred KB (an SVG of the screen); :data:`MAX_FILE` bounds what is gathered.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import AsyncGenerator, Callable

from aiohttp import web
from textual_serve.download_manager import DOWNLOAD_CHUNK_SIZE, DownloadManager

__all__ = ["AppDownloads", "DownloadCut", "download_response", "CHUNK_WAIT", "MAX_FILE"]

#: Seconds to wait for each chunk of a file from the session's process.
CHUNK_WAIT = 15.0
#: The largest file handed to a browser, in bytes (a screenshot at 400×150 is ~3 MB).
MAX_FILE = 32 * 1024 * 1024

class DownloadCut(Exception):
    """A download that did not get the whole file; the message says why, for the page."""


class AppDownloads(DownloadManager):
    """textual-serve's download manager with cut downloads told apart (see the module)."""

    chunk_wait: float = CHUNK_WAIT

    def __init__(self) -> None:
        super().__init__()
        self._cancelled: set[str] = set()
        self._claimed: set[str] = set()

    async def download(self, delivery_key: str) -> AsyncGenerator[bytes, None]:
        """The file's chunks in order; :class:`DownloadCut` if it cannot be had whole. The key is
        spent either way (each link works once)."""
        download = self._active_downloads.get(delivery_key)
        if download is None or delivery_key in self._claimed:
            raise DownloadCut("no such download (each link works once)")
        self._claimed.add(delivery_key)
        try:
            while True:
                sent = await download.app_service.send_meta({
                    "type": "deliver_chunk_request", "key": delivery_key,
                    "size": DOWNLOAD_CHUNK_SIZE, "name": download.name})
                if not sent:
                    raise DownloadCut("the session ended before it sent the file")
                try:
                    chunk = await asyncio.wait_for(download.incoming_chunks.get(), self.chunk_wait)
                except asyncio.TimeoutError:
                    raise DownloadCut(f"the session sent no part of the file for "
                                      f"{self.chunk_wait:g} s (the server is busy)") from None
                if delivery_key in self._cancelled:
                    raise DownloadCut("the session ended before it sent the whole file")
                if not chunk:
                    return
                yield chunk
        finally:
            self._active_downloads.pop(delivery_key, None)
            self._cancelled.discard(delivery_key)
            self._claimed.discard(delivery_key)

    async def cancel_app_downloads(self, app_service_id: str) -> None:
        """A session ended: its downloads in progress end as cut, not as whole; the ones
        offered and never asked for are forgotten (each held its session)."""
        for key, download in list(self._active_downloads.items()):
            if download.app_service.app_service_id != app_service_id:
                continue
            if key in self._claimed:
                self._cancelled.add(key)
                await download.incoming_chunks.put(None)
            else:
                del self._active_downloads[key]


async def download_response(downloads: AppDownloads, key: str,
                            page: Callable[[int, str, str], web.Response],
                            log_line: Callable[[str], None]) -> web.Response:
    """The response to ``GET /download/KEY``: the whole file, or ``page(status, title, text)``."""
    try:
        meta = await downloads.get_download_metadata(key)
    except KeyError:
        raise web.HTTPNotFound(text="No such download (each link works once).")
    body = bytearray()
    try:
        async with contextlib.aclosing(downloads.download(key)) as chunks:   # the key spent now
            async for chunk in chunks:
                body += chunk
                if len(body) > MAX_FILE:
                    raise DownloadCut(f"the file is larger than this server hands out "
                                      f"({MAX_FILE // 2**20} MB)")
    except DownloadCut as cut:
        log_line(f"download {key[:12]}… cut short: {cut}")
        return page(503, "503 · download cut short",
                    f"The file did not arrive whole: {cut}. Nothing was saved; ask for it "
                    "again (S for a screenshot).")
    content_type = meta.mime_type + (f"; charset={meta.encoding}" if meta.encoding else "")
    disposition = "inline" if meta.open_method == "browser" else "attachment"
    safe_name = re.sub(r"[^A-Za-z0-9._-]", "_", meta.file_name) or "download"
    return web.Response(body=bytes(body), headers={
        "Content-Type": content_type,
        "Content-Disposition": f'{disposition}; filename="{safe_name}"'})
