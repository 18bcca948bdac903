"""Headless Chromium for UI tests: the system's `chromium` (Debian's package), driven by Playwright.

Playwright cannot download its own browser here, so it launches the installed one (`executable_path`);
`make test` installs it on a fresh machine. Without the background-networking flags Chromium keeps
calling Google's services, which on a closed network only produces noise and delays.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(
            "no `chromium` on PATH: the browser tests drive the system's Chromium "
            "(Debian: `sudo apt-get install chromium`; `make test` installs it)"
        )
    return path


@contextmanager
def headless_chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def explain_failure(page: Page, screenshot: Path, details: Callable[[], str]) -> Iterator[None]:
    """On an error inside, save what the page showed and fail with the URL, the screenshot's path and `details()`."""
    try:
        yield
    except Exception as e:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=screenshot, full_page=True)
            saved = f"screenshot: {screenshot}"
        except Exception as shot_error:  # the page itself may be gone
            saved = f"no screenshot ({shot_error})"
        raise AssertionError(f"{e}\nat {page.url}; {saved}\n{details()}") from e
