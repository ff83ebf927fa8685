"""An exact fork's first n steps: the runner walks the parent's prefix as it does for re-execution (so the steps
are recorded, numbered and fed to the policy's history the same way), but this environment answers each of them
with what the parent recorded instead of running it. The workspace those commands made is put back by the restore
hook (environment/workspace_restore.py) before the first one is answered."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from typing import Any

from mlgym_tui.environment.environment import StepResult
from mlgym_tui.stream.events import StepRecorded, ValidationScored, WorkspaceSnapshot
from mlgym_tui.trajectory.workspace_store import BlobStore


class RestoredPrefix:
    """Wraps an environment; its first len(steps) step() calls return the recorded results, the rest run.

    Its workspace history is the parent's too: for step 0 and each answered step it records the parent's snapshot
    (its blobs copied into this run's store), so the fork's workspace at step k is the parent's; the real snapshot
    taken at reset (of the restored workspace) only sets the baseline that the first live step is compared with."""

    def __init__(self, env: Any, steps: list[StepRecorded], validations: list[ValidationScored],
                 snapshots: list[WorkspaceSnapshot] | None = None, parent_store: BlobStore | None = None) -> None:
        self._env = env
        self._pending = deque(steps)
        self._scores = {v.step: v for v in validations}
        self._prefix_scores: list[dict[str, float]] = []
        self._parent_snapshots = {s.step: s for s in snapshots or []}
        self._parent_store = parent_store
        self._answered: set[int] = {0}  # steps whose workspace is the parent's

    async def snapshot_workspace(self, step: int) -> WorkspaceSnapshot | None:
        if step not in self._answered:
            return await self._env.snapshot_workspace(step)
        if step == 0:
            await self._env.snapshot_workspace(0)  # the restored workspace: the baseline of the first live step
        parent = self._parent_snapshots.get(step)
        if parent is None:
            return None
        await asyncio.to_thread(self._copy_blobs, parent)
        return dataclasses.replace(parent, t=time.time())

    def _copy_blobs(self, snapshot: WorkspaceSnapshot) -> None:
        store = getattr(self._env, "workspace_store", None)
        if store is None or self._parent_store is None:
            return
        for entry in snapshot.changed:
            sha = entry.get("sha256")
            if entry.get("stored") and sha and not store.has(sha):
                data = self._parent_store.get(sha)
                if data is not None:
                    store.put(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)

    @property
    def inner(self) -> Any:
        return self._env

    @property
    def scores(self) -> list[dict[str, float]]:
        return self._prefix_scores + list(self._env.scores)

    async def step(self, action: str, step: int | None = None) -> StepResult:
        if not self._pending or self._pending[0].action != action:
            self._pending.clear()  # anything else first (a person's command) ends the recorded part
            return await self._env.step(action, step=step)
        original = self._pending.popleft()
        if step is not None:
            self._answered.add(step)
        scored = self._scores.get(original.step)
        result = StepResult(observation=original.observation, exit_code=original.exit_code,
                            timed_out=original.timed_out, state=dict(original.state or {}))
        if scored is not None:
            result.metrics = dict(scored.metrics)
            result.submission, result.trust = scored.submission, scored.trust or None
            result.artefacts = scored.artefacts or None
            self._prefix_scores.append(dict(scored.metrics))
            if scored.final:
                result.done, result.exit_status = True, "submitted"
                self._env.done, self._env.exit_status = True, "submitted"
        return result
