"""A file a browser session offers reaches the browser whole, or as a page saying it was cut
(tui/web_downloads.py); never a hang, a traceback, or a truncated file sent as whole.

textual-serve's own manager, on a chunk that does not come within its wait, raised ValueError in
the middle of a 200 response (a CI machine's download hung until the client gave up): here each
way a download ends is played against a stand-in for the session's process.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from textual_serve.download_manager import DownloadManager

from mbsim.tui import web_downloads
from mbsim.tui.web_downloads import AppDownloads, DownloadCut, download_response


class Session:
    """A stand-in for textual-serve's AppService: answers each chunk request from ``chunks``
    (a None entry: no answer at all, as a starved process), or refuses to send (``alive``)."""

    def __init__(self, manager: AppDownloads, chunks: list[bytes | None], alive: bool = True,
                 on_request=None) -> None:  # noqa: ANN001
        self.app_service_id = "session-1"
        self.manager = manager
        self.chunks = list(chunks)
        self.alive = alive
        self.requests = 0
        self.on_request = on_request

    async def send_meta(self, meta: dict) -> bool:
        if not self.alive:
            return False
        assert meta["type"] == "deliver_chunk_request"
        self.requests += 1
        if self.on_request is not None:
            await self.on_request(self)
        chunk = self.chunks.pop(0) if self.chunks else b""
        if chunk is not None:
            asyncio.get_running_loop().call_soon(
                lambda: asyncio.ensure_future(self.manager.chunk_received(meta["key"], chunk)))
        return True


def page(status: int, title: str, text: str) -> web.Response:
    return web.Response(status=status, text=f"{title}\n{text}")


async def offer(manager: AppDownloads, session: Session, key: str = "k1",
                name: str = "mbsim-shot.svg") -> str:
    await manager.create_download(app_service=session, delivery_key=key, file_name=name,
                                  open_method="download", mime_type="image/svg+xml",
                                  encoding="utf-8")
    return key


async def get(manager: AppDownloads, key: str) -> tuple[web.Response, list[str]]:
    logged: list[str] = []
    response = await download_response(manager, key, page, logged.append)
    return response, logged


async def test_a_whole_file_is_sent_whole_once():
    manager = AppDownloads()
    session = Session(manager, [b"<svg>", "ça".encode(), b"</svg>", b""])
    key = await offer(manager, session, name="mbsim shot;\r\n.svg")
    response, logged = await get(manager, key)
    assert response.status == 200 and response.body == "<svg>ça</svg>".encode()
    assert response.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="mbsim_shot___.svg"'
    assert session.requests == 4 and logged == []
    with pytest.raises(web.HTTPNotFound):            # each link works once
        await get(manager, key)


async def test_no_chunk_within_the_wait_is_a_page_saying_so_not_an_error(monkeypatch):
    manager = AppDownloads()
    manager.chunk_wait = 0.05
    session = Session(manager, [b"<svg>", None])      # one chunk, then nothing
    key = await offer(manager, session)
    response, logged = await asyncio.wait_for(get(manager, key), 5)
    assert response.status == 503
    assert "cut short" in response.text and "0.05 s" in response.text and "S" in response.text
    assert len(logged) == 1 and "cut short" in logged[0]
    assert key not in manager._active_downloads       # the key is spent
    # textual-serve's own manager, the same way: the ValueError this replaces
    plain = DownloadManager()
    monkeypatch.setattr("textual_serve.download_manager.DOWNLOAD_TIMEOUT", 0.05)
    await plain.create_download(app_service=Session(plain, [None]), delivery_key="k",
                                file_name="f", open_method="download", mime_type="text/plain")
    with pytest.raises(ValueError, match="task_done"):
        async for _ in plain.download("k"):
            pass


async def test_a_session_that_cannot_send_or_ends_meanwhile_cuts_the_download():
    manager = AppDownloads()
    key = await offer(manager, Session(manager, [b"x"], alive=False))
    response, _ = await get(manager, key)
    assert response.status == 503 and "session ended" in response.text

    async def end_session(session: Session) -> None:
        if session.requests == 2:                     # the session ends after the first chunk
            await manager.cancel_app_downloads(session.app_service_id)

    session = Session(manager, [b"<svg>", None], on_request=end_session)
    key = await offer(manager, session, key="k2")
    response, _ = await asyncio.wait_for(get(manager, key), 5)
    assert response.status == 503 and "session ended" in response.text
    assert manager._active_downloads == {}


async def test_a_file_larger_than_the_limit_is_not_gathered(monkeypatch):
    monkeypatch.setattr(web_downloads, "MAX_FILE", 10)
    manager = AppDownloads()
    session = Session(manager, [b"123456", b"789012", b"never asked", b""])
    key = await offer(manager, session)
    response, _ = await get(manager, key)
    assert response.status == 503 and "larger than" in response.text
    assert session.requests == 2 and key not in manager._active_downloads


async def test_one_link_asked_twice_at_once_goes_to_one_of_them():
    manager = AppDownloads()
    session = Session(manager, [b"<svg>", b"</svg>", b""])
    key = await offer(manager, session)
    first, second = await asyncio.gather(get(manager, key), get(manager, key),
                                         return_exceptions=True)
    answers = []
    for got in (first, second):
        if isinstance(got, web.HTTPNotFound):
            answers.append(404)
        else:
            answers.append(got[0].status)
            if got[0].status == 200:
                assert got[0].body == b"<svg></svg>"
    assert sorted(answers) in ([200, 404], [200, 503])
    assert session.requests == 3


async def test_a_key_never_offered_is_not_found():
    manager = AppDownloads()
    with pytest.raises(web.HTTPNotFound):
        await get(manager, "nope")
    with pytest.raises(DownloadCut):
        async for _ in manager.download("nope"):
            pass


async def test_a_session_that_ends_forgets_the_files_never_asked_for():
    """Offered and never fetched, a file's entry (which holds its session) goes when the
    session ends; one being fetched then ends as cut."""
    manager = AppDownloads()
    session = Session(manager, [])
    await offer(manager, session, key="never")
    await manager.cancel_app_downloads(session.app_service_id)
    assert "never" not in manager._active_downloads and manager._cancelled == set()
    with pytest.raises(web.HTTPNotFound):
        await get(manager, "never")
