"""events.jsonl as an append-only log: lines written by the caller, in order, and made durable on a thread of its own.

The recorder is called on the asyncio loop that also drives the TUI. An fsync per event made it most of the loop's
per-step cost (and far more on a busy disk), so the two halves of "recorded" are split:

- written: `append` hands the line to the kernel with one write(2) before it returns. A process that is killed
  (SIGKILL, OOM killer, a crash of Python) loses nothing that was appended; at most the line being written at that
  instant is cut, and readers drop a cut last line.
- synced: a background thread fsyncs in groups: at once when a line is `urgent` (the recorder marks the events
  that close a step), else `delay_s` after the first line not yet synced, or as soon as `max_unsynced` lines wait.
  Only a crash of the machine itself (power loss, kernel panic) can lose what is written but not yet synced.
  `wait_synced(mark)` lets the owner make sure a given line is on disk before it goes on (see Recorder).

With `background=False` every append fsyncs inline, as the recorder used to (kept as the benchmark's reference).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


class EventLog:
    def __init__(
        self,
        path: Path,
        *,
        background: bool = True,
        delay_s: float = 0.05,
        max_unsynced: int = 64,
        name: str = "events-sync",
    ) -> None:
        self.path = Path(path)
        self.delay_s = delay_s
        self.max_unsynced = max(1, max_unsynced)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self._condition = threading.Condition()
        self._written = 0  # lines appended
        self._synced = 0  # lines known to be on disk
        self._urgent = 0  # sync at once up to this line
        self._first_unsynced_at: float | None = None
        self._closing = False
        self.error: BaseException | None = None
        self.syncs = 0
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    @property
    def closed(self) -> bool:
        return self._fd is None

    @property
    def written(self) -> int:
        """How many lines were appended: a mark for `wait_synced`."""
        return self._written

    @property
    def synced(self) -> int:
        return self._synced

    def append(self, line: bytes, *, urgent: bool = False) -> int:
        """Write one line (with its newline) now; returns its mark. Raises a failure of an earlier sync."""
        if self._fd is None:
            raise ValueError(f"{self.path}: the event log is closed")
        self._raise_error()
        view = memoryview(line)
        while view:  # a regular file takes it all in one write; the loop only guards against a short write
            view = view[os.write(self._fd, view):]
        if self._thread is None:
            os.fsync(self._fd)
            self._written += 1
            self._synced = self._written
            self.syncs += 1
            return self._written
        with self._condition:
            self._written += 1
            if urgent:
                self._urgent = self._written
            if self._first_unsynced_at is None:
                self._first_unsynced_at = time.monotonic()
                self._condition.notify_all()  # the thread starts counting the delay
            elif urgent or self._written - self._synced >= self.max_unsynced:
                self._condition.notify_all()
            return self._written

    def wait_synced(self, mark: int | None = None, timeout: float | None = None, *, raise_error: bool = True) -> bool:
        """Block until the lines up to `mark` (default: all appended so far) are on disk; asks for the sync at
        once. Returns False on timeout or a failed sync, which it raises unless `raise_error` is False (another
        thread than the owner's leaves the error for the owner)."""
        mark = self._written if mark is None else mark
        if self._synced >= mark or self._thread is None:
            if raise_error:
                self._raise_error()
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            self._urgent = max(self._urgent, mark)
            self._condition.notify_all()
            while self._synced < mark and self.error is None and self._thread.is_alive():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._condition.wait(left)
        if raise_error:
            self._raise_error()
        return self._synced >= mark

    def close(self) -> None:
        """Sync everything, stop the thread, close the file (raises a failure of the last sync)."""
        if self._fd is None:
            return
        try:
            if self._thread is not None:
                with self._condition:
                    self._closing = True
                    self._condition.notify_all()
                self._thread.join()
            if self._synced < self._written and self.error is None:
                os.fsync(self._fd)
                self._synced = self._written
            self._raise_error()
        finally:
            os.close(self._fd)
            self._fd = None

    # -- the sync thread ------------------------------------------------------------------------------------------

    def _raise_error(self) -> None:
        error = self.error
        if error is not None:
            self.error = None
            raise error

    def _due(self) -> float | None:
        """Seconds until the next sync is due (0: now), None when nothing waits. Called with the lock held."""
        if self._written <= self._synced:
            return None
        if self._closing or self._urgent > self._synced or self._written - self._synced >= self.max_unsynced:
            return 0.0
        started = self._first_unsynced_at if self._first_unsynced_at is not None else time.monotonic()
        return max(0.0, started + self.delay_s - time.monotonic())

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    due = self._due()
                    if due == 0.0:
                        break
                    if due is None and self._closing:
                        return
                    self._condition.wait(due)
                target = self._written
                self._first_unsynced_at = None
            try:
                os.fsync(self._fd)  # covers every line written so far, including any appended meanwhile
            except BaseException as exc:  # kept for the owner's next call; the thread stops syncing
                with self._condition:
                    self.error = self.error or exc
                    self._condition.notify_all()
                return
            with self._condition:
                self._synced = max(self._synced, target)
                self.syncs += 1
                self._condition.notify_all()
