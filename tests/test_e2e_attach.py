"""End to end: a headless `mlgym-tui run --mode confirm` in one tmux terminal (a real container engine, the scripted
model server), `mlgym-tui attach RUN_DIR` in a second and a third. The first viewer confirms an action, pauses,
takes over and types a command, hands back and approves the agent's submit; the second sees the same events and
its keys are refused while the first holds control. The events file records who sent each command. And a run that
is not running offers its replay when attach runs on a terminal.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from episode_helpers import answer
from model_server import scripted_server  # noqa: F401
from test_e2e_tmux import MLGYM_TUI, REPO, Tmux, has_cell, status_line, tmux_env  # noqa: F401
from test_episode_cli import agent_file

from conftest import ENGINES, get_engine


@pytest.fixture(params=ENGINES)
def engine_name(request) -> str:
    get_engine(request.param)  # skip (or fail when engines are required) if the engine or its image is unusable
    return request.param


def wait_path(pattern: str, runs: Path, timeout: float = 60.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(runs.glob(pattern))
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no {pattern} under {runs} after {timeout:.0f}s")


def footer_or_toast(screen: str, text: str) -> bool:
    return text in " ".join(screen.split())  # a toast may wrap its words over lines


def test_headless_run_attached_twice_confirm_take_over_hand_back_submit(engine_name, tmux_env, scripted_server,
                                                                         tmp_path):
    scripted_server.set_script([answer("echo agent-one"), answer("echo agent-two"), answer("submit")])
    env, runs = tmux_env(engine_name, {"MLGYM_TUI_WHO": "unused"})
    headless = Tmux([str(MLGYM_TUI), "run", "--task", "battleOfSexes", "--agent",
                     str(agent_file(scripted_server, tmp_path)), "--engine", engine_name, "--runs-dir", str(runs),
                     "--mode", "confirm"], env, REPO)
    viewers: list[Tmux] = []
    try:
        run_dir = wait_path("*/control.json", runs).parent
        headless.wait_text("proposed (step 1)", timeout=60)
        ada = Tmux([str(MLGYM_TUI), "attach", str(run_dir), "--who", "ada"], env, REPO)
        viewers.append(ada)
        bob = Tmux([str(MLGYM_TUI), "attach", str(run_dir), "--who", "bob"], env, REPO)
        viewers.append(bob)
        for viewer in (ada, bob):
            screen = viewer.wait_for(lambda s: "CONFIRM" in status_line(s) and "control: nobody" in status_line(s)
                                     and "echo agent-one" in s, "the attached screen with the proposal", 30)
            assert f"engine {engine_name} (mlgym-" in status_line(screen) and "task battleOfSexes" in screen

        # ada confirms: the episode runs it; ada holds control now
        ada.keys("a")
        ada.wait_for(lambda s: has_cell(s, "agent-one") and "control: you" in status_line(s), "the approved step")
        bob.wait_for(lambda s: has_cell(s, "agent-one") and "control: ada" in status_line(s), "bob sees it")
        bob.keys("p")  # a watcher's key: refused, with who holds control
        bob.wait_for(lambda s: footer_or_toast(s, "ada holds control"), "bob's key refused", 10)

        # ada pauses, takes over, types a command, hands back and resumes
        ada.wait_text("echo agent-two", timeout=30)
        ada.keys("p")
        ada.wait_for(lambda s: "PAUSED" in status_line(s), "PAUSED", 10)
        bob.wait_for(lambda s: "PAUSED" in status_line(s), "bob sees PAUSED", 10)
        ada.keys("C-o")
        ada.wait_text("HUMAN: type the next", timeout=10)
        ada.type("echo human-$((20+22))")
        ada.keys("Enter")
        ada.wait_text("human-42", timeout=30)
        bob.wait_text("human-42", timeout=10)
        ada.keys("C-o")
        ada.wait_for(lambda s: "HUMAN: type the next" not in s, "handed back", 10)
        ada.keys("p")
        # the agent proposes again (its proposal from before the take-over was discarded): submit, approved
        ada.wait_for(lambda s: "CONFIRM" in status_line(s) and "submit" in s and s.count("Approve") >= 1,
                     "the agent's submit awaiting approval", 30)
        ada.keys("a")
        ada.wait_for(lambda s: "ended: submitted" in status_line(s), "ended: submitted", 120)
        bob.wait_for(lambda s: "ended: submitted" in status_line(s), "bob sees the end", 10)
        headless.wait_text("EXITED-0", timeout=30)
        ada.keys("q")
        ada.wait_text("EXITED-0", timeout=15)

        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
        sent = [(e["who"], e["command"], bool(e["refused"])) for e in events if e["type"] == "command_sent"]
        assert ("ada", "approve", False) in sent and ("bob", "pause", True) not in sent  # bob's refused locally
        assert [e["holder"] for e in events if e["type"] == "control_changed"][:1] == ["ada"]
        steps = [(e["author"], e["action"]) for e in events if e["type"] == "step"]
        assert ("human", "echo human-$((20+22))") in steps and steps[-1][1] == "submit"
        assert not (run_dir / "control.json").exists()  # the endpoint is gone with the episode
    finally:
        for viewer in viewers:
            viewer.close()
        headless.close()


def test_attach_to_a_run_that_is_not_running_offers_its_replay_on_a_terminal(tmux_env, tmp_path):
    from replay_helpers import write_run

    env, _ = tmux_env("local")
    run_dir = write_run(tmp_path / "runs")
    tmux = Tmux([str(MLGYM_TUI), "attach", str(run_dir)], env, REPO)
    try:
        screen = tmux.wait_text("open its replay? [Y/n]", timeout=30)
        assert "this run is not running (no control.json)" in " ".join(screen.split())
        tmux.keys("Enter")
        tmux.wait_for(lambda s: "REPLAY" in status_line(s), "the replay screen", timeout=30)
        tmux.keys("q")
        tmux.wait_text("EXITED-0", timeout=15)
    finally:
        tmux.close()
