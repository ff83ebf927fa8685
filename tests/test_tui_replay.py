"""The replay screen on a fixed recorded run: every cursor move, the timeline, search, failure/validation/human
jumps, the author filter, damaged files, the MLGym .traj fixture, the task browser and the file picker."""

from __future__ import annotations

from pathlib import Path

from replay_helpers import write_run

from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.sample_events import T0
from mlgym_tui.tui.replay.screen import ReplayScreen
from mlgym_tui.tui.screens.task_browser import TaskBrowser
from mlgym_tui.tui.widgets.step_card import StepCard
from mlgym_tui.tui.widgets.timeline import Timeline

SIZE = (120, 40)
FIXTURE = Path(__file__).parent / "fixtures" / "mlgym_sample.traj"


def painted(widget) -> str:
    return "\n".join(widget.render_line(y).text for y in range(widget.size.height))


async def opened(pilot) -> ReplayScreen:
    while not (isinstance(pilot.app.screen, ReplayScreen) and pilot.app.screen.loaded):
        await pilot.pause(0.02)
    await pilot.pause()
    return pilot.app.screen


def replay_app(path, **kw) -> MLGymApp:
    return MLGymApp(deterministic=True, start_screen=ReplayScreen(path, clock=lambda: T0 + 100, **kw))


def shown_steps(screen: ReplayScreen) -> list[int]:
    return [s.step for s in screen.model.steps]


def marked(card) -> str:
    """The text painted with the search highlight (yellow background) in a card."""
    out = []
    for y in range(card.size.height):
        for segment in card.render_line(y):
            if segment.style is not None and segment.style.bgcolor is not None and segment.style.bgcolor.name == "yellow":
                out.append(segment.text)
    return "".join(out)


def shell(screen: ReplayScreen) -> str:
    return screen.query_one("#shell-view").terminal.plain()


async def test_cursor_moves_show_each_step_as_it_was(tmp_path):
    run_dir = write_run(tmp_path)
    app = replay_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        # opens on the last step, everything shown
        assert screen.cursor == 9 and shown_steps(screen) == list(range(1, 10))
        assert "9 of 13" in painted(screen.query_one("#metrics-figures"))
        await pilot.press("left")
        assert screen.cursor == 8 and shown_steps(screen)[-1] == 8
        assert "round 8" in shell(screen) and "round 9" not in shell(screen)
        await pilot.press("home")
        assert screen.cursor == 1 and shown_steps(screen) == [1]
        figures = painted(screen.query_one("#metrics-figures"))
        assert "1 of 13" in figures and "901 in / 40 out" in figures and "best   - Score" in figures
        assert "elapsed 0:00:01" in figures  # time as it was at step 1, not the clock
        assert "round 1" in shell(screen) and "round 2" not in shell(screen)
        await pilot.press("right")
        assert screen.cursor == 2 and shown_steps(screen) == [1, 2]
        await pilot.press("end")
        assert screen.cursor == 9 and "ended: submitted" in screen.query_one("#status-bar").detail
        # a backward jump rebuilds: metrics, validations and shell as at step 3
        await pilot.press("colon")
        await pilot.press(*"3", "enter")
        await pilot.pause()
        assert screen.cursor == 3 and shown_steps(screen) == [1, 2, 3]
        assert screen.model.validations == [(3, {"Score": 1.01})] and screen.model.exit_status is None
        figures = painted(screen.query_one("#metrics-figures"))
        assert "3 of 13" in figures and "1.01 Score" in figures
        assert "round 3" in shell(screen) and "round 4" not in shell(screen)
        assert "step 3/9" in screen.query_one("#status-bar").detail
        # the cursor card is marked
        await pilot.pause()
        cards = list(screen.query(StepCard))
        assert cards[-1].step_view.step == 3 and cards[-1].has_class("-cursor")
        # . and , move too; a step number that does not exist is refused
        await pilot.press("full_stop", "full_stop", "comma")
        assert screen.cursor == 4
        await pilot.press("colon", *"42", "enter")
        await pilot.pause()
        assert screen.cursor == 4


async def test_the_trust_label_stays_at_every_step(tmp_path):
    import dataclasses

    from replay_helpers import replay_events

    events = replay_events()
    events[0] = dataclasses.replace(events[0], trust="unisolated", trust_reason="the local runtime")
    app = replay_app(write_run(tmp_path, events))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert "trust  unisolated (the local runtime)" in painted(screen.query_one("#metrics-figures"))
        await pilot.press("home")  # a jump back restores the model from a snapshot: the label is kept
        assert "trust  unisolated" in painted(screen.query_one("#metrics-figures"))


async def test_timeline_marks_failures_validations_and_humans_and_jumps_on_click(tmp_path):
    app = replay_app(write_run(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        index = screen.index
        assert index.failures == [4, 7, 8]  # exit 1, format error, timeout
        assert index.validations == [3, 6, 9] and index.humans == [5]
        timeline = screen.query_one(Timeline)
        line = painted(timeline).splitlines()[0]
        assert line.strip()[:9] == "──◆✗H◆✗✗◆"
        await pilot.click(Timeline, offset=(1 + 4, 0))  # padding 1, then the 5th cell
        await pilot.pause()
        assert screen.cursor == 5


async def test_failure_validation_and_human_jumps(tmp_path):
    app = replay_app(write_run(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("home")
        seen = []
        for _ in range(4):
            await pilot.press("x")
            seen.append(screen.cursor)
        assert seen == [4, 7, 8, 8]  # no later failure: stays
        await pilot.press("X")
        assert screen.cursor == 7
        await pilot.press("v")
        assert screen.cursor == 9
        await pilot.press("V", "V")
        assert screen.cursor == 3
        await pilot.press("u")
        assert screen.cursor == 5
        await pilot.press("U")
        assert screen.cursor == 5


async def test_search_next_previous_highlight_and_author_filter(tmp_path):
    app = replay_app(write_run(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("slash")
        box = screen.query_one("#replay-search")
        assert box.display and box.has_focus
        await pilot.press(*"EVALUATE.py --round", "enter")  # case-insensitive, in actions
        await pilot.pause()
        assert not box.display
        assert screen.state.matches == [1, 2, 4, 5, 7, 8]
        assert screen.cursor == 1  # nothing after the last step: wrapped to the first match
        await pilot.press("n")
        assert screen.cursor == 2
        await pilot.press("n")
        assert screen.cursor == 4
        await pilot.press("N")
        assert screen.cursor == 2
        assert "/EVALUATE.py --round: 2 of 6" in screen.query_one("#status-bar").detail
        await pilot.pause(0.1)
        card = screen.body.transcript.highlighted
        assert card is not None and card.step_view.step == 2 and card.has_class("-cursor")
        assert marked(card) == "evaluate.py --round"  # exactly the match, in the action
        # observations are searched: a match in the folded tail is highlighted where it is
        await pilot.press("slash", *"line 29", "enter")
        await pilot.pause(0.1)
        assert screen.state.matches == [2] and screen.cursor == 2
        assert marked(screen.body.transcript.highlighted) == "line 29"
        # a match the fold hides is shown with its neighbours, the rest stays folded (the card still fits)
        await pilot.press("slash")
        screen.query_one("#replay-search").value = ""
        await pilot.press(*"LINE 15:", "enter")
        await pilot.pause(0.1)
        card = screen.body.transcript.highlighted
        assert screen.state.matches == [2] and card.step_view.step == 2 and not card.expanded
        assert marked(card) == "line 15:"
        text = painted(card)
        assert "round 2 line 14:" in text and "round 2 line 16:" in text and "round 2 line 12:" not in text
        assert "… 6 more lines" in text and "… 10 more lines" in text  # lines 8-13 and 17-26
        transcript = screen.query_one("#transcript")
        assert card.outer_size.height <= transcript.scrollable_content_region.height
        # clearing the search folds the card back
        screen.search("")
        await pilot.pause()
        assert card.step_view.step == 2 and "round 2 line 15:" not in painted(card) and not marked(card)
        # thoughts are searched
        await pilot.press("slash")
        screen.query_one("#replay-search").value = ""
        await pilot.press(*"step 6: i will", "enter")
        assert screen.state.matches == [6] and screen.cursor == 6
        # author filter: agent hides the human step 5 from the transcript and the cursor skips it
        await pilot.press("a")
        assert screen.author_filter == "agent"
        await pilot.press("left")
        assert screen.cursor == 4 and 5 not in shown_steps(screen) and shown_steps(screen)[-1] == 4
        await pilot.press("right")
        assert screen.cursor == 6
        # human filter: only step 5; search matches by others are skipped
        await pilot.press("a")
        assert screen.author_filter == "human" and screen.cursor == 5 and shown_steps(screen) == [5]
        await pilot.pause()
        timeline = screen.query_one(Timeline)  # the filter is bound into the timeline: other authors' steps dimmed
        assert timeline.author_filter == "human" and painted(timeline).splitlines()[0].strip()[:9] == "··◆✗H◆✗✗◆"
        await pilot.press("slash")
        screen.query_one("#replay-search").value = ""
        await pilot.press(*"evaluate.py", "enter")
        await pilot.press("n")
        assert screen.cursor == 5
        await pilot.press("left")
        assert screen.cursor == 5
        await pilot.press("a")
        assert screen.author_filter is None
        await pilot.pause()
        assert painted(screen.query_one(Timeline)).splitlines()[0].strip()[:9] == "──◆✗H◆✗✗◆"
        await pilot.press("escape")  # clears the search
        assert screen.query_text == "" and "/evaluate" not in screen.query_one("#status-bar").detail


async def test_truncated_file_opens_with_what_it_holds_and_a_notice(tmp_path):
    run_dir = write_run(tmp_path)
    events = run_dir / "events.jsonl"
    data = events.read_bytes()
    cut = data.rfind(b'"type": "step"')  # in the middle of the last step's line
    events.write_bytes(data[:cut + 30])
    app = replay_app(run_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert screen.index.total == 8 and screen.cursor == 8
        notice = screen.query_one("#replay-notice")
        text = painted(notice)
        assert notice.display and "last line truncated" in text and "run has not ended" in text
        assert "warning(s)" in screen.query_one("#status-bar").detail
        assert any("last line truncated" in n.message for n in app._notifications)


async def test_mlgym_traj_fixture_opens_and_steps(tmp_path):
    app = replay_app(FIXTURE)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert screen.index.total == 5 and screen.cursor == 5
        assert "task mlgym_sample" in screen.query_one("#status-bar").detail
        assert "Evaluation Score" in shell(screen)  # the shell is drawn from the observations
        await pilot.press("home")
        assert screen.cursor == 1 and "Evaluation Score" not in shell(screen)
        assert screen.index.validations  # the validate step's score is marked


async def test_missing_file_reports_and_does_not_crash(tmp_path):
    app = replay_app(tmp_path / "nothing-here")
    async with app.run_test(size=SIZE) as pilot:
        while not app.screen.warnings:
            await pilot.pause(0.02)
        assert "no such file" in painted(app.screen.query_one("#replay-notice"))
        await pilot.press("right", "x", "slash", "a", "enter")  # nothing loaded: keys are harmless


async def test_task_browser_opens_past_runs_and_the_file_picker(tmp_path):
    runs = tmp_path / "runs"
    run_dir = write_run(runs)
    app = MLGymApp(deterministic=True, runs_dir=runs)
    async with app.run_test(size=SIZE) as pilot:
        browser = app.screen
        assert isinstance(browser, TaskBrowser)
        while not browser.loaded:
            await pilot.pause(0.02)
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = browser.query_one("#task-table")
        row = list(browser.tasks).index("battleOfSexes")
        table.move_cursor(row=table.get_row_index("battleOfSexes"))
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        runs_table = browser.query_one("#runs-table")
        assert runs_table.row_count == 1, row
        runs_table.focus()
        await pilot.press("enter")
        screen = await opened(pilot)
        assert screen.path == run_dir and screen.index.total == 9
        await pilot.press("escape")
        assert app.screen is browser
        # the file picker: type a path, enter
        browser.query_one("#task-table").focus()
        await pilot.press("o")
        await pilot.pause()
        path_input = app.screen.query_one("#picker-path")
        path_input.value = str(FIXTURE)
        await pilot.press("enter")
        screen = await opened(pilot)
        assert screen.path == FIXTURE and screen.index.total == 5


async def test_a_query_typed_at_full_speed_after_slash_goes_into_the_search(tmp_path):
    """Keys queued together (a paste, tmux send-keys) all land in the search box: none of the query's letters
    reaches the replay's own keys (a: author filter, t: follow, x: next failure)."""
    from textual import events

    app = replay_app(write_run(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("home")
        for char in "/at x\r":
            key = {"/": "slash", " ": "space", "\r": "enter"}.get(char, char)
            app.post_message(events.Key(key, char))  # all queued before the first is handled
        await pilot.pause(0.2)
        assert screen.author_filter is None and not screen.follow
        assert screen.query_text == "at x"
        # a / typed in the search box is part of the query, not a new search
        await pilot.press("escape", "escape")
        for char in "/a/b\r":
            key = {"/": "slash", "\r": "enter"}.get(char, char)
            app.post_message(events.Key(key, char))
        await pilot.pause(0.2)
        assert screen.query_text == "a/b" and screen.author_filter is None


async def test_an_mlgym_run_folder_replays_with_its_own_facts(tmp_path):
    """Baseline from the results.json beside it, the step limit MLGym told the agent, model and task from the
    folder name, and elapsed time from its own execution times (never the years since the epoch)."""
    import json
    import shutil

    from mlgym_tui.tui.widgets.metrics_pane import MetricsPane

    folder = tmp_path / "metagen-gpt-o1__blotto__default__t-0.00__p-0.95__c-4.00__install-0__parallel_agents_run_0"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "blotto.traj")
    (folder / "results.json").write_text(json.dumps({"agent": [{"Score": 1.44}], "baseline": {"Score": -0.248}}))
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(folder))  # the real clock, as a user gets it
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        detail = screen.query_one("#status-bar").detail
        assert "task blotto" in detail and "metagen-gpt-o1" in detail
        figures = screen.query_one(MetricsPane).query_one("#metrics-figures")
        metrics = painted(figures)
        assert "5 of 50" in metrics and "elapsed 0:00:13" in metrics, metrics  # 0.30 + 0.41 + 0.50 + 6.23 + 6.09 s
        assert "-0.248" in metrics
        await pilot.press("home")
        await pilot.pause()
        metrics = painted(figures)
        assert "1 of 50" in metrics and "elapsed 0:00:00" in metrics, metrics
