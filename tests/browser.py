"""A real headless Chromium (Debian's package, never a downloaded browser) driven through Playwright, and the text of
the terminal textual-serve draws in the page (read from xterm.js's own buffer: its WebGL or canvas renderer leaves
no text in the DOM)."""

from __future__ import annotations

import os
import shutil
import time

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser")

# textual-serve keeps its xterm.js Terminal in a page-local object; its constructor sets `terminal` and then
# `fitAddon`. A setter on Object.prototype catches that object at the second assignment and keeps the terminal.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "fitAddon", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "fitAddon", {value, writable: true, configurable: true, enumerable: true});
    if (this.terminal && this.terminal.buffer) window.__mlgymTerminal = this.terminal;
  },
});
"""

SCREEN_TEXT = """() => {
  const terminal = window.__mlgymTerminal;
  if (!terminal) return null;
  const buffer = terminal.buffer.active, lines = [];
  for (let row = 0; row < terminal.rows; row++) {
    const line = buffer.getLine(buffer.viewportY + row);
    lines.push(line ? line.translateToString(true) : "");
  }
  return lines.join("\\n");
}"""


def chromium_path() -> str:
    """The system chromium; fails (CI, MLGYM_REQUIRE_ENGINES=1) or skips with how to install it."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = "chromium is not installed: the browser tests need it (apt-get install -y chromium; CI installs it)"
    if os.environ.get("MLGYM_REQUIRE_ENGINES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def screen_text(page) -> str:
    return page.evaluate(SCREEN_TEXT) or ""


def wait_for_text(page, *texts: str, timeout: float = 20.0) -> str:
    """The terminal's text once it holds every one of `texts`; AssertionError with the last screen otherwise."""
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen_text(page)
        if all(text in shown for text in texts):
            return shown
        time.sleep(0.1)
    raise AssertionError(f"{texts!r} never all appeared in the browser; its terminal showed:\n{shown}")


def local_only(page) -> None:
    """Abort requests that leave this machine (textual-serve's page asks for a web font): offline, waiting on one
    holds back the page's load event, which is when it connects to the app."""

    def route(route) -> None:
        host = route.request.url.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if host in ("127.0.0.1", "localhost", "[::1]"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", route)


def focus_terminal(page) -> None:
    """Keys go to the app through xterm's hidden textarea (a click would also reach the app as a mouse event)."""
    page.evaluate("() => window.__mlgymTerminal.focus()")
