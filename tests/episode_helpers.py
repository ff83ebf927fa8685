"""Shared bits for the episode tests: a scripted-LLM agent config and an event collector."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from agents_helpers import scripted_config

from mlgym_tui.config.runtime import RuntimeConfig
from mlgym_tui.stream import events as ev


def answer(action: str, thought: str = "Next I run a command.") -> str:
    return f"{thought}\n```\n{action}\n```"


def agent(server, max_steps: int = 10, **model: Any):
    config = scripted_config(server.api_base, **model)
    data = config.model_dump()
    data["limits"]["max_steps"] = max_steps
    data["limits"]["cost_limit"] = 0.0
    data["name"] = "scripted"
    return type(config).model_validate(data)


def runtime() -> RuntimeConfig:
    return RuntimeConfig(memory="1g")


class Collector:
    def __init__(self) -> None:
        self.events: list[ev.Event] = []

    def __call__(self, event: ev.Event) -> None:
        self.events.append(event)

    def of(self, cls):
        return [e for e in self.events if isinstance(e, cls)]

    def types(self) -> list[str]:
        return [e.type for e in self.events if e.type not in ("token", "output_chunk")]


async def until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
