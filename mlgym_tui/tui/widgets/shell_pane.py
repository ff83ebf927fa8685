"""Shell pane: the live shell view plus, in human mode, a command line that drives the episode."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label

from mlgym_tui.tui.widgets.shell_view import ShellView


class ShellPane(Vertical):
    @dataclass
    class CommandSubmitted(Message):
        """A person typed a command in the shell pane's input line."""

        command: str

    def compose(self) -> ComposeResult:
        yield Label("container shell", classes="pane-title", id="shell-title")
        yield ShellView(id="shell-view")
        yield Input(placeholder="type a command (human mode: runs as the next step; otherwise injected)",
                    id="shell-input")

    def feed(self, data: str) -> None:
        self.query_one(ShellView).feed(data)

    def set_title(self, text: str) -> None:
        self.query_one("#shell-title", Label).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "shell-input":
            return
        event.stop()
        command = event.value.strip()
        event.input.value = ""
        if command:
            self.post_message(self.CommandSubmitted(command))
