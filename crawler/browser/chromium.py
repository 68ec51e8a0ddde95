"""Finding Chromium, in one place. Everything that launches a browser asks here.

Order: ``BRANDSWEEP_CHROMIUM``, the system's Chromium headless shell (Debian's
``/usr/bin/chromium-headless-shell``), the system's full Chromium (``/usr/bin/chromium``),
then a browser Playwright downloaded itself (its headless shell first).
``ensure_chromium(install=True)`` also installs one: as root on Debian with
``apt-get install -y chromium-headless-shell`` (``chromium`` if that package is missing),
elsewhere with ``playwright install chromium`` (which needs internet).

The headless shell is the browser Playwright itself launches for ``headless=True``. It has
none of the full browser's window and UI layers, and costs less CPU per page: on bench (b)
(2 cores) a sweep of 24 shopfront searches takes 7.2-7.4 s with it, 10.3-10.9 s with the
full browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from crawler.exceptions import BrowserNotFound

ENV_VAR = "BRANDSWEEP_CHROMIUM"
SYSTEM_PATHS = ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium",
                "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DEBIAN_PACKAGE = "chromium-headless-shell"

# Without these, Chromium on a closed network hangs or floods refused connections at start.
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)

HOW_TO_FIX = (f"set {ENV_VAR} to a Chromium binary, or install one (Debian: apt-get "
              f"install -y {DEBIAN_PACKAGE}; elsewhere: playwright install chromium)")


def _executable(path: str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


def _headless_shell_beside(full: str) -> str | None:
    """The headless shell ``playwright install chromium`` puts beside its full Chromium:
    ``ms-playwright/chromium-N/chrome-linux64/chrome`` has
    ``ms-playwright/chromium_headless_shell-N/*/chrome-headless-shell`` (``headless_shell``
    in older releases)."""
    build = Path(full).parent.parent
    shell_dir = build.with_name(build.name.replace("chromium", "chromium_headless_shell", 1))
    for name in ("chrome-headless-shell", "headless_shell"):
        for candidate in sorted(shell_dir.glob(f"*/{name}")):
            if _executable(str(candidate)):
                return str(candidate)
    return None


def _playwright_chromium() -> str | None:
    """The Chromium that ``playwright install`` downloaded, if there is one."""
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # the driver itself may be broken; that only means "not found"
        return None
    if not path:
        return None
    return _headless_shell_beside(path) or (path if _executable(path) else None)


def find_chromium(env: Mapping[str, str] | None = None) -> str:
    """The Chromium binary to use; raises ``BrowserNotFound`` if there is none."""
    env = os.environ if env is None else env
    chosen = env.get(ENV_VAR)
    if chosen:
        if not _executable(chosen):
            raise BrowserNotFound(f"{ENV_VAR}={chosen} is not an executable file: "
                                  f"point it at a Chromium binary or unset it")
        return chosen
    for path in SYSTEM_PATHS:
        if _executable(path):
            return path
    found = _playwright_chromium()
    if found:
        return found
    raise BrowserNotFound(f"no Chromium found: {HOW_TO_FIX}")


def _install() -> None:
    """Try to install Chromium; output goes to stderr, failures are left to the caller."""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, stdout=sys.stderr, check=False)
        # the full browser where a release of Debian has no headless shell package
        for package in (DEBIAN_PACKAGE, "chromium"):
            done = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env,
                                  stdout=sys.stderr, check=False)
            if done.returncode == 0:
                return
    subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"],
                   stdout=sys.stderr, check=False)


def ensure_chromium(install: bool = False) -> str:
    """``find_chromium``, installing a browser first when none is found and ``install``."""
    try:
        return find_chromium()
    except BrowserNotFound:
        if not install or os.environ.get(ENV_VAR):
            raise
    _install()
    try:
        return find_chromium()
    except BrowserNotFound as exc:
        raise BrowserNotFound(f"no Chromium found and installing one failed: {HOW_TO_FIX}"
                              ) from exc


# Headless Chromium paints some of several open pages at about one frame a second
# (measured: 1 page in 4, ~1,000 ms per requestAnimationFrame); a marketplace whose list
# loads when a sentinel scrolls into view then loads one batch a second on that page.
FAST_FRAMES = "--disable-frame-rate-limit"
# Sweeps read text: a browser that never asks for images spares each one a round trip
# through the crawler's request handler (scrapy-playwright routes every request through
# Python, even one it then aborts). Evidence screenshots keep their images.
NO_IMAGES = "--blink-settings=imagesEnabled=false"


def launch_options(executable: str | None = None, images: bool = True,
                   fast_frames: bool = True) -> dict[str, object]:
    """Playwright ``launch()`` keyword arguments for brandsweep's headless Chromium;
    ``fast_frames=False`` keeps Chromium's frame-rate limit (less CPU a page, for pages
    that are not scrolled)."""
    return {
        "executable_path": executable or find_chromium(),
        "headless": True,
        "args": [*LAUNCH_ARGS, *([FAST_FRAMES] if fast_frames else []),
                 *([] if images else [NO_IMAGES])],
    }
