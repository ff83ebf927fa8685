"""When a human-baseline session ends: a free-text note for the run (what was tried, anything that went wrong).
Dismisses with the note; Escape saves none ("")."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from mlgym_tui.tui.actions import bindings_for


class EndNoteDialog(ModalScreen[str]):
    BINDINGS = bindings_for("note")
    DEFAULT_CSS = """
    EndNoteDialog { align: center middle; }
    #note-box { width: 90; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    #note-title { text-style: bold; }
    #note-detail { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(self, ended: str, who: str) -> None:
        super().__init__()
        self.ended = ended
        self.who = who

    def compose(self) -> ComposeResult:
        with Vertical(id="note-box"):
            yield Label(f"Session over ({self.ended}). A note for this run, {self.who or 'player'}?", id="note-title")
            yield Label("Enter saves it with the run (human.json); Escape saves none.", id="note-detail")
            yield Input(placeholder="what you tried, what got in the way…", id="note-input")

    def on_mount(self) -> None:
        self.query_one("#note-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_skip(self) -> None:
        self.dismiss("")
