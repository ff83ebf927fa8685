"""Interrupt stops a running validate or submit: its evaluation container is removed, the scoring is reported as
interrupted with no score, and the episode goes on (a submit too). Real engines, real evaluation containers."""

from __future__ import annotations

import asyncio
import time

import pytest

from test_evaluation_isolation import REGISTRY, STARTER, evaluation_containers, write

from mlgym_tui.environment.environment import MLGymEnvironment

HANGS = "import time\ndef row_strategy(history):\n    time.sleep(3600)\n"


async def until(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("action", ["validate", "submit"])
async def test_interrupt_removes_the_evaluation_container_and_the_episode_goes_on(engine, action):
    env = MLGymEnvironment(REGISTRY.get("quickGame").model_copy(update={"evaluation_timeout": 600}), engine)
    await env.reset()
    try:
        await env.step(write("strategy.py", HANGS))
        scoring = asyncio.ensure_future(env.step(action))
        await until(lambda: evaluation_containers(engine), "the evaluation container")
        await asyncio.sleep(1.0)  # the scorer is inside the hanging call now
        started = time.monotonic()
        await env.interrupt()
        result = await asyncio.wait_for(scoring, 30)
        assert time.monotonic() - started < 30
        assert result.interrupted and result.metrics is None and not result.done, result.observation
        assert result.observation.startswith("Scoring interrupted"), result.observation
        assert env.scores == [] and not env.done
        await until(lambda: not evaluation_containers(engine), "the evaluation container to be gone", timeout=30)
        # The episode goes on: the shell works and a later scoring is honest.
        assert (await env.step("echo alive")).observation.strip() == "alive"
        await env.step(write("strategy.py", STARTER))
        assert (await env.step("validate")).metrics == {"Score": 0.23}
    finally:
        await env.close()
