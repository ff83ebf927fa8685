"""What a policy hands the episode runner, and the Protocol every policy meets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class Proposal:
    thought: str
    action: str
    response: str = ""  # the raw model answer (MLGym's trajectory "response")
    tokens_in: int = 0  # summed over the step's queries, format re-prompts included
    tokens_out: int = 0
    cost: float = 0.0
    step: int = 0
    author: str = "agent"
    format_errors: int = 0


class Policy(Protocol):
    """Everything the episode runner asks of a policy: a model (LLMPolicy), a script (baseline, replay) or a
    person (HumanPolicy)."""

    is_person: bool  # a person proposes every action: the runner waits for them in human mode and never hands back
    max_steps: int  # the runner keeps these in step with the episode's limits (a model's prompt shows them)
    cost_limit: float

    async def propose(self, step: int, observation: str, state: dict[str, Any]) -> Proposal:
        """The next action; may raise a PolicyError, whose type decides how the episode ends."""
        ...

    def prime(self, observation: str, state: dict[str, Any]) -> None:
        """Take the task's first observation before steps the policy did not propose are recorded (a fork)."""
        ...

    def record_step(self, action: str, observation: str, author: str, thought: str = "") -> None:
        """A step ran: its action (maybe edited, maybe a person's: author "human") and what it printed."""
        ...

    def discard_proposal(self, comment: str = "") -> None:
        """The last proposal was rejected and did not run."""
        ...

    def add_user_message(self, text: str) -> None: ...

    def history_view(self) -> list[dict[str, Any]]:
        """The history as MLGym's trajectory keeps it, without a copy."""
        ...

    @property
    def model_stats(self) -> dict[str, Any]: ...
