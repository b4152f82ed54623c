"""Regenerate docs/screenshot.svg from the app itself (issue 21, item 9: docs that cannot drift).

The README's screenshot: the worked example at 120×40, paused in epoch 5 after the loss phase of
batch 13 (4 epochs of 40 batches and 12 batches done, then forward and loss). Run from the
repository:  python docs/make_screenshots.py   (--check: exit 1 if docs/screenshot.svg differs)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import Scenario  # noqa: E402
from tui.app import MbsimApp  # noqa: E402

TARGET = ROOT / "docs" / "screenshot.svg"


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


def main(argv: list[str]) -> int:
    svg = screenshot()
    if "--check" in argv:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == svg
        print("docs/screenshot.svg is up to date" if same else "docs/screenshot.svg differs: run docs/make_screenshots.py")
        return 0 if same else 1
    TARGET.write_text(svg, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
