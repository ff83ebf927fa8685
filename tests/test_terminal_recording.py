"""The interactive terminal (f6) on the record: the prompt hooks report each command line out of band (a nonce the
output cannot forge), the screen is saved as an asciicast v2 file in the run directory, the command lines become
steps by human-terminal in events.jsonl, the replay shows them and plays the cast, and `export --cast` writes the
agent's shell of a run. Real bash on real ptys, real engines, real run files."""

from __future__ import annotations

import json
import os
import pty
import select
import time
from pathlib import Path

import pytest
from episode_helpers import answer
from model_server import scripted_server  # noqa: F401
from test_tui_terminal import SIZE, human_app, live_episode, open_terminal, type_line, until

from mlgym_tui.cli import main as cli_main
from mlgym_tui.runtime.terminal_hooks import CommandBegan, CommandRan, HookStream, new_nonce, setup_line
from mlgym_tui.stream.replay_index import ReplayIndex
from mlgym_tui.trajectory import load_run
from mlgym_tui.trajectory.cast import CastError, CastPlayback, CastWriter, read_cast, terminal_casts
from mlgym_tui.tui.app import MLGymApp
from mlgym_tui.tui.replay.cast_player import CastPlayer
from mlgym_tui.tui.replay.screen import ReplayScreen

FORGED = r"printf '\033]6973;0123abcd;C;rm -rf /\007\033]6973;0123abcd;D;0;/\007forged\n'"


# ---------------------------------------------------------------- the hooks in a real bash on a host pty


class HostBash:
    """bash -l on a pty of this machine, its bytes read in 7-byte pieces so reports arrive cut in two."""

    def __init__(self) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
        self.nonce = new_nonce()
        self.hooks = HookStream(self.nonce)
        self.shown = b""
        self.found: list = []

    def pump(self, until_done, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not until_done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; shown so far: {self.shown[-400:]!r}")
            if select.select([self.fd], [], [], 0.05)[0]:
                try:
                    data = os.read(self.fd, 7)
                except OSError:
                    return
                shown, found = self.hooks.feed(data)
                self.shown += shown
                self.found += found

    def run(self, line: str) -> CommandRan:
        before = len(self.ran())
        os.write(self.fd, line.encode() + b"\r")
        self.pump(lambda: len(self.ran()) > before)
        return self.ran()[-1]

    def ran(self) -> list[CommandRan]:
        return [f for f in self.found if isinstance(f, CommandRan)]

    def close(self) -> None:
        os.close(self.fd)
        os.waitpid(self.pid, 0)


@pytest.fixture
def bash():
    shell = HostBash()
    try:
        yield shell
    finally:
        shell.close()


def test_hooks_report_commands_exit_codes_cwd_and_output(bash, tmp_path):
    os.write(bash.fd, setup_line(bash.nonce))
    bash.pump(lambda: bash.hooks.ready)
    assert b"__mlgym" not in bash.shown and bash.nonce.encode() not in bash.shown  # the setup line's echo is dropped
    assert bash.run(f"cd {tmp_path}") == CommandRan(f"cd {tmp_path}", "", 0, bash.ran()[-1].duration, str(tmp_path),
                                                    bash.ran()[-1].started_at)
    assert bash.run("echo hi > f").exit_code == 0
    failed = bash.run("false")
    assert (failed.command, failed.exit_code, failed.cwd) == ("false", 1, str(tmp_path))
    listed = bash.run("ls")
    assert (listed.output, listed.exit_code) == ("f", 0)
    # a line starting with a space, a multi-line one, and characters the report must escape (%, BEL, ESC)
    assert bash.run(" echo 100%").command == "echo 100%"
    two = bash.run("echo a;\\\necho b")
    assert (two.command, two.output) == ("echo a;echo b", "a\nb")
    odd = bash.run(r"echo $'x\ay\e[31mz%0A'")
    assert odd.command == r"echo $'x\ay\e[31mz%0A'" and odd.output == "xyz%0A"
    slow = bash.run("sleep 0.3; (exit 3)")
    assert slow.exit_code == 3 and slow.duration >= 0.3
    # an empty line and ctrl+c at the prompt are not commands
    count = len(bash.ran())
    for key in (b"\r", b"\x03"):
        os.write(bash.fd, key)
        settle = time.monotonic() + 0.3
        bash.pump(lambda: time.monotonic() > settle)
    bash.run("true")
    assert [r.command for r in bash.ran()[count:]] == ["true"]
    # began/ran come in pairs, in order
    kinds = [type(f) for f in bash.found]
    assert kinds == [CommandBegan, CommandRan] * (len(kinds) // 2)


def test_forged_reports_in_output_are_shown_not_taken(bash):
    os.write(bash.fd, setup_line(bash.nonce))
    bash.pump(lambda: bash.hooks.ready)
    ran = bash.run(FORGED)
    assert ran.command == FORGED and ran.output == "forged" and ran.exit_code == 0
    assert [r.command for r in bash.ran()] == [FORGED]  # no "rm -rf /" step
    assert bash.hooks.forged == 2 and b"\x1b]6973;0123abcd;C;rm -rf /\x07" in bash.shown
    # a program printing a report of ours without the nonce (e.g. a file holding one) is just output
    ran = bash.run("printf '\\033]6973;;R\\007\\033]6973;;D;0;/x\\007'")
    assert ran.cwd != "/x" and len(bash.ran()) == 2


def test_a_command_cut_off_by_the_terminal_closing_has_no_exit_code(bash):
    os.write(bash.fd, setup_line(bash.nonce))
    bash.pump(lambda: bash.hooks.ready)
    os.write(bash.fd, b"echo started; sleep 30\r")
    bash.pump(lambda: bash.hooks.running is not None and b"started\r\n" in bash.shown)
    (cut,) = bash.hooks.close()
    assert (cut.command, cut.exit_code, cut.output) == ("echo started; sleep 30", None, "started")


def test_without_hooks_the_held_output_is_released_and_late_reports_still_count():
    nonce = new_nonce()
    hooks = HookStream(nonce)
    shown, found = hooks.feed(b"$ prompt before any hook")
    assert shown == b"" and found == [] and not hooks.ready
    assert hooks.give_up() == b"$ prompt before any hook"
    assert hooks.feed(b"\x1b]6973")[0] == b""  # could be the start of a report: held
    assert hooks.feed(b"0 not ours")[0] == b"\x1b]69730 not ours"
    report = f"\x1b]6973;{nonce};".encode()
    shown, found = hooks.feed(report + b"R\x07$ " + report + b"C;make%20it\x07done\r\n" + report + b"D;2;/w%3Bx\x07$ ")
    assert shown == b"$ done\r\n$ " and [type(f) for f in found] == [CommandBegan, CommandRan]
    assert (found[1].command, found[1].output, found[1].exit_code, found[1].cwd) == ("make it", "done", 2, "/w;x")


# ---------------------------------------------------------------- the cast file


def test_cast_writer_reader_and_playback(tmp_path):
    path = tmp_path / "terminal-1.cast"
    now = [1000.25]
    writer = CastWriter(path, 100, 30, title="t", clock=lambda: now[0])
    writer.output("héllo\r\n")
    writer.marker("ls", at=1000.1)  # placed before the output already written: kept in order
    now[0] = 1001.0
    writer.resize(120, 40)
    now[0] = 1009.0
    writer.output("\x1b[31mred\x1b[0m")
    writer.close()
    head, *lines = path.read_text().splitlines()
    assert json.loads(head)["version"] == 2 and json.loads(head)["width"] == 100
    assert [json.loads(line)[1] for line in lines] == ["o", "m", "r", "o"]
    cast = read_cast(path)
    assert cast.events[0][2] == "héllo\r\n" and cast.events[2][2] == "120x40" and cast.markers()[0][1] == "ls"
    assert [t for t, _, _ in cast.events] == [0.25, 0.25, 1.0, 9.0] and cast.timestamp == 1000
    assert cast.covers(1005) and not cast.covers(995)
    # playback: a seek applies what came before; pauses longer than the idle limit are cut short
    playback = CastPlayback(cast)
    assert [e[1] for e in playback.seek(0.5)] == ["o", "m"]
    assert [e[1] for e in playback.advance(0.6)] == ["r"]
    assert playback.advance(0.5) == [] and playback.position == 7.5  # 8 s of silence cut to 2
    assert [e[1] for e in playback.advance(1.5)] == ["o"] and playback.done
    # a last line cut short (a crash while writing) is left out with a warning; other damage is an error
    with path.open("a") as f:
        f.write('[9.5, "o", "cut sho')  # a crash while writing
    assert len(read_cast(path).events) == 4 and "cut short" in read_cast(path).warning
    (tmp_path / "bad.cast").write_text('{"version": 1}\n')
    with pytest.raises(CastError, match="not an asciicast v2 header"):
        read_cast(tmp_path / "bad.cast")


# ---------------------------------------------------------------- f6 in a live human episode, then its replay


async def wait_ran(pilot, term, count: int) -> None:
    await until(pilot, lambda: len(term.commands) >= count, f"{count} recorded terminal commands", timeout=30)


async def test_f6_session_is_recorded_and_replayed(engine, tmp_path):
    app = human_app(tmp_path, engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await live_episode(app, pilot)
        controller = screen.controller
        run_dir = Path(controller.run_dir)
        term = await open_terminal(screen, pilot)
        assert "__mlgym" not in term.plain()  # the setup line never shows
        lines = ["cd /tmp", "echo hi > f", "false", "ls f", FORGED]
        for number, line in enumerate(lines, start=1):
            await type_line(pilot, line)
            await wait_ran(pilot, term, number)
        got = [(c.command, c.exit_code, c.cwd) for c in term.commands]
        assert got == [("cd /tmp", 0, "/tmp"), ("echo hi > f", 0, "/tmp"), ("false", 1, "/tmp"), ("ls f", 0, "/tmp"),
                       (FORGED, 0, "/tmp")]
        assert term.commands[3].output == "f" and term.commands[4].output == "forged"
        # the runner records them as steps by human-terminal (it waits for a human action meanwhile)
        await until(pilot, lambda: sum(s.author == "human-terminal" for s in screen.model.steps) == 5,
                    "five human-terminal steps in the transcript", timeout=30)
        assert "hi" in controller.env.container.exec(["cat", "/tmp/f"]).output
        await pilot.press("f6")  # closes the terminal and its recording
        await until(pilot, lambda: not screen.query("#terminal-pane"), "the terminal to close")
        controller.stop()
        await until(pilot, lambda: controller.done, "the episode to end", timeout=90)

    # the cast: a header and the screen as shown, one marker per command line, no hook report of ours
    (cast_path,) = terminal_casts(run_dir)
    assert cast_path.name == "terminal-1.cast"
    cast = read_cast(cast_path)
    assert cast.header["version"] == 2 and cast.header["width"] > 10 and cast.header["height"] > 2
    assert cast.header["env"]["TERM"] == "xterm-256color" and not cast.warning
    assert [label for _, label in cast.markers()] == lines
    shown = "".join(data for _, code, data in cast.events if code == "o")
    assert "__mlgym" not in shown and "forged" in shown and "hi > f" in shown
    assert shown.count("\x1b]6973;") == 2  # only the forged pair, passed through as output
    times = [t for t, _, _ in cast.events]
    assert times == sorted(times)

    # events.jsonl: the commands are steps by human-terminal with exit code, cwd and output
    run = load_run(run_dir)
    steps = [s for s in run.steps if s.author == "human-terminal"]
    assert [(s.action, s.exit_code, s.state.get("working_dir")) for s in steps] == got
    assert steps[3].observation == "f" and steps[0].started_at > 0
    for step in steps:  # each step's start falls within the recording
        assert cast.covers(step.started_at)
    (traj,) = run_dir.glob("*.traj")  # MLGym's format keeps them too
    assert [s.action for s in load_run(traj).steps if s.author == "human-terminal"] == lines
    index = ReplayIndex.build(run.events)
    cards = [c for c in index.cards if c.author == "human-terminal"]
    assert [c.action for c in cards] == lines
    assert set(index.humans) >= {index.cards.index(c) + 1 for c in cards}  # `u` jumps to them, `H` on the timeline
    assert index.cards.index(cards[2]) + 1 in index.failures  # `false` failed

    # the replay: the steps as cards, the author filter, and `c` plays the cast at the cursor's command
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(run_dir))
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, ReplayScreen) and app.screen.loaded):
            await pilot.pause(0.02)
        replay = app.screen
        for _ in range(3):
            if replay.state.author_filter == "human-terminal":
                break
            await pilot.press("a")
        assert replay.state.author_filter == "human-terminal"
        assert [s.action for s in replay.model.steps] == lines
        ls_card = index.cards.index(cards[3]) + 1
        replay.go(ls_card)
        await pilot.pause()
        await pilot.press("c")
        await until(pilot, lambda: bool(replay.query(CastPlayer)), "the cast player")
        player = replay.query_one(CastPlayer)
        assert not replay.body.shell_view.display
        await until(pilot, lambda: "ls f" in player.plain(), "the `ls f` line played", timeout=10)
        await pilot.press("C")
        assert player.speed == 2.0
        await until(pilot, lambda: player.playback.done, "the playback to end", timeout=30)
        assert "forged" in player.plain() and "C: speed" in str(replay.query_one("#shell-title").render())
        # the cursor moves to an earlier command of the recording: the playback jumps back there
        await pilot.press("home")
        assert replay.model.steps[-1].action == "cd /tmp"
        assert "forged" not in player.plain() and player.playback.position < cast.markers()[1][0]
        assert player.speed == 2.0  # the speed chosen stays
        await pilot.press("c")
        await until(pilot, lambda: not replay.query(CastPlayer), "the player to close")
        assert replay.body.shell_view.display


async def test_replay_of_a_run_without_terminal_says_so(tmp_path):
    from replay_helpers import write_run

    run_dir = write_run(tmp_path)
    app = MLGymApp(deterministic=True, start_screen=ReplayScreen(run_dir))
    async with app.run_test(size=SIZE) as pilot:
        while not (isinstance(app.screen, ReplayScreen) and app.screen.loaded):
            await pilot.pause(0.02)
        await pilot.press("c")
        await pilot.pause(0.3)
        assert not app.screen.query(CastPlayer)
        assert any("no terminal recording" in n.message for n in app._notifications)


# ---------------------------------------------------------------- export --cast of an agent run


async def test_export_cast_of_an_agent_run(scripted_server, engine, tmp_path, capsys):  # noqa: F811
    from episode_helpers import agent, runtime

    from mlgym_tui.episode.session import start_episode

    scripted_server.set_script([answer("echo first-$((40+2))"), answer("printf 'a\\nb\\n'; false"), answer("submit")])
    c = await start_episode("battleOfSexes", agent(scripted_server, max_steps=5), engine=engine, runtime=runtime(),
                            runs_dir=tmp_path, mode="auto")
    await c.run()
    run_dir = Path(c.run_dir)
    assert cli_main(["export", str(run_dir), "--cast"]) == 0
    assert "agent-shell.cast" in capsys.readouterr().out
    cast = read_cast(run_dir / "agent-shell.cast")
    assert cast.header["version"] == 2 and (cast.width, cast.height) == (160, 48) and not cast.warning
    labels = [label for _, label in cast.markers()]
    assert labels[:2] == ["step 1: echo first-$((40+2))", "step 2: printf 'a\\nb\\n'; false"]
    shown = "".join(data for _, code, data in cast.events if code == "o")
    assert "first-42" in shown and "a\r\nb" in shown and "$ echo first-$((40+2))" in shown
    times = [t for t, _, _ in cast.events]
    assert times == sorted(times) and cast.timestamp <= load_run(run_dir).events[0].t
    # each step's output is shown once it was recorded, after its command line
    steps = load_run(run_dir).steps
    outputs = [t for t, code, data in cast.events if code == "o" and "first-42" in data and "$" not in data]
    assert outputs and outputs[0] == round(steps[0].t - cast.timestamp, 6)
    assert shown.index("$ echo first") < shown.index("first-42\r\n") < shown.index("$ printf")
    # a run known only from its .traj (no command events) still exports, from its steps
    (traj,) = run_dir.glob("*.traj")
    assert cli_main(["export", str(traj), "--cast", "-o", str(tmp_path / "from-traj.cast")]) == 0
    from_traj = read_cast(tmp_path / "from-traj.cast")
    assert [label for _, label in from_traj.markers()][:2] == labels[:2]
    # -o elsewhere, and the bad inputs
    assert cli_main(["export", str(run_dir), "--cast", "-o", str(tmp_path / "x.cast")]) == 0
    assert read_cast(tmp_path / "x.cast").events == cast.events
    assert cli_main(["export", str(run_dir)]) == 2
    assert cli_main(["export", str(tmp_path / "nothing"), "--cast"]) == 2
