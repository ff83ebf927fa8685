"""When a human-baseline session ends: a free-text note for the run (what was tried, anything that went wrong).
Dismisses with the note; Escape saves none ("")."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label

from mlgym_tui.tui.actions import bindings_for


class EndNoteDialog(ModalScreen[str]):
    BINDINGS = bindings_for("note")
    DEFAULT_CSS = """
    EndNoteDialog { align: center middle; }
    #note-box { width: 90; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    #note-title { text-style: bold; width: 100%; }
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


def ask_for_note(screen: Screen, controller: Any) -> None:
    """Ask, then write human.json (who, note, time limit) into the run directory on a worker thread."""
    from mlgym_tui.trajectory.human_note import HumanNote, write_human_note

    def save(note: str | None) -> None:
        record = HumanNote(who=controller.info.who, note=note or "", time_limit_s=controller.wall_time_s)

        def write() -> None:
            path = write_human_note(controller.run_dir, record)
            screen.app.call_from_thread(screen.notify, f"saved {path.name}: played by {record.who or '?'}",
                                        timeout=4)

        screen.run_worker(write, name="human-note", thread=True)

    screen.app.push_screen(EndNoteDialog(controller.exit_status or "ended", controller.info.who), save)
