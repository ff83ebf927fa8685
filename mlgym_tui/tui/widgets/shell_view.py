"""The container's shell output, emulated by pyte and painted as Rich Text inside the pane."""

from __future__ import annotations

from textual.widget import Widget

from mlgym_tui.tui.terminal import VirtualTerminal


class ShellView(Widget, can_focus=True):
    """Raw output (ANSI intact) goes in through `feed`; only this widget's region is ever painted."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.terminal = VirtualTerminal(120, 24)

    def feed(self, data: str) -> None:
        self.terminal.feed(data)
        self.refresh()

    def on_resize(self) -> None:
        width, height = self.content_size
        if width and height:
            self.terminal.resize(width, height)
            self.refresh()

    def render(self):
        return self.terminal.render()
