"""Human-baseline sessions: --time-limit parsing, human.json (who played, the limit, the note) written atomically and
read back, the replay showing it, the status bar's clock and the warning point."""

from __future__ import annotations

import json
import re

import pytest
from replay_helpers import write_run

from mlgym_tui.commands.play import parse_duration
from mlgym_tui.stream import events as ev
from mlgym_tui.trajectory.human_note import HUMAN_FILE, HumanNote, read_human_note, write_human_note
from mlgym_tui.tui.sample_events import T0, sample_episode
from mlgym_tui.tui.screens.episode import warning_point
from mlgym_tui.tui.widgets.status_bar import format_left


@pytest.mark.parametrize("text, seconds", [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("45s", 45),
                                           ("1h0m5s", 3605), (" 20S ", 20)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2 hours", "90", "1m30", "0m", "h", "-5m", "1.5h"])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match=r"90m|positive duration"):
        parse_duration(text)


def test_time_left_and_when_it_warns():
    assert [format_left(s) for s in (3909, 598.2, 7, 0.2, -3)] == ["1:05:09", "9:59", "0:07", "0:01", "0:00"]
    assert warning_point(7200) == 600  # 10 minutes before the end of a 2 h session
    assert warning_point(20) == 10  # half of a short one


def test_human_note_round_trip_and_a_broken_one(tmp_path):
    path = write_human_note(tmp_path, HumanNote(who="ada", note="tried ε-greedy", time_limit_s=7200.0))
    assert path.name == HUMAN_FILE and json.loads(path.read_text())["note"] == "tried ε-greedy"
    assert read_human_note(tmp_path) == HumanNote("ada", "tried ε-greedy", 7200.0)
    assert not list(tmp_path.glob(".human.json.*"))  # the temp file of the atomic write is gone
    path.write_text("{not json")
    assert read_human_note(tmp_path) is None
    assert read_human_note(tmp_path / "missing") is None


async def test_replay_shows_who_played_and_the_note(tmp_path):
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.replay.screen import ReplayScreen

    events = sample_episode(3)
    first = events[0]
    events[0] = ev.EpisodeStarted(
        t=first.t, run_id="human", task_id=first.task_id, agent="human", model="human", mode="human",
        engine="docker", max_steps=10, cost_limit=0.0, baseline=first.baseline, metrics=first.metrics,
        who="ada", wall_time_s=7200.0)
    run_dir = write_run(tmp_path, events)
    write_human_note(run_dir, HumanNote(who="ada", note="tried ε-greedy", time_limit_s=7200.0))
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(run_dir, clock=lambda: T0 + 100))
    async with app.run_test(size=(200, 40)) as pilot:
        while not app.screen.loaded:
            await pilot.pause(0.02)
        await pilot.pause(0.1)
        line = app.screen.query_one("#status-bar").detail
        assert "HUMAN baseline by ada, limit 2h00m00s" in line and "note: tried ε-greedy" in line


async def test_quitting_a_session_asks_for_the_note_before_the_app_goes(tmp_path):
    import time

    from episode_helpers import runtime

    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.episode_request import EpisodeRequest
    from mlgym_tui.tui.screens.choice import ChoiceDialog
    from mlgym_tui.tui.screens.end_note import EndNoteDialog
    from mlgym_tui.tui.screens.episode import EpisodeScreen

    async def until(pilot, predicate, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await pilot.pause(0.05)

    request = EpisodeRequest.human("battleOfSexes", engine="local", wall_time_s=3600.0, who="ada")
    app = MLGymApp(request=request, deterministic=True, runs_dir=tmp_path / "runs",
                   episode_options={"runtime": runtime()})
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, EpisodeScreen) and app.screen.controller is not None
                    and app.screen.controller.awaiting == "human", "the session")
        screen = app.screen
        await until(pilot, lambda: "left" in str(screen.query_one("#status-bar").render()), "the time left")
        assert re.search(r"⏱ (1:00:00|59:[0-5]\d) left", str(screen.query_one("#status-bar").render()))
        run_dir = screen.controller.run_dir
        screen.query_one("#transcript").focus()
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the quit dialog")
        app.screen.query_one("#choice-end").press()
        await until(pilot, lambda: isinstance(app.screen, EndNoteDialog), "the note dialog")
        await pilot.press(*"out of time", "enter")
        await until(pilot, lambda: not app.is_running, "the app to quit")
    assert read_human_note(run_dir) == HumanNote("ada", "out of time", 3600.0)
