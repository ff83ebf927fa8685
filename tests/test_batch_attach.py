"""Attaching from the batch's live table: the running rows that serve an endpoint are numbered, a row's digit runs
the attach command as a child in the same terminal (here a real child that records its argv), the table steps
aside until it exits and the terminal's modes come back; without keys to read, each start names its command.
The key reader runs against a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import sys
import termios
import threading
from pathlib import Path

from rich.console import Console

from mlgym_tui.batch.progress import (ATTACH_CAPTION, BatchDisplay, KeyReader, SlotProgress, attach_command,
                                      keys_available)


def slots_in(tmp_path: Path) -> list[SlotProgress]:
    """Four rows: two running and serving, one running without an endpoint yet, one waiting."""
    slots = []
    for index, status in enumerate(("running", "waiting", "running", "running"), 1):
        run_dir = tmp_path / f"t__run_{index}" / "run"
        run_dir.mkdir(parents=True)
        if index != 4:
            (run_dir / "control.json").write_text("{}")
        slots.append(SlotProgress("t", index, status=status, run_dir=str(run_dir)))
    return slots


def text_of(renderable) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


async def until(predicate, what: str, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_digits_name_the_running_rows_that_serve_an_endpoint(tmp_path):
    slots = slots_in(tmp_path)
    display = BatchDisplay(slots, Console(file=io.StringIO()), live=True, keys=True, key_fd=0)
    assert display.slot_for_key("1") is slots[0] and display.slot_for_key("2") is slots[2]
    assert display.slot_for_key("3") is None and display.slot_for_key("0") is None and display.slot_for_key("x") is None
    shown = text_of(display.render())
    assert ATTACH_CAPTION in shown
    rows = [line for line in shown.splitlines() if " t " in line]
    assert [row.split("│")[1].strip() for row in rows] == ["1", "", "2", ""]
    assert ATTACH_CAPTION not in text_of(BatchDisplay(slots, Console(file=io.StringIO()), live=True,
                                                      keys=False).render())
    assert attach_command("/r") == [sys.executable, "-m", "mlgym_tui.cli", "attach", "/r"]


def test_without_a_terminal_each_start_names_its_attach_command_once(tmp_path):
    slot = slots_in(tmp_path)[0]
    out = io.StringIO()
    display = BatchDisplay([slot], Console(file=out, width=300), live=False)
    display.started(slot)
    display.stepped(slot)
    assert out.getvalue().count(f"attach: mlgym-tui attach {slot.run_dir}") == 1
    assert out.getvalue().startswith(f"[t run 1] started in {slot.run_dir} (attach: mlgym-tui attach ")
    unserved = slots_in(tmp_path / "more")[3]  # no endpoint (a Ray node's episode): no command to offer
    display.started(unserved)
    assert out.getvalue().splitlines()[-1] == f"[t run 4] started in {unserved.run_dir}"
    assert not keys_available(io.StringIO())  # no file descriptor: no keys


async def test_the_key_reader_posts_keys_from_a_terminal_and_puts_its_modes_back():
    master, slave = pty.openpty()
    try:
        before = termios.tcgetattr(slave)
        got: list[str] = []
        reader = KeyReader(slave, asyncio.get_running_loop(), got.append)
        reader.start()
        assert not termios.tcgetattr(slave)[3] & (termios.ICANON | termios.ECHO)  # cbreak: keys one at a time
        os.write(master, b"x")
        await until(lambda: got == ["x"], "the key on the loop")
        os.write(master, b"2y")
        await until(lambda: got == ["x", "2"], "the digit")
        await asyncio.sleep(0.3)
        assert got == ["x", "2"]  # after a digit the reader waits: the next keys may be the attach child's
        reader.pause()
        assert termios.tcgetattr(slave) == before
        reader.resume()
        await until(lambda: got == ["x", "2", "y"], "the key typed meanwhile, once resumed")
        reader.close()
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


async def test_a_digit_runs_the_attach_child_while_the_table_steps_aside(tmp_path):
    slots = slots_in(tmp_path)
    record = tmp_path / "child.json"
    master, slave = pty.openpty()
    child = ("import json, os, sys, termios; "  # the terminal the batch shows its table on, as the child finds it
             f"tty = os.open({os.ttyname(slave)!r}, os.O_RDWR); "
             f"json.dump({{'argv': sys.argv[1:], 'lflag': termios.tcgetattr(tty)[3]}}, open({str(record)!r}, 'w'))")
    drained = threading.Thread(target=drain, args=(master,), daemon=True)
    drained.start()
    before = termios.tcgetattr(slave)
    terminal = os.fdopen(os.dup(slave), "w")
    console = Console(file=terminal, force_terminal=True, width=100)
    display = BatchDisplay(slots, console, live=True, keys=True, key_fd=slave,
                           attach=lambda run_dir: [sys.executable, "-c", child, run_dir])
    try:
        with display:
            os.write(master, b"2")
            await until(lambda: display._attached is not None, "the attach child started")
            display.note("said while attached")
            assert display._held == ["said while attached"]
            await display.detached()
            assert display._held == [] and display._live.is_started
            ran = json.loads(record.read_text())
            assert ran["argv"][-1] == slots[2].run_dir
            assert ran["lflag"] & termios.ICANON  # the child got the terminal as it was, not in cbreak
            assert not termios.tcgetattr(slave)[3] & termios.ICANON  # the table reads keys again
        assert termios.tcgetattr(slave) == before
    finally:
        terminal.close()
        os.close(slave)
        os.close(master)


def drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass
