"""Every control key against a real Controller: local engine (fast; isolation is not the point here) and the
scripted OpenAI-compatible model server. Assertions look at Controller state, the recorded events and the screen."""

from __future__ import annotations

import asyncio
import time

from episode_helpers import Collector, agent, answer, runtime
from model_server import scripted_server  # noqa: F401

from mlgym_tui.stream import events as ev
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.episode_request import EpisodeRequest
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
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def episode_screen(app, pilot) -> tuple[EpisodeScreen, Collector]:
    await until(pilot, lambda: isinstance(app.screen, EpisodeScreen) and app.screen.controller is not None,
                "the controller to start")
    screen = app.screen
    seen = Collector()
    screen.controller.subscribe(seen)
    return screen, seen


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
        await pilot.press("ctrl+k")
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
        await pilot.press("ctrl+k")
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
