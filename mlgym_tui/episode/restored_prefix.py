"""An exact fork's first n steps: the runner walks the parent's prefix as it does for re-execution (so the steps
are recorded, numbered and fed to the policy's history the same way), but this environment answers each of them
with what the parent recorded instead of running it. The workspace those commands made is put back by the restore
hook (environment/workspace_restore.py) before the first one is answered."""

from __future__ import annotations

from collections import deque
from typing import Any

from mlgym_tui.environment.environment import StepResult
from mlgym_tui.stream.events import StepRecorded, ValidationScored


class RestoredPrefix:
    """Wraps an environment; its first len(steps) step() calls return the recorded results, the rest run."""

    def __init__(self, env: Any, steps: list[StepRecorded], validations: list[ValidationScored]) -> None:
        self._env = env
        self._pending = deque(steps)
        self._scores = {v.step: v for v in validations}
        self._prefix_scores: list[dict[str, float]] = []

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
