"""The step in progress: the model's answer streaming in token by token, then the command running."""

from __future__ import annotations

from rich.console import Group
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Static

from mlgym_tui.runtime.text import strip_escapes
from mlgym_tui.stream.model import LiveStep

STREAM_TAIL_CHARS = 4000


class LiveCard(Static):
    def show(self, live: LiveStep | None) -> None:
        self.display = live is not None
        if live is None:
            return
        parts: list = []
        head = Text(f"step {live.step}  ", style="bold")
        if live.thinking:
            head.append(" thinking… ", style="bold reverse yellow")
        elif live.running:
            head.append(" running ", style="bold reverse cyan")
        elif live.action:
            head.append(" proposed ", style="bold reverse")
        parts.append(head)
        if live.loading_library:
            parts.append(Text("loading the model library (litellm: first model call of this session)…", style="yellow"))
        if live.retry:
            parts.append(Text(strip_escapes(live.retry), style="yellow"))
        if live.streaming:
            body = strip_escapes(live.streaming)
            if len(body) > STREAM_TAIL_CHARS:
                body = "…" + body[-STREAM_TAIL_CHARS:]
            parts.append(Text(body))
        if live.action and not live.streaming:
            parts.append(Syntax(strip_escapes(live.action), "bash", theme="ansi_dark", word_wrap=True,
                                background_color="default"))
        self.update(Group(*parts))
