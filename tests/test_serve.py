"""`mlgym-tui serve`: the app in a real headless Chromium through textual-serve (task browser, open a recorded run,
move the replay cursor, screenshot), the token on non-loopback hosts, 403 for a missing or wrong token, loopback by
default, and one-line errors for an unusable port or address."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import CATCH_TERMINAL, chromium_path, focus_terminal, local_only, wait_for_text
from replay_helpers import write_run

from mlgym_tui.commands.serve import is_loopback

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """A `mlgym-tui serve` process (its own process group: the per-tab app processes go with it)."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.config = tmp_path / "config"
        self.runs = tmp_path / "runs"
        self.config.mkdir(exist_ok=True)
        self.runs.mkdir(exist_ok=True)
        (self.config / "settings.yaml").write_text(f"runs_dir: {self.runs}\n")
        self.port = free_port()
        env = {**os.environ, "MLGYM_TUI_CONFIG_DIR": str(self.config)}
        self.log = tmp_path / "serve.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mlgym_tui.cli", "serve", "--port", str(self.port), *args],
            stdout=self.log.open("w"), stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True)
        self.wait_listening()

    def output(self) -> str:
        return self.log.read_text()

    def wait_listening(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve never listened on port {self.port}:\n{self.output()}")

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:  # whatever app process outlived its server
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=5)


@pytest.fixture
def serve(tmp_path):
    started: list[Served] = []

    def start(*args: str) -> Served:
        started.append(Served(tmp_path, *args))
        return started[-1]

    yield start
    for served in started:
        served.stop()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def run_cli(*args: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlgym_tui.cli", *args], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "MLGYM_TUI_CONFIG_DIR": str(config)})


def test_browser_task_browser_replay_cursor_and_screenshot(serve, tmp_path):
    """The whole app in headless Chromium: the task browser appears, its past runs open the recorded run's replay, the
    cursor moves with keys, and the page's screenshot is a real picture."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    served = serve()
    write_run(served.runs)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(CATCH_TERMINAL)
            local_only(page)
            page.goto(served.url(), wait_until="domcontentloaded")
            # the first task, battleOfSexes, is highlighted and its past runs hold the recorded one
            wait_for_text(page, "past runs of battleOfSexes: 1", "2024-01-02 03:04  default", timeout=30)
            focus_terminal(page)
            for key in ("Tab", "Tab", "Enter"):  # the task table → its details → past runs; open the run
                page.keyboard.press(key)
            shown = wait_for_text(page, "/9 · ", "task battleOfSexes")
            page.keyboard.press("Home")
            first = wait_for_text(page, "step 1/9")
            page.keyboard.press("ArrowRight")
            second = wait_for_text(page, "step 2/9")
            assert first != second and "step 1/9" not in second, shown
            picture = tmp_path / "replay.png"
            page.screenshot(path=str(picture))
        finally:
            browser.close()
    data = picture.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 20_000, len(data)
    if os.environ.get("MLGYM_SERVE_SCREENSHOT"):  # kept for a closing note or a bug report
        Path(os.environ["MLGYM_SERVE_SCREENSHOT"]).write_bytes(data)


def test_a_non_loopback_host_without_a_token_gets_one_printed_and_saved(serve):
    served = serve("--host", "0.0.0.0")
    deadline = time.monotonic() + 10
    while "?token=" not in served.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    tokens = re.findall(r"\?token=([\w-]+)", served.output())
    assert len(tokens) == 1, served.output()  # printed once
    saved = served.config / "serve-token"
    assert saved.read_text().strip() == tokens[0] and len(tokens[0]) >= 24
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_a_missing_or_wrong_token_gets_403_and_the_right_one_a_cookie(serve):
    served = serve("--host", "0.0.0.0", "--token", "s3cret-token")
    for url in (served.url(), served.url("/?token=wrong"), served.url("/static/js/textual.js"), served.url("/ws")):
        status, body, _ = get(url)
        assert status == 403, url
        assert body.count("\n") == 1 and "token" in body, body  # one line that says what to do
    status, body, headers = get(served.url("/?token=s3cret-token"))
    assert status == 200 and "textual-terminal" in body
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    assert "HttpOnly" in headers["Set-Cookie"]
    status, _, _ = get(served.url("/static/js/textual.js"), {"Cookie": cookie})
    assert status == 200
    status, _, _ = get(served.url("/"), {"Cookie": cookie.split("=")[0] + "=wrong"})
    assert status == 403


def test_loopback_by_default_with_no_token_needed_and_no_foreign_names(serve):
    served = serve()
    assert "http://127.0.0.1:" in served.output() and "token" not in served.output()
    assert not (served.config / "serve-token").exists()
    status, body, _ = get(served.url())
    assert status == 200 and f"ws://127.0.0.1:{served.port}/ws" in body  # the page's websocket: this address
    # a page elsewhere whose name was pointed at 127.0.0.1 (DNS rebinding), or a foreign page opening the websocket
    assert get(served.url(), {"Host": f"evil.example:{served.port}"})[0] == 403
    assert get(served.url("/ws"), {"Origin": "http://evil.example"})[0] == 403
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org") and not is_loopback("10.0.0.1")


def test_a_loopback_host_uses_a_token_when_given(serve):
    served = serve("--token", "given")
    assert get(served.url())[0] == 403
    assert get(served.url("/?token=given"))[0] == 200


def test_an_unusable_port_or_address_is_one_line_and_exit_2(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        cases = {("--port", str(taken)): "already in use", ("--port", "http"): "not a number",
                 ("--port", "70000"): "between 1 and 65535",
                 ("--host", "192.0.2.1", "--port", "8000"): "not an address of this machine"}
        for args, problem in cases.items():
            result = run_cli("serve", *args, config=tmp_path)
            assert result.returncode == 2, (args, result.stdout, result.stderr)
            assert problem in result.stderr and result.stderr.count("\n") == 1, result.stderr
            assert "--" in result.stderr  # names the option to change
    assert not (tmp_path / "serve-token").exists()  # nothing written for a server that never started
