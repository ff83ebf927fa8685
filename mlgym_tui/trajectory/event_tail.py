"""Follow a growing events.jsonl (another process is recording it) without re-reading what was seen."""

from __future__ import annotations

import os
from pathlib import Path

from mlgym_tui.stream.events import Event
from mlgym_tui.trajectory.events_file import parse_complete_lines


class EventTail:
    """`read_new()` returns the events appended since the previous call.

    A line without its newline yet is one the writer is still writing: it is kept back until it is complete.
    Lines that are complete but unreadable are skipped and described in `warnings`.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        self._offset = 0
        self._partial = b""
        self._lines_seen = 0
        self._identity: tuple[int, int] | None = None

    def read_new(self) -> list[Event]:
        try:
            handle = open(self.path, "rb")
        except FileNotFoundError:
            return []  # not created yet: the run has not started recording
        with handle:
            stat = os.fstat(handle.fileno())
            identity = (stat.st_dev, stat.st_ino)
            if self._identity is not None and (identity != self._identity or stat.st_size < self._offset):
                # Replaced or truncated underneath us: start over rather than read from a meaningless offset.
                self.warnings.append(f"{self.path.name}: file was replaced or truncated; reading it again from the start")
                self._offset, self._partial, self._lines_seen = 0, b"", 0
            self._identity = identity
            handle.seek(self._offset)
            chunk = handle.read()
        if not chunk:
            return []
        self._offset += len(chunk)
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        parsed = parse_complete_lines(lines, self.path.name, first_line_no=self._lines_seen + 1)
        self._lines_seen += len(lines)
        self.warnings.extend(parsed.warnings)
        return parsed.events
