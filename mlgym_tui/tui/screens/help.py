"""Every binding: its id (the name to use in settings.yaml `keymap`), its keys and what it does."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


def binding_sources() -> list[tuple[str, list[Binding]]]:
    from mlgym_tui.tui.app import MLGymApp
    from mlgym_tui.tui.screens.episode import EpisodeScreen
    from mlgym_tui.tui.screens.task_browser import TaskBrowser
    from mlgym_tui.tui.widgets.transcript import Transcript

    return [
        ("everywhere", [b for b in MLGymApp.BINDINGS if isinstance(b, Binding)]),
        ("task browser", list(TaskBrowser.BINDINGS)),
        ("episode", list(EpisodeScreen.BINDINGS)),
        ("transcript", list(Transcript.BINDINGS)),
        ("help", list(HelpScreen.BINDINGS)),
    ]


def keys_for(binding: Binding, keymap: dict[str, str]) -> str:
    keys = keymap.get(binding.id or "", binding.key)
    return ", ".join(k.strip().replace("left_square_bracket", "[").replace("right_square_bracket", "]")
                     .replace("question_mark", "?").replace("slash", "/") for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close help", id="help_close"),
    ]

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
        for where, bindings in binding_sources():
            for binding in bindings:
                table.add_row(where, keys_for(binding, keymap), Text(binding.description or binding.action),
                              binding.id or "")
        table.add_row("everywhere", "ctrl+p", "Command palette (every binding is listed there too)", "")
        return table

    def action_close(self) -> None:
        self.dismiss(None)
