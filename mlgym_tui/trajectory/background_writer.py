"""One worker thread that performs file rewrites off the caller's thread, keeping only the latest request per file.

The recorder is called on the asyncio loop that also drives the TUI. Rewriting a 50 MB .traj (join, write, fsync)
takes a few hundred milliseconds; done inline it would freeze the screen at every step of a long run. Only the
newest version of a file matters, so a request arriving while one is being written replaces any older one for
the same key still waiting: the rewrite rate adapts to the disk and the caller never waits. Jobs for different
keys (the .traj, results.json) run in the order they were first requested.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundWriter:
    def __init__(self, name: str) -> None:
        self._condition = threading.Condition()
        self._pending: dict[str, Callable[[], None]] = {}
        self._busy = False
        self._closed = False
        self.error: BaseException | None = None
        self.completed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], None], key: str = "") -> None:
        with self._condition:
            if self._closed:
                raise RuntimeError("background writer is closed")
            self._pending[key] = job  # replaces an older job for the same key, keeping its place in the queue
            self._condition.notify_all()

    def wait_idle(self) -> None:
        """Block until every submitted job has run; re-raise the first error a job hit."""
        with self._condition:
            while self._pending or self._busy:
                self._condition.wait()
            error, self.error = self.error, None
        if error is not None:
            raise error

    def close(self) -> None:
        try:
            self.wait_idle()
        finally:
            with self._condition:
                self._closed = True
                self._condition.notify_all()
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._pending and not self._closed:
                    self._condition.wait()
                if not self._pending:
                    return
                job = self._pending.pop(next(iter(self._pending)))
                self._busy = True
            try:
                job()
            except BaseException as exc:  # kept for the owner's next wait_idle(); the thread must survive
                with self._condition:
                    self.error = self.error or exc
            finally:
                with self._condition:
                    self._busy = False
                    self.completed += 1
                    self._condition.notify_all()
