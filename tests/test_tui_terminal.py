"""The interactive container terminal on the episode screen (f6): a real `bash -l` pty exec in a live episode's
container (docker and podman) and a host pty for the local engine, typed into through Textual key presses and
read back from the pyte screen the widget paints. Escape sequences from the shell never leave that screen."""

from __future__ import annotations

import time

import pytest

from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.episode_request import EpisodeRequest
from mlgym_tui.tui.screens.episode import EpisodeScreen
from mlgym_tui.tui.widgets.container_terminal import ContainerTerminal, key_bytes
from mlgym_tui.tui.widgets.terminal_pane import TerminalPane

TASK = "battleOfSexes"
SIZE = (120, 40)


async def until(pilot, predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            terms = pilot.app.screen.query(ContainerTerminal)
            seen = f"; terminal shows:\n{terms.first().plain()}" if terms else ""
            raise AssertionError(f"timed out waiting for {what}{seen}")
        await pilot.pause(0.05)


def human_app(tmp_path, engine) -> MLGymApp:
    from episode_helpers import runtime

    options = {"runtime": runtime()}
    if engine is not None:
        options["engine"] = engine
    name = getattr(engine, "name", "local")
    return MLGymApp(request=EpisodeRequest.human(TASK, engine=name), deterministic=True,
                    runs_dir=tmp_path / "runs", episode_options=options)


async def live_episode(app, pilot) -> EpisodeScreen:
    await until(pilot, lambda: isinstance(app.screen, EpisodeScreen) and app.screen.controller is not None
                and getattr(app.screen.controller.env, "container", None) is not None
                and app.screen.controller.awaiting == "human", "the episode to wait for a human action")
    return app.screen


async def open_terminal(screen, pilot) -> ContainerTerminal:
    await pilot.press("f6")
    await until(pilot, lambda: bool(screen.query(TerminalPane)), "the terminal pane")
    term = screen.query_one(ContainerTerminal)
    await until(pilot, lambda: term.session is not None and term.plain().rstrip().endswith(("$", "#")),
                "the shell prompt")
    await until(pilot, lambda: term.has_focus, "the terminal to take focus")
    return term


async def type_line(pilot, text: str) -> None:
    await pilot.press(*text, "enter")


def output_lines(term: ContainerTerminal) -> list[str]:
    return [line.strip() for line in term.plain().splitlines()]


async def check_terminal(app, pilot, workspace_marker: str) -> None:
    screen = await live_episode(app, pilot)
    container = screen.controller.env.container
    term = await open_terminal(screen, pilot)
    # the pty has the widget's size, not a fixed one
    await type_line(pilot, "stty size")
    width, height = term.content_size
    await until(pilot, lambda: f"{height} {width}" in output_lines(term), f"stty size = {height} {width}")
    await type_line(pilot, "echo $((6*7))")
    await until(pilot, lambda: "42" in output_lines(term), "42 on the terminal")
    await type_line(pilot, "whoami; pwd")
    user = "agent" if container.engine_name != "local" else None  # local: the host user, as documented
    await until(pilot, lambda: (user is None or user in output_lines(term))
                and any(line.endswith(workspace_marker) for line in output_lines(term)), "the user and workspace")
    # backspace and ctrl+c reach the shell: a corrected line, then an interrupted sleep
    await pilot.press(*"echo abcX", "backspace", *"d", "enter")
    await until(pilot, lambda: "abcd" in output_lines(term), "the corrected line")
    await type_line(pilot, "sleep 30")
    await pilot.pause(0.5)
    await pilot.press("ctrl+c")
    await type_line(pilot, "echo after-$((1+1))")
    await until(pilot, lambda: "after-2" in output_lines(term), "the prompt back after ctrl+c", timeout=10)
    # arrows: up recalls the last command
    await pilot.press("up", "enter")
    await until(pilot, lambda: output_lines(term).count("after-2") >= 2, "history recall with the up arrow")
    # ctrl+k goes to the shell (kill line) while the terminal has focus, not to the episode's stop
    await pilot.press(*"echo zz", "ctrl+a", "ctrl+k", *"echo kept", "enter")
    await until(pilot, lambda: "kept" in output_lines(term), "ctrl+a/ctrl+k edited the line")
    assert not screen.controller.done and screen.controller.exit_status is None

    # escape-sequence injection: a title change and a screen clear stay inside the pyte screen
    title_before, sub_before = app.title, screen.sub_title
    status_before = screen.query_one("#status-bar").detail
    await type_line(pilot, "PS1='$ '")  # the stock prompt sets the title itself on every prompt
    await type_line(pilot, r"printf '\033]0;pwned\007\033[2J\033[31mRED\033[0m\n'")
    await until(pilot, lambda: term.terminal.screen.title == "pwned", "pyte to take the title sequence")
    await until(pilot, lambda: "RED" in output_lines(term), "the printed text")
    await pilot.pause(0.2)
    assert app.title == title_before and screen.sub_title == sub_before
    assert screen.query_one("#status-bar").detail == status_before
    assert screen.query_one("#shell-pane").display and screen.query_one("#transcript-pane").display
    shot = app.export_screenshot()
    painted = term.render().plain.replace("\n", "")
    assert "pwned" not in painted  # neither painted nor sent as a real title (the transcript shows the command line)
    assert painted and all(ch.isprintable() for ch in painted)  # no control character reaches the paint
    assert "RED" in shot and "engine" in shot  # the terminal and the status bar both still there

    # the same key closes it, and the shell's processes end in the container
    if container.engine_name != "local":
        await type_line(pilot, "sleep 777 &")
        await pilot.pause(0.3)
    await pilot.press("f6")
    await until(pilot, lambda: not screen.query(TerminalPane), "the pane to close")
    assert screen.query_one("#shell-input").has_focus
    if container.engine_name != "local":
        await until(pilot, lambda: "sleep 777" not in container.exec(["ps", "-eo", "args"]).output,
                    "the terminal's processes to end", timeout=15)

    # a shell that exits closes the pane by itself
    term = await open_terminal(screen, pilot)
    await type_line(pilot, "exit")
    await until(pilot, lambda: not screen.query(TerminalPane), "the pane to close when the shell exits")
    assert not screen.controller.done  # the episode goes on
    screen.controller.stop()  # (ctrl+k asks first; the dialog has tests of its own)
    await until(pilot, lambda: screen.controller.done, "the episode to stop", timeout=60)


async def test_terminal_in_live_container(engine, tmp_path):
    app = human_app(tmp_path, engine)
    async with app.run_test(size=SIZE) as pilot:
        await check_terminal(app, pilot, "/home/agent/workspace")


async def test_terminal_local_engine_host_pty(tmp_path):
    app = human_app(tmp_path, None)
    async with app.run_test(size=SIZE) as pilot:
        await check_terminal(app, pilot, "home/agent/workspace")


async def test_terminal_key_refused_without_a_live_container(tmp_path):
    from mlgym_tui.tui.sample_events import sample_episode

    app = MLGymApp(deterministic=True, runs_dir=tmp_path, start_screen=EpisodeScreen(events=sample_episode(3)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await pilot.pause(0.1)
        assert not app.screen.query(TerminalPane)
        assert any("no live container" in n.message for n in app._notifications)


@pytest.mark.parametrize("key,char,expected", [
    ("enter", "\r", b"\r"), ("backspace", "\x7f", b"\x7f"), ("tab", "\t", b"\t"), ("up", None, b"\x1b[A"),
    ("left", None, b"\x1b[D"), ("ctrl+c", "\x03", b"\x03"), ("ctrl+d", None, b"\x04"), ("a", "a", b"a"),
    ("dollar_sign", "$", b"$"), ("f7", None, None),
])
def test_key_bytes(key, char, expected):
    assert key_bytes(key, char) == expected
