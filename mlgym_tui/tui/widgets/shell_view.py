"""The container's shell output, emulated by pyte and painted line by line inside the pane."""

from __future__ import annotations

import pyte
from textual.strip import Strip
from textual.widget import Widget

from mlgym_tui.tui.terminal import VirtualTerminal


class ShellView(Widget, can_focus=True):
    """Raw output (ANSI intact) goes in through `feed`; only this widget's region is ever painted.

    Drawn with Textual's line API, straight from pyte's rows: a Rich Text of the whole screen went through
    wrapping and measuring first, several milliseconds on every replay step."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.terminal = VirtualTerminal(120, 24)

    def feed(self, data: str) -> None:
        self.terminal.feed(data)
        self.refresh()

    def replace(self, data: str) -> None:
        """Show `data` on a cleared screen (a replay redraws the shell as it was at its cursor)."""
        self.terminal.screen.reset()
        self.terminal.screen.set_mode(pyte.modes.LNM)  # reset() clears it; the terminal sets it at creation
        self.feed(data)

    def on_resize(self) -> None:
        width, height = self.content_size
        if width and height:
            self.terminal.resize(width, height)
            self.refresh()

    def render_line(self, y: int) -> Strip:
        if y >= self.terminal.lines:
            return Strip.blank(self.size.width, self.rich_style)
        # the pane's own colours underneath what the output sets
        return Strip(self.terminal.line_segments(y)).apply_style(self.rich_style)
