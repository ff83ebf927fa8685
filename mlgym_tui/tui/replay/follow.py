"""Follow mode: the tail of a growing events.jsonl, watched for changes while another process records the run.

The file watcher (and a slow poll, in case a file event is missed) only posts `FileChanged`; a burst of changes
posts one, as no second is posted while one waits in the queue. Handling it reads what was appended and posts
`Appended` with the new events, which bubbles to the screen that shows them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.message import Message
from textual.widget import Widget

POLL_S = 0.5  # read the tail this often too, in case a file event is missed


class FollowTail(Widget):
    DEFAULT_CSS = "FollowTail { display: none; }"

    @dataclass
    class FileChanged(Message, bubble=False):
        """The followed file (or its folder) changed; at most one waits in the queue."""

    @dataclass
    class Appended(Message):
        """Events appended to the followed file since the last read."""

        events: list[Any]

    def __init__(self, path: Path | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.path = path  # the events.jsonl to follow; None: nothing can be followed (a .traj)
        self.tail: Any = None  # EventTail
        self._stop: asyncio.Event | None = None
        self._poll = None
        self._pending = False

    @property
    def following(self) -> bool:
        return self._stop is not None and not self._stop.is_set()

    def start(self, tail: Any = None) -> None:
        """Follow the file from where `tail` (which read it so far) stands, else from where following last stopped,
        else from its end."""
        self.stop()
        if tail is not None:
            self.tail = tail
        elif self.tail is None:
            from mlgym_tui.trajectory import EventTail

            self.tail = EventTail(self.path)
            self.tail.read_new()  # what is already shown: only what comes next is new
        self._stop = asyncio.Event()
        self.run_worker(self.watch_file(self._stop), name="replay-follow", group="follow", exclusive=True)
        self._poll = self.set_interval(POLL_S, self.changed, name="replay-follow-poll")

    def toggle(self, following: bool, loaded: bool) -> tuple[bool, str, str]:
        """Follow mode switched by a person: (following now, what to tell them, its severity)."""
        if following:
            self.stop()
            return False, "follow mode off", "information"
        if not loaded or self.path is None:
            return False, ("the run is still opening" if not loaded else
                           "follow mode needs an events.jsonl (a .traj is rewritten whole)"), "warning"
        self.start()
        return True, "following: new steps appear as they are recorded", "information"

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._stop = None
        if self._poll is not None:
            self._poll.stop()
            self._poll = None

    def on_unmount(self) -> None:
        self.stop()

    async def watch_file(self, stop: asyncio.Event) -> None:
        """The `replay-follow` worker: the file's folder watched (an editor or a recorder may replace the file)."""
        from watchfiles import awatch

        async for _changes in awatch(self.tail.path.parent, stop_event=stop, debounce=50, step=25, recursive=False):
            self.changed()

    def changed(self) -> None:
        if not self._pending:
            self._pending = True
            self.post_message(self.FileChanged())

    def on_follow_tail_file_changed(self, message: FileChanged) -> None:
        self._pending = False
        if not self.following or self.tail is None:
            return
        new = self.tail.read_new()
        if new:
            self.post_message(self.Appended(new))
