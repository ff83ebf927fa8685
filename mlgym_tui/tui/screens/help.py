"""Every binding of the action registry (tui/actions.py): where it applies, its keys (as the user's keymap sets
them), what it does and its id (the name to use in settings.yaml `keymap`)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from mlgym_tui.tui.actions import bindings_for, help_order, keys_of, where


class HelpScreen(ModalScreen[None]):
    BINDINGS = bindings_for("help")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Label("Keys — rebind any of them by id in settings.yaml `keymap:`", id="help-title")
            yield Static(self.table(), id="help-table")

    def table(self) -> Table:
        keymap = getattr(self.app, "keymap_settings", {})
        table = Table(expand=True, show_edge=False, pad_edge=False)
        table.add_column("where", style="dim", no_wrap=True)
        table.add_column("keys", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column("id", style="dim", no_wrap=True)
        for action in help_order():
            table.add_row(where(action), keys_of(action, keymap), Text(action.description), action.id)
        table.add_row("everywhere", "ctrl+p", "Command palette (every binding is listed there too)", "")
        return table

    def action_close(self) -> None:
        self.dismiss(None)
