"""A replay's notice: what a damaged or unfinished recording lost (hidden while there is nothing to say)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ReplayNotice(Static):
    DEFAULT_CSS = """
    ReplayNotice { height: auto; max-height: 3; background: $warning 30%; padding: 0 1; display: none; }
    """

    def show(self, warnings: list[str]) -> None:
        self.display = bool(warnings)
        if warnings:
            self.update(Text("⚠ " + " · ".join(warnings), no_wrap=False))
