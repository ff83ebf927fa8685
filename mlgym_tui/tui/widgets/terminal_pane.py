"""The pane around the interactive container terminal: a title naming where the shell runs, and the terminal.

Opened on a live episode (`for_episode`), the terminal is recorded: the screen to a new `terminal-N.cast` in the run
directory, and each command line a person runs to the Controller, which records it as a step by human-terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from mlgym_tui.runtime.terminal_hooks import CommandRan
from mlgym_tui.tui.widgets.container_terminal import ContainerTerminal


class TerminalPane(Vertical):
    DEFAULT_CSS = """
    TerminalPane { height: 2fr; border: round $success 60%; }
    TerminalPane:focus-within { border: round $success; }
    """

    def __init__(self, container: Any, *, toggle_key: str = "f6", cast_path: Path | None = None,
                 on_command: Callable[[CommandRan], None] | None = None, id: str | None = None) -> None:
        super().__init__(id=id, classes="pane")
        self.container = container
        self.toggle_key = toggle_key
        self.cast_path = cast_path
        self.on_command = on_command

    @classmethod
    def for_episode(cls, controller: Any, *, id: str | None = None) -> "TerminalPane":
        """A recorded terminal into a live episode's container."""
        from mlgym_tui.trajectory.cast import next_terminal_cast

        def record(ran: CommandRan) -> None:
            controller.record_terminal_command(command=ran.command, output=ran.output, exit_code=ran.exit_code,
                                               duration=ran.duration, cwd=ran.cwd, started_at=ran.started_at)

        run_dir = getattr(controller, "run_dir", None)
        cast_path = next_terminal_cast(Path(run_dir)) if run_dir else None
        return cls(controller.env.container, cast_path=cast_path, on_command=record, id=id)

    def compose(self) -> ComposeResult:
        where = getattr(self.container, "name", "") or "container"
        recorded = " (recorded)" if self.on_command is not None else ""
        yield Label(f"terminal: bash -l as agent in {where}{recorded} — {self.toggle_key} closes",
                    classes="pane-title", id="terminal-title")
        yield ContainerTerminal(self.container, cast_path=self.cast_path, on_command=self.on_command,
                                id="container-terminal")

    def on_mount(self) -> None:
        self.call_after_refresh(self.terminal.focus)

    @property
    def terminal(self) -> ContainerTerminal:
        return self.query_one(ContainerTerminal)
