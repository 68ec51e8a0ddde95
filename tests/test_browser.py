"""Chromium is resolved in one place, in the documented order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crawler.browser.chromium import (
    LAUNCH_ARGS,
    SYSTEM_PATHS,
    _headless_shell_beside,
    find_chromium,
    launch_options,
)
from crawler.exceptions import BrowserNotFound


def test_env_var_wins(tmp_path: Path, chromium: str) -> None:
    wrapper = tmp_path / "my-chromium"
    wrapper.write_text(f'#!/bin/sh\nexec {chromium} "$@"\n')
    wrapper.chmod(0o755)
    assert find_chromium({"BRANDSWEEP_CHROMIUM": str(wrapper)}) == str(wrapper)


def test_env_var_pointing_nowhere_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    with pytest.raises(BrowserNotFound, match=r"BRANDSWEEP_CHROMIUM=.* is not an executable"):
        find_chromium({"BRANDSWEEP_CHROMIUM": str(tmp_path / "missing")})


def test_system_chromium_found_without_env(chromium: str) -> None:
    found = find_chromium({})
    assert os.access(found, os.X_OK)


def test_launch_options_carry_the_closed_network_flags(chromium: str) -> None:
    opts = launch_options(chromium)
    assert opts["executable_path"] == chromium
    for flag in ("--no-sandbox", "--disable-background-networking", "--disable-sync"):
        assert flag in LAUNCH_ARGS and flag in opts["args"]  # type: ignore[operator]


def test_the_headless_shell_comes_before_the_full_browser() -> None:
    # Playwright's own headless browser, and the cheaper one per page (bench/sweep_browser.py)
    assert SYSTEM_PATHS.index("/usr/bin/chromium-headless-shell") < SYSTEM_PATHS.index(
        "/usr/bin/chromium")


@pytest.mark.parametrize("shell", ["chrome-headless-shell-linux64/chrome-headless-shell",
                                   "chrome-linux/headless_shell"])
def test_playwrights_headless_shell_is_found_beside_its_chromium(tmp_path: Path,
                                                                  shell: str) -> None:
    full = tmp_path / "ms-playwright/chromium-1255/chrome-linux64/chrome"
    binary = tmp_path / "ms-playwright/chromium_headless_shell-1255" / shell
    for path in (full, binary):
        path.parent.mkdir(parents=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    assert _headless_shell_beside(str(full)) == str(binary)
    binary.unlink()
    assert _headless_shell_beside(str(full)) is None
