"""The task browser's list of episodes running under the runs folder (a real Controller served on a real Unix
socket, the runner tests' fake environment), attaching from it with one key; a run whose process is gone is not
listed, and attaching to one offers its replay."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from test_control import Served, until

from mlgym_tui.control.endpoint import Endpoint, write_endpoint
from mlgym_tui.stream import events as ev
from mlgym_tui.trajectory import Recorder
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.control.endpoint import endpoint_dirs
from mlgym_tui.tui.running_index import RunningIndex
from mlgym_tui.tui.screens.choice import ChoiceDialog
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.screens.task_browser import TaskBrowser
from mlgym_tui.tui.widgets.running_table import RunningTable
from mlgym_tui.tui.widgets.step_card import StepCard

SIZE = (120, 40)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def dead_run(run_dir: Path) -> Path:
    """A run folder whose process was killed: its control.json and events are left behind."""
    run_dir.mkdir(parents=True)
    (run_dir / "events.jsonl").write_text(json.dumps(ev.EpisodeStarted(
        run_id=run_dir.name, task_id="gone", agent="a", model="m", mode="auto", engine="local", max_steps=5,
        cost_limit=1.0).to_dict()) + "\n")
    write_endpoint(Endpoint(run_dir=str(run_dir), pid=dead_pid(), host=socket.gethostname(),
                            socket=str(run_dir / "control.sock")))
    return run_dir


def recorded(served: Served) -> Served:
    """Served, with its events written to events.jsonl as a real run's are (the list reads them)."""
    served.c.recorder = Recorder(served.run_dir, "fake", {"task": "fake"})
    return served


async def test_the_browser_lists_an_episode_running_elsewhere_and_attaches_with_one_key(tmp_path):
    runs = tmp_path / "runs"
    dead_run(runs / "2025-01-01T00-00__m__gone__a")
    run_dir = runs / "batch__none__test" / "fake__run_1" / "2025-01-02T00-00__none__fake__test"  # batch depth
    async with recorded(Served(run_dir)) as s:
        s.policy.answer("echo one")
        await until(lambda: s.c.step >= 1, "a first step")
        app = MLGymApp(deterministic=True, runs_dir=runs, tasks={})
        async with app.run_test(size=SIZE) as pilot:
            browser = app.screen
            assert isinstance(browser, TaskBrowser)
            table = browser.query_one(RunningTable)
            await until(lambda: table.row_count == 1 and table.display, "the running list", timeout=10)
            task, who, step, mode, holder, where = (str(cell) for cell in table.get_row_at(0))
            assert (task, who, step, mode, holder) == ("fake", "test / none", "1/20", "auto", "")
            assert where == str(run_dir.relative_to(runs))  # the dead run is not listed
            assert "a to attach" in str(browser.query_one("#running-title").render())
            await pilot.press("a")
            await until(lambda: isinstance(app.screen, EpisodeScreen), "the attached episode screen")
            screen = app.screen
            await until(lambda: any(c.step_view.action == "echo one" for c in screen.query(StepCard)),
                        "the history's step on the attached screen")
            s.policy.answer("echo two")
            await until(lambda: any(c.step_view.action == "echo two" for c in screen.query(StepCard)),
                        "a live step on the attached screen")
            assert screen.controller.task_id == "fake" and not screen.controller.done
            await screen.controller.detach()
        assert s.c.step == 2 and not s.c.done  # attaching and leaving left the episode running


async def test_attaching_to_a_run_whose_process_is_gone_offers_its_replay(tmp_path):
    runs = tmp_path / "runs"
    gone = dead_run(runs / "2025-01-01T00-00__m__gone__a")
    app = MLGymApp(deterministic=True, runs_dir=runs, tasks={})
    async with app.run_test(size=SIZE) as pilot:
        browser = app.screen
        await pilot.pause(0.3)
        assert not browser.running and not browser.query_one(RunningTable).display
        browser.action_attach(gone)  # as if listed a moment before it died
        await until(lambda: isinstance(app.screen, ChoiceDialog), "the offer to open the replay")
        assert "is gone" in app.screen.detail and "replay" in app.screen.detail
        await pilot.press("enter")
        await until(lambda: type(app.screen).__name__ == "ReplayScreen", "the replay of the dead run")


async def test_the_index_reads_only_appended_events_and_skips_submission_folders(tmp_path):
    runs = tmp_path / "runs"
    run_dir = runs / "2025-01-03T00-00__m__fake__a"
    (run_dir / "submissions" / "1" / "deep").mkdir(parents=True)
    (run_dir / "submissions" / "1" / "deep" / "control.json").write_text("{}")  # inside a run: never a run
    started = ev.EpisodeStarted(run_id="r", task_id="fake", agent="a", model="m", mode="auto", engine="local",
                                max_steps=9, cost_limit=1.0)
    events = run_dir / "events.jsonl"
    events.write_text(json.dumps(started.to_dict()) + "\n")
    write_endpoint(Endpoint(run_dir=str(run_dir), pid=os.getpid(), host=socket.gethostname()))
    assert endpoint_dirs(runs) == [run_dir]
    index = RunningIndex()
    [first] = index.scan(runs)
    assert (first.task_id, first.step_text, first.mode_text, first.holder) == ("fake", "0/9", "auto", "")
    with events.open("a") as out:
        for event in (ev.ModeChanged(mode="confirm"), ev.Paused(), ev.ControlChanged(holder="ada@lab", reason="taken")):
            out.write(json.dumps(event.to_dict()) + "\n")
        out.write('{"type": "step", "step": 3')  # half written: waits for its end
    [second] = index.scan(runs)
    assert (second.mode_text, second.holder, second.step) == ("confirm (paused)", "ada@lab", 0)
    with events.open("a") as out:
        out.write(', "author": "agent"}\n')
    [third] = index.scan(runs)
    assert third.step_text == "3/9" and third.mode_text == "confirm (paused)"


async def test_the_list_leaves_out_the_apps_own_episodes(tmp_path):
    runs = tmp_path / "runs"
    async with recorded(Served(runs / "2025-01-04T00-00__none__fake__test")) as s:
        app = MLGymApp(deterministic=True, runs_dir=runs, tasks={})
        async with app.run_test(size=SIZE) as pilot:
            own = EpisodeScreen(controller=s.c)
            await app.push_screen(own)
            await pilot.pause()
            app.pop_screen()
            browser = app.screen
            await until(lambda: browser.query_one("#running-episodes").display, "the app's own `e` line")
            browser.scan_running()
            await asyncio.sleep(0.3)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert browser.running == [] and not browser.check_action("attach", ())
