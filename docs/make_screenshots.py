"""Regenerate the README's pictures from the app itself (issue 21, item 9: docs that cannot drift).

* docs/screenshot.svg: the worked example at 120×40, paused in epoch 5 after the loss phase of
  batch 13 (4 epochs of 40 batches and 12 batches done, then forward and loss). Deterministic:
  ``--check`` compares it byte for byte (a test runs that).
* docs/serve.png: ``mbsim serve`` in headless Chromium (Debian's ``/usr/bin/chromium``, driven by
  Playwright, as tests/test_serve_browser.py does), a 1400×900 page after three batches of the
  worked example. A browser's pixels are not byte-stable, so this one is regenerated, not checked.

Run from the repository:  python docs/make_screenshots.py  (both; ``--svg`` only the SVG;
``--check`` exits 1 if docs/screenshot.svg differs).
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mbsim.engine import Scenario  # noqa: E402
from mbsim.tui.app import MbsimApp  # noqa: E402

TARGET = ROOT / "docs" / "screenshot.svg"
SERVE_TARGET = ROOT / "docs" / "serve.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def screenshot() -> str:
    """The SVG of the documented state, taken as the snapshot tests take theirs."""
    app = MbsimApp(Scenario(), animate=False, throttle=False)
    out: list[str] = []

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            app.sim.run_iterations(4 * 40 + 12)
            app.sim.step_phase()               # forward
            app.sim.step_phase()               # loss
            for _ in range(200):
                if not app.busy:
                    break
                await pilot.pause(0.05)
            for _ in range(2):
                app.settle()
                await pilot.pause()
            out.append(app.export_screenshot(title="mbsim"))

    asyncio.run(main())
    return out[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server() -> tuple[subprocess.Popen, str]:
    """``mbsim serve`` on a free loopback port; its URL from its ``open URL`` line."""
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    proc = subprocess.Popen([sys.executable, "-m", "mbsim", "serve", "--port", str(_free_port())],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    seen = b""
    end = time.monotonic() + 60
    while time.monotonic() < end and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            seen += os.read(proc.stdout.fileno(), 65536)
            if m := re.search(rb"^open (http://\S+)", seen, re.M):
                return proc, m.group(1).decode()
    proc.kill()
    raise RuntimeError(f"mbsim serve did not start: {seen.decode(errors='replace')}")


def serve_screenshot(target: Path = SERVE_TARGET) -> None:
    """Take docs/serve.png: a fresh tab of ``mbsim serve``, three batches, once the page is still."""
    from playwright.sync_api import sync_playwright   # the test extras: pip install -e '.[test]'

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    proc, url = _start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            received = [0]
            page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(
                0, received[0] + len(payload))))
            page.goto(url)
            page.wait_for_selector("body.-first-byte", timeout=120_000)
            page.click("#terminal")
            for _ in range(3):
                page.keyboard.press("n")
            still, size = 0, -1
            for _ in range(600):                  # a paused app sends nothing once it has drawn
                still = still + 1 if received[0] == size else 0
                size = received[0]
                if still >= 8:
                    break
                page.wait_for_timeout(200)
            page.screenshot(path=str(target))
            page.close()
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    svg = screenshot()
    if "--check" in argv:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == svg
        print("docs/screenshot.svg is up to date" if same else "docs/screenshot.svg differs: run docs/make_screenshots.py")
        return 0 if same else 1
    TARGET.write_text(svg, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    if "--svg" in argv:
        return 0
    try:
        serve_screenshot()
    except ModuleNotFoundError:
        print("docs/serve.png needs Playwright: pip install -e '.[test]'")
        return 1
    print(f"wrote {SERVE_TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
