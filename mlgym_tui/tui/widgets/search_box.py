"""The replay's search line: hidden until opened, closed again by enter (which asks for the search) or escape."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.widgets import Input


class SearchBox(Input):
    DEFAULT_CSS = """
    SearchBox { height: 3; display: none; }
    SearchBox.-open { display: block; }
    """

    @dataclass
    class Searched(Message):
        """Enter in the search line: search for `query` (stripped; empty clears the search). The line closes."""

        query: str

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open(self, value: str) -> None:
        self.add_class("-open")
        self.value = value
        # focused now, not once the keys already queued are handled (Widget.focus waits): typed fast or pasted,
        # the query's letters would otherwise reach the replay's own keys (a: author filter, t: follow, ...)
        self.screen.set_focus(self)

    def close(self) -> None:
        self.remove_class("-open")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.close()
        self.post_message(self.Searched(event.value.strip()))
