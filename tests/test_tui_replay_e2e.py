"""End to end in tmux: a headless episode (scripted model server process + `mlgym-tui run`), then
`mlgym-tui replay PATH --follow` in a real terminal: search, fork from step 2 into human mode, run a command,
submit; the screen is read with capture-pane. Skips without tmux or docker, fails when MLGYM_REQUIRE_ENGINES=1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REQUIRE_ENGINES, get_engine
from episode_helpers import agent, answer

from mlgym_tui.trajectory import load_run

REPO = Path(__file__).resolve().parents[1]
SESSION = f"mlgym-replay-e2e-{os.getpid()}"


class Server:
    def __init__(self, api_base: str) -> None:
        self.api_base = api_base


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=30).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen()
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")


def test_replay_follow_search_fork_into_human_in_tmux(tmp_path):
    if shutil.which("tmux") is None:
        if REQUIRE_ENGINES:
            pytest.fail("tmux is required for the end-to-end replay test (MLGYM_REQUIRE_ENGINES=1)")
        pytest.skip("tmux is not installed: the end-to-end replay test drives the UI in a tmux session")
    get_engine("docker")  # skips (or fails in CI) without a usable docker and task image
    script = tmp_path / "script.json"
    script.write_text(json.dumps([answer(a) for a in ("echo parent-one", "echo parent-two", "validate", "submit")]))
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "model_server.py"), "--port", "0", "--script",
                               str(script)], stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split()
        assert ready and ready[0] == "READY", ready
        agent_yaml = tmp_path / "scripted.yaml"
        agent_yaml.write_text(yaml.safe_dump(agent(Server(ready[1])).model_dump(mode="json")))
        runs = tmp_path / "runs"
        env = dict(os.environ, MLGYM_TUI_CONFIG_DIR=str(tmp_path / "config"))
        result = subprocess.run([sys.executable, "-m", "mlgym_tui.cli", "run", "--task", "battleOfSexes", "--agent",
                                 str(agent_yaml), "--engine", "docker", "--runs-dir", str(runs)], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        (parent,) = [p for p in runs.iterdir() if p.is_dir()]
        command = (f"cd {REPO} && " + " ".join(f"{k}={v}" for k, v in env.items() if k.startswith(("MLGYM_", "CONTAINERS_")))
                   + f" {sys.executable} -m mlgym_tui.cli replay {parent} --follow")
        # a shell first, the app typed into it: it then starts at the window's final size (120x40)
        tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", "sh")
        tmux("set-option", "-t", SESSION, "status", "off")
        tmux("set-option", "-t", SESSION, "window-size", "manual")
        tmux("resize-window", "-t", SESSION, "-x", "120", "-y", "40")
        tmux("send-keys", "-t", SESSION, "-l", f"exec sh -c '{command}'")
        tmux("send-keys", "-t", SESSION, "Enter")
        try:
            shown = wait_for("step 4/4")
            assert "FOLLOWING" in shown and "ended: submitted" in shown
            tmux("send-keys", "-t", SESSION, "/")
            time.sleep(0.3)
            tmux("send-keys", "-t", SESSION, "-l", "parent-two")
            tmux("send-keys", "-t", SESSION, "Enter")
            shown = wait_for("/parent-two: 1 of 1")
            assert "step 2/4" in shown
            tmux("send-keys", "-t", SESSION, "f")
            wait_for("at step 2: restore the parent's workspace")  # an exact fork (snapshots)
            tmux("send-keys", "-t", SESSION, "C-u")
            wait_for("container shell — HUMAN", timeout=120)
            wait_for("fork of step 2")
            time.sleep(0.5)
            tmux("send-keys", "-t", SESSION, "-l", "echo typed-by-e2e")
            tmux("send-keys", "-t", SESSION, "Enter")
            wait_for("typed-by-e2e", timeout=60)
            tmux("send-keys", "-t", SESSION, "-l", "submit")
            tmux("send-keys", "-t", SESSION, "Enter")
            shown = wait_for("SUBMITTED", timeout=120)  # the submit step's card
            assert "fork of step 2" in shown and "typed-by-e2e" in shown
        finally:
            subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True, timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=10)
    forks = [p for p in runs.iterdir() if p.is_dir() and p != parent]
    assert len(forks) == 1, forks
    fork = load_run(forks[0])
    assert fork.meta.parent == str(parent.resolve()) and fork.meta.fork_step == 2
    assert [(s.author, s.action) for s in fork.steps] == [
        ("replay", "echo parent-one"), ("replay", "echo parent-two"), ("human", "echo typed-by-e2e"),
        ("human", "submit")]
