"""What a policy hands the episode loop, and the methods every policy offers."""

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
    async def propose(self, step: int, observation: str, state: dict[str, Any]) -> Proposal: ...

    def record_step(self, action: str, observation: str, author: str, thought: str = "") -> None: ...

    def add_user_message(self, text: str) -> None: ...

    @property
    def history(self) -> list[dict[str, Any]]: ...

    @property
    def model_stats(self) -> dict[str, Any]: ...
