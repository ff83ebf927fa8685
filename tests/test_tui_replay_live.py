"""Replay against real processes: follow a file another process appends to; fork a run (local engine and the
scripted model server) into the agent and into a human; a human baseline's time and its place in past runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from conftest import get_engine
from episode_helpers import agent, answer, runtime
from model_server import scripted_server  # noqa: F401
from replay_helpers import replay_events, write_run

from mlgym_tui.episode.session import start_episode
from mlgym_tui.trajectory import load_run
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.replay.dialogs import TextReport
from mlgym_tui.tui.replay.fork_screen import ForkEpisodeScreen
from mlgym_tui.tui.replay.screen import ReplayScreen
from mlgym_tui.tui.screens.task_browser import TaskBrowser

SIZE = (120, 40)
TASK = "battleOfSexes"

WRITER = r"""
import sys, time
path, lines = sys.argv[1], sys.stdin.read().splitlines(keepends=True)
groups, current = [], []
for line in lines:
    current.append(line)
    if '"type": "step"' in line or '"type": "validation_scored"' in line:
        groups.append(current); current = []
groups.append(current)
with open(path, "a", encoding="utf-8") as out:
    for group in groups:
        time.sleep(0.4)
        out.write("".join(group)); out.flush()
        print("wrote", time.time(), flush=True)
"""


async def until(pilot, predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def test_follow_mode_shows_steps_another_process_appends(tmp_path):
    events = replay_events()
    cut = next(i for i, e in enumerate(events) if getattr(e, "step", 0) == 4)
    run_dir = write_run(tmp_path, events[:cut])  # steps 1-3 so far
    rest = "".join(json.dumps(e.to_dict()) + "\n" for e in events[cut:])
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(run_dir, follow=True))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.loaded, "the run to open")
        screen = app.screen
        assert screen.index.total == 3 and screen.cursor == 3 and "FOLLOWING" in screen.query_one("#status-bar").detail
        assert not screen.warnings  # "not ended" is expected while following, not a loss
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(run_dir / "events.jsonl")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        writer.stdin.write(rest)
        writer.stdin.close()
        try:
            lags = []
            for expected in (4, 5):
                await until(pilot, lambda: screen.index.total >= expected, f"step {expected} to appear", 10)
                lags.append(time.time() - os.stat(run_dir / "events.jsonl").st_mtime)
                assert screen.cursor == screen.index.total  # on the last step: the cursor follows
            assert max(lags) < 1.0, lags
            # moved back: new steps arrive but the cursor stays
            await pilot.press("home")
            assert screen.cursor == 1
            await until(pilot, lambda: screen.index.total == 9 and screen.model.exit_status is None
                        and screen.index.fold.exit_status == "submitted", "the whole run", 15)
            assert screen.cursor == 1 and [s.step for s in screen.model.steps] == [1]
            await pilot.press("end")
            assert screen.cursor == 9 and "ended: submitted" in screen.query_one("#status-bar").detail
            await pilot.press("t")
            assert not screen.follow and "FOLLOWING" not in screen.query_one("#status-bar").detail
        finally:
            writer.wait(timeout=20)


PARENT = ["echo parent-one", "date +%s%N", "validate", "submit"]


def docker():
    """Scoring needs the task image (numpy and friends): a real container, not the local engine."""
    return get_engine("docker")


async def parent_run(server, tmp_path):
    server.set_script([answer(a) for a in PARENT])
    c = await start_episode(TASK, agent(server), engine=docker(), runtime=runtime(), runs_dir=tmp_path / "p")
    assert await c.run() == "submitted"
    return c.run_dir


def fork_app(server, parent_dir, tmp_path) -> MLGymApp:
    return MLGymApp(deterministic=True, runs_dir=tmp_path / "forks", start_screen=ReplayScreen(parent_dir),
                    episode_options={"agent_config": agent(server), "runtime": runtime(), "engine": docker()})


async def test_fork_from_the_cursor_continues_under_the_agent_and_reports_divergence(scripted_server, tmp_path):
    parent_dir = await parent_run(scripted_server, tmp_path)
    scripted_server.set_script([answer("submit", "Continuing the fork.")])
    app = fork_app(scripted_server, parent_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.loaded, "the parent to open")
        await pilot.press("home", "right")
        assert app.screen.cursor == 2
        await pilot.press("f")
        await pilot.pause()
        assert "Fork battleOfSexes at step 2" in str(app.screen.query_one("#start-title").render())
        assert app.screen.query_one("#fork-engine").value == "docker"  # the parent's engine
        assert app.screen.query_one("#fork-how").value == "snapshot"  # exact by default; here: re-execution
        app.screen.query_one("#fork-how").value = "reexecute"
        await pilot.click("#fork-agent-go")
        await until(pilot, lambda: isinstance(app.screen, ForkEpisodeScreen) and app.screen.controller is not None,
                    "the fork to start")
        fork = app.screen
        busy_seen = set()
        await until(pilot, lambda: busy_seen.add(fork.query_one("#status-bar").busy) or
                    fork.model.exit_status is not None, "the fork to finish")
        assert any(b.startswith("fork: re-executing step") for b in busy_seen), busy_seen
        assert fork.model.exit_status == "submitted"
        assert [(s.author, s.action) for s in fork.model.steps] == [
            ("replay", "echo parent-one"), ("replay", "date +%s%N"), ("agent", "submit")]
        await until(pilot, lambda: any("fork diverged" in (n.title or "") for n in app._notifications),
                    "the divergence notice")
        await pilot.press("f6")
        await pilot.pause()
        assert isinstance(app.screen, TextReport)
        assert "step 2 `date +%s%N`: observation differs" in str(app.screen.query_one("#report-text").render())
        await pilot.press("escape", "escape")
        assert isinstance(app.screen, ReplayScreen)
    child = load_run(fork.controller.run_dir)
    assert fork.controller.run_dir.parent == tmp_path / "forks"
    assert child.meta.parent == str(parent_dir.resolve()) and child.meta.fork_step == 2


async def test_fork_into_a_human_then_replay_the_human_run(scripted_server, tmp_path):
    parent_dir = await parent_run(scripted_server, tmp_path)
    app = fork_app(scripted_server, parent_dir, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.screen.loaded, "the parent to open")
        await pilot.press("home")
        await pilot.press("f")
        await pilot.pause()
        await pilot.click("#fork-human-go")
        await until(pilot, lambda: isinstance(app.screen, ForkEpisodeScreen) and app.screen.controller is not None
                    and app.screen.controller.awaiting == "human", "the fork to wait for a person")
        fork = app.screen
        assert fork.model.mode == "human" and fork.query_one("#shell-input").has_focus
        await pilot.press(*"echo from-a-person", "enter")
        await until(pilot, lambda: len(fork.model.steps) == 2 and fork.controller.awaiting == "human", "the command")
        await pilot.press(*"submit", "enter")
        await until(pilot, lambda: fork.model.exit_status is not None, "the submission")
        assert [(s.author, s.action) for s in fork.model.steps] == [
            ("replay", "echo parent-one"), ("human", "echo from-a-person"), ("human", "submit")]
        assert "from-a-person" in fork.model.steps[1].observation
        run_dir = fork.controller.run_dir
        await pilot.press("escape")
        assert isinstance(app.screen, ReplayScreen)
    child = load_run(run_dir)
    assert child.meta.parent == str(parent_dir.resolve()) and child.meta.fork_step == 1


async def test_human_baseline_appears_in_past_runs_and_replays_with_its_time(tmp_path):
    runs = tmp_path / "runs"
    c = await start_episode(TASK, "agents/human.yaml", engine=docker(), runtime=runtime(), runs_dir=runs)
    c.submit_human_action("echo hello-baseline")
    c.submit_human_action("submit")
    assert await c.run() == "submitted"
    app = MLGymApp(deterministic=True, runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        browser = app.screen
        assert isinstance(browser, TaskBrowser)
        await until(pilot, lambda: browser.loaded, "the tasks")
        await app.workers.wait_for_complete()
        table = browser.query_one("#task-table")
        table.move_cursor(row=table.get_row_index(TASK))
        await pilot.pause()
        runs_table = browser.query_one("#runs-table")
        await until(pilot, lambda: runs_table.row_count == 1, "the human run in past runs")
        assert runs_table.get_row_at(0)[1] == "human"
        runs_table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReplayScreen) and app.screen.loaded, "the replay")
        screen = app.screen
        detail = screen.query_one("#status-bar").detail
        assert "HUMAN baseline, first command → submission 0m0" in detail, detail
        took = screen.index.human_seconds()
        steps = load_run(c.run_dir).steps
        assert took is not None and abs(took - (load_run(c.run_dir).ended.t - steps[0].started_at)) < 1.0
        assert [s.author for s in screen.model.steps] == ["human", "human"] and screen.index.humans == [1, 2]
