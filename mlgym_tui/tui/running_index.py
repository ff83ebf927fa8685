"""Episodes running under the runs folder, for the task browser's running list (no widgets here).

Each live episode serves a control endpoint named by `control.json` in its run folder. The folder walk stops at
run folders (those holding events.jsonl): their subfolders are submissions, never runs, and a runs folder of
hundreds of runs is then read in milliseconds instead of the quarter second a glob to batch depth takes (the
browser reads it every few seconds). Each run's events.jsonl is folded incrementally: after the first read only
the bytes appended since are read, and only the few event types the list shows are parsed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mlgym_tui.control.endpoint import ENDPOINT_FILE, Endpoint, EndpointError, endpoint_dirs, read_endpoint

EVENTS_FILE = "events.jsonl"
FIRST_READ_LIMIT = 32 << 20  # a longer events file is read from its last 32 MB (its first line for the start)
# the event types the list shows, as the recorder writes each line's start
_WANTED = tuple(f'{{"type": "{kind}"'.encode() for kind in
                ("episode_started", "step", "mode_changed", "paused", "resumed", "control_changed", "episode_ended",
                 "limit_changed"))
_STEP = re.compile(rb'\{"type": "step", "t": [^,]*, "step": (\d+),')  # a step's number without parsing its observation


@dataclass
class RunningEpisode:
    run_dir: Path  # absolute
    endpoint: Endpoint
    where: str = ""  # the run folder as the list shows it: under the runs folder when it is there
    task_id: str = "?"
    agent: str = ""
    model: str = ""
    step: int = 0
    max_steps: int = 0
    mode: str = ""
    paused: bool = False
    holder: str = ""  # "user@host" holding control from an attached viewer; "" for nobody (or not known)
    ended: str = ""  # the exit status once its end is recorded (the process may not have closed yet)

    @property
    def mode_text(self) -> str:
        return f"{self.mode or '?'}{' (paused)' if self.paused else ''}"

    @property
    def step_text(self) -> str:
        return f"{self.step}/{self.max_steps}" if self.max_steps else str(self.step)


class _Fold:
    """What one events file has said so far, and how far it has been read."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, inode: tuple[int, int] | None) -> None:
        self.offset = 0
        self.inode = inode
        self.fields: dict = {}

    def read(self, path: Path) -> dict:
        try:
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                if (stat.st_dev, stat.st_ino) != self.inode or stat.st_size < self.offset:
                    self.reset((stat.st_dev, stat.st_ino))  # a new or rewritten file: read it again
                if self.offset == 0 and stat.st_size > FIRST_READ_LIMIT:
                    self.take(handle.readline())
                    self.offset = stat.st_size - FIRST_READ_LIMIT
                if stat.st_size > self.offset:
                    handle.seek(self.offset)
                    data = handle.read(stat.st_size - self.offset)
                    end = data.rfind(b"\n") + 1  # a half-written last line waits for the next read
                    for line in data[:end].splitlines():
                        self.take(line)
                    self.offset += end
        except OSError:
            pass
        return self.fields

    def take(self, line: bytes) -> None:
        if not line.startswith(_WANTED):
            return
        step = _STEP.match(line)
        if step is not None:
            self.fields["step"] = max(self.fields.get("step", 0), int(step.group(1)))
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        kind, f = event.get("type"), self.fields
        if kind == "episode_started":
            f.update(task_id=event.get("task_id", "?"), agent=event.get("agent", ""), model=event.get("model", ""),
                     mode=event.get("mode", ""), max_steps=event.get("max_steps") or 0)
        elif kind == "step":
            f["step"] = max(f.get("step", 0), int(event.get("step") or 0))
        elif kind == "mode_changed":
            f["mode"] = event.get("mode", "")
        elif kind in ("paused", "resumed"):
            f["paused"] = kind == "paused"
        elif kind == "control_changed":
            f["holder"] = event.get("holder", "")
        elif kind == "limit_changed" and event.get("name") == "max_steps":
            f["max_steps"] = int(event.get("value") or 0)
        elif kind == "episode_ended":
            f["ended"] = event.get("exit_status") or "ended"


class RunningIndex:
    """The running episodes under a runs folder; `scan()` (a worker thread's call) reads what changed since."""

    def __init__(self) -> None:
        self._folds: dict[Path, _Fold] = {}

    def scan(self, runs_dir: Path) -> list[RunningEpisode]:
        """Running episodes, newest first (by when their endpoint was written)."""
        base = Path(runs_dir).resolve()
        found: list[tuple[float, RunningEpisode]] = []
        for run_dir in endpoint_dirs(base):
            try:
                endpoint = read_endpoint(run_dir)
                mtime = (run_dir / ENDPOINT_FILE).stat().st_mtime
            except (EndpointError, OSError):
                continue
            if not endpoint.alive():
                continue
            fold = self._folds.setdefault(run_dir, _Fold())
            where = str(run_dir.relative_to(base)) if run_dir != base else run_dir.name
            episode = RunningEpisode(run_dir, endpoint, where, **fold.read(run_dir / EVENTS_FILE))
            found.append((mtime, episode))
        shown = {episode.run_dir for _, episode in found}
        for gone in [path for path in self._folds if path not in shown]:
            del self._folds[gone]
        return [episode for _, episode in sorted(found, key=lambda item: -item[0])]
