"""The pane around the interactive container terminal: a title naming where the shell runs, and the terminal."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from mlgym_tui.tui.widgets.container_terminal import ContainerTerminal


class TerminalPane(Vertical):
    DEFAULT_CSS = """
    TerminalPane { height: 2fr; border: round $success 60%; }
    TerminalPane:focus-within { border: round $success; }
    """

    def __init__(self, container: Any, *, toggle_key: str = "f6", id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.container = container
        self.toggle_key = toggle_key

    def compose(self) -> ComposeResult:
        where = getattr(self.container, "name", "") or "container"
        yield Label(f"terminal: bash -l as agent in {where} — {self.toggle_key} closes", classes="pane-title",
                    id="terminal-title")
        yield ContainerTerminal(self.container, id="container-terminal")

    def on_mount(self) -> None:
        self.call_after_refresh(self.terminal.focus)

    @property
    def terminal(self) -> ContainerTerminal:
        return self.query_one(ContainerTerminal)
