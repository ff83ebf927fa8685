"""An interactive terminal into the episode's container: a person's `bash -l` on a pty, emulated by pyte.

Keys typed here go to the shell as bytes; what the shell prints goes only into a pyte screen, and the widget
paints that screen's characters and colours. Escape sequences (titles, clears, cursor moves, queries) therefore
change the in-memory screen and never the real terminal or the rest of the app.

Recorded (given a cast path or a command callback): on opening, the shell gets prompt hooks (runtime/terminal_hooks)
that report each command line out of band; their reports are taken out of the stream before pyte sees it. What the
screen shows is appended to an asciicast v2 file (trajectory/cast), and every finished command line goes to
`on_command`.
"""

from __future__ import annotations

import asyncio
from collections import deque
import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyte
from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from mlgym_tui.runtime.terminal_hooks import CommandBegan, CommandRan, HookStream, new_nonce, setup_line
from mlgym_tui.trajectory.cast import CastWriter
from mlgym_tui.tui.terminal import VirtualTerminal

HOOK_WAIT_S = 15.0  # how long the shell may take to install the prompt hooks before its screen is shown anyway

# Textual key name -> bytes a VT100/xterm sends
KEY_BYTES: dict[str, bytes] = {
    "enter": b"\r", "tab": b"\t", "shift+tab": b"\x1b[Z", "backspace": b"\x7f", "ctrl+h": b"\x7f",
    "escape": b"\x1b", "delete": b"\x1b[3~", "insert": b"\x1b[2~",
    "up": b"\x1b[A", "down": b"\x1b[B", "right": b"\x1b[C", "left": b"\x1b[D",
    "home": b"\x1b[H", "end": b"\x1b[F", "pageup": b"\x1b[5~", "pagedown": b"\x1b[6~",
    "ctrl+up": b"\x1b[1;5A", "ctrl+down": b"\x1b[1;5B", "ctrl+right": b"\x1b[1;5C", "ctrl+left": b"\x1b[1;5D",
    "space": b" ", "ctrl+space": b"\x00", "ctrl+@": b"\x00",
    "f1": b"\x1bOP", "f2": b"\x1bOQ", "f3": b"\x1bOR", "f4": b"\x1bOS",
}


def key_bytes(key: str, character: str | None) -> bytes | None:
    """What a key press sends to the shell, or None for a key it does not take."""
    if key in KEY_BYTES:
        return KEY_BYTES[key]
    if key.startswith("ctrl+") and len(key) == 6 and key[5].isalpha():
        return bytes([ord(key[5].lower()) - 96])  # ctrl+a .. ctrl+z -> 0x01 .. 0x1a
    if key.startswith("alt+") and character and character.isprintable():
        return b"\x1b" + character.encode()
    if character and (character.isprintable() or character in "\t\r\x1b\x7f" or ord(character[0]) < 0x20):
        return character.encode("utf-8")
    return None


class ContainerTerminal(Widget, can_focus=True):
    """Opens `container.open_terminal` on mount and closes it on unmount; posts Closed when the shell ends."""

    DEFAULT_CSS = """
    ContainerTerminal { height: 1fr; background: $background; }
    """

    @dataclass
    class Closed(Message):
        """The shell exited (or could not start); `reason` says which."""

        terminal: "ContainerTerminal"
        reason: str

    def __init__(self, container: Any, *, cast_path: Path | None = None,
                 on_command: Callable[[CommandRan], None] | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.container = container
        self.cast_path = cast_path
        self.on_command = on_command
        self.recorded = cast_path is not None or on_command is not None
        self.hooks: HookStream | None = None
        self.cast: CastWriter | None = None
        self.commands: deque[CommandRan] = deque(maxlen=200)  # the last commands run here (also handed to on_command)
        self.terminal = VirtualTerminal(80, 24)
        self.terminal.screen.reset_mode(pyte.modes.LNM)  # a real pty sends \r\n itself
        # Device status / attribute queries are answered to the shell, never to the real terminal.
        self.terminal.screen.write_process_input = self._answer_query
        self.session: Any = None
        self.opened = asyncio.Event()
        self.ended = False
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pty_size: tuple[int, int] | None = None

    # ---------------------------------------------------------------- lifecycle

    def on_mount(self) -> None:
        self.run_worker(self._run(), name="container-terminal", group="container-terminal", exclusive=True)

    async def _run(self) -> None:
        columns, lines = self._wanted_size()
        self.terminal.resize(columns, lines)
        try:
            self.session = await self.container.open_terminal(columns, lines)
            if self.recorded:
                await self._start_recording(*self._wanted_size())  # laid out by now: the size shown
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash of the UI
            self.ended = True
            self._stop_recording()
            self.post_message(self.Closed(self, f"could not open a terminal: {exc}"))
            return
        self._pty_size = (columns, lines)
        if self._wanted_size() != self._pty_size:  # laid out while the terminal was opening
            self.on_resize()
        if self.hooks is None:
            self.opened.set()
        writer = asyncio.create_task(self._write_loop(), name="container-terminal-writer")
        try:
            while True:
                data = await self.session.read()
                if not data:
                    break
                self._take(data)
        finally:
            writer.cancel()
            self._stop_recording()
            if not self.ended:
                self.ended = True
                self.post_message(self.Closed(self, "the shell exited"))

    def _take(self, data: bytes) -> None:
        """Bytes from the shell: hook reports out, the rest onto the screen and into the recording."""
        if self.hooks is not None:
            data, found = self.hooks.feed(data)
            if self.hooks.ready and not self.opened.is_set():
                self.opened.set()
            self._handle(found)
        self._show(data)

    def _show(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            self.terminal.feed(text)
            if self.cast is not None:
                if self.cast.error is not None:
                    self.notify(f"the terminal recording stopped ({self.cast.error}); commands are still recorded "
                                "as steps", severity="error", timeout=10)
                    self.cast = None
                else:
                    self.cast.output(text)
            self.refresh()

    def _handle(self, found: list) -> None:
        for item in found:
            if isinstance(item, CommandBegan):
                if self.cast is not None:
                    self.cast.marker(item.command, at=item.started_at)
            elif isinstance(item, CommandRan):
                self.commands.append(item)
                if self.on_command is not None:
                    try:
                        self.on_command(item)
                    except Exception as exc:  # noqa: BLE001 - a record that cannot be kept must not end the shell
                        self.notify(f"terminal command not recorded: {exc}", severity="warning", timeout=6)

    async def _start_recording(self, columns: int, lines: int) -> None:
        nonce = new_nonce()
        self.hooks = HookStream(nonce)
        if self.cast_path is not None:
            where = getattr(self.container, "name", "") or "container"
            self.cast = await asyncio.to_thread(
                CastWriter, self.cast_path, columns, lines, title=f"terminal in {where}", command="bash -l")
        await self.session.write(setup_line(nonce))
        self.set_timer(HOOK_WAIT_S, self._hooks_late, name="terminal-hook-wait")

    def _hooks_late(self) -> None:
        if self.hooks is None or self.hooks.ready or self.ended:
            return
        self._show(self.hooks.give_up())
        self.opened.set()
        self.notify(f"the terminal's shell did not install its prompt hooks in {HOOK_WAIT_S:g} s: until it does, "
                    "commands typed here are not recorded as steps (the screen is)", severity="warning", timeout=8)

    def _stop_recording(self) -> None:
        """End the recording: a command still running is reported without an exit code; the cast file is closed
        by its own thread (nothing here waits on the disk). Safe to call twice."""
        hooks, self.hooks = self.hooks, None
        if hooks is not None:
            self._handle(hooks.close())
        cast, self.cast = self.cast, None
        if cast is not None:
            cast.close(wait=False)

    async def _write_loop(self) -> None:
        while True:
            data = await self._outbox.get()
            await self.session.write(data)

    async def on_unmount(self) -> None:
        self.ended = True
        self._stop_recording()
        if self.session is not None:
            session, self.session = self.session, None
            await session.close()

    # ---------------------------------------------------------------- input

    def send(self, data: bytes) -> None:
        if data and not self.ended:
            self._outbox.put_nowait(data)

    def _answer_query(self, data: str) -> None:
        self.send(data.encode("utf-8", errors="replace"))

    def on_key(self, event: events.Key) -> None:
        data = key_bytes(event.key, event.character)
        if data is None:
            return  # unhandled keys (e.g. f-keys bound by the app) keep their bindings
        event.stop()
        event.prevent_default()
        self.send(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        self.send(event.text.replace("\r\n", "\r").replace("\n", "\r").encode("utf-8"))

    # ---------------------------------------------------------------- size and paint

    def _wanted_size(self) -> tuple[int, int]:
        width, height = self.content_size
        return max(width, 10), max(height, 2)

    def on_resize(self) -> None:
        columns, lines = self._wanted_size()
        self.terminal.resize(columns, lines)
        if self.session is not None and self._pty_size != (columns, lines):
            self._pty_size = (columns, lines)
            if self.cast is not None:
                self.cast.resize(columns, lines)
            self.run_worker(self.session.resize(columns, lines), group="container-terminal-resize")
        self.refresh()

    def render(self) -> Text:
        lines = self.terminal.render_lines()
        cursor = self.terminal.screen.cursor
        if self.has_focus and not self.terminal.screen.cursor.hidden:
            while len(lines) <= cursor.y:
                lines.append(Text())
            line = lines[cursor.y]
            if len(line) <= cursor.x:
                line.append(" " * (cursor.x + 1 - len(line)))
            line.stylize(Style(reverse=True), cursor.x, cursor.x + 1)
        return Text("\n", no_wrap=True, overflow="crop").join(lines)

    def plain(self) -> str:
        return self.terminal.plain()
