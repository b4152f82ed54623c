"""Class mode in a real headless Chromium (issue 22): a student opens the class address, gives a
name, and the page follows the teacher (``mbsim class`` in a tmux pane) through a page turn and a
run, in the class's shared screen (one rendering for every page, fetched as SVG pictures); the
student answers in the page's box and the answer shows in the teacher's tally; when the teacher
unlocks the class the page offers free play in a session of its own (a follower process for the
tab); when the teacher ends the class that session ends. The browser sees no host but the
class's.

Nothing is timed: each step waits for what it expects."""

from __future__ import annotations

import html
import re
import shutil
import sys
from pathlib import Path

import pytest

from test_class_terminals import Tmux, free_port
from test_serve_browser import CHROMIUM_ARGS, chromium_or_fail

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")

LESSON = """\
+++
title = "Browser class"
samples = 40
val_samples = 10
batch_size = 5
epochs = 20
+++
# First slide

Nothing runs yet.

---
# Second slide

```mbsim
run = "iteration 7"

[[question]]
ask = "How many batches make one pass?"
answer = "plan.batches_per_pass"

[[question]]
ask = "How many samples make one batch?"
answer = "plan.batch_size"
```
"""


def svg_text(svg: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def test_a_browser_follows_the_teacher(tmp_path: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        pytest.fail("Playwright for Python is needed: pip install -e '.[test]'")
    executable = chromium_or_fail()
    lesson = tmp_path / "browser.md"
    lesson.write_text(LESSON)
    port = free_port()
    here = f"127.0.0.1:{port}"
    tmux = Tmux()
    elsewhere: list[str] = []
    try:
        tmux.window("teacher", [sys.executable, "-m", "mbsim", "class", str(lesson), "--port", str(port),
                                "--code", "WEB42"])
        tmux.wait("teacher", f"http://{here}/WEB42")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)

            def offline(route) -> None:  # noqa: ANN001
                if route.request.url.split("/")[2] == here:
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            context.route("**/*", offline)
            downloads = []

            def on_download(download) -> None:  # noqa: ANN001
                downloads.append(download)

            context.on("page", lambda popup: popup.on("download", on_download))
            page = context.new_page()
            page.on("download", on_download)

            def poll(predicate, what: str, tries: int = 600):  # noqa: ANN001, ANN202
                for _ in range(tries):
                    if value := predicate():
                        return value
                    page.wait_for_timeout(200)
                raise AssertionError(f"never happened: {what}")

            def picture() -> str:
                """The SVG the page shows now (the class's screen)."""
                return page.evaluate("() => { const i = document.getElementById('screen');"
                                     " return i.src ? fetch(i.src).then(r => r.ok ? r.text() : '') : ''; }")

            def showing(slide: str, iteration: str) -> bool:
                svg = picture()
                found = re.search(r"Iteration\s*(\d+)", svg_text(svg))
                (tmp_path / "last.svg").write_text(svg)
                return slide in svg_text(svg) and found is not None and found.group(1) == iteration

            page.goto(f"http://{here}/WEB42")
            page.fill("input[name=name]", "Ann\u202eBrowser")
            page.click("button[type=submit]")
            tmux.wait("teacher", "1 student")
            poll(lambda: showing("Slide 1/2", "0"), "the first slide at iteration 0")
            assert page.inner_text("#who") == "AnnBrowser"       # the name, without its bidi override
            assert page.is_hidden("#answer")                      # no question on this slide
            # the teacher turns the page: the slide runs to iteration 7, the page follows
            tmux.keys("teacher", "PageDown")
            tmux.wait("teacher", "Iteration 7")
            poll(lambda: showing("Slide 2/2", "7"), "the page turn followed")
            # keys in the page drive nothing
            page.keyboard.press("n")
            page.keyboard.press("Space")
            assert "Iteration 7  Step 7" in tmux.screen("teacher")
            # the teacher's keys do
            tmux.keys("teacher", "n", "n")
            poll(lambda: showing("Slide 2/2", "9"), "two more batches followed")
            # an answer in the page's box: judged by the teacher, in the tally
            page.wait_for_selector("#answer:not([hidden])")
            assert page.inner_text("#qlabel") == "answer Q1:"     # the box says which question it answers
            page.fill("#text", "8")
            page.click("#answer button")
            tmux.wait("teacher", "answered 1/1 · correct 1")
            poll(lambda: page.inner_text("#verdict").startswith("✓"), "the verdict in the page")
            # Q1 right: the box now answers Q2 (B = 5)
            poll(lambda: page.inner_text("#qlabel") == "answer Q2:", "the box moved on to Q2")
            page.fill("#text", "5")
            page.click("#answer button")
            poll(lambda: page.is_hidden("#answer"), "both answered right: no open question")
            # unlocked: the page offers the student's own session, which follows from here
            assert page.is_hidden("#free")
            tmux.keys("teacher", "u")
            page.wait_for_selector("#free:not([hidden])")
            page.click("#free")
            page.wait_for_selector("body.-first-byte", timeout=120_000)
            tmux.wait("teacher", "1 student")                     # the same seat, now a session
            # the end of the class ends the tab's session
            tmux.keys("teacher", "C-c")
            page.wait_for_selector("body.-closed", timeout=120_000)
            tmux.wait("teacher", "mbsim class: ended (1 student joined)")
            browser.close()
        assert elsewhere == []
    finally:
        tmux.kill()
