"""Confirm mode: the pending action with approve, edit (TextArea) and reject-with-comment."""

from __future__ import annotations

from dataclasses import dataclass

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static, TextArea

from mlgym_tui.runtime.text import strip_escapes
from mlgym_tui.stream.model import Pending


class PendingAction(Vertical):
    @dataclass
    class Approved(Message):
        step: int

    @dataclass
    class Edited(Message):
        step: int
        action: str

    @dataclass
    class Rejected(Message):
        step: int
        comment: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.pending: Pending | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="pending-action")
        yield TextArea("", language=None, id="pending-editor", soft_wrap=True)
        yield Input(placeholder="why reject? (sent to the agent)", id="pending-comment")
        with Horizontal(id="pending-buttons"):
            yield Button("Approve [a]", id="pending-approve", variant="success")
            yield Button("Edit [e]", id="pending-edit", variant="primary")
            yield Button("Reject [r]", id="pending-reject", variant="error")

    def on_mount(self) -> None:
        self.query_one("#pending-editor").display = False
        self.query_one("#pending-comment").display = False
        self.show(None)

    def show(self, pending: Pending | None) -> None:
        changed = pending != self.pending
        self.pending = pending
        self.display = pending is not None
        if pending is None or not changed:
            return
        self.query_one("#pending-editor").display = False
        self.query_one("#pending-comment").display = False
        self.query_one("#pending-edit", Button).label = "Edit [e]"
        self.query_one("#pending-reject", Button).label = "Reject [r]"
        self.query_one("#pending-action", Static).update(Syntax(
            strip_escapes(pending.action), "bash", theme="ansi_dark", word_wrap=True, background_color="default"))
        self.border_title = f"step {pending.step}: approve this action?"

    # The three verbs, used by the buttons and by the screen's key bindings.
    def approve(self) -> None:
        if self.pending:
            self.post_message(self.Approved(self.pending.step))

    def edit(self) -> None:
        """First call opens the editor; the second (or the button again) runs the edited text."""
        if not self.pending:
            return
        editor = self.query_one("#pending-editor", TextArea)
        if not editor.display:
            editor.text = self.pending.action
            editor.display = True
            self.query_one("#pending-edit", Button).label = "Run edited [ctrl+r]"
            editor.focus()
            return
        self.post_message(self.Edited(self.pending.step, editor.text))

    def reject(self) -> None:
        if not self.pending:
            return
        comment = self.query_one("#pending-comment", Input)
        if not comment.display:
            comment.display = True
            self.query_one("#pending-reject", Button).label = "Send rejection"
            comment.focus()
            return
        self.post_message(self.Rejected(self.pending.step, comment.value.strip()))
        comment.value = ""

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"pending-approve": self.approve, "pending-edit": self.edit, "pending-reject": self.reject}[event.button.id]()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "pending-comment":
            event.stop()
            self.reject()
