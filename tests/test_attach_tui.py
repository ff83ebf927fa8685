"""The live episode screen attached to an episode another "process" runs: a real Controller (the runner tests' fake
environment) served on a real Unix socket, RemoteEpisodes connected to it, keys pressed through Textual's pilot.

The screen works attached as when it runs the episode (transcript, confirm cards, pause, take over, inject, hand
back), the status bar names who holds control, a watcher's keys are refused with a notification, a request reaches
the holder as a dialog and giving control moves it; leaving detaches and the episode goes on. Also: `mlgym-tui
attach` refuses in one line (not running, process gone, wrong token), and the TUI's own episodes serve themselves.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

from test_control import Served

from mlgym_tui.control.client import RemoteEpisode
from mlgym_tui.control.endpoint import Endpoint, read_endpoint, write_endpoint
from mlgym_tui.stream import events as ev
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.screens.choice import ChoiceDialog
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.screens.prompt import PromptScreen
from mlgym_tui.tui.widgets.status_bar import StatusBar
from mlgym_tui.tui.widgets.step_card import StepCard

SIZE = (120, 40)
MLGYM_TUI = Path(sys.executable).parent / "mlgym-tui"


async def until(pilot, predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            notes = [n.message for n in pilot.app._notifications]
            raise AssertionError(f"timed out waiting for {what} (notifications: {notes})")
        await pilot.pause(0.02)


def bar(screen: EpisodeScreen) -> StatusBar:
    return screen.query_one(StatusBar)


def shows(screen: EpisodeScreen, action: str) -> bool:
    """The transcript has a card for a step that ran `action`."""
    return any(card.step_view.action == action for card in screen.query(StepCard))


def steps(screen: EpisodeScreen) -> list[tuple[str, str]]:
    return [(card.step_view.author, card.step_view.action) for card in screen.query(StepCard)]


def noted(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def test_an_attached_screen_steers_and_a_watcher_asks_for_control(tmp_path):
    async with Served(tmp_path / "run", mode="confirm") as s:
        ada = await RemoteEpisode.attach(tmp_path / "run", who="ada@lab")
        screen = EpisodeScreen(controller=ada)
        app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=screen, remove_orphans=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.screen is screen, "the attached screen")
            assert bar(screen).control == "nobody" and screen not in app.episodes  # not one this app runs
            # confirm mode: the proposal's card, approved by key; the first command takes control
            s.policy.answer("echo one")
            await until(pilot, lambda: screen.query_one("#pending").display
                        and "echo one" in screen.query_one("#pending-action").render_line(0).text, "the confirm card")
            await pilot.press("a")
            await until(pilot, lambda: s.env.ran == ["echo one"], "the approved action run by the episode")
            await until(pilot, lambda: shows(screen, "echo one") and bar(screen).control == "you",
                        "the step in the transcript and control held")
            assert [(e.who, e.command) for e in s.of(ev.CommandSent)] == [("ada@lab", "approve")]
            # pause, take over and type a command, hand back
            screen.query_one("#transcript").focus()
            await pilot.press("p")
            await until(pilot, lambda: s.c.paused and bar(screen).mode_label() == "PAUSED", "paused")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: s.c.mode == "human" and screen.focused is screen.body.shell_input, "taken over")
            await pilot.press(*"echo by-hand", "enter")
            await until(pilot, lambda: "echo by-hand" in s.env.ran and shows(screen, "echo by-hand"), "the human step")
            await pilot.press("ctrl+o")
            await until(pilot, lambda: s.c.mode == "confirm", "handed back (to confirm mode)")
            # inject (a prompt), run at the next boundary once resumed
            screen.query_one("#transcript").focus()
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, PromptScreen), "the inject prompt")
            await pilot.press(*"echo injected", "enter")
            await pilot.press("p")
            await until(pilot, lambda: "echo injected" in s.env.ran and not s.c.paused, "the injected command")
            await until(pilot, lambda: shows(screen, "echo injected"), "the injected step on screen")
            # f6 has no container here: it says where the terminal works
            await pilot.press("f6")
            await until(pilot, lambda: noted(app, "episode's own process"), "the f6 explanation")

            # a watcher: the same events, its keys refused while ada holds control
            bob = await RemoteEpisode.attach(tmp_path / "run", who="bob@lab")
            watcher = EpisodeScreen(controller=bob)
            await app.push_screen(watcher)
            await until(pilot, lambda: watcher.events_seen >= screen.events_seen > 0 and bar(watcher).control
                        == "ada@lab", "the watcher caught up")
            await until(pilot, lambda: steps(watcher) == steps(screen), "the watcher's transcript")
            assert [step for step in steps(watcher) if step[1]][:3] == [
                ("agent", "echo one"), ("human", "echo by-hand"), ("human", "echo injected")], steps(watcher)
            watcher.query_one("#transcript").focus()
            await pilot.press("p")
            await until(pilot, lambda: noted(app, "ada@lab holds control"), "the watcher's key refused")
            assert not s.c.paused
            # request -> the holder's dialog -> give: bob holds control and steers
            await pilot.press("ctrl+g")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the holder asked")
            assert "bob@lab requests control" in str(app.screen.query_one("#choice-question").render())
            await pilot.press("enter")  # the default: give
            await until(pilot, lambda: bob.holds_control and bar(watcher).control == "you"
                        and bar(screen).control == "bob@lab", "control handed to bob")
            await pilot.press("p")
            await until(pilot, lambda: s.c.paused, "paused by the new holder")
            assert [(e.holder, e.reason) for e in s.of(ev.ControlChanged)] == [
                ("ada@lab", "taken"), ("bob@lab", "handed over by ada@lab")]
            # leaving detaches (asked first); the episode goes on
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the detach question")
            await pilot.press("enter")
            await until(pilot, lambda: app.screen is screen and bob.lost is not None, "bob detached")
            await until(pilot, lambda: bar(screen).control == "nobody", "bob's control released at once")
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, ChoiceDialog), "the detach question on quit")
            await pilot.press("enter")
            await until(pilot, lambda: ada.lost is not None, "ada detached")
        assert not s.c.done and not app.is_running


async def test_a_lost_connection_is_said_and_the_screen_stops_treating_it_as_running(tmp_path):
    async with Served(tmp_path / "run") as s:
        viewer = await RemoteEpisode.attach(tmp_path / "run", who="ada@lab")
        screen = EpisodeScreen(controller=viewer)
        app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=screen, remove_orphans=False)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.screen is screen and screen.running, "the attached screen")
            await s.server.close("the episode's process is closing")
            await until(pilot, lambda: not screen.running and noted(app, "disconnected from the episode")
                        and screen.model.errors, "the loss told")
            assert "viewer: the episode's process is closing" in screen.model.errors[-1]
            assert bar(screen).control == ""
            await pilot.press("p")
            await until(pilot, lambda: noted(app, "not connected to the episode"), "a key refused after the loss")
            await pilot.press("escape")  # nothing runs any more: leaving does not ask
            await until(pilot, lambda: not app.is_running, "the app to quit with its only screen")


async def test_the_tui_serves_its_own_episodes_and_shows_an_attached_holder(tmp_path):
    """A screen that starts an episode serves it before it runs (a viewer attaches and steers); the status bar
    of the screen running it names the viewer holding control; the endpoint is gone once it ended."""
    run_dir = tmp_path / "run"
    harness = Served(run_dir)  # its Controller and fake environment, started by the screen this time

    async def starter():
        return harness.c

    screen = EpisodeScreen(starter=starter)
    app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=screen, remove_orphans=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: (run_dir / "control.json").exists() and screen.controller is not None,
                    "the endpoint written")
        assert read_endpoint(run_dir).pid == os.getpid() and screen in app.episodes
        viewer = await RemoteEpisode.attach(run_dir, who="eve@far")
        harness.policy.answer("echo 1")
        await until(pilot, lambda: harness.env.ran == ["echo 1"], "the agent's step")
        viewer.pause()
        await until(pilot, lambda: harness.c.paused and bar(screen).control == "eve@far", "the viewer's pause")
        await viewer.detach()
        await until(pilot, lambda: bar(screen).control == "", "control released")
        harness.c.stop()
        await until(pilot, lambda: not (run_dir / "control.json").exists() and not screen.running,
                    "the endpoint removed at the end")


# ==================================================================== the command's refusals


async def attach_cli(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(str(MLGYM_TUI), "attach", *args, stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, err.decode()


async def test_attach_refuses_in_one_line(tmp_path):
    ended = tmp_path / "ended"
    ended.mkdir()
    (ended / "events.jsonl").write_text("")
    code, err = await attach_cli(str(ended))
    assert code == 2 and err.strip().splitlines() == [
        f"mlgym-tui: error: {ended}: this run is not running (no control.json); open it with: "
        f"mlgym-tui replay {ended}"]

    gone = tmp_path / "gone"
    gone.mkdir()
    (gone / "events.jsonl").write_text("")
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    write_endpoint(Endpoint(run_dir=str(gone), pid=dead.pid, host=socket.gethostname(),
                            socket=str(gone / "control.sock")))
    code, err = await attach_cli(str(gone))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "process" in err and "is gone" in err and f"mlgym-tui replay {gone}" in err

    async with Served(tmp_path / "run", listen="127.0.0.1:0") as s:
        code, err = await attach_cli(s.server.address, "--token", "not-the-token")
        assert code == 2 and len(err.strip().splitlines()) == 1 and "wrong or missing token" in err
        assert not s.c.done
