"""Class mode in a real headless Chromium (issue 22): a student opens the class address, gives a
name, and the page follows the teacher (``mbsim class`` in a tmux pane) through a page turn and a
run; the student's keys do not move the teacher; when the teacher ends the class the tab's
session ends. What the page shows is read from the follower's own SVG screenshot (``S``, as
tests/test_serve_browser.py does). The browser sees no host but the class's.

Nothing is timed: each step waits for what it expects."""

from __future__ import annotations

import html
import re
import shutil
import sys
from pathlib import Path

import pytest

from test_class_terminals import Tmux, free_port
from test_serve import counters_in_svg
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
```
"""


def svg_text(svg: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def test_a_browser_follows_the_teacher(tmp_path: Path) -> None:
    try:
        from playwright.sync_api import Error as PlaywrightError
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
        tmux.window("teacher", [sys.executable, "-m", "tui", "class", str(lesson), "--port", str(port),
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

            def shot() -> str:
                """The follower's SVG screenshot (S); a download Chromium cancelled is asked again."""
                for _ in range(10):
                    before = len(downloads)
                    page.keyboard.press("S")
                    try:     # a key pressed while the tab is still busy starting: press it again
                        poll(lambda: len(downloads) > before, "the SVG download", tries=50)
                    except AssertionError:
                        continue
                    target = tmp_path / f"shot{before}.svg"
                    try:
                        downloads[-1].save_as(target)
                    except PlaywrightError:
                        continue
                    return target.read_text(encoding="utf-8")
                raise AssertionError("no screenshot could be downloaded")

            page.goto(f"http://{here}/WEB42")
            page.fill("input[name=name]", "Ann\u202eBrowser")
            page.click("button[type=submit]")
            page.wait_for_selector("body.-first-byte", timeout=120_000)
            tmux.wait("teacher", "1 student")
            page.click("#terminal")

            def showing(slide: str, iteration: str) -> bool:
                svg = shot()
                return slide in svg_text(svg) and counters_in_svg(svg)["Iteration"] == iteration

            poll(lambda: showing("Slide 1/2", "0"), "the first slide at iteration 0")
            assert "AnnBrowser" in svg_text(shot())          # the name, without its bidi override
            # the teacher turns the page: the slide runs to iteration 7, the tab follows
            tmux.keys("teacher", "PageDown")
            tmux.wait("teacher", "Iteration 7")
            poll(lambda: showing("Slide 2/2", "7"), "the page turn followed")
            # the student's keys do not move the teacher
            page.keyboard.press("n")
            page.keyboard.press("Space")
            assert counters_in_svg(shot())["Iteration"] == "7"
            assert "Iteration 7  Step 7" in tmux.screen("teacher")
            # the teacher's keys do
            tmux.keys("teacher", "n", "n")
            poll(lambda: showing("Slide 2/2", "9"), "two more batches followed")
            # the end of the class ends the tab's session
            tmux.keys("teacher", "C-c")
            page.wait_for_selector("body.-closed", timeout=120_000)
            tmux.wait("teacher", "mbsim class: ended (1 student joined)")
            browser.close()
        assert elsewhere == []
    finally:
        tmux.kill()
