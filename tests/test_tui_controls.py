"""Every control key against a real Controller: local engine (fast; isolation is not the point here) and the
scripted OpenAI-compatible model server. Assertions look at Controller state, the recorded events and the screen."""

from __future__ import annotations

import asyncio
import time

from episode_helpers import Collector, agent, answer, runtime
from model_server import scripted_server  # noqa: F401
from quick_game import use_quick_game

from mlgym_tui.stream import events as ev
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.episode_request import EpisodeRequest
from mlgym_tui.tui.screens.choice import ChoiceDialog
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.screens.prompt import PromptScreen
from mlgym_tui.tui.widgets.step_card import StepCard

TASK = "battleOfSexes"
SIZE = (120, 40)


def make_app(server, tmp_path, mode: str) -> MLGymApp:
    request = EpisodeRequest(task_id=TASK, engine="local", mode=mode)
    return MLGymApp(request=request, deterministic=True, runs_dir=tmp_path / "runs",
                    episode_options={"agent_config": agent(server, max_steps=30), "runtime": runtime()})


async def until(pilot, predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            notes = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for {what} (notifications: {notes})")
        await pilot.pause(0.05)


async def episode_screen(app, pilot) -> tuple[EpisodeScreen, Collector]:
    await until(pilot, lambda: isinstance(app.screen, EpisodeScreen) and app.screen.controller is not None,
                "the controller to start")
    screen = app.screen
    seen = Collector()
    screen.controller.subscribe(seen)
    return screen, seen


async def stop_from_keys(app, pilot, screen, choice: str) -> None:
    """ctrl+k outside any text box, then the stop dialog's answer: submit (the default: Enter) or end."""
    screen.query_one("#transcript").focus()
    await pilot.press("ctrl+k")
    await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the stop dialog")
    if choice == "submit":
        await pilot.press("enter")
    else:
        app.screen.query_one(f"#choice-{choice}").press()
    await until(pilot, lambda: app.screen is screen, "the dialog to close")


def steps(seen) -> list[tuple[str, str]]:
    return [(s.author, s.action) for s in seen.of(ev.StepRecorded)]


async def test_confirm_mode_approve_edit_reject_from_keys(scripted_server, tmp_path):
    scripted_server.set_script([answer("echo first"), answer("echo second"), answer("echo third"),
                                answer("echo fourth")] + [answer("echo more")] * 5)
    app = make_app(scripted_server, tmp_path, "confirm")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.awaiting == "approval" and screen.query_one("#pending").display,
                    "the first proposal on screen")
        assert "echo first" in screen.query_one("#pending-action").render_line(0).text
        await pilot.press("a")
        await until(pilot, lambda: c.awaiting == "approval" and c.pending.action == "echo second", "second proposal")
        assert steps(seen) == [("agent", "echo first")]
        # edit: open the TextArea, change the text, run it
        await pilot.press("e")
        editor = screen.query_one("#pending-editor")
        assert editor.display and editor.has_focus and editor.text == "echo second"
        editor.text = "echo edited"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: c.awaiting == "approval" and c.pending.action == "echo third", "third proposal")
        recorded = seen.of(ev.StepRecorded)[-1]
        assert (recorded.action, recorded.edited_from) == ("echo edited", "echo second")
        # reject with a comment
        await pilot.press("r")
        comment = screen.query_one("#pending-comment")
        assert comment.has_focus
        await pilot.press(*"not that", "enter")
        await until(pilot, lambda: c.awaiting == "approval" and c.pending.action == "echo fourth", "fourth proposal")
        rejected = seen.of(ev.ActionRejected)
        assert [(r.action, r.comment) for r in rejected] == [("echo third", "not that")]
        await pilot.pause(0.2)
        cards = list(screen.query(StepCard))
        assert any(card.has_class("-rejected") for card in cards)
        assert any(card.step_view.edited_from == "echo second" for card in cards)
        await stop_from_keys(app, pilot, screen, "end")
        await until(pilot, lambda: c.done, "the episode to stop")
        assert c.exit_status == "early_exit"


async def test_pause_step_modes_takeover_inject_message_stop(scripted_server, tmp_path):
    scripted_server.set_script([answer(f"echo agent{i}") for i in range(25)])
    app = make_app(scripted_server, tmp_path, "auto")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await pilot.press("p")
        assert c.paused
        await until(pilot, lambda: c.awaiting == "paused", "paused at a boundary")
        await pilot.pause(0.1)
        assert screen.query_one("#status-bar").mode_label() == "PAUSED"
        before = c.step
        await pilot.press("n")
        await until(pilot, lambda: c.step == before + 1 and c.awaiting == "paused", "exactly one step")
        assert c.paused
        # mode switches are priority bindings: they work while the shell input has focus
        screen.query_one("#shell-input").focus()
        await pilot.press("f3")
        assert c.mode == "confirm" and screen.query_one("#status-bar").mode == "confirm"
        await pilot.press("f2")
        assert c.mode == "auto"
        assert screen.query_one("#shell-input").value == ""  # the keys did not type into the input
        # take over: human mode, the shell input gets focus; a typed command is the next (human) step
        await pilot.press("ctrl+o")
        assert c.mode == "human" and screen.query_one("#shell-input").has_focus
        await pilot.press("p")  # typed into the input (not a pause toggle): 'p' is not a priority binding
        screen.query_one("#shell-input").value = "echo by-a-human"
        await pilot.press("enter")
        await until(pilot, lambda: ("human", "echo by-a-human") in steps(seen), "the human step")
        assert c.paused and c.step == before + 2  # human mode runs the typed command, then pauses again
        await until(pilot, lambda: "echo by-a-human" in screen.query_one("#shell-view").terminal.plain(),
                    "the command in the shell pane")
        await pilot.press("ctrl+o")  # hand back to the agent
        assert c.mode == "auto" and c.paused
        # message the agent through the prompt
        screen.query_one("#transcript").focus()
        await pilot.press("m")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"use numpy", "enter")
        assert [m.text for m in seen.of(ev.MessageToAgent)] == ["use numpy"], [n.message for n in app._notifications]
        # inject a command: it runs at the next boundary as a human step
        await pilot.press("i")
        await pilot.press(*"echo injected", "enter")
        await pilot.press("n")
        await until(pilot, lambda: ("human", "echo injected") in steps(seen), "the injected step")
        await pilot.pause(0.2)
        assert any(card.step_view.author == "human" and card.has_class("-human") for card in screen.query(StepCard))
        await stop_from_keys(app, pilot, screen, "end")
        await until(pilot, lambda: c.done, "stop")
        assert c.exit_status == "early_exit"
        await pilot.pause(0.2)
        assert "ended: early_exit" in screen.query_one("#status-bar").detail


async def test_interrupt_a_running_command(scripted_server, tmp_path):
    scripted_server.set_script([answer("sleep 30"), answer("echo after")] + [answer("echo more")] * 5)
    app = make_app(scripted_server, tmp_path, "auto")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.running_command == "sleep 30", "the long command")
        await until(pilot, lambda: screen.query_one("#status-bar").busy == "running command", "a busy status")
        started = time.monotonic()
        await pilot.press("ctrl+b")
        await until(pilot, lambda: any(f.interrupted for f in seen.of(ev.CommandFinished)), "the interrupt")
        assert time.monotonic() - started < 15
        await until(pilot, lambda: ("agent", "echo after") in steps(seen), "the shell to survive")
        c.stop()
        await until(pilot, lambda: c.done, "stop")
        await asyncio.sleep(0)


# ------------------------------------------------------------------ no accidental loss (issue 14)

def quick_app(server, tmp_path, mode: str = "auto") -> MLGymApp:
    """quickGame: scoring takes a second, not the bundled games' 120,000 proxied calls."""
    use_quick_game(tmp_path)
    request = EpisodeRequest(task_id="quickGame", engine="local", mode=mode)
    return MLGymApp(request=request, deterministic=True, runs_dir=tmp_path / "runs",
                    episode_options={"agent_config": agent(server, max_steps=30), "runtime": runtime()})


async def test_ctrl_k_in_the_edit_box_edits_and_never_stops(scripted_server, tmp_path):
    scripted_server.set_script([answer("echo keep this-part-goes")] + [answer("echo more")] * 5)
    app = make_app(scripted_server, tmp_path, "confirm")
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.awaiting == "approval", "the proposal")
        await pilot.press("e")
        editor = screen.query_one("#pending-editor")
        assert editor.has_focus
        editor.move_cursor((0, len("echo keep")))
        await pilot.press("ctrl+k")  # readline's kill-line: cuts the rest of the line, nothing else
        await pilot.pause(0.3)
        assert editor.text == "echo keep"
        assert not c.done and c.state.queued_commands == 0 and app.screen is screen
        # in the command line too
        line = screen.query_one("#shell-input")
        line.focus()
        await pilot.pause(0.1)  # (focusing selects the line's text; the keys come after)
        line.value = "echo abc"
        line.cursor_position = 4
        await pilot.press("ctrl+k")
        await pilot.pause(0.2)
        assert line.value == "echo" and not c.done and app.screen is screen
        c.stop()
        await until(pilot, lambda: c.done, "stop")


async def test_stop_asks_then_scores_the_last_valid_submission(scripted_server, tmp_path):
    scripted_server.set_script([answer("validate"), answer("echo after")] + [answer("echo more")] * 20)
    app = quick_app(scripted_server, tmp_path, "confirm")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.awaiting == "approval", "the validate proposal")
        await pilot.press("a")
        await until(pilot, lambda: seen.of(ev.ValidationScored), "the validation", timeout=120)
        await until(pilot, lambda: c.awaiting == "approval", "the next proposal")
        validated = seen.of(ev.ValidationScored)[0].metrics
        # escape in the dialog keeps the episode going
        screen.query_one("#transcript").focus()
        await pilot.press("ctrl+k")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the stop dialog")
        assert app.screen.focused.id == "choice-submit"  # the default
        await pilot.press("escape")
        await pilot.pause(0.3)
        assert not c.done
        await stop_from_keys(app, pilot, screen, "submit")
        await until(pilot, lambda: c.done, "the stop", timeout=120)
        assert c.exit_status == "autosubmission (early_exit)"
        final = [v for v in seen.of(ev.ValidationScored) if v.final]
        assert final and final[-1].metrics.keys() == validated.keys()
        assert c.succeeded


async def test_stop_without_score_has_none(scripted_server, tmp_path):
    scripted_server.set_script([answer("validate"), answer("echo after")] + [answer("echo more")] * 20)
    app = quick_app(scripted_server, tmp_path, "confirm")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.awaiting == "approval", "the validate proposal")
        await pilot.press("a")
        await until(pilot, lambda: seen.of(ev.ValidationScored), "the validation", timeout=120)
        await stop_from_keys(app, pilot, screen, "end")
        await until(pilot, lambda: c.done, "the stop", timeout=60)
        assert c.exit_status == "early_exit"
        assert not [v for v in seen.of(ev.ValidationScored) if v.final] and not c.succeeded


async def test_quit_with_a_running_episode_asks(scripted_server, tmp_path):
    scripted_server.set_script([answer(f"echo agent{i}") for i in range(25)])
    app = make_app(scripted_server, tmp_path, "confirm")
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.awaiting == "approval", "the proposal")
        screen.query_one("#transcript").focus()
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the quit dialog")
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert app.is_running and not c.done and app.screen is screen
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the quit dialog again")
        app.screen.query_one("#choice-end").press()
        await until(pilot, lambda: c.done, "the episode to end")
        assert c.exit_status == "early_exit"
        await until(pilot, lambda: not app.is_running, "the app to quit")


async def test_focus_follows_the_task_take_over_then_hand_back(scripted_server, tmp_path):
    scripted_server.set_script([answer("echo first"), answer("echo after-hand-back")] + [answer("echo more")] * 5)
    app = make_app(scripted_server, tmp_path, "confirm")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.awaiting == "approval", "the first proposal")
        await pilot.pause(0.2)
        assert screen.query_one("#pending-approve").has_focus  # a decision is awaited: the card has the focus
        await pilot.press("ctrl+o")
        await until(pilot, lambda: screen.query_one("#shell-input").has_focus, "the command line on take-over")
        await pilot.press(*"echo mine", "enter")
        await until(pilot, lambda: ("human", "echo mine") in steps(seen), "the human step")
        await pilot.press("ctrl+o")  # hand back: the next decision takes the focus from the command line
        await until(pilot, lambda: c.mode == "confirm" and c.awaiting == "approval", "a proposal after hand-back")
        await until(pilot, lambda: screen.query_one("#pending-approve").has_focus, "the confirm card's focus")
        await pilot.press("a")  # approves: not typed into the command line
        await until(pilot, lambda: len(steps(seen)) == 2, "the approved step")
        assert steps(seen)[-1][0] == "agent" and screen.query_one("#shell-input").value == ""
        c.stop()
        await until(pilot, lambda: c.done, "stop")


async def test_leave_a_running_episode_and_come_back_from_the_browser(scripted_server, tmp_path):
    from mlgym_tui.tui.screens.task_browser import TaskBrowser

    scripted_server.set_script([answer(f"sleep 0.5; echo agent{i}") for i in range(40)])
    app = make_app(scripted_server, tmp_path, "auto")
    async with app.run_test(size=SIZE) as pilot:
        screen, seen = await episode_screen(app, pilot)
        c = screen.controller
        await until(pilot, lambda: c.step >= 2, "two steps")
        screen.query_one("#shell-input").focus()
        await pilot.pause(0.1)
        await pilot.press("escape")  # in a text box: leaves the box, not the screen
        await pilot.pause(0.2)
        assert app.screen is screen and screen.query_one("#transcript").has_focus
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the leave dialog")
        await pilot.press("enter")  # leave (the default)
        await until(pilot, lambda: isinstance(app.screen, TaskBrowser), "the task browser")
        left_at = c.step
        await until(pilot, lambda: c.step >= left_at + 2, "steps while the screen is away")
        assert not c.done
        browser = app.screen
        await until(pilot, lambda: browser.query_one("#running-episodes").display, "the running episodes line")
        assert "e to return" in str(browser.query_one("#running-episodes").render())
        await pilot.press("e")
        await until(pilot, lambda: app.screen is screen, "the same episode screen again")
        await pilot.pause(0.3)
        shown = [card.step_view.action for card in screen.query(StepCard)]
        assert "sleep 0.5; echo agent0" in shown and "sleep 0.5; echo agent1" in shown  # the transcript is intact
        assert len(screen.model.steps) >= left_at + 2  # and it kept following while away
        # the run's row in past runs opens the live screen too, not a replay of its file
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the leave dialog")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, TaskBrowser), "the task browser again")
        app.screen.open_replay(c.run_dir)
        await until(pilot, lambda: app.screen is screen, "the live screen from its run's row")
        c.stop()
        await until(pilot, lambda: c.done, "stop")
        await pilot.press("escape")  # an ended episode's screen is left without a question, and let go
        await until(pilot, lambda: isinstance(app.screen, TaskBrowser), "the browser")
        await pilot.pause(0.2)
        assert screen not in app.episodes
