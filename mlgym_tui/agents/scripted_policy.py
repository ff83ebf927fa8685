"""Policies that do not think: a fixed list of actions (baseline, replay) or a person at the keyboard.

They meet the same `Policy` protocol as `LLMPolicy` (agents/proposal.py), so the episode runner treats every
policy alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mlgym_tui.agents.errors import PolicyError
from mlgym_tui.agents.history import AGENT_NAME, History
from mlgym_tui.agents.proposal import Proposal


class ScriptExhausted(PolicyError):
    """A scripted policy has no action left; the loop ends the episode (autosubmission or early_exit)."""


@dataclass(frozen=True)
class ScriptedStep:
    action: str
    thought: str = ""
    response: str = ""


class _RecordingPolicy:
    """History and stats shared by the policies that never call a model."""

    is_person = False

    def __init__(self) -> None:
        self._history = History(keep_last=None)
        self.max_steps = 0
        self.cost_limit = 0.0

    def prime(self, observation: str, state: dict[str, Any]) -> None:
        """Nothing to prime: a script has no prompt."""

    def discard_proposal(self, comment: str = "") -> None:
        if comment:
            self.add_user_message(comment)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self._history.entries

    def history_view(self) -> list[dict[str, Any]]:
        """The history without a copy; callers must not change it."""
        return self._history.view()

    @property
    def model_stats(self) -> dict[str, Any]:
        return {"total_cost": 0.0, "task_cost": 0.0, "tokens_sent": 0, "tokens_received": 0, "api_calls": 0}

    def record_step(self, action: str, observation: str, author: str, thought: str = "") -> None:
        agent = "human" if author == "human" else AGENT_NAME
        response = f"{thought}\n```\n{action}\n```" if thought else f"```\n{action}\n```"
        self._history.add_assistant(response, thought, action, agent=agent)
        self._history.add("user", observation, agent=agent)

    def add_user_message(self, text: str) -> None:
        self._history.add("user", text, agent="human")


class ScriptedPolicy(_RecordingPolicy):
    def __init__(self, steps: Sequence[ScriptedStep | str], author: str, step_delay_s: float = 0.0) -> None:
        super().__init__()
        self.steps = [s if isinstance(s, ScriptedStep) else ScriptedStep(s) for s in steps]
        self.author = author
        self.step_delay_s = step_delay_s
        self._next = 0

    @property
    def remaining(self) -> int:
        return len(self.steps) - self._next

    async def propose(self, step: int, observation: str, state: dict[str, Any]) -> Proposal:
        if self._next >= len(self.steps):
            raise ScriptExhausted(f"the {self.author} policy has no more actions after {len(self.steps)} steps")
        if self.step_delay_s:
            await asyncio.sleep(self.step_delay_s)  # replay speed: lets a viewer follow along
        scripted = self.steps[self._next]
        self._next += 1
        return Proposal(
            thought=scripted.thought,
            action=scripted.action,
            response=scripted.response,
            step=step,
            author=self.author,
        )


class HumanPolicy(_RecordingPolicy):
    """Waits for a person: `submit(action)` (from the UI) answers the pending or the next `propose`."""

    is_person = True

    def __init__(self) -> None:
        super().__init__()
        self._actions: asyncio.Queue[str] = asyncio.Queue()

    def submit(self, action: str) -> None:
        self._actions.put_nowait(action)

    async def propose(self, step: int, observation: str, state: dict[str, Any]) -> Proposal:
        action = await self._actions.get()
        return Proposal(thought="", action=action, step=step, author="human")
