"""Take ``docs/workbench.png``, the README's picture of the workbench: the demo store the
tests use, served by the workbench, shot in headless Chromium.

    .venv/bin/python docs/workbench_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from crawler.browser.chromium import find_chromium, launch_options
from crawler.web.app import create_app

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from test_web_browser import serving  # noqa: E402
from test_web_store import demo_store  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        demo_store(db)
        with serving(create_app(db, "dana")) as url, sync_playwright() as p:
            browser = p.chromium.launch(**launch_options(find_chromium()))  # type: ignore[arg-type]
            page = browser.new_page(viewport={"width": 1100, "height": 600})
            page.goto(f"{url}/queue?group=seller")
            for key in ("j", "j", "x", "j", "x", "j"):
                page.keyboard.press(key)
            page.screenshot(path=str(HERE / "workbench.png"))
            browser.close()
    print(HERE / "workbench.png")


if __name__ == "__main__":
    main()
