"""The driver's side of one episode running on a cluster node: its messages (ray_worker.py) become the same run
directory a local episode leaves, written by a real Recorder, and the same live-table row.

It stands in for the Controller where the batch display reads one (step, max_steps, cost, best_score, ...).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from mlgym_tui.batch.progress import SlotProgress, best_text
from mlgym_tui.episode.state import primary_metric
from mlgym_tui.stream.events import Event
from mlgym_tui.trajectory.run_dir import fresh_dir


class RemoteEpisode:
    def __init__(self, progress: SlotProgress, slot: Path, display: Any) -> None:
        self.progress = progress
        self.slot = slot
        self.display = display
        self.recorder = None
        self.run_dir: Path | None = None
        self.where: dict[str, Any] = {}  # node_id, host, pid of the worker (its containers carry that pid)
        self.failed: dict[str, Any] | None = None
        self.done: dict[str, Any] | None = None
        self.history: list[Any] = []
        self.step = 0
        self.max_steps = 0
        self.cost = 0.0
        self.best_score: dict[str, float] | None = None
        self.exit_status: str | None = None
        self.baseline: dict[str, float] = {}
        self.metrics: list[dict[str, Any]] = []
        self.on_hello = None  # called once the run directory exists (the executor marks a stopped batch's runs)

    @property
    def primary_metric(self) -> dict[str, Any] | None:
        return primary_metric(self.metrics)

    @property
    def started(self) -> bool:
        return self.run_dir is not None

    async def apply(self, message: tuple) -> None:
        kind = message[0]
        if kind == "event":
            self._event(Event.from_dict(json.loads(message[1])))
        elif kind == "progress":
            self._progress(message[1])
        elif kind == "history":
            start, items = message[1], message[2]
            self.history = self.history[:start] + list(items)
            if self.recorder is not None:
                self.recorder.set_history(self.history)
        elif kind == "stats":
            if self.recorder is not None:
                self.recorder.set_model_stats(message[1])
        elif kind == "file":
            await asyncio.to_thread(self._write_file, message[1], message[2])
        elif kind == "hello":
            await self._hello(message[1])
        elif kind == "failed":
            self.failed = message[1]
            self.where = self.where or {k: message[1].get(k) for k in ("node_id", "host", "pid") if k in message[1]}
        elif kind == "done":
            self.done = message[1]
            self.exit_status = message[1].get("exit_status")

    async def _hello(self, hello: dict[str, Any]) -> None:
        from mlgym_tui.trajectory import Recorder

        self.where = {k: hello.get(k) for k in ("node_id", "host", "pid")}
        # named as the worker named it, so EpisodeStarted.run_id is the folder's name
        self.run_dir = await asyncio.to_thread(fresh_dir, self.slot, hello["run_name"])
        # The worker's config, redacted there with its own secrets; the Recorder redacts again with ours.
        self.recorder = Recorder(self.run_dir, hello["task_id"], hello["config"])
        self.max_steps = hello.get("max_steps", 0)
        self.progress.run_dir = str(self.run_dir)
        self.progress.max_steps = self.max_steps
        self.progress.controller = self
        self.progress.status = "running"
        self.display.started(self.progress)
        if self.on_hello is not None:
            self.on_hello(self)

    def _event(self, event: Event) -> None:
        if self.recorder is not None:
            self.recorder(event)  # a recorder failure is a real failure: the run's files are the point
        if event.type == "episode_started":
            self.baseline = dict(event.baseline)
            self.metrics = list(event.metrics)
        elif event.type == "episode_ended":
            self.exit_status = event.exit_status

    def _progress(self, data: dict[str, Any]) -> None:
        stepped = data.get("step", 0) != self.step
        self.step = data.get("step", 0)
        self.max_steps = data.get("max_steps", self.max_steps)
        self.cost = float(data.get("cost") or 0.0)
        self.best_score = data.get("best_score")
        self.exit_status = data.get("exit_status") or self.exit_status
        self.progress.step, self.progress.max_steps, self.progress.cost = self.step, self.max_steps, self.cost
        self.progress.best = best_text(self)
        if stepped:
            self.display.stepped(self.progress)

    def _write_file(self, name: str, data: bytes) -> None:
        if self.run_dir is None:
            return
        path = (self.run_dir / name).resolve()
        if not path.is_relative_to(self.run_dir.resolve()):
            return  # only files inside the run directory are ever sent; anything else is not ours to write
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    async def close(self) -> None:
        if self.recorder is not None:
            await self.recorder.aclose()
