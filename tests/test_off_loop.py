"""Nothing slow runs on the event loop: WHERE the work happens, not how long it takes.

- litellm is imported on a worker thread started when an LLM policy is set up; the first model call awaits it
  (and says so with ModelLibraryLoading events, which the view model and the status bar show);
- the recorder writes events.jsonl from the caller, in order, but every fsync and every rewrite of the .traj,
  results.json and config.yaml runs on its own threads; a killed process still loses nothing it was handed; a
  step's sync starts when it ends, and `step_synced()` (or `durable_steps=True`) has it on disk before a command.
Real files and real threads throughout; os.fsync / os.replace are wrapped only to see which thread calls them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from mlgym_tui.stream import events as ev
from mlgym_tui.stream.model import EpisodeModel
from mlgym_tui.trajectory import NOT_ENDED_WARNING, Recorder, load_run

TASK = "battleOfSexes"
TESTS = Path(__file__).parent
REPO = TESTS.parent


def started() -> ev.EpisodeStarted:
    return ev.EpisodeStarted(run_id="r", task_id=TASK, agent="a", model="m", mode="auto", engine="local",
                             max_steps=100, cost_limit=0.0, baseline={"Score": 1.0})


def one_step(recorder: Recorder, n: int) -> None:
    recorder(ev.ActionProposed(step=n, action=f"echo {n}"))
    recorder(ev.CommandStarted(step=n, action=f"echo {n}", author="agent"))
    recorder(ev.CommandFinished(step=n, exit_code=0, duration=0.01))
    recorder(ev.StepRecorded(step=n, author="agent", action=f"echo {n}", observation=f"{n}\n"))


class ThreadLog:
    """Wraps os.fsync and os.replace (they still do their work) to note which thread called them, on what."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, fsync_delay_s: float = 0.0) -> None:
        self.fsyncs: list[tuple[int, str]] = []
        self.replaces: list[tuple[int, str]] = []
        self.fsync_delay_s = fsync_delay_s
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd: int) -> None:
            self.fsyncs.append((threading.get_ident(), os.readlink(f"/proc/self/fd/{fd}")))
            time.sleep(self.fsync_delay_s)
            real_fsync(fd)

        def replace(src, dst, *args, **kwargs) -> None:
            self.replaces.append((threading.get_ident(), str(dst)))
            real_replace(src, dst, *args, **kwargs)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)

    def names(self, calls: list[tuple[int, str]], thread: int | None = None) -> set[str]:
        return {Path(path).name for ident, path in calls if thread is None or ident == thread}


async def test_recorder_fsyncs_and_rewrites_files_off_the_event_loop(tmp_path, monkeypatch):
    log = ThreadLog(monkeypatch)
    loop_thread = threading.get_ident()
    events_path = tmp_path / "events.jsonl"
    recorder = Recorder(tmp_path, TASK, {"model": {"name": "m"}})
    recorder(started())
    sizes = [events_path.stat().st_size]
    for n in range(1, 6):
        one_step(recorder, n)
        sizes.append(events_path.stat().st_size)
        await asyncio.sleep(0)  # the loop runs on while the threads catch up
    recorder(ev.ValidationScored(step=5, metrics={"Score": 2.0}, baseline={"Score": 1.0}))
    recorder(ev.EpisodeEnded(exit_status="submitted", score=[{"Score": 2.0}]))
    recorder.close()  # even closing (on the loop, as the episode does) leaves the disk work to the threads

    # events.jsonl is written from the caller, before each call returns: readable at once, in order.
    assert sizes == sorted(set(sizes)) and sizes[0] > 0
    assert [e.type for e in load_run(tmp_path).events] == (
        ["episode_started"] + ["action_proposed", "command_started", "command_finished", "step"] * 5
        + ["validation_scored", "episode_ended"])
    # Every file was synced and replaced, none of it on the loop's thread.
    synced = log.names(log.fsyncs)  # a rewritten file is synced under its temporary name, then replaced
    assert "events.jsonl" in synced
    assert all(any(name.startswith(f".{target}.") for name in synced) for target in (f"{TASK}.traj", "results.json",
                                                                                      "config.yaml"))
    assert {f"{TASK}.traj", "results.json", "config.yaml"} <= log.names(log.replaces)
    assert log.names(log.fsyncs, loop_thread) == set()
    assert log.names(log.replaces, loop_thread) == set()
    # Grouped: fewer syncs of events.jsonl than events (here one per closed step and the start, or fewer).
    event_syncs = [path for _, path in log.fsyncs if Path(path).name == "events.jsonl"]
    assert 1 <= len(event_syncs) < 23
    traj = json.loads((tmp_path / f"{TASK}.traj").read_text())
    assert len(traj["trajectory"]) == 5 and traj["info"]["exit_status"] == "submitted"
    assert json.loads((tmp_path / "results.json").read_text())["agent"] == [{"Score": 2.0}]


def test_durable_steps_put_the_closed_step_on_disk_before_the_next_command_starts(tmp_path, monkeypatch):
    log = ThreadLog(monkeypatch, fsync_delay_s=0.3)  # a slow disk: the sync of step 1 is still running
    recorder = Recorder(tmp_path / "durable", TASK, {}, durable_steps=True)
    caller = threading.get_ident()
    one_step(recorder, 1)
    synced_before = recorder._events.synced
    recorder(ev.ActionProposed(step=2, action="echo 2"))
    recorder(ev.CommandStarted(step=2, action="echo 2", author="agent"))
    # The CommandStarted call returned only once the line that closed step 1 (the 4th) was on disk.
    assert synced_before < 4 <= recorder._events.synced
    assert log.names(log.fsyncs, caller) == set()
    recorder.close()

    lax = Recorder(tmp_path / "lax", TASK, {})  # the default: nothing waits on the caller's thread
    one_step(lax, 1)
    lax(ev.CommandStarted(step=2, action="echo 2", author="agent"))
    assert lax._events.synced < 4  # no wait: the sync of step 1 is still sleeping on its thread
    lax.close()
    assert lax._events.synced == 5
    assert log.names(log.fsyncs, caller) == set()


async def test_step_synced_waits_for_the_closed_step_while_the_loop_runs_on(tmp_path, monkeypatch):
    log = ThreadLog(monkeypatch, fsync_delay_s=0.3)
    loop_thread = threading.get_ident()
    recorder = Recorder(tmp_path, TASK, {})
    one_step(recorder, 1)
    recorder(ev.ActionProposed(step=2, action="echo 2"))
    assert recorder._events.synced < 4
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    beat = asyncio.get_running_loop().create_task(heartbeat())
    await recorder.step_synced()
    beat.cancel()
    assert recorder._events.synced >= 4  # the line that closed step 1 is on disk
    assert ticks > 3  # the loop ran while the sync (sleeping 0.3 s) went on elsewhere
    recorder.close()
    assert log.names(log.fsyncs, loop_thread) == set()


def test_events_that_do_not_close_a_step_are_synced_in_groups(tmp_path, monkeypatch):
    log = ThreadLog(monkeypatch)
    recorder = Recorder(tmp_path, TASK, {}, sync_delay_s=0.2, sync_every=1000)
    for n in range(50):
        recorder(ev.ModelResponse(step=1, content=f"answer {n}"))
    deadline = time.monotonic() + 5
    while recorder._events.synced < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recorder._events.synced == 50  # within the delay, with no flush and no closed step
    assert len([p for _, p in log.fsyncs if p.endswith("events.jsonl")]) <= 5  # one, unless the machine stalls
    recorder.close()

    many = Recorder(tmp_path / "many", TASK, {}, sync_delay_s=3600, sync_every=10)
    for n in range(35):
        many(ev.ModelResponse(step=1, content=f"answer {n}"))
    deadline = time.monotonic() + 5
    while 35 - many._events.synced >= 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    # Never 10 or more unsynced, however long the delay. (A sync covers what was written when it ran, so where the
    # groups fall depends on the threads' timing: 30 or 26 synced are both right.)
    assert many._events.synced > 25
    many.close()


SLOW_DISK_CHILD = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from mlgym_tui.stream.events import CommandStarted, EpisodeStarted, StepRecorded
    from mlgym_tui.trajectory import Recorder

    real_fsync = os.fsync
    def slow_fsync(fd):  # a disk that never catches up: almost nothing is synced when the kill comes
        time.sleep(30)
        real_fsync(fd)
    os.fsync = slow_fsync

    recorder = Recorder(Path(sys.argv[1]), "{task}", {{}})  # the default: no wait before a command
    recorder(EpisodeStarted(run_id="r", task_id="{task}", agent="a", model="m", mode="auto", engine="local",
                            max_steps=10**6, cost_limit=0.0))
    n = 0
    while True:
        n += 1
        recorder(CommandStarted(step=n, action=f"echo {{n}}", author="agent"))
        recorder(StepRecorded(step=n, author="agent", action=f"echo {{n}}", observation="y" * 5000))
        print(n, flush=True)
    """
).format(task=TASK)


def test_sigkill_loses_nothing_the_recorder_was_handed_even_with_syncs_behind(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", SLOW_DISK_CHILD, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, cwd=REPO)
    last_reported = 0
    try:
        deadline = time.monotonic() + 60
        while last_reported < 200 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            last_reported = int(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert last_reported >= 200, "the recording child did not get going"
    run = load_run(tmp_path)
    numbers = [s.step for s in run.steps]
    # Every step whose call returned is there although no fsync of events.jsonl had finished; at most the
    # step being written when the kill came is cut (and dropped by the reader).
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= last_reported
    assert run.ended is None and NOT_ENDED_WARNING in run.warnings
    assert all(s.observation == "y" * 5000 for s in run.steps)


def test_the_library_loading_event_is_recorded_and_folded(tmp_path):
    recorder = Recorder(tmp_path, TASK, {})
    recorder(started())
    model = EpisodeModel()
    for event in (ev.ModelQueryStarted(step=1), ev.ModelLibraryLoading(step=1)):
        recorder(event)
        model.apply(event)
    assert model.live is not None and model.live.loading_library and model.live.thinking
    done = ev.ModelLibraryLoading(step=1, done=True, seconds=2.5)
    recorder(done)
    model.apply(done)
    assert not model.live.loading_library
    recorder.close()
    run = load_run(tmp_path)
    assert [e for e in run.events if e.type == "model_library_loading"][-1] == done
    assert json.loads((tmp_path / f"{TASK}.traj").read_text())["trajectory"] == []


LITELLM_CHILD = textwrap.dedent(
    """
    import asyncio, importlib.abc, json, sys, threading
    sys.path.insert(0, {tests!r})
    from agents_helpers import scripted_config
    from episode_helpers import answer
    from model_server import ScriptedModelServer

    from mlgym_tui.agents.factory import create_policy
    from mlgym_tui.stream import events as ev

    assert "litellm" not in sys.modules
    seen = {{}}
    release = threading.Event()

    class Spy(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "litellm" and "thread" not in seen:
                seen["thread"] = threading.get_ident()
                # Hold the import until the model call is seen waiting for it: the wait path, every time.
                seen["released"] = release.wait(30)
            return None

    sys.meta_path.insert(0, Spy())

    async def main():
        server = ScriptedModelServer().start()
        server.set_script([answer("ls", "Look around.")])
        events = []

        def emit(event):
            events.append(event)
            if isinstance(event, ev.ModelLibraryLoading) and not event.done:
                release.set()

        config = scripted_config(server.api_base)
        policy = create_policy(config, command_docs="", task_description="a task", emit=emit)
        ticks = 0

        async def heartbeat():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.005)

        beat = asyncio.get_running_loop().create_task(heartbeat())
        proposal = await policy.propose(1, "", {{}})
        beat.cancel()
        server.stop()
        print(json.dumps({{
            "loop_thread": threading.get_ident(),
            "import_thread": seen.get("thread"),
            "released": seen.get("released"),
            "action": proposal.action,
            "types": [e.type for e in events],
            "loading": [[e.done, e.seconds] for e in events if isinstance(e, ev.ModelLibraryLoading)],
            "ticks": ticks,
        }}))

    asyncio.run(main())
    """
).format(tests=str(TESTS))


def test_litellm_is_imported_off_the_event_loop_and_the_first_call_awaits_it():
    proc = subprocess.run([sys.executable, "-c", LITELLM_CHILD], capture_output=True, text=True, timeout=180,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["import_thread"] is not None and out["import_thread"] != out["loop_thread"]
    assert out["released"] is True and out["action"] == "ls"
    # The model call said it waited for the library, then streamed its answer; the loop ran meanwhile.
    assert out["types"][:3] == ["model_query_started", "model_library_loading", "model_library_loading"]
    assert out["loading"][0] == [False, 0.0] and out["loading"][1][0] is True and out["loading"][1][1] > 0
    assert "model_response" in out["types"] and out["ticks"] > 1


async def test_the_episode_screen_shows_the_model_library_loading():
    """The loading state comes from the recorded events alone, so a replay shows it as the live view did."""
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.sample_events import T0, sample_episode
    from mlgym_tui.tui.screens.episode import EpisodeScreen
    from mlgym_tui.tui.widgets.status_bar import LOADING_LIBRARY

    events = sample_episode(1, with_end=False)
    cut = next(i for i, e in enumerate(events) if isinstance(e, ev.ModelQueryStarted)) + 1
    shown = events[:cut] + [ev.ModelLibraryLoading(step=1)]
    app = MLGymApp(deterministic=True, start_screen=EpisodeScreen(events=shown, clock=lambda: T0 + 100))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        live, bar = app.screen.query_one("#live-card"), app.screen.query_one("#status-bar")
        paint = lambda w: "\n".join(w.render_line(y).text for y in range(w.size.height))  # noqa: E731
        assert "loading the model library" in paint(live)
        assert bar.busy == LOADING_LIBRARY and LOADING_LIBRARY in paint(bar)
        app.screen.feed([ev.ModelLibraryLoading(step=1, done=True, seconds=1.5)])
        await pilot.pause(0.15)  # the flush timer
        assert "loading the model library" not in paint(live)
        assert bar.busy == "waiting for the model"
