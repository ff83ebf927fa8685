"""A question with a few answers as buttons (stop the episode? quit? leave it?); the first answer is the default
and has the focus, so Enter takes it. Dismisses with the chosen answer's key, or None on Escape."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from mlgym_tui.tui.actions import bindings_for


class ChoiceDialog(ModalScreen[str | None]):
    BINDINGS = bindings_for("choice")
    DEFAULT_CSS = """
    ChoiceDialog { align: center middle; }
    #choice-box { width: 76; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    #choice-question { text-style: bold; width: 100%; }
    #choice-detail { color: $text-muted; margin-bottom: 1; width: 100%; }
    #choice-box Button { width: 100%; margin-top: 1; }
    """

    def __init__(self, question: str, choices: list[tuple[str, str]], detail: str = "") -> None:
        super().__init__()
        self.question = question
        self.choices = choices  # (key, label), the default first
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="choice-box"):
            yield Label(self.question, id="choice-question")
            if self.detail:
                yield Label(self.detail, id="choice-detail")
            for index, (key, label) in enumerate(self.choices):
                yield Button(label, id=f"choice-{key}", variant="primary" if index == 0 else "default")

    def on_mount(self) -> None:
        self.query_one(f"#choice-{self.choices[0][0]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_cancel(self) -> None:
        self.dismiss(None)
